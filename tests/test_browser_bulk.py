"""A seller pastes tracking numbers on a tablet, fixes the rows that were wrong, uploads them again."""
import csv
import io
import random

import pytest

from fulfil.extensions import db
from fulfil.models import Shipment
from fulfil.tracking import make_tracking_number
from tests.conftest import make_order
from tests.fixtures_browser import login

pytestmark = pytest.mark.browser


def test_paste_preview_apply_then_fix_the_error_report_and_upload_it(live_server, page):
    rng = random.Random(5)
    with live_server.app.app_context():
        for i in range(20):
            make_order("walmart", external_id=f"PO{1000 + i}", status="to_pack")
        db.session.commit()
    good = [[f"PO{1000 + i}", "UPS", make_tracking_number("ups", rng)] for i in range(20)]
    pasted = [list(row) for row in good]
    pasted[2][0] = "PO9999"  # a mistyped order number
    pasted[5][2] = good[5][2][:-1] + str((int(good[5][2][-1]) + 1) % 10)  # a mistyped digit
    pasted[8][1] = "Teleport"  # no such carrier
    pasted[11][1:] = ["Russian Post", make_tracking_number("russian_post", rng)]  # not taken by Walmart
    pasted[14][2] = "1Z12345"  # cut short
    bad = {2, 5, 8, 11, 14}

    login(page, "seller")
    page.get_by_role("link", name="Bulk tracking").click()
    page.get_by_label("Paste rows from your spreadsheet").fill(
        "\n".join("\t".join(row) for row in [["PO#", "Carrier", "Tracking number"], *pasted]))
    page.get_by_role("button", name="Check rows").click()

    preview = page.locator("#preview")
    assert "15 will ship" in preview.locator(".tally").inner_text().replace("\n", " ")
    for reason in ("Order PO9999 not found", "fails the UPS check digit", "Carrier “Teleport” is not one we know",
                   "Walmart does not accept Russian Post", "is not a UPS tracking number"):
        assert preview.get_by_text(reason).is_visible()
    page.get_by_role("button", name="Apply 15 rows").click()

    result = page.locator("#progress")
    assert "15 shipped" in result.locator(".tally").inner_text().replace("\n", " ")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the 5 rows not applied").click()
    report = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert report[0] == ["PO#", "Carrier", "Tracking number", "reason"]
    assert len(report) == 6

    # The seller corrects each row in the report (the reason column may stay) and uploads it.
    by_line = {tuple(row): index for index, row in enumerate(pasted)}
    fixed = [report[0]] + [good[by_line[tuple(row[:3])]] + [row[3]] for row in report[1:]]
    assert {by_line[tuple(row[:3])] for row in report[1:]} == bad
    out = io.StringIO()
    csv.writer(out).writerows(fixed)
    page.get_by_role("link", name="Upload more").click()
    page.locator("input[type=file]").set_input_files(
        {"name": "fixed.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode("utf-8")})
    page.get_by_role("button", name="Check rows").click()
    assert "5 will ship" in page.locator("#preview .tally").inner_text().replace("\n", " ")
    page.get_by_role("button", name="Apply 5 rows").click()
    assert "5 shipped" in page.locator("#progress .tally").inner_text().replace("\n", " ")

    with live_server.app.app_context():
        numbers = set(db.session.scalars(db.select(Shipment.tracking_number)))
    assert numbers == {row[2] for row in good}
