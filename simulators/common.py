"""What every marketplace simulator shares: state, write log, faults, rate limits, fake data.

A simulator is a Flask app built by `simulators.<kind>.create_app(state)`. Its API routes
behave like the marketplace's; `/_sim/...` routes (not part of any marketplace) let tests,
benchmarks and the demo inject faults, generate orders, set bad data inside an order,
trigger marketplace-side events and read the log of every write each order received.
"""
import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from flask import Blueprint, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server


@dataclass
class Faults:
    latency_ms: float = 0.0  # added to every API call
    error_rate: float = 0.0  # share of API calls answered with a 5xx
    timeout_rate: float = 0.0  # share of API calls that hang `timeout_seconds` then fail
    timeout_seconds: float = 15.0
    burst_429: int = 0  # the next N API calls answer 429
    outage: bool = False  # every API call answers 503
    # Token bucket per account (Client-Id / token): requests per second and burst size.
    rate_limit: float = 0.0  # 0 = unlimited
    burst: int = 0


class TokenBucket:
    def __init__(self, rate, burst):
        self.rate, self.capacity = rate, max(burst, 1)
        self.tokens, self.stamp = float(self.capacity), time.monotonic()

    def take(self):
        """Return 0 when a token was taken, else the seconds until the next token."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class SimState:
    """Everything one simulator holds. Guard reads and writes with `lock`."""
    kind: str
    seed: int = 7
    orders: dict = field(default_factory=dict)  # external id -> marketplace-native dict
    writes: list = field(default_factory=list)  # every write call the API accepted
    faults: Faults = field(default_factory=Faults)
    counters: dict = field(default_factory=dict)  # calls, 429s, 5xx, timeouts per kind
    extra: dict = field(default_factory=dict)  # per-marketplace state (tokens, jobs, ...)

    def __post_init__(self):
        self.lock = threading.RLock()
        self.rng = random.Random(self.seed)
        self.buckets = {}

    def count(self, name):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    def log_write(self, order_id, call, body, outcome="applied"):
        """Record a write an order received; tests use it to prove no loss, no duplicates."""
        with self.lock:
            self.writes.append({"at": utcnow_iso(), "order_id": str(order_id), "call": call,
                                "body": body, "outcome": outcome})

    def rate_wait(self, account_key):
        """Seconds the caller must wait (0 when within its account's rate limit)."""
        faults = self.faults
        if not faults.rate_limit:
            return 0.0
        with self.lock:
            bucket = self.buckets.get(account_key)
            if bucket is None or bucket.rate != faults.rate_limit:
                bucket = self.buckets[account_key] = TokenBucket(faults.rate_limit,
                                                                 faults.burst or int(faults.rate_limit) or 1)
            return bucket.take()


def utcnow():
    return datetime.now(timezone.utc)


def utcnow_iso():
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(dt):
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(dt):
    return int(dt.timestamp() * 1000)


def inject_faults(state, error_response):
    """Apply the configured faults to the current API call.

    `error_response(status, message, retry_after=None)` builds the marketplace's own error
    answer. Returns a response to send instead of the real one, or None to go on.
    """
    faults = state.faults
    state.count("calls")
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000.0)
    if faults.outage:
        state.count("outage")
        return error_response(503, "Service Unavailable")
    with state.lock:
        burst = faults.burst_429 > 0
        if burst:
            faults.burst_429 -= 1
    if burst:
        state.count("429")
        return error_response(429, "rate limit", retry_after=1.0)
    roll = state.rng.random()
    if roll < faults.timeout_rate:
        state.count("timeouts")
        time.sleep(faults.timeout_seconds)
        return error_response(504, "Gateway Timeout")
    if roll < faults.timeout_rate + faults.error_rate:
        state.count("5xx")
        return error_response(500, "Internal Server Error")
    return None


