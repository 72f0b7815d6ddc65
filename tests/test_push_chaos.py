"""R1 in small: the chaos run of bench.chaos (tests/chaos.py) with 60 changes (workers killed, Redis stopped and flushed, the
database restarted); Ozon's two-call ship is never sent twice."""
import pytest
import requests

from tests import chaos, helpers as harness
from fulfil.extensions import db
from fulfil.marketplaces import adapter_for
from fulfil.models import OutboxEntry
from fulfil.timeutil import utcnow
from workers import push
from workers.push import push_entry
from tests.fixtures_workers import wait_for

pytestmark = pytest.mark.integration


def test_chaos_in_small_loses_nothing_and_converges(tmp_path):
    result = chaos.run(changes=60, workers=3, kill_every=2.0, fault_seconds=8.0, converge_timeout=90.0,
                       log_dir=tmp_path, say=lambda *args: None, redis_stop_seconds=2.0)
    assert result.flushes == 1 and result.kills >= 2 and result.redis_stops == 1
    assert result.db_restarts == (1 if chaos.default_database() == "private-postgres" else 0)
    assert result.lost == 0, result.audit.lost
    assert result.converge_seconds is not None, "not all confirmed within 90 s of the faults stopping"
    assert not result.audit.twice, result.audit.twice


class DeliveringTimesOutOnce(requests.Session):
    """Ozon takes the tracking number, then its delivering call times out once."""

    def __init__(self):
        super().__init__()
        self.failed = False

    def request(self, method, url, *args, **kwargs):
        if url.endswith("/v2/fbs/posting/delivering") and not self.failed:
            self.failed = True
            raise requests.Timeout("timed out")
        return super().request(method, url, *args, **kwargs)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_half_done_ozon_ship_is_not_sent_again(app, pipeline, monkeypatch):
    (order_id,) = harness.import_new_orders(app, pipeline.sims["ozon"], "ozon-sim", 1)
    for action in ("acknowledge", "pack", "ship"):
        harness.perform_step(app, order_id, action)
    session = DeliveringTimesOutOnce()
    monkeypatch.setattr(push, "limited_adapter", lambda account: adapter_for(account, session=session))
    with app.app_context():
        pack, ship = db.session.scalars(db.select(OutboxEntry.id).order_by(OutboxEntry.id)).all()
        push_entry(pack)
        wait_for(lambda: _pushed_until_confirmed(pack), timeout=10, message="packing confirmed")
        push_entry(ship)  # tracking set, delivering timed out: retried later
        wait_for(lambda: _pushed_until_confirmed(ship), timeout=10, message="ship confirmed")
    tracking_sets = [w for w in pipeline.sims["ozon"].writes() if w["call"] == "tracking-number/set"]
    assert len(tracking_sets) == 1


def _pushed_until_confirmed(entry_id):
    """Run the entry's job again once it is due; True when confirmed."""
    entry = db.session.get(OutboxEntry, entry_id)
    db.session.refresh(entry)
    if entry.state == "confirmed":
        return True
    if entry.next_attempt_at <= utcnow():
        push_entry(entry_id)
    return False
