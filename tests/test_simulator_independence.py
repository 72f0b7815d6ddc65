"""Simulators hold their own knowledge: none imports fulfil, so a misreading in an adapter
cannot agree with itself through the simulator. Where both keep the same fact (a carrier
number format), the two independent copies are checked against each other."""
import ast
import random
from pathlib import Path

import pytest

from fulfil import tracking
from simulators import common

SIMULATORS = sorted((Path(__file__).resolve().parents[1] / "simulators").glob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            yield str(node.args[0].value)


@pytest.mark.parametrize("path", SIMULATORS, ids=lambda p: p.name)
def test_no_simulator_imports_fulfil(path):
    found = [name for name in imported_modules(path) if name.split(".")[0] in ("fulfil", "workers")]
    assert not found, f"{path.name} imports {found}: give the simulator its own table from the spec"


def test_the_import_check_sees_imports(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from fulfil.marketplaces.walmart import CARRIERS\n"
                      "import importlib\nimportlib.import_module('fulfil.tracking')\n")
    assert set(imported_modules(sneaky)) == {"fulfil.marketplaces.walmart", "importlib", "fulfil.tracking"}


# Formats with a check digit, and a digit position a typo may hit.
CHECKED = {"ups": 12, "usps": 5, "fedex": 5, "dhl": 5, "china_post": 5, "yanwen": 5, "russian_post": 5}


@pytest.mark.parametrize("carrier", sorted(common.TRACKING_FORMATS))
def test_simulator_tracking_numbers_pass_fulfils_check(carrier):
    rng = random.Random(carrier)
    for _ in range(50):
        number = common.fake_tracking_number(carrier, rng)
        checked = tracking.check(number, carrier)
        assert checked.ok, (number, checked.error)
        if carrier in CHECKED:  # both agree on the check digit, not only on the pattern
            at = CHECKED[carrier]
            typo = number[:at] + str((int(number[at]) + 1) % 10) + number[at + 1:]
            assert "check digit" in (tracking.check(typo, carrier).error or ""), typo


def test_simulator_tracking_pages_match_fulfils():
    for carrier in common.TRACKING_PAGES:
        assert common.tracking_page(carrier, "N1") == tracking.tracking_url(carrier, "N1")
