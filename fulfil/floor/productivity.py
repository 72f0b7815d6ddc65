"""Per packer: orders packed, orders per hour and scan accuracy over a period.

Packing time is the span from a packer's first to last scan of the day (at least one
hour), so a packer who packed 30 orders between 9:00 and 12:00 shows 10 an hour.
"""
from dataclasses import dataclass

from sqlalchemy import func, select

from fulfil.extensions import db
from fulfil.floor.models import PackScan
from fulfil.models import Event, User


@dataclass
class PackerStats:
    name: str
    orders_packed: int
    overrides: int
    scans: int
    mismatches: int
    hours: float

    @property
    def per_hour(self):
        return self.orders_packed / self.hours if self.hours else 0.0

    @property
    def accuracy(self):
        return 100.0 * (self.scans - self.mismatches) / self.scans if self.scans else None


def packers(since, until):
    scans = {row.user_id: row for row in db.session.execute(
        select(PackScan.user_id, func.count().label("scans"),
               func.count().filter(PackScan.result != "ok").label("mismatches"),
               func.min(PackScan.created_at).label("first"), func.max(PackScan.created_at).label("last"))
        .where(PackScan.created_at >= since, PackScan.created_at < until, PackScan.user_id.is_not(None))
        .group_by(PackScan.user_id))}
    packed = {row.user_id: row for row in db.session.execute(
        select(Event.user_id, func.count().filter(Event.action == "verified").label("verified"),
               func.count().filter(Event.action == "verify_override").label("overrides"))
        .where(Event.created_at >= since, Event.created_at < until, Event.user_id.is_not(None),
               Event.action.in_(("verified", "verify_override")))
        .group_by(Event.user_id))}
    ids = set(scans) | set(packed)
    names = {row.id: row.display_name or row.username for row in db.session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(ids)))} if ids else {}
    result = []
    for user_id in ids:
        s, p = scans.get(user_id), packed.get(user_id)
        hours = max((s.last - s.first).total_seconds() / 3600, 1.0) if s else 1.0
        result.append(PackerStats(names.get(user_id) or f"user {user_id}",
                                  (p.verified + p.overrides) if p else 0, p.overrides if p else 0,
                                  s.scans if s else 0, s.mismatches if s else 0, hours))
    return sorted(result, key=lambda r: (-r.orders_packed, r.name))
