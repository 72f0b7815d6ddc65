"""Hand-built .xlsx files for the upload limits: a valid workbook whose shared-strings
table unpacks to any size (the zip-bomb shape: repeated text deflates ~1000:1)."""
import io
import zipfile

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{NS}" xmlns:r="{REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
}
HEADER = ("Order #", "Carrier", "Tracking #")


def _sheet(rows):
    cells = []
    for number, row in enumerate(rows, 1):
        refs = "".join(f'<c r="{"ABC"[i]}{number}" t="s"><v>{index}</v></c>' for i, index in enumerate(row))
        cells.append(f'<row r="{number}">{refs}</row>')
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{NS}">'
            f'<sheetData>{"".join(cells)}</sheetData></worksheet>')


def shared_strings_bomb(unpacked_bytes, text="1Z999AA10123456784 UPS "):
    """An .xlsx of a header and one row whose sharedStrings.xml holds `unpacked_bytes` of
    repeated <si> entries, written in chunks (the builder never holds it whole)."""
    out = io.BytesIO()
    strings = [*HEADER, "ORDER-1", "UPS", "1Z999AA10123456784"]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, xml in PARTS.items():
            archive.writestr(name, xml)
        archive.writestr("xl/worksheets/sheet1.xml", _sheet([(0, 1, 2), (3, 4, 5)]))
        entry = f"<si><t>{text}</t></si>".encode()
        head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{NS}">'
                + "".join(f"<si><t>{s}</t></si>" for s in strings)).encode()
        tail = b"</sst>"
        fill = max(0, (unpacked_bytes - len(head) - len(tail)) // len(entry))
        chunk = entry * 4096
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            member.write(head)
            for _ in range(fill // 4096):
                member.write(chunk)
            member.write(entry * (fill % 4096))
            member.write(tail)
    return out.getvalue()


def entity_bomb(levels=9):
    """A few KB of shared strings whose nested entities expand to 10**levels characters."""
    out = io.BytesIO()
    entities = '<!ENTITY e0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY e{n} "{("&e" + str(n - 1) + ";") * 10}">' for n in range(1, levels))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in PARTS.items():
            archive.writestr(name, xml)
        archive.writestr("xl/worksheets/sheet1.xml", _sheet([(0, 1, 2)]))
        archive.writestr("xl/sharedStrings.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [{entities}]><sst xmlns="{NS}">'
            f'<si><t>Order #</t></si><si><t>Carrier</t></si><si><t>&e{levels - 1};</t></si></sst>'))
    return out.getvalue()
