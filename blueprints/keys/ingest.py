"""Copy new rows of a key's relay request log into UsageRecord, a few keys per pass.

/api/log/token is limited to about 20 calls per 20 min per IP, so a pass reads at most
LOG_READS_PER_PASS logs, only for keys whose `used` moved since their last read. Background
calls already leave the budget's reserved share to people; of the rest, log reads leave
LOG_BUDGET_HEADROOM calls for the poller's /api/usage/token, which tells a spent key from an
invalid one. Relay log ids are renumbered on every query, so rows are matched by a hash of
their content instead. Keys whose family keeps no per-key log are never read.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

import relay
from blueprints.providers.models import Provider
from blueprints.providers.service import known_family
from blueprints.shared.fence import check
from blueprints.shared.vault import InvalidToken, Vault, vault
from database import db
from relay.calls import LOG_TOKEN
from relay.http import RATE_LIMITED
from relay.info import NEW_API_2025, NEW_API_2026

from .models import BalanceSample, TrackedKey, UsageRecord
from .signals import usage_ingested

log = logging.getLogger(__name__)

OVERLAP = 300  # seconds re-read below the cursor: rows that landed late or share a second
SCAN = 50  # candidate keys looked at per pass
LOG_GENERATIONS = (NEW_API_2025, NEW_API_2026)  # one-api has no per-key log


def ingest_logs(pool, now: datetime, timeout) -> tuple[int, int]:
    """Read a few changed keys' logs through `pool`; returns (log reads, new usage rows)."""
    cfg = current_app.config
    max_reads = int(cfg.get("LOG_READS_PER_PASS", 2))
    headroom = int(cfg.get("LOG_BUDGET_HEADROOM", 4))
    if max_reads <= 0:
        return 0, 0
    jobs = []
    for key, provider in _candidates():
        base_url = provider.base_url
        family = known_family(provider)
        if family is not None and relay.families.LOG not in family.can:
            key.log_checked_at = now  # no per-key log to read (LiteLLM, one-api…)
            continue
        info = relay.STATUS_CACHE.peek(base_url)
        if info is None:
            continue  # the pass could not read /api/status; try next time
        if info.generation not in LOG_GENERATIONS or not _changed(key):
            key.log_checked_at = now  # nothing to read: look at it again once it moves
            continue
        if len(jobs) < max_reads and _affordable(base_url, headroom):
            jobs.append((key, base_url, info))
    secrets = vault()
    if jobs:
        check()
    futures = [
        (key, pool.submit(_read, secrets, key.ciphertext, url, info, timeout))
        for key, url, info in jobs
    ]
    stored = [(key.id, _store_safely(key, future, now)) for key, future in futures]
    db.session.commit()
    _announce(stored)
    return len(jobs), sum(len(rows) for _, rows in stored)


def _candidates() -> list[tuple[TrackedKey, Provider]]:
    """Unpaused, readable keys polled since their log was last looked at; never-read first."""
    query = (
        select(TrackedKey)  # its provider comes joined (TrackedKey.provider)
        .where(
            TrackedKey.paused.is_(False),
            TrackedKey.last_polled_at.is_not(None),
            TrackedKey.status.not_in(("invalid", "disabled", "refused")),
            or_(
                TrackedKey.log_checked_at.is_(None),
                TrackedKey.last_polled_at > TrackedKey.log_checked_at,
            ),
        )
        .order_by(TrackedKey.log_checked_at.is_not(None), TrackedKey.log_checked_at)
        .limit(SCAN)
        .execution_options(populate_existing=True)  # the pass keeps rows loaded across commits
    )
    return [(key, key.provider) for key in db.session.scalars(query)]


def _announce(stored: list[tuple[int, list[tuple[datetime, str]]]]) -> None:
    """Tell listeners (usage rollups) which rows landed; a listener's bug never stops the pass."""
    app = current_app._get_current_object()
    for key_id, rows in stored:
        if not rows:
            continue
        try:
            usage_ingested.send(app, key_id=key_id, rows=rows)
        except Exception as exc:
            db.session.rollback()
            log.error("usage_ingested listener failed for key %s: %s", key_id, type(exc).__name__)


