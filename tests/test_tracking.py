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
def test_generated_numbers_pass(carrier):
    rng = random.Random(carrier)
    for _ in range(20):
        assert tracking.check(tracking.make_tracking_number(carrier, rng), carrier).ok


@pytest.mark.parametrize("carrier", tracking.RECOGNISABLE)
def test_generated_numbers_are_recognised(carrier):
    rng = random.Random(carrier)
    for _ in range(20):
        assert carrier in tracking.guess_carriers(tracking.make_tracking_number(carrier, rng))


def test_carriers_without_a_recognisable_shape_are_not_guessed():
    assert "cdek" not in tracking.RECOGNISABLE and "boxberry" not in tracking.RECOGNISABLE
    assert tracking.check("1234567890", "cdek").ok and tracking.check("ABC123", "boxberry").ok


@pytest.mark.parametrize("carrier", ["ups", "usps", "fedex", "dhl", "russian_post", "china_post", "yanwen"])
def test_one_mistyped_digit_is_caught(carrier):
    number = tracking.make_tracking_number(carrier, random.Random(3))
    # change the last digit before the check digit / suffix
    index = max(i for i, ch in enumerate(number[:-3] if number[-2:].isalpha() else number[:-1]) if ch.isdigit())
    typo = number[:index] + str((int(number[index]) + 1) % 10) + number[index + 1:]
    result = tracking.check(typo, carrier)
    assert not result.ok
    assert "check digit" in result.error


@pytest.mark.parametrize("number, carrier", [
    ("986578788855", "fedex"), ("449044304137821", "fedex"), ("1Z999AA10123456784", "ups"),
    ("RA123456785RU", "russian_post"), ("EA123456785CN", "ems"), ("RR123456785CN", "china_post"),
    ("UG123456785YP", "yanwen"), ("RA123456785GB", "royal_mail"), ("LP00123456789012", "cainiao"),
])
def test_published_numbers_are_recognised(number, carrier):
    assert tracking.check(number, carrier).ok
    assert tracking.guess_carriers(number)[0] == carrier


def test_a_typo_in_a_recognised_shape_says_check_digit_not_no_carrier():
    result = tracking.check("1Z999AA10123456785")  # UPS example with its last digit changed
    assert not result.ok and result.suggestion == "ups"
    assert "fails the UPS check digit" in result.error


def test_fedex_and_dhl_typos_no_longer_save():
    assert not tracking.check("986578788856", "fedex").ok
    assert "check digit" in tracking.check("1234567890", "dhl").error


def test_every_carrier_walmart_accepts_is_a_fulfil_carrier():
    from fulfil.marketplaces import walmart
    reachable = {name for name in walmart.CARRIER_NAMES.values()}
    assert walmart.CARRIERS - {"FDX"} <= reachable  # FDX is Walmart's other spelling of FedEx
    assert set(walmart.CARRIER_NAMES) <= set(tracking.CARRIERS)


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

