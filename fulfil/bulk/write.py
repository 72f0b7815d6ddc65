"""The batched write path of a bulk apply: a batch of orders changed in a few statements.

`fulfil.bulk.apply` checks a batch's rows once (preview.check_rows, against orders read
once as plain facts), then hands each order with rows to ship to `plan_order`, which works
out in memory exactly what `actions.perform("acknowledge")` + `perform("ship")` would
write — the order's new status, packages, package lines, audit events, outbox entries and
search keys. An order whose plan is refused is left out alone: nothing of it was written.

`BatchWrite.write` then writes every accepted plan of the batch in one statement per
table, and changes the orders in one UPDATE guarded by the version each plan was made
from (the optimistic lock perform uses). On PostgreSQL every statement takes its rows as
one JSON parameter (`INSERT ... SELECT ... FROM json_populate_recordset(...)`, `UPDATE ...
FROM json_populate_recordset(...)`): one parameter however many rows, so the statement
is parsed once and the driver has no parameters to escape one by one. On SQLite,
where a statement costs no round trip, one prepared statement runs for every row
(executemany) and rows whose ids are needed go in multi-row INSERT ... RETURNING.
New ids are matched to their rows by a key of the row itself (the entry's idempotency
key, the package's order and number), never by the order they come back in: SQLite
cannot return them in the order given, and asking SQLAlchemy to sort them would make it
insert one row at a time. When another tablet saved one of those orders meanwhile, the
guarded UPDATE is run again one order at a time: that order is refused ("changed while
the upload was being applied"), the others go on. The caller commits once per batch; the
outbox entries are enqueued after that commit together, in one go
(outbox.enqueue_after_commit).
"""
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, text

from fulfil import marketplaces, tracking
from fulfil.actions import InvalidInput
from fulfil.bulk.lookup import among, chunks, load_order_facts
from fulfil.extensions import db
from fulfil.models import Event, Order, OutboxEntry, SearchKey, Shipment, ShipmentLine
from fulfil.search import MAX_KEY
from fulfil.status import STATUS_LABELS, check_action, status_effects

CHANGED_MEANWHILE = "This order changed while the upload was being applied: upload this row again."


def load_orders_for_writing(order_ids):
    """{id: OrderFacts} as preview reads them, plus what a write needs: the version the
    plan is made from, the account, the sync state and when the order shipped."""
    orders = load_order_facts(order_ids)
    for chunk in chunks(sorted(orders)):
        query = (db.select(Order.id, Order.version, Order.account_id, Order.sync_state, Order.shipped_at,
                           Order.delivered_at).where(among(Order.id, chunk)))
        for order_id, *columns in db.session.execute(query):
            order = orders[order_id]
            order.version, order.account_id, order.sync_state, order.shipped_at, order.delivered_at = columns
    return orders


class _AsIf:
    """The order as if it had another status (after acknowledging it, for instance)."""

    def __init__(self, order, status):
        self._order, self.status = order, status

    def __getattr__(self, name):
        return getattr(self._order, name)


@dataclass(eq=False)
class _Package:
    params: dict
    lines: list  # [(order line id, quantity)]
    payload: dict | None
    id: int | None = None


@dataclass(eq=False)
class OrderPlan:
    order: object
    rows: list
    fields: dict  # the order's new status fields
    packages: list = field(default_factory=list)
    events: list = field(default_factory=list)
    entries: list = field(default_factory=list)  # [(params, tracking number or None)]
    keys: set = field(default_factory=set)
    entry_ids: list = field(default_factory=list)  # [(id, tracking number or None)] once written


def _line_payload(line, quantity):
    return {"line_number": line.line_number, "item_id": line.item_id, "sku": line.sku,
            "quantity": quantity}


