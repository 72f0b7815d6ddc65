"""Tracking numbers: normalise, recognise the carrier, catch typos before a marketplace does.

The formats and check digits of the big carriers (UPS, USPS, FedEx, DHL, OnTrac, Amazon and
every postal service's UPU S10 numbers) come from jkeen's maintained tracking_number_data,
through the `tracking-numbers` package. `carriers.json` lists fulfil's carriers: which of
those definitions each one uses, and our own formats for the carriers that dataset lacks
(the Chinese and Russian carriers our sellers use) — data, not code.
"""
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from tracking_numbers import DEFINITIONS
from tracking_numbers.checksum_validator import S10

from fulfil.inputs import MAX_URL, is_web_address

_GENERIC = re.compile(r"^[A-Z0-9]{5,40}$")
_S10_SHAPE = re.compile(r"^[A-Z]{2}\d{9}([A-Z]{2})$")
_OWN_CHECKS = {"s10": lambda n: S10().passes([int(d) for d in n[2:10]], int(n[10]))}


@dataclass(frozen=True)
class Format:
    pattern: re.Pattern
    check: object = None  # callable(number) -> bool, for formats with a check digit
    guess: bool = True  # False: too broad to recognise a number by (any 10 digits, say)


@dataclass(frozen=True)
class Carrier:
    code: str
    label: str
    formats: tuple = ()  # our own formats, for carriers the dataset lacks
    url: str = ""  # tracking page; {n} is the number
    description: str = ""
    aliases: tuple = field(default=())
    library: tuple = ()  # tracking_number_data courier codes
    s10_countries: tuple = ()  # UPU S10 country suffixes this carrier's numbers end with

    @property
    def has_format(self):
        return bool(self.formats or self.library or self.s10_countries)


def _load():
    data = json.loads((Path(__file__).with_name("carriers.json")).read_text(encoding="utf-8"))
    carriers = {}
    for item in data["carriers"]:
        formats = tuple(Format(re.compile(f["regex"]), _OWN_CHECKS.get(f.get("check")), f.get("guess", True))
                        for f in item["formats"])
        carriers[item["code"]] = Carrier(item["code"], item["label"], formats, item["url"], item["description"],
                                         tuple(item["aliases"]), tuple(item["library"]),
                                         tuple(item["s10_countries"]))
    return carriers


CARRIERS = _load()
KNOWN_CARRIERS = tuple(code for code in CARRIERS if code != "other")
# Carriers whose numbers have a known shape: these can be recognised from the number alone.
RECOGNISABLE = tuple(code for code in KNOWN_CARRIERS if CARRIERS[code].library or CARRIERS[code].s10_countries
                     or any(f.guess for f in CARRIERS[code].formats))
_BY_COURIER = {courier: code for code, c in CARRIERS.items() for courier in c.library}
_BY_S10_COUNTRY = {}
for _code, _carrier in CARRIERS.items():
    for _country in _carrier.s10_countries:
        _BY_S10_COUNTRY.setdefault(_country, []).append(_code)


def normalise(number):
    """'1z 999-aa1 0123456784 ' -> '1Z999AA10123456784' (spaces, dashes, case)."""
    return re.sub(r"[\s\-_.]+", "", number or "").upper()


def carrier_code(name):
    """Recognise a carrier from a person's wording ('Fed Ex', 'почта') -> code, or None."""
    key = re.sub(r"\s+", " ", (name or "").strip().lower())
    if not key:
        return None
    for code, carrier in CARRIERS.items():
        if key == code or key == carrier.label.lower() or key in carrier.aliases:
            return code
    return None


@dataclass(frozen=True)
class _Match:
    carrier: str
    valid: bool  # the check digit (and the dataset's other checks) hold
    checked: bool  # the format has a check digit, so a match means something
    guess: bool = True
    url: str = ""


def _s10_carriers(number, country):
    codes = _BY_S10_COUNTRY.get(country, [])
    if "ems" in codes and "china_post" in codes:  # China's EMS numbers start with E
        return ["ems"] if number.startswith("E") else ["china_post"]
    return codes


def _matches(number):
    """Every carrier format the number fits, valid or not (a typo still fits the shape)."""
    found = []
    for definition in DEFINITIONS:
        result = definition.test(number)
        if result is None:
            continue
        if definition.courier.code == "s10":  # the postal service is the one of the country suffix
            codes = _s10_carriers(number, _S10_SHAPE.match(number).group(1))
        else:
            codes = [_BY_COURIER[definition.courier.code]] if definition.courier.code in _BY_COURIER else []
        for code in codes:
            found.append(_Match(code, result.valid, definition.checksum_validator is not None,
                                url=result.tracking_url or ""))
    for code, carrier in CARRIERS.items():
        for fmt in carrier.formats:
            if fmt.pattern.match(number):
                found.append(_Match(code, fmt.check is None or fmt.check(number), fmt.check is not None,
                                    fmt.guess))
    return found


