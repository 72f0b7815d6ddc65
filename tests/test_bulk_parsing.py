"""Reading what sellers paste or upload: delimiters, encodings, headers, Excel files."""
import codecs
import io
from datetime import datetime

import pytest
from openpyxl import Workbook

from fulfil.bulk.parsing import (MAX_COLUMNS, ParseError, carrier_from_text, decode, guess_columns,
                                 read_pasted, read_upload, recognise_headers, sniff_delimiter)

UPS = "1Z999AA10123456784"
USPS = "9429141777631706690746"
MAX_ROWS = 1000


def cells(sheet):
    return [row["cells"] for row in sheet.rows]


@pytest.mark.parametrize("text, delimiter", [
    ("Order\tCarrier\tTracking\nPO1\tUPS\t" + UPS, "tab"),
    ("Order,Carrier,Tracking\nPO1,UPS," + UPS, "comma"),
    ("Order;Carrier;Tracking;Weight\nPO1;UPS;" + UPS + ";1,5\nPO2;UPS;" + UPS + ";2,25", "semicolon"),
    ('Order,Carrier,Tracking\n"PO,1",UPS,' + UPS, "comma"),
])
def test_delimiter_is_sniffed(text, delimiter):
    sheet = read_pasted(text, MAX_ROWS)
    assert sheet.delimiter == delimiter
    assert sheet.mapping == {"order": 0, "carrier": 1, "tracking": 2}
    assert cells(sheet)[1][2] == UPS


def test_quoted_field_keeps_its_comma():
    assert cells(read_pasted('Order,Tracking\n"PO,1",' + UPS, MAX_ROWS))[1] == ["PO,1", UPS]


def test_one_column_is_refused_with_a_clear_message():
    with pytest.raises(ParseError, match="only one column"):
        read_pasted("PO1\nPO2\n", MAX_ROWS)
    assert sniff_delimiter("PO1\nPO2") is None


TEXT = "Номер отправления;Перевозчик;Трек-номер\n12345678-0001-1;Почта России;RA123456785RU\n"


@pytest.mark.parametrize("data, encoding", [
    (TEXT.encode("utf-8"), "UTF-8"),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "UTF-8"),
    (TEXT.encode("utf-16"), "UTF-16"),  # Excel "Unicode text": UTF-16 LE with a BOM
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16"),
    (TEXT.encode("cp1251"), "Windows-1251"),
])
def test_encodings_are_detected(data, encoding):
    sheet = read_upload(data, "tracking.csv", MAX_ROWS)
    assert sheet.encoding == encoding
    assert sheet.mapping == {"order": 0, "carrier": 1, "tracking": 2}
    assert cells(sheet)[1] == ["12345678-0001-1", "Почта России", "RA123456785RU"]


def test_utf16_without_bom_is_recognised():
    text, encoding = decode("Order\tTracking\nPO1\t1Z\n".encode("utf-16-le"))
    assert encoding == "UTF-16" and text.startswith("Order\tTracking")


def test_mixed_encodings_are_read_line_by_line():
    data = "Заказ;Трек\n".encode("utf-8") + "ПО-1;RA123456785RU\n".encode("cp1251")
    text, encoding = decode(data)
    assert text == "Заказ;Трек\nПО-1;RA123456785RU\n"
    assert "Windows-1251" in encoding and "UTF-8" in encoding


def test_nuls_are_dropped():
    sheet = read_pasted("Order\tTracking\nPO\x001\t" + UPS + "\x00", MAX_ROWS)
    assert cells(sheet)[1] == ["PO1", UPS]


@pytest.mark.parametrize("header, field", [
    ("order number", "order"), ("Order #", "order"), ("PO#", "order"), ("Purchase Order", "order"),
    ("posting_number", "order"), ("Shipment ID", "order"), ("Номер отправления", "order"),
    ("№ отправления", "order"), ("CARRIER", "carrier"), ("Courier", "carrier"),
    ("Shipping Provider", "carrier"), ("перевозчик", "carrier"), ("Tracking", "tracking"),
    ("tracking number", "tracking"), ("Track", "tracking"), ("Tracking #", "tracking"),
    ("Трек-номер", "tracking"), ("трек номер", "tracking"), ("SKU", "sku"), ("Line #", "sku"),
    ("Qty", "quantity"), ("Quantity", "quantity"), ("Ship date", "ship_date"),
    ("Tracking URL", "tracking_url"), ("Reason", "reason"),
])
def test_header_variants(header, field):
    assert recognise_headers(["something else", header]) == {field: 1}