def plan_order(order, rows, actor, packages, shipped_at, now):
    """What acknowledging (rows marked so) and shipping `packages` writes for `order`.

    `packages` are actions.Package objects; raises ActionNotAllowed or InvalidInput with
    the messages perform gives, before anything is written.
    """
    status = order.status
    plan = OrderPlan(order, rows, fields={})
    if any(row.acknowledge for row in rows):
        action = check_action(order, "acknowledge")
        _event(plan, actor, "acknowledge", status, action.to_status, None, now)
        if action.pushes and marketplaces.is_pushed(order, "acknowledge"):
            _entry(plan, actor, "acknowledge", {"external_id": order.external_id}, now)
        status = action.to_status
    action = check_action(_AsIf(order, status), "ship")
    module = marketplaces.module_for(order.marketplace)
    if not packages:
        raise InvalidInput({"": "Add at least one package with a tracking number."})
    if len(packages) > 1 and not module.MULTI_PACKAGE:
        raise InvalidInput({"": f"{order.account.marketplace_label} takes one tracking number per "
                                "order: ship it as one package."})
    shipped_at = shipped_at or now
    lines_by_id = {line.id: line for line in order.lines}
    left = {line.id: line.quantity_left for line in order.lines}
    notes = []
    for index, package in enumerate(packages, start=1):
        where = f"Package {index}: " if len(packages) > 1 else ""
        name = marketplaces.carrier_name(order.marketplace, package.carrier)
        if name is None:
            raise InvalidInput({"carrier": f"{where}{order.account.marketplace_label} does not accept "
                                           f"{tracking.CARRIERS[package.carrier].label} as a carrier."})
        wanted = package.lines or {line_id: qty for line_id, qty in left.items() if qty > 0}
        carried = []
        for line_id, quantity in wanted.items():
            line = lines_by_id.get(int(line_id))
            if line is None:
                raise InvalidInput({"": f"{where}line {line_id} is not on this order."})
            if quantity < 0 or quantity > left[line.id]:
                raise InvalidInput({"": f"{where}{line.sku or line.name}: {quantity} is more than the "
                                        f"{left[line.id]} left to ship."})
            if quantity:
                carried.append((line, quantity))
                left[line.id] -= quantity
        if not carried:
            raise InvalidInput({"": f"{where}the package carries nothing: every line is already shipped."})
        number = package.tracking_number
        url = package.tracking_url or tracking.tracking_url(package.carrier, number)
        ref = order.external_id if not module.MULTI_PACKAGE else None
        payload = None
        if action.pushes and marketplaces.is_pushed(order, "ship"):
            payload = {"external_id": order.external_id, "shipment_id": None, "carrier": package.carrier,
                       "carrier_name": name, "tracking_number": number, "tracking_url": url,
                       "shipped_at": shipped_at.isoformat() + "Z", "method_code": "Standard",
                       "lines": [_line_payload(line, qty) for line, qty in carried],
                       "delivery_scheme": order.delivery_scheme}
        plan.packages.append(_Package(
            params=dict(order_id=order.id, carrier=package.carrier, carrier_name=name,
                        tracking_number=number, tracking_url=url, shipped_at=shipped_at,
                        shipment_ref=ref, created_at=now),
            lines=[(line.id, qty) for line, qty in carried], payload=payload))
        plan.keys.update(k for k in (number, ref) if k)
        notes.append(f"{tracking.CARRIERS[package.carrier].label} {number}")
    new_status = action.to_status if all(qty == 0 for qty in left.values()) else status
    _event(plan, actor, "ship", status, new_status, "Shipped: " + ", ".join(notes), now)
    for package in plan.packages:
        if package.payload is not None:
            _entry(plan, actor, "ship", package.payload, now)
    plan.fields = status_effects(new_status, order.shipped_at, order.delivered_at, now)
    plan.fields["sync_state"] = "pending" if plan.entries else order.sync_state
    return plan


def _event(plan, actor, action, old, new, note, now):
    plan.events.append(dict(order_id=plan.order.id, user_id=getattr(actor.user, "id", None), actor=actor.name,
                            source=actor.source, action=action, old_value=STATUS_LABELS.get(old, old),
                            new_value=STATUS_LABELS.get(new, new), note=note, upload_id=actor.upload_id,
                            created_at=now))


def _entry(plan, actor, action, payload, now):
    order = plan.order
    plan.entries.append((dict(order_id=order.id, account_id=order.account_id, action=action, payload=payload,
                              state="pending", attempts=0, next_attempt_at=now,
                              idempotency_key=f"{order.id}-{action}-{uuid.uuid4().hex}",
                              user_id=getattr(actor.user, "id", None), created_at=now, updated_at=now),
                         payload.get("tracking_number")))


_orders = Order.__table__
# One order: the SQLite way for every order of a batch (executemany), and the way to find
# out which orders changed meanwhile on either database.
_UPDATE_ORDER = (_orders.update()
                 .where(_orders.c.id == bindparam("b_id"), _orders.c.version == bindparam("b_version"))
                 .values(status=bindparam("b_status"), open_to_ship=bindparam("b_open_to_ship"),
                         shipped_at=bindparam("b_shipped_at"), delivered_at=bindparam("b_delivered_at"),
                         sync_state=bindparam("b_sync_state"), updated_at=bindparam("b_updated_at"),
                         version=_orders.c.version + 1))


def _update_order_params(row):
    return {f"b_{name}": value for name, value in row.items()}


def _on_postgresql():
    return db.session.get_bind().dialect.name == "postgresql"


def plan_for_the_values_given():
    """PostgreSQL: plan each statement of this transaction for its own values. A batch's
    queries carry hundreds of ids or tracking numbers; from the sixth run on PostgreSQL
    would reuse a generic plan made for no values in particular, and for `= ANY(array)`
    on tables that grow during the upload that became a scan: 80 ms a query instead of
    under 1 ms. Planning costs a fraction of a millisecond per batch query."""
    if _on_postgresql():
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _as_json(rows):
    """PostgreSQL: rows as one JSON parameter, read back as rows of the table by
    json_populate_recordset: one statement of one parameter however many rows, parsed and
    planned once per batch."""
    return json.dumps(rows, separators=(",", ":"), default=_json_value)


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not written by the bulk path")


