"""Tracking numbers: normalise, recognise the carrier, catch typos before a marketplace does.

Check digits are verified where the format defines one (UPU S10 numbers used by postal
services, UPS 1Z numbers, USPS 20/22-digit barcodes), so a mistyped digit is caught here
rather than by the marketplace hours later.
"""
import random
import re
from dataclasses import dataclass, field

from fulfil.inputs import MAX_URL, is_web_address

_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def s10_check_digit(serial8):
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    check = 11 - sum(int(d) * w for d, w in zip(serial8, weights)) % 11
    return {10: 0, 11: 5}.get(check, check)


def _s10_ok(number):
    m = _S10.match(number)
    return bool(m) and s10_check_digit(m.group(2)) == int(m.group(3))


def _ups_check_digit(body15):
    """UPS 1Z: characters 3..17 (letters mapped to digits), odd/even weighting, mod 10."""
    total = 0
    for i, ch in enumerate(body15):
        value = int(ch) if ch.isdigit() else (ord(ch) - 63) % 10
        total += value * (2 if i % 2 else 1)
    return (10 - total % 10) % 10


def _ups_ok(number):
    return _ups_check_digit(number[2:17]) == int(number[17])


def _mod10_31_check_digit(digits):
    """GS1 mod 10 (weights 3,1 from the right) used by USPS IMpb barcodes."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _usps_ok(number):
    return _mod10_31_check_digit(number[:-1]) == int(number[-1])


@dataclass(frozen=True)
class Format:
    pattern: re.Pattern
    example: str
    check: object = None  # callable(number) -> bool, for formats with a check digit


@dataclass(frozen=True)
class Carrier:
    code: str
    label: str
    formats: tuple
    url: str = ""  # tracking page; {n} is the number
    description: str = ""
    aliases: tuple = field(default=())


def _f(regex, example, check=None):
    return Format(re.compile(regex), example, check)


CARRIERS = {c.code: c for c in (
    Carrier("ups", "UPS", (_f(r"^1Z[0-9A-Z]{16}$", "1Z999AA10123456784", _ups_ok),),
            "https://www.ups.com/track?tracknum={n}", "1Z followed by 16 letters/digits",
            ("ups", "united parcel service")),
    Carrier("usps", "USPS", (_f(r"^9[2-5]\d{20}$", "9400111899223344556612", _usps_ok),
                             _f(r"^9[2-5]\d{18}$", "92001902416666000019", _usps_ok),
                             _f(r"^[A-Z]{2}\d{9}US$", "EA123456785US", _s10_ok)),
            "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
            "20 or 22 digits starting 92–95, or 2 letters + 9 digits + US",
            ("usps", "us postal service", "united states postal service")),
    Carrier("fedex", "FedEx", (_f(r"^\d{12}$", "123456789012"), _f(r"^\d{15}$", "123456789012345"),
                               _f(r"^96\d{20}$", "9612345678901234567890")),
            "https://www.fedex.com/fedextrack/?trknbr={n}", "12 or 15 digits, or 22 digits starting 96",
            ("fedex", "fed ex", "federal express", "fdx")),
    Carrier("dhl", "DHL", (_f(r"^\d{10}$", "1234567890"), _f(r"^JJD\d{10,20}$", "JJD0001234567890"),
                           _f(r"^GM\d{16,18}$", "GM2951173225174494")),
            "https://www.dhl.com/en/express/tracking.html?AWB={n}",
            "10 digits, JJD + digits or GM + 16–18 digits", ("dhl", "dhl express")),
    Carrier("russian_post", "Russian Post", (_f(r"^\d{14}$", "80082345678912"),
                                             _f(r"^[A-Z]{2}\d{9}RU$", "RA123456785RU", _s10_ok)),
            "https://www.pochta.ru/tracking?barcode={n}", "14 digits, or 2 letters + 9 digits + RU",
            ("russian post", "pochta", "почта россии", "почта")),
    Carrier("china_post", "China Post", (_f(r"^[A-DF-Z][A-Z]\d{9}CN$", "RR123456785CN", _s10_ok),),
            "https://track.chinapost.com.cn/?n={n}", "2 letters + 9 digits + CN",
            ("china post", "chinapost", "china air post", "chinaairpost")),
    Carrier("ems", "China EMS", (_f(r"^E[A-Z]\d{9}CN$", "EA123456785CN", _s10_ok),),
            "https://www.ems.com.cn/?mailNum={n}", "E + letter + 9 digits + CN", ("ems", "china ems")),
    Carrier("yanwen", "Yanwen", (_f(r"^[A-Z]{2}\d{9}YP$", "UG123456785YP", _s10_ok),
                                 _f(r"^YW\d{9}CN$", "YW123456789CN")),
            "https://track.yanwen.com/en?nums={n}", "2 letters + 9 digits + YP", ("yanwen",)),
    Carrier("4px", "4PX", (_f(r"^4PX\d{10,16}(CN)?$", "4PX3000123456789CN"),),
            "https://track.4px.com/#/result/0/{n}", "4PX + 10–16 digits (+CN)", ("4px", "4 px", "fourpx")),
    Carrier("yunexpress", "YunExpress", (_f(r"^YT\d{16}$", "YT2012345678901234"),),
            "https://www.yuntrack.com/parcelTracking?id={n}", "YT + 16 digits",
            ("yunexpress", "yun express", "yun")),
    Carrier("other", "Other carrier", (), "", "any letters and digits", ("other",)),
)}
KNOWN_CARRIERS = tuple(code for code in CARRIERS if code != "other")
_GENERIC = re.compile(r"^[A-Z0-9]{5,40}$")


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


def _matching_format(carrier, number):
    for fmt in carrier.formats:
        if fmt.pattern.match(number):
            return fmt
    return None


def guess_carriers(number):
    """Carriers whose format (and check digit) the number fits, most specific first."""
    number = normalise(number)
    found = []
    for code in KNOWN_CARRIERS:
        fmt = _matching_format(CARRIERS[code], number)
        if fmt and (fmt.check is None or fmt.check(number)):
            found.append(code)
    # A checked format beats an unchecked one (10 digits fits DHL, but an S10 with a
    # valid check digit is certainly a postal number).
    return sorted(found, key=lambda c: 0 if any(f.check for f in CARRIERS[c].formats
                                                 if f.pattern.match(number)) else 1)


@dataclass
class TrackingCheck:
    number: str
    carrier: str | None
    error: str | None = None
    suggestion: str | None = None  # carrier code the number looks like

    @property
    def ok(self):
        return self.error is None


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
    guesses = guess_carriers(number)
    if not carrier:
        if not guesses:
            return TrackingCheck(number, None, "Choose the carrier: this number does not match "
                                               "any carrier we recognise.")
        return TrackingCheck(number, guesses[0], suggestion=guesses[0])
    if carrier not in CARRIERS:
        return TrackingCheck(number, carrier, f"Unknown carrier “{carrier}”.")
    if carrier == "other":
        return TrackingCheck(number, carrier, suggestion=guesses[0] if guesses else None)
    spec = CARRIERS[carrier]
    fmt = _matching_format(spec, number)
    if fmt is None:
        message = f"{number} is not a {spec.label} tracking number ({spec.description})."
        if guesses:
            message += f" It looks like {CARRIERS[guesses[0]].label}."
        return TrackingCheck(number, carrier, message, guesses[0] if guesses else None)
    if fmt.check and not fmt.check(number):
        return TrackingCheck(number, carrier, f"{number} fails the {spec.label} check digit: "
                                              "a character is probably mistyped.")
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


def make_tracking_number(carrier, rng=random):
    """A valid number for `carrier` (with its check digit): for demo data, simulators, tests."""
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    letters = lambda n: "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))  # noqa: E731

    def s10(prefix, suffix):
        serial = digits(8)
        return f"{prefix}{serial}{s10_check_digit(serial)}{suffix}"

    if carrier == "ups":
        body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + digits(9)
        return "1Z" + body + str(_ups_check_digit(body))
    if carrier == "usps":
        body = "94" + digits(19)
        return body + str(_mod10_31_check_digit(body))
    if carrier == "fedex":
        return digits(12)
    if carrier == "dhl":
        return digits(10)
    if carrier == "russian_post":
        return s10(letters(2), "RU")
    if carrier == "china_post":
        return s10("R" + letters(1), "CN")
    if carrier == "ems":
        return s10("E" + letters(1), "CN")
    if carrier == "yanwen":
        return s10("U" + letters(1), "YP")
    if carrier == "4px":
        return "4PX" + digits(13) + "CN"
    if carrier == "yunexpress":
        return "YT" + digits(16)
    return letters(3) + digits(10)
