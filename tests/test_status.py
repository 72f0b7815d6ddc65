"""The one table of allowed actions, narrowed by each marketplace's own module."""
import pytest

from fulfil.status import ACTIONS, ActionNotAllowed, allowed_actions, check_action
from fulfil.models import Shipment
from tests.conftest import make_order


@pytest.mark.parametrize("kind, mode, status, expected", [
    ("walmart", None, "new", {"acknowledge", "cancel"}),
    ("walmart", None, "to_pack", {"pack", "ship", "cancel", "open_dispute"}),
    ("walmart", None, "in_transit", {"update_tracking", "open_dispute"}),  # Walmart has no delivered call
    ("ozon", "rFBS", "to_pack", {"pack", "cancel", "open_dispute"}),  # Ozon takes tracking only once packed
    ("ozon", "rFBS", "ready", {"ship", "cancel", "open_dispute"}),
    ("ozon", "rFBS", "in_transit", {"update_tracking", "deliver", "open_dispute"}),
    ("ozon", "FBS", "ready", {"cancel", "open_dispute"}),  # Ozon's courier collects FBS packages
    ("ozon", "FBO", "new", set()),
    ("wish", None, "new", {"acknowledge", "cancel"}),
    ("wish", None, "cancelled", {"open_dispute"}),
])
def test_allowed_actions(app, kind, mode, status, expected):
    with app.app_context():
        order = make_order(kind, mode=mode, status=status)
        if status == "in_transit":
            order.shipments.append(Shipment(carrier="ups", tracking_number="1Z999AA10123456784"))
        assert set(allowed_actions(order)) == expected


def test_no_tracking_to_edit_without_a_package(app):
    with app.app_context():
        order = make_order("walmart", status="in_transit")
        assert "update_tracking" not in allowed_actions(order)
        with pytest.raises(ActionNotAllowed, match="no package with a tracking number"):
            check_action(order, "update_tracking")


def test_disallowed_action_says_why(app):
    with app.app_context():
        order = make_order("walmart", status="delivered")
        with pytest.raises(ActionNotAllowed, match="not possible while the order is “Delivered”"):
            check_action(order, "cancel")
        with pytest.raises(ActionNotAllowed, match="Unknown action"):
            check_action(order, "teleport")


def test_every_action_has_a_label():
    assert all(action.label for action in ACTIONS.values())