def _update_orders_on_postgresql(rows):
    """Every order of the batch in one UPDATE ... FROM json_populate_recordset(...), each
    guarded by its version; returns how many orders it changed."""
    settings = ", ".join(f"{name} = b.{name}" for name in rows[0] if name not in ("id", "version"))
    statement = text(f"UPDATE orders SET {settings}, version = orders.version + 1 "
                     "FROM json_populate_recordset(NULL::orders, :rows) AS b "
                     "WHERE orders.id = b.id AND orders.version = b.version")
    return db.session.execute(statement, {"rows": _as_json(rows)}).rowcount


class BatchWrite:
    """The accepted plans of one batch, written together by `write`."""

    def __init__(self, now, actor):
        self.now, self.actor = now, actor
        self.plans = []

    def add(self, plan):
        self.plans.append(plan)

    def write(self):
        """Write every plan; returns the plans refused because their order changed meanwhile."""
        if not self.plans:
            return []
        refused = self._update_orders()
        plans = [plan for plan in self.plans if plan not in refused]
        self._insert_packages(plans)
        self._insert_entries(plans)
        self._insert(Event, [event for plan in plans for event in plan.events])
        self._insert_keys(plans)
        self.plans = plans
        return refused

    def _update_orders(self):
        params = [dict(p.fields, id=p.order.id, version=p.order.version, updated_at=self.now)
                  for p in self.plans]
        if _on_postgresql():
            updated = _update_orders_on_postgresql(params)
        else:
            updated = db.session.execute(_UPDATE_ORDER, [_update_order_params(p) for p in params]).rowcount
        if updated == len(params):
            return []
        # Someone saved one of these orders since it was read. Each UPDATE matches at most
        # one row, so undo them all and find out which one by one: an UPDATE that matches
        # nothing changed nothing, so only that order is refused.
        db.session.rollback()
        refused = []
        for plan, one in zip(self.plans, params):
            if db.session.execute(_UPDATE_ORDER, _update_order_params(one)).rowcount != 1:
                refused.append(plan)
        return refused

    def _insert_packages(self, plans):
        packages = [package for plan in plans for package in plan.packages]
        ids = self._insert(Shipment, [package.params for package in packages],
                           returning=("order_id", "tracking_number"))
        lines = []
        for package, shipment_id in zip(packages, ids):
            package.id = shipment_id
            if package.payload is not None:
                package.payload["shipment_id"] = shipment_id
            lines += [dict(shipment_id=shipment_id, order_line_id=line_id, quantity=qty)
                      for line_id, qty in package.lines]
        self._insert(ShipmentLine, lines)

    def _insert_entries(self, plans):
        entries = [(plan, params, number) for plan in plans for params, number in plan.entries]
        ids = self._insert(OutboxEntry, [params for _, params, _ in entries], returning=("idempotency_key",))
        for (plan, _, number), entry_id in zip(entries, ids):
            plan.entry_ids.append((entry_id, number))

    def _insert_keys(self, plans):
        wanted = {(key.strip().lower()[:MAX_KEY], plan.order.id) for plan in plans for key in plan.keys
                  if key.strip()}
        if not wanted:
            return
        existing = set()
        for chunk in chunks(sorted({order_id for _, order_id in wanted})):
            existing.update(db.session.execute(
                db.select(SearchKey.key, SearchKey.order_id).where(among(SearchKey.order_id, chunk))))
        self._insert(SearchKey, [dict(key=key, order_id=order_id)
                                 for key, order_id in sorted(wanted - existing)])

    @staticmethod
    def _insert(model, rows, returning=()):
        """Insert `rows` (dicts with the same keys) in one statement, or one prepared
        statement run for each on SQLite. With `returning` (columns that tell the rows
        apart), the new ids in row order."""
        if not rows:
            return []
        table = model.__table__
        names = list(rows[0])
        if _on_postgresql():
            columns = ", ".join(names)
            statement = text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
                             f"FROM json_populate_recordset(NULL::{table.name}, :rows)"
                             + (f" RETURNING id, {', '.join(returning)}" if returning else ""))
            result = db.session.execute(statement, {"rows": _as_json(rows)})
        elif returning:  # SQLAlchemy's insertmanyvalues: multi-row INSERT ... RETURNING
            result = db.session.execute(
                table.insert().returning(table.c.id, *(table.c[name] for name in returning)), rows)
        else:
            db.session.execute(table.insert(), rows)
        if not returning:
            return []
        new_ids = {tuple(key): row_id for row_id, *key in result}
        if len(new_ids) != len(rows):
            raise ValueError(f"{table.name}: rows of one batch are not told apart by {returning}")
        return [new_ids[tuple(row[name] for name in returning)] for row in rows]

    def entry_ids(self):
        return [entry_id for plan in self.plans for entry_id, _ in plan.entry_ids]
