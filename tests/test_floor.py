"""The warehouse floor: scan-to-verify packing, pick lists, batch actions, slips, the scanner."""
from datetime import timedelta

from fulfil.catalogue.service import ProductInput, save_product
from fulfil.extensions import db
from fulfil.floor.models import PackScan, PickList
from fulfil.models import Event, Order, OutboxEntry
from fulfil.timeutil import utcnow
from tests.conftest import make_order


def _order(app, **kwargs):
    with app.app_context():
        save_product(ProductInput("MUG", "Blue mug", "A-01", barcodes=("4006381333931",)))
        save_product(ProductInput("CUP", "Red cup", "B-02"))
        order = make_order(**kwargs)
        db.session.commit()
        return order.id, order.version


def scan(client, order_id, code):
    return client.post(f"/floor/pack/{order_id}/scan", data={"code": code})


def test_scans_verify_items_and_a_wrong_one_is_loud(client, auth, app):
    order_id, _ = _order(app, status="to_pack", lines=(("MUG", 2, "5.00"), ("CUP", 1, "3.00")))
    auth.login("warehouse")
    assert "1 of 2" in scan(client, order_id, "4006381333931").get_data(as_text=True)
    wrong = scan(client, order_id, "CUP-X")
    assert wrong.status_code == 422 and "UNKNOWN BARCODE CUP-X" in wrong.get_data(as_text=True)
    with app.app_context():
        save_product(ProductInput("PLATE", "Plate", "C-3"))
        db.session.commit()
    wrong = scan(client, order_id, "PLATE").get_data(as_text=True)
    assert "WRONG ITEM: PLATE Plate is not on this order" in wrong and "bin C-3" in wrong
    scan(client, order_id, "mug")
    extra = scan(client, order_id, "MUG").get_data(as_text=True)
    assert "EXTRA ITEM: all 2 × MUG" in extra
    page = scan(client, order_id, "CUP").get_data(as_text=True)
    assert "3 of 3 verified" in page and "Every item is verified" in page
    with app.app_context():
        results = sorted(r for (r,) in db.session.execute(db.select(PackScan.result)))
        assert results == ["extra", "ok", "ok", "ok", "unknown", "wrong"]


def test_mark_packed_stays_locked_until_verified_then_goes_through_the_outbox(client, auth, app):
    order_id, version = _order(app, kind="ozon", status="to_pack", lines=(("MUG", 1, "5.00"),))
    auth.login("warehouse")
    refused = client.post(f"/floor/pack/{order_id}/packed", data={"version": version})
    assert refused.status_code == 409 and "0 of 1 item verified" in refused.get_data(as_text=True)
    assert client.post(f"/floor/pack/{order_id}/ship", data={"tracking_number": "1Z999AA10123456784"}).status_code == 409
    scan(client, order_id, "MUG")
    assert client.post(f"/floor/pack/{order_id}/packed", data={"version": version}).status_code == 200
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "ready"
        assert [e.action for e in db.session.scalars(db.select(OutboxEntry))] == ["pack"]
        assert "verified" in [e.action for e in db.session.scalars(db.select(Event))]
        version = order.version
    shipped = client.post(f"/floor/pack/{order_id}/ship", data={"version": version, "carrier": "",
                                                                 "tracking_number": "RA123456785RU"})
    assert shipped.status_code == 200, shipped.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Order, order_id).status == "in_transit"


def test_a_supervisor_overrides_with_a_reason_staff_cannot(client, auth, app):
    order_id, version = _order(app, status="new", lines=(("MUG", 3, "5.00"),))
    auth.login("warehouse")
    assert "ask a supervisor" in client.post(f"/floor/pack/{order_id}/packed",
                                             data={"version": version, "reason": "x"}).get_data(as_text=True)
    auth.logout()
    auth.login("supervisor")
    no_reason = client.post(f"/floor/pack/{order_id}/packed", data={"version": version})
    assert no_reason.status_code == 409 and "Say why" in no_reason.get_data(as_text=True)
    ok = client.post(f"/floor/pack/{order_id}/packed", data={"version": version, "reason": "Label damaged"})
    assert ok.status_code == 200
    with app.app_context():
        assert db.session.get(Order, order_id).status == "ready"  # acknowledged, then packed
        note = db.session.scalar(db.select(Event.note).where(Event.action == "verify_override"))
        assert note == "Override: 0 of 3 verified. Reason: Label damaged"


def test_a_stale_version_is_a_conflict_not_a_silent_overwrite(client, auth, app):
    order_id, version = _order(app, status="to_pack", lines=(("MUG", 1, "5.00"),))
    auth.login("warehouse")
    scan(client, order_id, "MUG")
    answer = client.post(f"/floor/pack/{order_id}/packed", data={"version": version - 1})
    assert answer.status_code == 409 and "Someone else changed" in answer.get_data(as_text=True)


