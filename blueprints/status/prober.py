"""One probing pass: due jobs from the Due table, relay calls in threads, results in one write.

Threads only call relays (relay.probe); every database write happens here afterwards: raw rows and
buckets (history.record), states and incidents (states), the next due times. The scheduler wraps
probe_once(); tests and `flask poll-once` call it directly. The reachability tier ("status") asks
each relay the way its family allows (relay.reach); the family comes from family_of, detected
per base URL and cached by relay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from blueprints.providers.connect import timeouts
from blueprints.providers.models import Provider
from blueprints.providers.service import apply_budget, family_of
from blueprints.shared.fence import check, guard
from blueprints.shared.vault import InvalidToken, vault
from database import db, utcnow
from relay import FAMILIES, FAMILY_CACHE, Family, reach, resolve
from relay import probe as probes

from . import history, states
from .models import Due, Health, Monitor
from .uptime import latency_p50_24h, model_stats_24h

log = logging.getLogger(__name__)

PROVIDER_TIERS = ("status", "models")  # their results drive the provider's own state


@dataclass
class ProbeReport:
    """What one pass did."""

    due: int = 0
    probed: int = 0
    failed: int = 0
    changes: int = 0
    lag_s: float = 0.0  # how late the latest-running due job started
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"probed {self.probed} of {self.due} due checks ({self.failed} failed, "
            f"{self.changes} state changes), lag {self.lag_s:.1f}s, {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class Job:
    """One probe to run: which provider, tier and model, with what key and limits."""

    provider_id: int
    tier: str
    model: str
    base_url: str
    interval: int
    slow_ms: int
    ttft_slow_ms: int
    key: str | None = field(default=None, repr=False)
    family: str | None = None  # status tier: the relay family it asks as (None: not known)


def probe_once(now: datetime | None = None, *, force: bool = False) -> ProbeReport:
    """Run every due probe (force: every probe) once; never raises for relay trouble."""
    started = time.monotonic()
    fixed = now  # tests pass a time: every probe of the pass is stamped with it
    now = now or utcnow()
    report = ProbeReport()
    jobs, report.lag_s = due_jobs(now, force)
    report.due = len(jobs)
    if jobs:
        threads = max(1, int(current_app.config["STATUS_THREADS"]))
        timeout = timeouts("probe")
        go_on = guard()  # each probe first: a pass that lost the lease stops probing
        with ThreadPoolExecutor(min(threads, len(jobs)), thread_name_prefix="probe") as pool:
            results = list(pool.map(lambda job: (job, *_run(job, timeout, fixed, go_on)), jobs))
        store(results, report, now)
    report.seconds = time.monotonic() - started
    return report


def due_jobs(now: datetime, force: bool = False) -> tuple[list[Job], float]:
    """The probes due now (all of them with force), and the worst lateness in seconds."""
    monitors = db.session.execute(
        select(Monitor, Provider)
        .join(Provider, Provider.id == Monitor.provider_id)
        .where(Monitor.enabled.is_(True))
    ).all()
    due = {(d.provider_id, d.tier, d.model): d.next_at for d in db.session.scalars(select(Due))}
    picked = []
    for monitor, provider in monitors:
        apply_budget(provider)  # /api/status shares the provider's per-IP budget with lookups
        wanted = [
            (tier, model, interval)
            for tier, model, interval in _wanted(monitor)
            if force or (due.get((monitor.provider_id, tier, model)) or now) <= now
        ]
        if wanted:
            picked.append((monitor, provider, wanted))
    # Only the provider tiers depend on the family; chat probes are the same everywhere.
    reached = [p for _m, p, wanted in picked if any(t in PROVIDER_TIERS for t, _n, _i in wanted)]
    families = _families(reached, timeouts("probe"))
    jobs, lag = [], 0.0
    for monitor, provider, wanted in picked:
        family = families.get(provider.id)
        keyed_reach = bool(monitor.probe_key) and reach.uses_key(family)
        if keyed_reach:
            # its reachability is /v1/models with the key: a models tier would ask it twice
            wanted = [w for w in wanted if w[0] != "models"]
        # Decrypted once a pass, and only when a keyed probe is due; nothing keeps it afterwards.
        keyed = [w for w in wanted if w[0] != "status" or keyed_reach]
        secret = _key(monitor) if keyed else None
        for tier, model, interval in wanted:
            next_at = due.get((monitor.provider_id, tier, model))
            if next_at is not None:
                lag = max(lag, (now - next_at).total_seconds())
            key = secret if tier != "status" or keyed_reach else None
            if tier != "status" and key is None:
                continue
            jobs.append(
                Job(
                    monitor.provider_id,
                    tier,
                    model,
                    provider.base_url,
                    interval,
                    monitor.slow_ms,
                    monitor.ttft_slow_ms,
                    key,
                    family.name if family is not None and tier == "status" else None,
                )
            )
    # Keeps the kinds family_of noted on the rows; no transaction stays open during the probes.
    db.session.commit()
    return jobs, lag


def _families(providers: list[Provider], timeout: tuple[float, float]) -> dict[int, Family | None]:
    """Each provider's relay family (family_of); relays not detected yet are asked in parallel."""
    # (an admin's choice of family needs no detection)
    cold = {
        (p.base_url, p.kind)
        for p in providers
        if p.kind not in FAMILIES and not FAMILY_CACHE.peek(p.base_url)[0]
    }
    if cold:
        # Detection asks a few keyless questions, each up to a timeout: every relay at once, no
        # read transaction held open meanwhile; family_of below then reads the warm cache.
        db.session.rollback()
        check()
        threads = max(1, min(int(current_app.config["STATUS_THREADS"]), len(cold)))
        with ThreadPoolExecutor(threads, thread_name_prefix="detect") as pool:
            list(pool.map(lambda target: _detect(*target, timeout), cold))
    return {provider.id: family_of(provider, timeout, background=True) for provider in providers}


