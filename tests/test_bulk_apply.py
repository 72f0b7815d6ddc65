"""Applying an upload: batches written together, one refused order alone, re-checks, the RQ job."""
import pytest
from rq import Queue, SimpleWorker

from fulfil.bulk.apply import apply_upload, begin
from fulfil.bulk.models import Upload
from fulfil.bulk.parsing import read_pasted
from fulfil.bulk.preview import receive
from fulfil.extensions import db
from fulfil.models import Event, OutboxEntry, Shipment, User
from fulfil.redis_conn import get_redis
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order, make_user


def upload_of(lines, acknowledge=False, header="Order\tCarrier\tTracking"):
    user = db.session.scalar(db.select(User).where(User.username == "seller")) or make_user("seller", "seller")
    upload = receive(read_pasted("\n".join([header, *lines]), 1000), user)
    upload.acknowledge = acknowledge
    db.session.commit()
    return upload, user


def count(model, *where):
    return db.session.scalar(db.select(db.func.count()).select_from(model).where(*where))


def test_good_rows_apply_with_audit_and_outbox_naming_the_upload(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        make_order("walmart", external_id="PO2", status="new")
        make_order("wish", external_id="W3", status="to_pack")
        numbers = [make_tracking_number("ups") for _ in range(3)]
        upload, user = upload_of([f"PO1\tUPS\t{numbers[0]}", f"PO2\tUPS\t{numbers[1]}",
                                  f"W3\tUPS\t{numbers[2]}", "PO9\tUPS\t" + make_tracking_number("ups")],
                                 acknowledge=False)
        assert [v["verdict"] for v in upload.verdicts] == ["ship", "error", "ship", "error"]
        assert begin(upload, user)
        db.session.expire_all()
        upload = db.session.get(Upload, upload.id)
        assert upload.state == "done" and upload.done == 2
        assert [o["outcome"] for o in upload.outcomes] == ["shipped", "error", "shipped", "error"]
        events = db.session.scalars(db.select(Event).where(Event.action == "ship")).all()
        assert {(e.source, e.upload_id, e.user_id) for e in events} == {("bulk", upload.id, user.id)}
        entry_ids = [i for o in upload.outcomes for i in o["entries"]]
        entries = db.session.scalars(db.select(OutboxEntry).where(OutboxEntry.id.in_(entry_ids))).all()
        assert sorted(e.payload["tracking_number"] for e in entries) == sorted([numbers[0], numbers[2]])


def test_acknowledge_too_acknowledges_then_ships(app):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="new")
        upload, user = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}"], acknowledge=True)
        from fulfil.bulk.preview import preview
        preview(upload)
        db.session.commit()
        assert begin(upload, user)
        db.session.expire_all()
        assert order.status == "in_transit"
        actions = db.session.scalars(db.select(OutboxEntry.action).order_by(OutboxEntry.id)).all()
        assert actions == ["acknowledge", "ship"]
        assert len(db.session.get(Upload, upload.id).outcomes[0]["entries"]) == 2


def test_uploading_the_same_file_again_changes_nothing(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        lines = [f"PO1\tUPS\t{make_tracking_number('ups')}"]
        first, user = upload_of(lines)
        begin(first, user)
        events, entries = count(Event), count(OutboxEntry)
        second, _ = upload_of(lines)
        assert [v["verdict"] for v in second.verdicts] == ["same"]
        assert not begin(second, user) or db.session.get(Upload, second.id).outcomes[0]["outcome"] == "unchanged"
        assert (count(Event), count(OutboxEntry)) == (events, entries)


def test_rows_are_checked_again_at_apply_time_and_one_bad_order_blocks_nothing(app):
    with app.app_context():
        cancelled = make_order("walmart", external_id="PO1", status="to_pack")
        make_order("walmart", external_id="PO2", status="to_pack")
        upload, user = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}",
                                  f"PO2\tUPS\t{make_tracking_number('ups')}"])
        cancelled.status = "cancelled"  # cancelled on the marketplace after the preview
        db.session.commit()
        begin(upload, user)
        outcomes = db.session.get(Upload, upload.id).outcomes
        assert outcomes[0] == {"outcome": "error", "reason": "Order PO1 is cancelled: nothing to ship.",
                               "entries": []}
        assert outcomes[1]["outcome"] == "shipped"
        assert count(Shipment) == 1


def test_an_order_changed_by_someone_else_meanwhile_is_reported_not_overwritten(app, monkeypatch):
    with app.app_context():
        order = make_order("walmart", external_id="PO1", status="to_pack")
        make_order("walmart", external_id="PO2", status="to_pack")
        upload, user = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}",
                                  f"PO2\tUPS\t{make_tracking_number('ups')}"])
        order_id = order.id
        from fulfil.bulk import apply as apply_module
        real_load = apply_module.load_orders

        def load_then_another_tablet_saves(ids):
            orders = real_load(ids)
            with db.engine.begin() as conn:  # a second connection: another tablet
                conn.execute(db.text("UPDATE orders SET version = version + 1 WHERE id = :id"), {"id": order_id})
            return orders

        monkeypatch.setattr(apply_module, "load_orders", load_then_another_tablet_saves)
        begin(upload, user)
        outcomes = db.session.get(Upload, upload.id).outcomes
        assert outcomes[0]["outcome"] == "error" and "changed while the upload" in outcomes[0]["reason"]
        assert outcomes[1]["outcome"] == "shipped"