def admin_blueprint(state, generate, event):
    """/_sim routes. `generate(state, count, **options)` adds orders and returns their ids;
    `event(state, order_id, name)` applies a marketplace-side event (cancel, deliver, dispute)."""
    bp = Blueprint("sim_admin", __name__, url_prefix="/_sim")

    @bp.get("/health")
    def health():
        return jsonify(kind=state.kind, orders=len(state.orders))

    @bp.get("/writes")
    def writes():
        order_id = request.args.get("order_id")
        with state.lock:
            rows = [w for w in state.writes if order_id is None or w["order_id"] == order_id]
        return jsonify(writes=rows)

    @bp.get("/counters")
    def counters():
        with state.lock:
            return jsonify(dict(state.counters))

    @bp.route("/faults", methods=["GET", "POST"])
    def faults():
        if request.method == "POST":
            changes = request.get_json(force=True) or {}
            with state.lock:
                for key, value in changes.items():
                    if not hasattr(state.faults, key):
                        return jsonify(error=f"unknown fault {key}"), 400
                    setattr(state.faults, key, type(getattr(state.faults, key))(value))
                state.buckets.clear()
        return jsonify(asdict(state.faults))

    @bp.post("/reset")
    def reset():
        with state.lock:
            state.orders.clear()
            state.writes.clear()
            state.counters.clear()
            state.extra.clear()
            state.buckets.clear()
            state.faults = Faults()
        return jsonify(ok=True)

    @bp.post("/generate")
    def generate_orders():
        options = request.get_json(force=True) or {}
        count = int(options.pop("count", 10))
        with state.lock:
            ids = generate(state, count, **options)
        return jsonify(ids=ids)

    @bp.post("/events")
    def events():
        body = request.get_json(force=True) or {}
        with state.lock:
            if body.get("order_id") not in state.orders:
                return jsonify(error="no such order"), 404
            event(state, body["order_id"], body.get("event"))
        return jsonify(ok=True)

    @bp.get("/orders/<order_id>")
    def raw_order(order_id):
        with state.lock:
            order = state.orders.get(order_id)
            return (jsonify(order), 200) if order else (jsonify(error="no such order"), 404)

    @bp.post("/orders/<order_id>")
    def edit_order(order_id):
        """Set values inside a stored order, as a marketplace with bad data would send them:
        {"set": [[["products", 0, "quantity"], -3], ...]} (a path of keys and list indexes)."""
        changes = (request.get_json(force=True) or {}).get("set") or []
        with state.lock:
            order = state.orders.get(order_id)
            if order is None:
                return jsonify(error="no such order"), 404
            try:
                for path, value in changes:
                    *parents, last = path
                    target = order
                    for key in parents:
                        target = target[key]
                    target[last] = value
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                return jsonify(error=f"cannot set {path!r}: {exc!r}"), 400
            return jsonify(order)

    return bp


# -- fake but realistic data ------------------------------------------------------------

US_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
            "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Carlos",
            "Maria", "Aisha", "Wei", "Priya", "Omar", "Emily", "Daniel", "Sofia"]
US_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor",
           "Moore", "Jackson", "Lee", "Nguyen", "Patel", "Kim", "Chen", "Walker", "Young"]
US_CITIES = [("Austin", "TX", "78701"), ("Columbus", "OH", "43215"), ("Denver", "CO", "80202"),
             ("Seattle", "WA", "98101"), ("Miami", "FL", "33130"), ("Chicago", "IL", "60601"),
             ("Phoenix", "AZ", "85004"), ("Atlanta", "GA", "30303"), ("Boston", "MA", "02108"),
             ("Portland", "OR", "97204"), ("Nashville", "TN", "37203"), ("Raleigh", "NC", "27601")]
US_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Blvd", "Elm St", "Pine Rd",
              "Lakeview Dr", "Washington Ave", "Sunset Blvd"]
RU_FIRST = ["Александр", "Мария", "Дмитрий", "Анна", "Сергей", "Елена", "Иван", "Ольга",
            "Алексей", "Наталья", "Андрей", "Татьяна", "Михаил", "Ирина"]
RU_LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
           "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков"]
RU_CITIES = [("Москва", "Москва", "101000"), ("Санкт-Петербург", "Санкт-Петербург", "190000"),
             ("Казань", "Татарстан", "420111"), ("Екатеринбург", "Свердловская обл.", "620014"),
             ("Новосибирск", "Новосибирская обл.", "630099"), ("Краснодар", "Краснодарский край", "350000")]
RU_STREETS = ["ул. Ленина", "ул. Пушкина", "пр. Мира", "ул. Гагарина", "ул. Советская",
              "Невский пр.", "ул. Садовая"]
PRODUCTS = [
    ("Wireless earbuds, black", "EAR-BT-01", 29.99), ("USB-C charging cable 2 m", "CBL-USBC-2M", 8.49),
    ("Stainless steel water bottle 750 ml", "BTL-SS-750", 17.90), ("Yoga mat 6 mm, purple", "YOGA-6-PUR", 24.00),
    ("LED desk lamp with dimmer", "LAMP-LED-D", 34.50), ("Phone case, clear, iPhone 15", "CASE-IP15-CLR", 11.99),
    ("Cotton T-shirt, white, L", "TS-WHT-L", 12.00), ("Running socks, 3 pairs", "SOCK-RUN-3", 9.99),
    ("Ceramic coffee mug 350 ml", "MUG-CER-350", 13.25), ("Kids' puzzle 100 pieces", "PUZ-100-KID", 15.75),
    ("Bluetooth speaker, waterproof", "SPK-BT-WP", 45.00), ("Kitchen scale, digital", "SCL-KIT-DG", 19.49),
    ("Backpack 25 l, grey", "BAG-25-GRY", 39.90), ("Fitness tracker band", "FIT-BAND-2", 49.99),
    ("Wall clock, silent, 30 cm", "CLK-WALL-30", 22.00), ("Silicone baking mat set", "BAKE-SIL-2", 14.99),
]