def _detect(base_url: str, kind: str, timeout: tuple[float, float]) -> None:
    """In a pool thread: warm the per-URL family cache (relay calls only, no database)."""
    try:
        resolve(base_url, kind, timeout, background=True)
    except Exception:  # a detection bug must not end the pass: the relay is probed as unknown
        log.exception("status: family detection failed unexpectedly")


def _wanted(monitor: Monitor) -> list[tuple[str, str, int]]:
    """(tier, model, interval) of every probe this monitor asks for."""
    wanted = [("status", "", monitor.status_seconds)]
    if monitor.probe_key:
        wanted.append(("models", "", monitor.status_seconds))
        for model in monitor.models:
            wanted.append(("light", model, monitor.light_seconds))
            wanted.append(("stream", model, monitor.stream_seconds))
    return wanted


def _key(monitor: Monitor) -> str | None:
    """The monitor's probe key, decrypted (None without one, or when it cannot be opened)."""
    if not monitor.probe_key:
        return None
    try:
        return vault().decrypt(monitor.probe_key)
    except InvalidToken:
        log.warning("status: the probe key of provider %s cannot be decrypted", monitor.provider_id)
        return None


def _run(
    job: Job, timeout: tuple[float, float], fixed: datetime | None, go_on: Callable[[], None]
) -> tuple[datetime, probes.ProbeResult]:
    """In a pool thread: one probe, never raising (but FencedOut from go_on: the pass ends)."""
    go_on()
    at = fixed or utcnow()
    try:
        if job.tier == "status":
            family = FAMILIES.get(job.family) if job.family else None
            result = reach.probe_reach(
                job.base_url, family, job.key, timeout=timeout, slow_ms=job.slow_ms
            )
        elif job.tier == "models":
            result = probes.probe_models(
                job.base_url, job.key, timeout=timeout, slow_ms=job.slow_ms
            )
        elif job.tier == "light":
            result = probes.probe_light(
                job.base_url, job.key, job.model, timeout=timeout, slow_ms=job.slow_ms
            )
        else:
            result = probes.probe_stream(
                job.base_url, job.key, job.model, timeout=timeout, ttft_slow_ms=job.ttft_slow_ms
            )
    except Exception:  # a probe bug must not end the pass; it shows as a failed probe
        log.exception("status probe %s failed unexpectedly", job.tier)
        result = probes.ProbeResult(job.tier, job.model, False, False, None, "bad_json", None)
    return at, result