def test_applying_twice_applies_once(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        upload, user = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}"])
        assert begin(upload, user)
        assert not begin(upload, user)
        assert count(Shipment) == 1


def test_large_uploads_apply_in_the_bulk_queue(app, clean_redis):
    app.config["BULK_INLINE_MAX_ROWS"] = 2
    with app.app_context():
        lines = []
        for i in range(3):
            make_order("walmart", external_id=f"PO{i}", status="to_pack")
            lines.append(f"PO{i}\tUPS\t{make_tracking_number('ups')}")
        upload, user = upload_of(lines)
        assert begin(upload, user)
        assert db.session.get(Upload, upload.id).state == "queued"
        queue = Queue("fulfil-bulk", connection=get_redis())
        assert queue.job_ids == [f"bulk-apply-{upload.id}"]
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        upload = db.session.get(Upload, upload.id)
        assert (upload.state, upload.done, upload.to_apply) == ("done", 3, 3)
        assert count(Shipment) == 3


def test_an_unreachable_worker_queue_stops_with_a_message_and_nothing_applied(app):
    app.config.update(BULK_INLINE_MAX_ROWS=0, _RESOLVED_REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        upload, user = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}"])
        assert begin(upload, user)
        upload = db.session.get(Upload, upload.id)
        assert upload.state == "failed" and "could not be reached" in upload.error
        assert count(Shipment) == 0


def test_an_interrupted_apply_finishes_the_rest_when_run_again(app, monkeypatch):
    with app.app_context():
        for i in range(3):
            make_order("walmart", external_id=f"PO{i}", status="to_pack")
        upload, user = upload_of([f"PO{i}\tUPS\t{make_tracking_number('ups')}" for i in range(3)])
        from fulfil.bulk import apply as apply_module
        monkeypatch.setattr(apply_module, "ORDERS_PER_BATCH", 1)
        real = apply_module._apply_order
        calls = []

        def crash_on_second(order, rows, actor):
            calls.append(order.external_id)
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return real(order, rows, actor)

        monkeypatch.setattr(apply_module, "_apply_order", crash_on_second)
        with pytest.raises(RuntimeError):
            begin(upload, user)
        upload = db.session.get(Upload, upload.id)
        assert upload.state == "failed" and upload.done == 1
        monkeypatch.setattr(apply_module, "_apply_order", real)
        assert begin(upload, user)
        upload = db.session.get(Upload, upload.id)
        assert upload.state == "done"
        assert [o["outcome"] for o in upload.outcomes] == ["shipped"] * 3
        assert count(Shipment) == 3


def test_apply_upload_ignores_uploads_not_claimed(app):
    with app.app_context():
        make_order("walmart", external_id="PO1", status="to_pack")
        upload, _ = upload_of([f"PO1\tUPS\t{make_tracking_number('ups')}"])
        apply_upload(upload.id)  # still "preview": nobody pressed Apply
        assert count(Shipment) == 0


def test_every_new_id_of_a_batch_lands_on_its_own_row(app):
    """Ids come back from multi-row INSERTs and are matched to their rows by key: each
    package's lines, each entry's shipment id and each row's entries are its own."""
    with app.app_context():
        numbers = {}
        lines = []
        for i in range(4):
            make_order("walmart", external_id=f"PO{i}", status="to_pack",
                       lines=(("SKU-A", 1, "5.00"), ("SKU-B", 2, "7.00")))
            for sku in ("SKU-A", "SKU-B"):
                numbers[(f"PO{i}", sku)] = make_tracking_number("ups")
                lines.append(f"PO{i}\tUPS\t{numbers[(f'PO{i}', sku)]}\t{sku}")
        upload, user = upload_of(lines, header="Order\tCarrier\tTracking\tSKU")
        assert begin(upload, user)
        db.session.expire_all()
        upload = db.session.get(Upload, upload.id)
        assert [o["outcome"] for o in upload.outcomes] == ["shipped"] * 8
        shipments = db.session.scalars(db.select(Shipment)).all()
        assert len(shipments) == 8
        for shipment in shipments:
            (line,) = shipment.lines
            assert numbers[(shipment.order.external_id, line.order_line.sku)] == shipment.tracking_number
            assert line.quantity == line.order_line.quantity
        by_number = {s.tracking_number: s for s in shipments}
        for row, outcome in zip(upload.verdicts, upload.outcomes):
            (entry_id,) = outcome["entries"]
            entry = db.session.get(OutboxEntry, entry_id)
            shipment = by_number[entry.payload["tracking_number"]]
            assert entry.payload["shipment_id"] == shipment.id and entry.order_id == shipment.order_id
            assert (entry.payload["tracking_number"], entry.order_id) == (row["number"], row["order_id"])
