"""One polling pass: due keys fanned out to a bounded pool, results written from this thread.

Threads only do HTTP (and decrypt); every database write happens here, in batches, so SQLite
sees one writer. Each provider's family is resolved once per pass. For one-api / new-api, whose
billing pair is limited per IP, the request budget is reserved before a key is dispatched, so a
pass never spends more than the budget; keys that do not fit stay due for the next pass. Other
families' calls are not limited per IP and need no reservation.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

import relay
from blueprints.providers.connect import connect, timeouts
from blueprints.providers.models import Provider
from blueprints.providers.service import family_of
from blueprints.shared import passfacts
from blueprints.shared.fence import check
from blueprints.shared.vault import InvalidToken, Vault, vault
from database import db, utcnow

from . import ingest
from .models import BalanceSample, TrackedKey
from .samples import Outcome, record
from .signals import key_polled

log = logging.getLogger(__name__)

FAILED = ("error", "unreachable", "rate_limited")  # counted as failed in the report


@dataclass
class PassReport:
    """What one pass did, for the CLI line and the scheduler log."""

    due: int = 0
    polled: int = 0  # samples written
    failed: int = 0  # of those, error / unreachable / rate_limited
    deferred: int = 0  # due keys left for a later pass (budget, 429 hold)
    log_reads: int = 0
    usage_rows: int = 0
    seconds: float = 0.0
    calls: Counter = field(default_factory=Counter)  # (provider_id, sample status) -> polls

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"polled {self.polled} of {self.due} due keys ({self.failed} failed, "
            f"{self.deferred} deferred), {self.log_reads} log reads, "
            f"{self.usage_rows} new usage rows, {self.seconds:.1f}s"
        )


@dataclass
class _Job:
    key_id: int
    ciphertext: bytes


@dataclass
class _Relay:
    """One provider during a pass: its family, its due keys and whether it may take more."""

    base_url: str
    family: relay.Family | None  # None: nothing at the address answered
    info: relay.RelayInfo | None  # one-api / new-api only
    queue: deque[_Job] = field(default_factory=deque)
    running: int = 0
    stopped: bool = False  # budget full or the relay said 429: the rest stays due
    background: bool = True  # False for a person's refresh: it may use people's share

    @property
    def budgeted(self) -> bool:
        """True when each poll spends the relay's per-IP budget (the billing pair)."""
        return self.family is not None and bool(self.family.poll_paths)


def poll_once(now: datetime | None = None, *, force: bool = False) -> PassReport:
    """Poll every due key (force: every unpaused key) once and ingest a few request logs.

    Never raises for relay trouble.
    """
    started = time.monotonic()
    cfg = current_app.config
    fixed_now = now
    now = now or utcnow()
    report = PassReport()
    relays = _due(now, report, force)
    threads = max(1, int(cfg.get("POLL_THREADS", 32)))
    with _kept_after_commit(), ThreadPoolExecutor(threads, thread_name_prefix="poll") as pool:
        _run(pool, relays, threads, report, fixed_now)
        report.deferred += sum(len(r.queue) for r in relays.values())
        reads = ingest.ingest_logs(pool, fixed_now or utcnow(), timeouts())
        report.log_reads, report.usage_rows = reads
    report.seconds = time.monotonic() - started
    _leave_facts(report, fixed_now or utcnow())
    return report


def _leave_facts(report: PassReport, now: datetime) -> None:
    """The pass's figures for /metrics (blueprints/shared/passfacts.py), in one fenced commit."""
    add = {("poll_passes", 0, ""): 1, ("poll_keys", 0, ""): report.polled}
    add[("budget_waits", 0, "")] = report.deferred
    add |= {("relay_calls", p, status): n for (p, status), n in report.calls.items()}
    put = {("poll_last_seconds", 0, ""): report.seconds, ("poll_last_keys", 0, ""): report.polled}
    put[("poll_last_at", 0, "")] = now.timestamp()
    passfacts.note(add=add, put=put)
    db.session.commit()


def poll_key(key_id: int) -> BalanceSample | None:
    """Poll one key now (just added, or "refresh"); None when the budget or relay says wait.

    A person is waiting, so the reservation may use the share kept for people.
    """
    key = db.session.get(TrackedKey, key_id)
    if key is None:
        return None
    r = _plan(db.session.get(Provider, key.provider_id), background=False)
    db.session.commit()  # the family detected, noted on the provider row
    if r.stopped or (r.budgeted and relay.BUDGETS.reserve(r.base_url, relay.POLL_PATHS) > 0):
        return None
    outcome = _work(vault(), _Job(key.id, key.ciphertext), r, timeouts())
    if outcome.refused:
        return None
    written, _ = _store([outcome], None)
    return written[0] if written else None


def _plan(provider: Provider, *, background: bool = True) -> _Relay:
    """The provider's family and, for one-api / new-api, its /api/status for this pass."""
    check()  # a pass that lost the lease asks no relay anything more
    conn = connect(provider)
    family = family_of(provider, conn.timeout, background=background)
    if family is None:
        # Nothing answered detection: each key records "unreachable" without a call. When
        # /api/status was only held back by a rate limit, nothing is known yet: stay due.
        answered, _ = relay.FAMILY_CACHE.peek(conn.base_url)
        return _Relay(conn.base_url, None, None, stopped=not answered, background=background)
    if not family.poll_paths:
        return _Relay(conn.base_url, family, None, background=background)
    # /api/status (cached 10 min) spends the same budget; None = rate limited now.
    info = relay.poll_info(conn.base_url, conn.timeout)
    return _Relay(conn.base_url, family, info, stopped=info is None, background=background)


