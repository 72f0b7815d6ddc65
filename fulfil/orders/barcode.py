"""Code 128 barcodes as inline SVG, for packing slips: a scanner reads the order number back
into the scan box. Small enough to keep here instead of adding a dependency."""
import re

from markupsafe import Markup, escape

# Bar/space widths (in modules) of symbol values 0–105; STOP has a seventh, final bar.
PATTERNS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232",
)
STOP = "2331112"
CODE_C, CODE_B, START_B, START_C = 99, 100, 104, 105
QUIET = 10  # modules of blank space each side, so a scanner finds the start
_DIGIT_RUN = re.compile(r"\d{4,}")


def symbols(text):
    """Symbol values for `text` (printable ASCII), check symbol included, stop excluded.

    Runs of four or more digits go in code set C (two digits per symbol) so long order
    numbers stay short enough to scan from a printed slip.
    """
    if not text or any(not 32 <= ord(ch) <= 126 for ch in text):
        raise ValueError("Code 128 here takes printable ASCII only")
    values, code_set, position = [], None, 0

    def use(wanted):
        if code_set is None:
            values.append(START_C if wanted == "C" else START_B)
        elif code_set != wanted:
            values.append(CODE_C if wanted == "C" else CODE_B)
        return wanted

    while position < len(text):
        run = _DIGIT_RUN.match(text, position)
        if run:
            digits = run.group()[: len(run.group()) // 2 * 2]
            code_set = use("C")
            values.extend(int(digits[i:i + 2]) for i in range(0, len(digits), 2))
            position += len(digits)
        else:
            code_set = use("B")
            values.append(ord(text[position]) - 32)
            position += 1
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return values + [check]


def svg(text, height=60):
    """The barcode as an inline <svg> (Markup), or '' when `text` cannot be encoded."""
    try:
        widths = "".join(PATTERNS[v] for v in symbols(text)) + STOP
    except ValueError:
        return Markup("")
    bars, x = [], QUIET
    for index, width in enumerate(int(w) for w in widths):
        if index % 2 == 0:  # patterns alternate bar, space, bar, ...
            bars.append(f'<rect x="{x}" y="0" width="{width}" height="{height}"/>')
        x += width
    total = x + QUIET
    return Markup(f'<svg class="barcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {height}" '
                  f'width="{total * 2}" height="{height}" preserveAspectRatio="none" shape-rendering="crispEdges" '
                  f'role="img" aria-label="Barcode {escape(text)}"><rect width="{total}" height="{height}" '
                  f'fill="#fff"/><g fill="#000">{"".join(bars)}</g></svg>')