def guess_carriers(number):
    """Carriers whose format (and check digit) the number fits, most specific first."""
    matches = [m for m in _matches(normalise(number)) if m.valid and m.guess]
    # A checked format beats an unchecked one (JJD… fits DHL's own format, but an S10 with
    # a valid check digit is certainly a postal number).
    ordered = sorted(matches, key=lambda m: 0 if m.checked else 1)
    return list(dict.fromkeys(m.carrier for m in ordered))


@dataclass
class TrackingCheck:
    number: str
    carrier: str | None
    error: str | None = None
    suggestion: str | None = None  # carrier code the number looks like

    @property
    def ok(self):
        return self.error is None


def _typo_message(number, label):
    return f"{number} fails the {label} check digit: a character is probably mistyped."


def check(number, carrier=None):
    """Validate a tracking number against a carrier's formats.

    Returns a TrackingCheck with the normalised number, the carrier (given or guessed)
    and, when something is wrong, a specific message saying what and what to do.
    """
    number = normalise(number)
    if not number:
        return TrackingCheck(number, carrier, "Enter a tracking number.")
    if not _GENERIC.match(number):
        return TrackingCheck(number, carrier,
                             "A tracking number has only letters and digits (5 to 40 of them).")
    matches = _matches(number)
    guesses = guess_carriers(number)
    if not carrier:
        if guesses:
            return TrackingCheck(number, guesses[0], suggestion=guesses[0])
        broken = next((m for m in matches if m.checked and m.guess), None)
        if broken:  # the shape of a known carrier with a wrong check digit: a typo, not "no carrier"
            return TrackingCheck(number, broken.carrier, _typo_message(number, CARRIERS[broken.carrier].label),
                                 broken.carrier)
        return TrackingCheck(number, None, "Choose the carrier: this number does not match "
                                           "any carrier we recognise.")
    if carrier not in CARRIERS:
        return TrackingCheck(number, carrier, f"Unknown carrier “{carrier}”.")
    spec = CARRIERS[carrier]
    if carrier == "other" or not spec.has_format:
        return TrackingCheck(number, carrier, suggestion=guesses[0] if guesses else None)
    own = [m for m in matches if m.carrier == carrier]
    if not own:
        message = f"{number} is not a {spec.label} tracking number ({spec.description})."
        if guesses:
            message += f" It looks like {CARRIERS[guesses[0]].label}."
        return TrackingCheck(number, carrier, message, guesses[0] if guesses else None)
    if not any(m.valid for m in own):
        return TrackingCheck(number, carrier, _typo_message(number, spec.label))
    return TrackingCheck(number, carrier)


URL_PROBLEM = ("Enter the tracking page's web address, starting with https:// "
               f"(at most {MAX_URL} characters).")


def url_problem(url):
    """Why a tracking page address given by a person or a sheet cannot be used, or None.

    The one check for the ship and tracking forms, bulk rows and actions.check_tracking:
    the address is shown as a link and sent to the marketplace."""
    return None if not url or is_web_address(url) else URL_PROBLEM


def tracking_url(carrier, number):
    spec = CARRIERS.get(carrier)
    return spec.url.format(n=number) if spec and spec.url else None


# Shapes for make_tracking_number: # = a digit, @ = a letter, * = a letter or digit; the
# number's check digit is found by trying each digit at the given index (None: no check digit).
_SHAPES = {
    "ups": ("1Z******03########", -1), "usps": ("9400##################", -1), "fedex": ("############", -1),
    "dhl": ("##########", -1), "amazon": ("TBA############", None), "ontrac": ("C##############", -1),
    "ems": ("E@#########CN", 10), "yanwen": ("U@#########YP", 10), "4px": ("4PX#############CN", None),
    "yunexpress": ("YT################", None), "cainiao": ("LP##############", None),
    "cdek": ("##########", None),
}
_ALPHABET = {"#": "0123456789", "@": "ABCDEFGHJKLMNPRSTUVWXYZ", "*": "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"}


def make_tracking_number(carrier, rng=random):
    """A valid number for `carrier` (with its check digit): for demo data, simulators, tests."""
    spec = CARRIERS.get(carrier)
    postal = ("R@#########" + spec.s10_countries[0], 10) if spec and spec.s10_countries else None
    shape, check_at = _SHAPES.get(carrier) or postal or ("@@@##########", None)
    for _ in range(1000):
        chars = [rng.choice(_ALPHABET[ch]) if ch in _ALPHABET else ch for ch in shape]
        candidates = [chars] if check_at is None else [
            chars[:check_at % len(chars)] + [d] + chars[check_at % len(chars) + 1:] for d in "0123456789"]
        for candidate in candidates:
            number = "".join(candidate)
            if carrier not in CARRIERS or not CARRIERS[carrier].has_format or check(number, carrier).ok:
                return number
    raise ValueError(f"no valid {carrier} number found")  # a shape that contradicts its carrier's format