def test_pick_list_groups_singles_by_sku_and_multis_by_order(client, auth, app):
    with app.app_context():
        save_product(ProductInput("MUG", "Blue mug", "B-01"))
        save_product(ProductInput("CUP", "Red cup", "A-01"))
        ids = [make_order(lines=(("MUG", 1, "1"),)).id, make_order(lines=(("MUG", 2, "1"),)).id,
               make_order(lines=(("CUP", 1, "1"),)).id,
               make_order(lines=(("MUG", 1, "1"), ("CUP", 1, "1"))).id,
               make_order(status="in_transit").id]
        db.session.commit()
    auth.login("warehouse")
    answer = client.post("/floor/batch", data={"do": "pick", "order": [str(i) for i in ids]})
    assert answer.status_code == 303
    with app.app_context():
        pick = db.session.scalar(db.select(PickList))
        from fulfil.floor.picking import sheet
        result = sheet(pick)
        assert [(r.sku, r.quantity, r.order_count, r.bin_location) for r in result.by_sku] == \
            [("CUP", 1, 1, "A-01"), ("MUG", 3, 2, "B-01")]  # walked by bin
        assert [[r.sku for r in g.rows] for g in result.by_order] == [["CUP", "MUG"]]
        assert len(pick.orders) == 4  # the shipped one is not picked
        pick_id = pick.id
    page = client.post(f"/floor/picks/{pick_id}/scan", data={"code": "MUG"}).get_data(as_text=True)
    assert "1 of 3 picked" in page and "You are picking" in page
    auth.logout()
    auth.login("seller")
    taken = client.post(f"/floor/picks/{pick_id}/scan", data={"code": "MUG"})
    assert taken.status_code == 422 and "Warehouse is picking this list" in taken.get_data(as_text=True)


def test_batch_acknowledge_writes_an_outbox_entry_per_order_and_names_refusals(client, auth, app):
    with app.app_context():
        ids = [make_order().id, make_order().id, make_order(status="to_pack").id]
        db.session.commit()
    auth.login("warehouse")
    answer = client.post("/floor/batch", data={"do": "acknowledge", "order": [str(i) for i in ids]},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "Acknowledged 2 orders" in text and "Not acknowledged (1)" in text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(OutboxEntry)) == 2


def test_slips_print_many_orders_in_every_size(client, auth, app):
    with app.app_context():
        ids = [make_order(lines=(("MUG", 1, "1"),)).id, make_order().id]
        db.session.commit()
    auth.login("warehouse")
    for size in ("a4", "letter", "4x6"):
        page = client.get(f"/floor/slips?ids={ids[0]},{ids[1]}&size={size}").get_data(as_text=True)
        assert page.count(f'class="slip size-{size}"') == 2
        assert 'aria-label="Barcode MUG"' in page  # each line carries its item barcode
    assert client.get("/floor/slips?ids=abc").status_code == 404
    app.config.update(SELLER_NAME="Acme Goods", RETURN_ADDRESS="1 Dock Rd|Springfield")
    page = client.get(f"/orders/{ids[0]}/slip?size=4x6").get_data(as_text=True)
    assert "Acme Goods" in page and "1 Dock Rd" in page and "size-4x6" in page


def test_a_scan_anywhere_opens_the_order_the_product_or_says_not_found(client, auth, app):
    with app.app_context():
        order = make_order(external_id="PO-777", lines=(("LONE", 1, "1"),), ship_by=utcnow() + timedelta(days=1))
        save_product(ProductInput("SOLO", "Solo", barcodes=("96385074",)))
        db.session.commit()
        order_id = order.id
    auth.login("warehouse")
    assert client.get("/floor/scan?code=PO-777").headers["Location"].endswith(f"/orders/{order_id}")
    assert client.get("/floor/scan?code=96385074").headers["Location"].endswith("/catalogue/SOLO")
    missed = client.get("/floor/scan?code=NOPE-1", follow_redirects=True).get_data(as_text=True)
    assert "NOT FOUND: nothing has the number NOPE-1" in missed


def test_a_parcel_photo_is_kept_with_the_order(client, auth, app):
    import io
    order_id, _ = _order(app, status="to_pack")
    auth.login("warehouse")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    bad = client.post(f"/floor/pack/{order_id}/photo", data={"photo": (io.BytesIO(b"hello"), "x.png", "image/png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "not a photo" in bad.get_data(as_text=True)
    page = client.post(f"/floor/pack/{order_id}/photo", data={"photo": (io.BytesIO(png), "p.png", "image/png")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Photo saved" in page
    photo_url = page.split('src="/floor/photos/')[1].split('"')[0]
    assert client.get(f"/floor/photos/{photo_url}").data == png


def test_packers_page_counts_orders_and_wrong_scans_per_packer(client, auth, app):
    order_id, version = _order(app, status="to_pack", lines=(("MUG", 1, "5.00"),))
    auth.login("warehouse")
    scan(client, order_id, "PLATE-NOPE")
    scan(client, order_id, "MUG")
    client.post(f"/floor/pack/{order_id}/packed", data={"version": version})
    assert client.get("/floor/packers").status_code == 403
    auth.logout()
    auth.login("supervisor")
    page = client.get("/floor/packers").get_data(as_text=True)
    row = page[page.index("<td data-label=\"Packer\">Warehouse</td>"):].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[:-1]] == \
        ["Warehouse", "1", "1.0", "2", "1", "50.0 %", "0"]