def test_unknown_headers_leave_the_mapping_to_the_seller():
    sheet = read_pasted("Ref\tShipper\tCode\nPO1\tUPS\t" + UPS + "\nPO2\tUSPS\t9429141777631706690746",
                        MAX_ROWS)
    assert not sheet.recognised
    # Guessed from the values; the mapping form shows it for the seller to confirm.
    assert sheet.mapping == {"tracking": 2, "carrier": 1, "order": 0}
    # Words over a column of tracking numbers: the first row is taken for column names.
    assert sheet.has_header
    assert not read_pasted(f"PO1\tUPS\t{UPS}\nPO2\tUSPS\t{USPS}", MAX_ROWS).has_header


def test_guess_columns_without_headers():
    rows = [["PO1", UPS], ["PO2", USPS]]
    assert guess_columns(rows) == {"tracking": 1, "order": 0}


@pytest.mark.parametrize("text, code", [
    ("UPS", "ups"), ("Fed Ex", "fedex"), ("почта россии", "russian_post"), ("RussianPost", "russian_post"),
    ("ChinaAirPost", "china_post"), ("  usps ", "usps"), ("Teleport", None),
])
def test_carrier_from_peoples_wording(text, code):
    assert carrier_from_text(text) == code


def xlsx(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_is_read_with_numbers_and_dates_as_sellers_typed_them():
    data = xlsx([["PO#", "Carrier", "Tracking Number", "Qty", "Ship date"],
                 [1234567890123, "FedEx", 123456789012, 2, datetime(2025, 3, 31)],
                 [None, None, None, None, None],
                 ["PO2", "USPS", 9429141777631706690746, 1.5, None]])
    sheet = read_upload(data, "orders.xlsx", MAX_ROWS)
    assert sheet.mapping == {"order": 0, "carrier": 1, "tracking": 2, "quantity": 3, "ship_date": 4}
    assert sheet.rows[1] == {"line": 2, "cells": ["1234567890123", "FedEx", "123456789012", "2", "2025-03-31"]}
    # An empty row is skipped, the row numbers stay those Excel shows.
    assert sheet.rows[2]["line"] == 4
    # A 22-digit number stored as a number has lost digits: kept as Excel has it.
    assert "e+21" in sheet.rows[2]["cells"][2]


def test_old_xls_and_damaged_xlsx_get_specific_messages():
    with pytest.raises(ParseError, match="old Excel .xls"):
        read_upload(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "orders.xls", MAX_ROWS)
    with pytest.raises(ParseError, match="damaged Excel"):
        read_upload(b"PK\x03\x04garbage", "orders.xlsx", MAX_ROWS)


def test_row_cap():
    text = "Order\tTracking\n" + "".join(f"PO{i}\t{UPS}\n" for i in range(11))
    assert len(read_pasted(text, 11).rows) == 12
    with pytest.raises(ParseError, match="more than 10 rows"):
        read_pasted(text, 10)


def test_column_cap_and_long_cells():
    with pytest.raises(ParseError, match=f"at most {MAX_COLUMNS}"):
        read_pasted("a\tb\n" + "\t".join("x" * (MAX_COLUMNS + 1)), MAX_ROWS)
    sheet = read_pasted("Order\tTracking\n" + "P" * 5000 + "\t" + UPS, MAX_ROWS)
    assert len(sheet.rows[1]["cells"][0]) == 500


def test_a_field_too_large_for_csv_is_a_clear_message():
    with pytest.raises(ParseError, match="Row 2 cannot be read"):
        read_pasted('Order,Tracking\n"' + "x" * 200_000 + '",' + UPS, MAX_ROWS)


def test_neutralised_formula_cells_read_back_as_typed():
    sheet = read_pasted("Order\tTracking\tQty\n'=PO1\t" + UPS + "\t'-1", MAX_ROWS)
    assert cells(sheet)[1] == ["=PO1", UPS, "-1"]


@pytest.mark.parametrize("text", ["", "   \n\t\n", "\x00\x00"])
def test_nothing_to_read(text):
    with pytest.raises(ParseError, match="nothing to read"):
        read_pasted(text, MAX_ROWS)


def test_column_names_alone_are_not_an_upload():
    with pytest.raises(ParseError, match="only column names"):
        read_pasted("Order\tCarrier\tTracking\n", MAX_ROWS)


@pytest.mark.parametrize("text, delimiter", [
    ("a;b;1,5\nc;d;2", ";"),  # decimal commas in a semicolon file
    ("a\tDoe, Jane\nb\tRoe, Rick", "\t"),
    ("a,b\nc,d\nnote without a delimiter", ","),
    ("Order\tTracking\nPO1\t1Z\n0\x1e0\x1e0", "\t"),  # \x1e is no line end for csv
])
def test_sniffing_edge_cases(text, delimiter):
    assert sniff_delimiter(text) == delimiter
