"""Tracking numbers: normalising, carrier detection, typo-catching check digits."""
import random

import pytest

from fulfil import tracking


@pytest.mark.parametrize("raw, expected", [
    (" 1z 999 aa1-0123456784 ", "1Z999AA10123456784"),
    ("ra123456785ru", "RA123456785RU"),
    ("9400 1118 9922 3344 5566 12", "9400111899223344556612"),
])
def test_normalise(raw, expected):
    assert tracking.normalise(raw) == expected


@pytest.mark.parametrize("carrier", tracking.KNOWN_CARRIERS)
def test_generated_numbers_pass_and_are_recognised(carrier):
    rng = random.Random(carrier)
    for _ in range(20):
        number = tracking.make_tracking_number(carrier, rng)
        assert tracking.check(number, carrier).ok
        assert carrier in tracking.guess_carriers(number)


@pytest.mark.parametrize("carrier", ["ups", "usps", "russian_post", "china_post", "yanwen"])
def test_one_mistyped_digit_is_caught(carrier):
    number = tracking.make_tracking_number(carrier, random.Random(3))
    # change the last digit before the check digit / suffix
    index = max(i for i, ch in enumerate(number[:-3] if number[-2:].isalpha() else number[:-1]) if ch.isdigit())
    typo = number[:index] + str((int(number[index]) + 1) % 10) + number[index + 1:]
    result = tracking.check(typo, carrier)
    assert not result.ok
    assert "check digit" in result.error


@pytest.mark.parametrize("number, carrier, message", [
    ("", "ups", "Enter a tracking number."),
    ("12 34", "ups", "only letters and digits"),
    ("1Z-99@", "ups", "only letters and digits"),
    ("RA123456785RU", "ups", "It looks like Russian Post."),
    ("123456789012", "dhl", "is not a DHL tracking number"),
])
def test_specific_messages(number, carrier, message):
    result = tracking.check(number, carrier)
    assert not result.ok
    assert message in result.error


def test_carrier_is_suggested_when_not_given():
    result = tracking.check("1Z999AA10123456784")
    assert result.ok and result.carrier == "ups"
    assert not tracking.check("ZZZZ99999").ok  # matches nobody: ask for the carrier


def test_other_carrier_takes_any_plain_number():
    assert tracking.check("ABC123456", "other").ok


@pytest.mark.parametrize("words, code", [("Fed Ex", "fedex"), ("почта россии", "russian_post"),
                                         ("UPS", "ups"), ("China Air Post", "china_post"), ("?", None)])
def test_carrier_names_in_peoples_words(words, code):
    assert tracking.carrier_code(words) == code