def fake_person(rng, russian=False):
    if russian:
        last, first = rng.choice(RU_LAST), rng.choice(RU_FIRST)
        if first.endswith("а") or first.endswith("я"):
            last += "а"
        city, region, postcode = rng.choice(RU_CITIES)
        return {"name": f"{first} {last}", "first": first, "last": last,
                "address1": f"{rng.choice(RU_STREETS)}, д. {rng.randint(1, 120)}, кв. {rng.randint(1, 300)}",
                "city": city, "region": region, "postal_code": postcode, "country": "RU",
                "phone": f"+79{rng.randint(100000000, 999999999)}"}
    first, last = rng.choice(US_FIRST), rng.choice(US_LAST)
    city, region, postcode = rng.choice(US_CITIES)
    return {"name": f"{first} {last}", "first": first, "last": last,
            "address1": f"{rng.randint(10, 9999)} {rng.choice(US_STREETS)}",
            "city": city, "region": region, "postal_code": postcode, "country": "US",
            "phone": f"{rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}",
            "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"}


def fake_products(rng, count):
    return rng.sample(PRODUCTS, count)


def fake_ship_by(rng, now=None):
    """Ship-by times spread so New, Due today and Past due are all populated."""
    now = now or utcnow()
    bucket = rng.random()
    if bucket < 0.2:
        return now - timedelta(hours=rng.uniform(1, 72))  # past due
    if bucket < 0.5:
        return now + timedelta(hours=rng.uniform(0.5, 10))  # due today-ish
    return now + timedelta(hours=rng.uniform(12, 96))


# -- tracking numbers carriers really issue -------------------------------------------------
# The simulators' own knowledge of carrier number formats (public format descriptions:
# UPS 1Z with its mod-10 check character, USPS IMpb 22 digits with the GS1 mod-10 check
# digit, UPU S10 for postal services, FedEx Express 12 and DHL Express 10 digits with their check digits), so generated
# shipped orders carry numbers a careful client accepts. Never taken from fulfil.

def _digits(rng, count):
    return "".join(rng.choice("0123456789") for _ in range(count))


def s10_number(rng, prefix, country):
    """UPU S10: 2 letters, 8 digits, a check digit (weights 8 6 4 2 3 5 9 7, mod 11), country."""
    serial = _digits(rng, 8)
    check = 11 - sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7))) % 11
    check = {10: 0, 11: 5}.get(check, check)
    return f"{prefix}{serial}{check}{country}"


def _ups_number(rng):
    # 6 shipper characters, service 03 (Ground), 7 package digits, the check character
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + "03" + _digits(rng, 7)
    total = sum((int(ch) if ch.isdigit() else (ord(ch) - 63) % 10) * (2 if i % 2 else 1)
                for i, ch in enumerate(body))
    return "1Z" + body + str((10 - total % 10) % 10)


def _fedex_number(rng):
    """FedEx Express 12 digits: weights 3 1 7 over the first 11, mod 11, mod 10."""
    body = _digits(rng, 11)
    total = sum(int(d) * w for d, w in zip(body, (3, 1, 7) * 4))
    return body + str(total % 11 % 10)


def _dhl_number(rng):
    """DHL Express 10 digits: the check digit is the first nine, mod 7."""
    body = _digits(rng, 9)
    return body + str(int(body) % 7)


def _usps_number(rng):
    body = "94" + _digits(rng, 19)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


TRACKING_FORMATS = {
    "ups": _ups_number,
    "usps": _usps_number,
    "fedex": _fedex_number,
    "dhl": _dhl_number,
    "amazon": lambda rng: "TBA" + _digits(rng, 12),  # Amazon Logistics
    "china_post": lambda rng: s10_number(rng, "R" + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ"), "CN"),
    "yanwen": lambda rng: s10_number(rng, "U" + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ"), "YP"),
    "4px": lambda rng: "4PX" + _digits(rng, 13) + "CN",
    "yunexpress": lambda rng: "YT" + _digits(rng, 16),
    "russian_post": lambda rng: s10_number(rng, "R" + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ"), "RU"),
}
TRACKING_PAGES = {
    "ups": "https://www.ups.com/track?tracknum={n}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={n}",
}


def fake_tracking_number(carrier, rng):
    """A number in `carrier`'s format (a key of TRACKING_FORMATS)."""
    return TRACKING_FORMATS[carrier](rng)


def tracking_page(carrier, number):
    return TRACKING_PAGES[carrier].format(n=number) if carrier in TRACKING_PAGES else None


class _KeepAllHeaders(WSGIRequestHandler):
    """Werkzeug drops request headers whose names contain "_" (against spoofing behind a
    proxy), but Walmart's WM_SEC.ACCESS_TOKEN, WM_QOS.CORRELATION_ID and WM_SVC.NAME have
    them: a simulator must see every header the marketplace sees."""

    def make_environ(self):
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ["HTTP_" + key.upper().replace("-", "_")] = value.replace("\r\n", "")
        return environ


def run_in_thread(app, port, host="127.0.0.1"):
    """Serve `app` on host:port in a daemon thread; returns the server (call shutdown())."""
    # One access-log line per simulated API call drowns what `make run` and the benches say.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True, request_handler=_KeepAllHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def dumps(value):
    return json.dumps(value, ensure_ascii=False)


