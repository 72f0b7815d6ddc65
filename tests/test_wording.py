"""Plain words: counted nouns and who changed an order."""
from types import SimpleNamespace

import pytest

from fulfil.wording import changed_by, plural


@pytest.mark.parametrize("count, expected", [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1200, "1,200 rows"),
                                             (None, "0 rows")])
def test_plural(count, expected):
    assert plural(count, "row") == expected


def test_irregular_plural():
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


@pytest.mark.parametrize("actor, source, expected", [
    ("marketplace", "marketplace", "imported from Walmart"),
    ("Anna", "ui", "by Anna"),
    ("Anna", "bulk", "by Anna (bulk upload)"),
    ("system", "system", "by fulfil (automatic)"),
])
def test_who_changed_an_order(actor, source, expected):
    assert changed_by(SimpleNamespace(actor=actor, source=source), "Walmart") == expected