def store(
    results: list[tuple[Job, datetime, probes.ProbeResult]],
    report: ProbeReport,
    now: datetime | None = None,
) -> None:
    """Write raw rows and buckets, move states, open/close incidents, schedule the next runs.

    A pass gives each provider (and each model) one reading: the worst of its tiers, so a 429
    on /api/status is not hidden by a good /v1/models in the same pass.
    """
    # A probe our own request budget held back says nothing about the relay: not recorded.
    sent = [(job, at, result) for job, at, result in results if not probes.not_sent(result)]
    history.record([_row(job, at, result) for job, at, result in sent])
    monitors = {m.provider_id: m for m in db.session.scalars(select(Monitor))}
    healths = {(h.provider_id, h.model): h for h in db.session.scalars(select(Health))}
    dues = {(d.provider_id, d.tier, d.model): d for d in db.session.scalars(select(Due))}
    readings: dict[tuple[int, str], tuple[datetime, probes.ProbeResult]] = {}
    for job, at, _result in results:
        # From the pass's own time, not the probe's start: a probe starting a little after its
        # tick would otherwise fall just after the tick one interval later and wait a whole tick.
        _schedule(dues, job, now or at)
    for job, at, result in sent:
        report.probed += 1
        report.failed += not result.ok
        subject = (job.provider_id, "" if job.tier in PROVIDER_TIERS else job.model)
        seen = readings.get(subject)
        if seen is None or _badness(result) > _badness(seen[1]):
            readings[subject] = (at, result)
    for (provider_id, model), (at, result) in sorted(readings.items(), key=lambda r: r[1][0]):
        monitor = monitors.get(provider_id)
        if monitor is None:
            continue
        health = healths.get((provider_id, model))
        if health is None:
            health = healths[(provider_id, model)] = Health(
                provider_id=provider_id,
                model=model,
                state="unknown",
                since=at,
                fails=0,
                bad=0,
                oks=0,
            )
            db.session.add(health)
        change = states.step(
            health,
            ok=result.ok,
            degraded=result.degraded,
            error=result.error,
            monitor=monitor,
            at=at,
        )
        if change is not None:
            report.changes += 1
            states.record_change(change)
            states.notify(change)
    checked = {job.provider_id for job, _at, _r in sent if job.tier in PROVIDER_TIERS}
    for provider_id in checked:
        health = healths.get((provider_id, ""))
        if health is not None:
            health.latency_p50_ms = latency_p50_24h(provider_id, now or utcnow())
    for provider_id in {job.provider_id for job, _at, _r in results if job.tier == "stream"}:
        latest = max(at for _job, at, _r in results)
        for model, stats in model_stats_24h(provider_id, latest, tiers=("stream",)).items():
            health = healths.get((provider_id, model))
            if health is not None:
                health.ttft_p50_ms, health.tps_p50 = stats["ttft_p50"], stats["tps_p50"]
    db.session.commit()


def _badness(result: probes.ProbeResult) -> int:
    """0 good, 1 degraded (slow, 429, empty), 2 failed."""
    if result.ok and not result.degraded:
        return 0
    return 1 if result.degraded else 2


def _schedule(dues: dict, job: Job, at: datetime) -> None:
    """The job's next run: one interval after this one."""
    key = (job.provider_id, job.tier, job.model)
    next_at = at + timedelta(seconds=max(10, job.interval))
    if key in dues:
        dues[key].next_at = next_at
    else:
        dues[key] = Due(
            provider_id=job.provider_id, tier=job.tier, model=job.model, next_at=next_at
        )
        db.session.add(dues[key])


def _row(job: Job, at: datetime, result: probes.ProbeResult) -> dict:
    return {
        "provider_id": job.provider_id,
        "model": "" if job.tier in PROVIDER_TIERS else job.model,
        "tier": job.tier,
        "at": at,
        "ok": result.ok,
        "degraded": result.degraded,
        "status": result.status,
        "error": result.error,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "tokens_per_s": result.tokens_per_s,
    }


def probe_job() -> ProbeReport:
    """The scheduler's job: one pass of the due probes."""
    return probe_once()