def _due(now: datetime, report: PassReport, force: bool = False) -> dict[int, _Relay]:
    """Due (force: all) unpaused keys grouped by provider, longest-waiting first."""
    due = () if force else (TrackedKey.next_poll_at <= now,)
    rows = db.session.execute(
        select(TrackedKey.id, TrackedKey.provider_id, TrackedKey.ciphertext)
        .where(TrackedKey.paused.is_(False), *due)
        .order_by(TrackedKey.next_poll_at, TrackedKey.id)
    ).all()
    wanted = {provider_id for _, provider_id, _ in rows}
    providers = db.session.scalars(select(Provider).where(Provider.id.in_(wanted))).all()
    report.due = len(rows)
    relays: dict[int, _Relay] = {p.id: _plan(p) for p in providers}
    # Keeps the detected families; no transaction stays open while the pass runs.
    db.session.commit()
    for key_id, provider_id, ciphertext in rows:
        relays[provider_id].queue.append(_Job(key_id, ciphertext))
    return relays


def _run(pool, relays: dict[int, _Relay], threads: int, report, fixed_now) -> None:
    per_relay = max(1, int(current_app.config.get("POLL_PER_PROVIDER", 16)))
    batch = max(1, int(current_app.config.get("POLL_BATCH", 100)))
    keys = vault()
    timeout = timeouts()
    running: dict[Future, int] = {}
    done: list[Outcome] = []
    provider_of: dict[int, int] = {}  # key id -> provider id, for the pass's call counts

    def fill() -> None:
        check()  # no more polls once the pass lost the lease (or the scheduler is stopping)
        for provider_id, r in relays.items():
            while r.queue and not r.stopped and r.running < per_relay and len(running) < threads:
                if r.budgeted and relay.BUDGETS.reserve(
                    r.base_url, relay.POLL_PATHS, background=True
                ):
                    r.stopped = True  # budget full: the rest waits for a later pass
                    break
                job = r.queue.popleft()
                running[pool.submit(_work, keys, job, r, timeout)] = provider_id
                r.running += 1

    fill()
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            running_provider = running.pop(future)
            r = relays[running_provider]
            r.running -= 1
            outcome = future.result()
            if outcome.relay_limited:
                r.stopped = True  # a 429 holds the whole provider, not just this key
            report.deferred += outcome.refused  # paid for but held back: still due
            provider_of[outcome.key_id] = running_provider
            done.append(outcome)
        fill()  # before writing, so the pool keeps calling while this thread writes
        if len(done) >= batch or not running:
            stored = _store(done, fixed_now)
            _tally(report, stored)
            report.calls.update((provider_of[s.key_id], s.status) for s in stored[0])
            done = []


def _work(keys: Vault, job: _Job, r: _Relay, timeout) -> Outcome:
    """In a pool thread: decrypt in memory, poll, hand the result back. Never raises."""
    if r.family is None:
        return Outcome(job.key_id, _unanswered())
    try:
        secret = keys.decrypt(job.ciphertext)
    except InvalidToken:
        return Outcome(job.key_id, error="undecryptable")
    try:
        balance = relay.check(
            r.family,
            r.base_url,
            secret,
            r.info,
            timeout=timeout,
            prepaid=r.budgeted,
            background=r.background,
        )
    except Exception as exc:  # a bug here must not stall the pass; the type is enough to log
        log.error("poll of key %s failed: %s", job.key_id, type(exc).__name__)
        return Outcome(job.key_id, error="internal_error")
    return Outcome(job.key_id, balance)


def _unanswered() -> relay.Balance:
    """Nothing at the provider's address answered this pass: the key was not asked."""
    return relay.Balance(status="unreachable", info=relay.RelayInfo(), reason="unreachable")


def _store(outcomes: list[Outcome], fixed_now: datetime | None) -> tuple[list[BalanceSample], int]:
    """Write one batch (samples + key state) in one commit, then tell the listeners."""
    now = fixed_now or utcnow()
    outcomes = [o for o in outcomes if not o.refused]
    ids = [o.key_id for o in outcomes]
    query = select(TrackedKey).where(TrackedKey.id.in_(ids))
    keys = {k.id: k for k in db.session.scalars(query.execution_options(populate_existing=True))}
    events = []
    failed = 0
    for outcome in outcomes:
        key = keys.get(outcome.key_id)
        if key is None:
            continue  # deleted while it was being polled
        previous = key.status
        try:
            sample = record(key, outcome, now)
        except Exception as exc:  # one odd answer must not stall every key behind it
            log.error("recording key %s failed: %s", key.id, type(exc).__name__)
            sample = record(key, Outcome(key.id, error="internal_error"), now)
        db.session.add(sample)
        events.append((key, sample, previous))
        failed += sample.status in FAILED
    db.session.commit()
    app = current_app._get_current_object()
    for key, sample, previous in events:
        try:
            key_polled.send(app, key=key, sample=sample, previous=previous)
        except Exception as exc:  # a listener's bug must not stop the pass
            db.session.rollback()
            log.error("key_polled listener failed for key %s: %s", key.id, type(exc).__name__)
    return [sample for _, sample, _ in events], failed


@contextmanager
def _kept_after_commit():
    """Do not expire loaded rows on commit during a pass.

    The pass is the only writer of these keys and samples, and each key_polled listener commits:
    with expiry on, every listener reloaded its key and sample row by row, doubling pass time.
    """
    session = db.session()
    saved, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = saved


def _tally(report: PassReport, stored: tuple[list[BalanceSample], int]) -> None:
    report.polled += len(stored[0])
    report.failed += stored[1]
