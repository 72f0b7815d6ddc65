"""Upload limits: how long and how much memory reading an .xlsx costs, real and hostile.

    python -m bench.bench_upload [--bomb-mb 93] [--rows 20000]

Prints, for a realistic tracking sheet of --rows rows, for a shared-strings zip bomb
unpacking to --bomb-mb MB, and for the worst a file within the limits can cost (shared
strings exactly at XLSX_MAX_SHARED_STRINGS, the ratio check lifted): packed size, seconds
and peak Python memory (tracemalloc) spent in fulfil.bulk.parsing.read_upload, and what
it answered.
"""
import argparse
import io
import time
import tracemalloc

from fulfil.bulk.parsing import Limits, ParseError, read_upload
from tests.xlsx_bombs import shared_strings_bomb


def realistic(rows):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["PO#", "Carrier", "Tracking Number", "SKU", "Qty", "Ship date"])
    for n in range(rows):
        sheet.append([f"10{n:011d}", "UPS", f"1Z999AA1{n:010d}", f"SKU-{n % 500}", 1, "2026-05-01"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _read(data, max_rows, limits):
    try:
        return f"read {len(read_upload(data, 'bench.xlsx', max_rows, limits).rows):,} rows"
    except ParseError as exc:
        return f"refused: {exc}"


def measure(label, data, max_rows, limits=Limits()):
    """Seconds from an untraced run (tracemalloc slows Python several times), then the
    peak from a traced one."""
    started = time.perf_counter()
    answer = _read(data, max_rows, limits)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    _read(data, max_rows, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<28} packed={len(data) / 1024:,.0f} KB  {seconds:6.2f} s  peak={peak / 2**20:,.1f} MB  {answer}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bomb-mb", type=float, default=93)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    measure(f"tracking sheet {args.rows:,} rows", realistic(args.rows), args.rows)
    bomb = shared_strings_bomb(int(args.bomb_mb * 2**20))
    measure(f"zip bomb {args.bomb_mb:g} MB unpacked", bomb, 20000)
    at_limit = Limits(xlsx_ratio=10**9)
    text = shared_strings_bomb(at_limit.xlsx_shared_strings - 1024)
    measure(f"text at the {at_limit.xlsx_shared_strings // 2**20} MB limit", text, 20000, at_limit)


if __name__ == "__main__":
    main()
