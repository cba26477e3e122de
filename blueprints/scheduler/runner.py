"""Building the APScheduler 3.11 scheduler: lease-guarded jobs, each in its own app context.

The jobs are the features' functions, imported from their packages (the doors) into one list,
job_specs. Every job first takes or renews the lease; in a process that does not hold it, the
job returns at once. A separate keeper job renews the lease every few seconds, so a standby
process takes over within LEASE_SECONDS + LEASE_RENEW_SECONDS of the holder's death.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

from blueprints.alerts import deliver_due_job
from blueprints.keys import poll_once, prune_samples
from blueprints.status import cleanup_job, probe_job

from .lease import acquire, release

log = logging.getLogger(__name__)

LEASE = "scheduler"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
Job = Callable[[], object]


def job_specs(config) -> list[tuple[str, Job, str, dict]]:
    """(id, job, trigger, trigger args) of every scheduled job."""

    def every(name: str, default: int) -> dict:
        return {"seconds": int(config.get(name, default))}

    return [
        ("poll", poll_once, "interval", every("POLL_TICK_SECONDS", 30)),
        ("alerts", deliver_due_job, "interval", every("ALERTS_TICK_SECONDS", 30)),
        ("retention", prune_samples, "cron", {"hour": 3, "minute": 30}),
        ("probes", probe_job, "interval", every("STATUS_TICK_SECONDS", 15)),
        ("status_cleanup", cleanup_job, "cron", {"hour": 3, "minute": 45}),
    ]


def make_holder() -> str:
    """This process's lease name: host, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_guarded(app: Flask, holder: str, job: Job) -> object:
    """Run one job in a fresh app context, only while `holder` holds the lease."""
    with app.app_context():
        if not acquire(LEASE, holder, lease_ttl(app)):
            return None
        try:
            result = job()
        except Exception:  # one bad run must not kill the scheduler; the next tick retries
            log.exception("scheduled job %s failed", job_name(job))
            return None
        if hasattr(result, "summary"):
            log.info("%s: %s", job_name(job), result.summary())
        return result


def job_name(job: Job) -> str:
    """The job as module:function, for the log."""
    return f"{job.__module__}:{job.__qualname__}"


def keep_lease(app: Flask, holder: str) -> bool:
    """Renew the lease (or take it over once it has expired); log when that changes."""
    with app.app_context():
        held = acquire(LEASE, holder, lease_ttl(app))
    if _holding.get(holder) != held:
        log.info("scheduler %s %s the lease", holder, "holds" if held else "waits for")
        _holding[holder] = held
    return held


_holding: dict[str, bool] = {}  # holder -> held at the last renewal, only for the log line


def build(app: Flask, scheduler: BaseScheduler, holder: str) -> BaseScheduler:
    """Add the lease keeper and every job to `scheduler`."""
    scheduler.configure(
        executors={"default": ThreadPoolExecutor(max_workers=4)}, job_defaults=JOB_DEFAULTS
    )
    renew = int(app.config.get("LEASE_RENEW_SECONDS", 5))
    scheduler.add_job(
        keep_lease, "interval", seconds=renew, args=[app, holder], id="lease", name="lease"
    )
    for job_id, job, trigger, trigger_args in job_specs(app.config):
        scheduler.add_job(
            run_guarded, trigger, args=[app, holder, job], id=job_id, name=job_id, **trigger_args
        )
    return scheduler


def start_in_process(app: Flask) -> BackgroundScheduler | None:
    """For `make run`: a background scheduler when SCHEDULER_ENABLED, never in a reloader parent."""
    if not app.config.get("SCHEDULER_ENABLED", False):
        return None
    if get_debug_flag() and not is_running_from_reloader():
        return None  # the reloader's parent only watches files; its child runs the app
    if "scheduler" in app.extensions:
        return app.extensions["scheduler"][0]
    holder = make_holder()
    scheduler = build(app, BackgroundScheduler(daemon=True), holder)
    scheduler.start()
    app.extensions["scheduler"] = (scheduler, holder)
    atexit.register(stop_in_process, app)
    return scheduler


def stop_in_process(app: Flask) -> None:
    """Stop this app's background scheduler, if any, and hand the lease back."""
    running = app.extensions.pop("scheduler", None)
    if running is None:
        return
    scheduler, holder = running
    scheduler.shutdown(wait=False)
    with app.app_context():
        release(LEASE, holder)


def run_forever(app: Flask) -> None:
    """`flask scheduler`: the blocking scheduler in the foreground until SIGINT/SIGTERM."""
    stop_in_process(app)
    holder = make_holder()
    scheduler = build(app, BlockingScheduler(), holder)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler %s starting", holder)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        with app.app_context():
            release(LEASE, holder)


def lease_ttl(app: Flask) -> float:
    return float(app.config.get("LEASE_SECONDS", 20))
