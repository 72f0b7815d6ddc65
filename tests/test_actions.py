"""The order actions service: transitions, validation, audit and outbox in one go."""
import pytest

from fulfil.actions import Actor, Conflict, InvalidInput, Package, perform
from fulfil.extensions import db
from fulfil.models import Event, OutboxEntry
from fulfil.status import ActionNotAllowed, allowed_actions
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order


def test_acknowledge_writes_event_and_outbox(app):
    with app.app_context():
        order = make_order("walmart")
        entries = perform(order, "acknowledge", Actor())
        db.session.commit()
        assert order.status == "to_pack"
        assert [e.action for e in entries] == ["acknowledge"]
        assert order.sync_state == "pending"
        assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1


def test_ozon_acknowledge_is_fulfil_only(app):
    with app.app_context():
        order = make_order("ozon")
        assert perform(order, "acknowledge", Actor()) == []
        db.session.commit()
        assert order.sync_state == "synced"


def test_ship_partial_then_rest(app):
    with app.app_context():
        order = make_order("walmart", status="to_pack", lines=(("A", 2, "5.00"), ("B", 1, "3.00")))
        line_a, line_b = order.lines
        first = make_tracking_number("ups")
        perform(order, "ship", Actor(), packages=[Package("ups", first, lines={line_a.id: 1})])
        assert order.status == "to_pack"
        with pytest.raises(InvalidInput, match="more than the 1 left"):
            perform(order, "ship", Actor(), packages=[Package("ups", make_tracking_number("ups"),
                                                              lines={line_a.id: 2})])
        perform(order, "ship", Actor(), packages=[Package("usps", make_tracking_number("usps"))])
        db.session.commit()
        assert order.status == "in_transit"
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxEntry)) == 2


def test_wrong_tracking_number_is_refused_and_nothing_saved(app):
    with app.app_context():
        order = make_order("walmart", status="to_pack")
        with pytest.raises(InvalidInput, match="not a UPS tracking number"):
            perform(order, "ship", Actor(), packages=[Package("ups", "RA123456785RU")])
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxEntry)) == 0


def test_fbo_is_read_only(app):
    with app.app_context():
        order = make_order("ozon", mode="FBO")
        assert allowed_actions(order) == []
        with pytest.raises(ActionNotAllowed, match="Fulfilled by Ozon"):
            perform(order, "acknowledge", Actor())


def test_stale_version_is_a_conflict(app):
    with app.app_context():
        order = make_order("walmart")
        db.session.commit()
        with pytest.raises(Conflict):
            perform(order, "acknowledge", Actor(), expected_version=order.version - 1)
