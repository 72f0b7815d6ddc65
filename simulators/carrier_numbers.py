"""Valid tracking numbers the simulated marketplaces and Amazon hand out, with the carriers'
published check digits (UPS 1Z, USPS IMpb mod 10, UPU S10). The simulators' own copy: they
never import fulfil, so a wrong check in fulfil fails a test instead of agreeing with itself."""
import random

_DIGITS = "0123456789"


def ups_check_digit(body15):
    """UPS 1Z: characters 3..17 (letters mapped to digits), odd/even weighting, mod 10."""
    total = sum((int(ch) if ch.isdigit() else (ord(ch) - 63) % 10) * (2 if i % 2 else 1)
                for i, ch in enumerate(body15))
    return (10 - total % 10) % 10


def mod10_31_check_digit(digits):
    """GS1 mod 10 (weights 3,1 from the right), as on USPS IMpb barcodes."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def s10_check_digit(serial8):
    check = 11 - sum(int(d) * w for d, w in zip(serial8, (8, 6, 4, 2, 3, 5, 9, 7))) % 11
    return {10: 0, 11: 5}.get(check, check)


def _digits(rng, n):
    return "".join(rng.choice(_DIGITS) for _ in range(n))


def make(carrier, rng=random):
    """A valid number for a carrier named as the marketplaces name it (UPS, USPS, ...)."""
    carrier = carrier.lower()
    if carrier == "ups":
        body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + "03" + _digits(rng, 7)
        return "1Z" + body + str(ups_check_digit(body))
    if carrier == "usps":
        body = "9400" + _digits(rng, 17)
        return body + str(mod10_31_check_digit(body))
    if carrier in ("amzn_us", "amzl", "amazon"):
        return "TBA" + _digits(rng, 12)
    if carrier in ("china post", "chinaairpost", "russian post", "russianpost", "почта россии"):
        serial = _digits(rng, 8)
        country = "CN" if "china" in carrier else "RU"
        return f"R{rng.choice('ABCDEFGH')}{serial}{s10_check_digit(serial)}{country}"
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)) + _digits(rng, 10)
