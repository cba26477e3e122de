"""The few aggregate queries of one scrape: plain rows (Core selects), no ORM object per row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.keys import TrackedKey, UsageRecord
from blueprints.providers.models import Provider
from blueprints.shared import passfacts
from blueprints.status import Bucket, Health
from database import db, db_now

K = TrackedKey.__table__


def key_rows() -> list:
    """Every tracked key with its labels and stored poll state (the key's masked ends only)."""
    p, u = Provider.__table__, User.__table__
    query = (
        select(
            K.c.id,
            K.c.head,
            K.c.last4,
            p.c.name.label("provider"),
            u.c.username.label("owner"),
            K.c.unit,
            K.c.status,
            K.c.remaining,
            K.c.unlimited,
            K.c.expires_at,
            K.c.last_polled_at,
        )
        .join(p, p.c.id == K.c.provider_id)
        .join(u, u.c.id == K.c.user_id)
        .order_by(K.c.id)
    )
    return db.session.execute(query).all()


def spend_rows() -> list:
    """(key id, unit, summed cost) from the logged requests; the log is never pruned."""
    r = UsageRecord.__table__
    query = select(r.c.key_id, r.c.unit, func.sum(r.c.cost)).group_by(r.c.key_id, r.c.unit)
    return db.session.execute(query).all()


def health_rows() -> list:
    """(provider, model, state, ttft p50 ms, tokens/s p50); model "" is the provider itself."""
    h, p = Health.__table__, Provider.__table__
    query = select(p.c.name, h.c.model, h.c.state, h.c.ttft_p50_ms, h.c.tps_p50).join(
        p, p.c.id == h.c.provider_id
    )
    return db.session.execute(query).all()


def today_buckets(now: datetime | None = None) -> list:
    """Today's (UTC) day buckets: (provider, model, total, ok, latency n/sum, histogram).

    A day bucket is rebuilt by every probe pass, so it is current; one row per provider and
    model keeps a scrape small whatever the history holds.
    """
    b, p = Bucket.__table__, Provider.__table__
    now = now or datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    query = select(
        p.c.name, b.c.model, b.c.total, b.c.ok, b.c.latency_n, b.c.latency_sum, b.c.histogram
    ).join(p, p.c.id == b.c.provider_id)
    return db.session.execute(query.where(b.c.grain == "d", b.c.start == day)).all()


def lease_rows() -> list:
    """(lease name, holder, live) from the scheduler's lease table, judged by the database's clock.

    The table is the scheduler's; nothing may import the scheduler, so it is read by name.
    """
    lease = db.metadata.tables["scheduler_lease"]
    live = lease.c.expires_at > db_now()
    return db.session.execute(select(lease.c.name, lease.c.holder, live)).all()


def provider_names() -> dict[int, str]:
    """Provider id -> name, for the pass facts' labels."""
    p = Provider.__table__
    return dict(db.session.execute(select(p.c.id, p.c.name)).all())


def facts() -> dict:
    """The passes' counters and last-pass figures."""
    return passfacts.read()