def _affordable(base_url: str, headroom: int) -> bool:
    """Reserve one log read unless that would eat into the calls kept for lookups."""
    room = relay.BUDGETS.room(base_url, LOG_TOKEN, background=True)
    if room is not None and room <= headroom:
        return False
    return relay.BUDGETS.reserve(base_url, (LOG_TOKEN,), background=True) == 0


def _changed(key: TrackedKey) -> bool:
    """True when the key was never read, or its `used` or status moved since the last read."""
    if key.log_checked_at is None:
        return True
    before = db.session.execute(
        select(BalanceSample.used, BalanceSample.status)
        .where(BalanceSample.key_id == key.id, BalanceSample.taken_at <= key.log_checked_at)
        .order_by(BalanceSample.taken_at.desc(), BalanceSample.id.desc())
        .limit(1)
    ).first()
    if before is None:
        return True
    # A key that just ran dry or expired often stops showing `used`: read its last rows once.
    moved = key.used is not None and before.used is not None and before.used != key.used
    return moved or before.status != key.status


def _read(secrets: Vault, ciphertext: bytes, base_url: str, info, timeout):
    """In a pool thread: decrypt in memory and read the log (None when the key will not open)."""
    try:
        key = secrets.decrypt(ciphertext)
    except InvalidToken:
        return None
    return relay.fetch_logs(base_url, key, info, timeout=timeout, prepaid=True)


def _store_safely(key: TrackedKey, future, now: datetime) -> list[tuple[datetime, str]]:
    """_store, but an odd log never stops the pass; the key is not re-read until it moves."""
    try:
        return _store(key, future.result(), now)
    except Exception as exc:
        log.error("log ingestion failed for key %s: %s", key.id, type(exc).__name__)
        key.log_checked_at = now
        return []


def _store(key: TrackedKey, result, now: datetime) -> list[tuple[datetime, str]]:
    """Insert the rows not stored yet; move the cursor. Returns (created_at, model) of new rows."""
    if result is None or result.rows is None:
        if result is None or result.answer.kind != RATE_LIMITED:
            key.log_checked_at = now  # refused for good (invalid key…): wait for a change
        return []
    floor = max(0, key.log_cursor - OVERLAP) if key.log_cursor else 0
    fresh = [row for row in result.rows if row.created_at >= floor]
    known = set(
        db.session.scalars(
            select(UsageRecord.dedupe).where(
                UsageRecord.key_id == key.id, UsageRecord.created_at >= _time(floor)
            )
        )
    )
    added = []
    for row, digest in digests(fresh):
        if digest in known:
            continue
        record = _record(key.id, row, digest, result.unit)
        db.session.add(record)
        added.append((record.created_at, record.model))
    if fresh:
        key.log_cursor = max(key.log_cursor or 0, max(row.created_at for row in fresh))
    key.log_checked_at = now
    return added


def digests(rows: list[relay.LogRow]) -> list[tuple[relay.LogRow, str]]:
    """A stable id per row from its content; identical rows are told apart by occurrence."""
    seen: Counter[str] = Counter()
    out = []
    for row in rows:
        content = "|".join(
            str(part)
            for part in (
                row.created_at,
                row.token_name,
                row.model,
                row.quota,
                row.prompt_tokens,
                row.completion_tokens,
                row.request_id,
            )
        )
        out.append((row, _hash(f"{content}#{seen[content]}")))
        seen[content] += 1
    return out


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _record(key_id: int, row: relay.LogRow, digest: str, unit: str) -> UsageRecord:
    return UsageRecord(
        key_id=key_id,
        created_at=_time(row.created_at),
        model=row.model[:128],
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cache_tokens=row.cache_tokens,
        quota=row.quota,
        cost=row.cost,
        unit=unit[:8],
        use_time_s=row.use_time_s,
        is_stream=row.is_stream,
        frt_ms=row.frt_ms,
        request_id=row.request_id[:64],
        dedupe=digest,
    )


def _time(unix: int) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(seconds=unix)
