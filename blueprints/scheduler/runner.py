"""Building the APScheduler 3.11 scheduler: lease-guarded jobs, each in its own app context.

The jobs are the features' functions, imported from their packages (the doors) into one list,
job_specs. Every job first takes or renews the lease; in a process that does not hold it, the
job returns at once. A separate keeper job renews the lease every few seconds, so a standby
process takes over within LEASE_SECONDS + LEASE_RENEW_SECONDS of the holder's death.

A job runs fenced (blueprints/shared/fence.py) under the generation it took the lease with: a
process that stalls past its lease (a pause, a swap storm) and wakes after a standby took over
writes nothing more and stops calling relays. SIGTERM stops scheduling, tells the running pass to
stop at its next relay call or commit, waits up to STOP_GRACE seconds for it, and releases the
lease.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from flask.helpers import get_debug_flag
from werkzeug.serving import is_running_from_reloader

from blueprints.alerts import deliver_due_job
from blueprints.keys import poll_once, prune_samples
from blueprints.shared.fence import FencedOut, fenced
from blueprints.status import cleanup_job, probe_job
from database import db

from .lease import LeaseFence, acquire, release

log = logging.getLogger(__name__)

LEASE = "scheduler"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
STOP_GRACE = 30  # seconds a stopping scheduler waits for its pass (relay calls time out sooner)
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


class Passes:
    """What this process's scheduler is running (jobs and renewals), and whether it is stopping."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._running = 0
        self._changed = threading.Condition()

    @contextmanager
    def one(self) -> Iterator[bool]:
        """Count a run while the block lasts; yields False (run nothing) once stopping."""
        with self._changed:
            started = not self.stopping.is_set()
            self._running += started
        try:
            yield started
        finally:
            with self._changed:
                self._running -= started
                self._changed.notify_all()

    def stop(self) -> None:
        """Start nothing more; the running pass stops before its next relay call."""
        with self._changed:
            self.stopping.set()

    def wait(self, timeout: float) -> bool:
        """Wait until nothing runs; False if something still does after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._running == 0, timeout)


def run_guarded(app: Flask, holder: str, job: Job, passes: Passes | None = None) -> object:
    """Run one job in a fresh app context, only while `holder` holds the lease, fenced."""
    passes = passes or Passes()
    with passes.one() as go, app.app_context():
        generation = acquire(LEASE, holder, lease_ttl(app)) if go else None
        if generation is None:
            return None
        fence = LeaseFence(LEASE, generation, lease_ttl(app), passes.stopping)
        try:
            with fenced(fence):
                result = job()
        except FencedOut as out:
            db.session.rollback()
            log.warning("%s stopped (generation %s): %s", job_name(job), generation, out)
            return None
        except Exception:  # one bad run must not kill the scheduler; the next tick retries
            log.exception("scheduled job %s failed", job_name(job))
            return None
        if hasattr(result, "summary"):
            log.info("%s: %s", job_name(job), result.summary())
        return result


def job_name(job: Job) -> str:
    """The job as module:function, for the log."""
    return f"{job.__module__}:{job.__qualname__}"


def keep_lease(app: Flask, holder: str, passes: Passes | None = None) -> bool:
    """Renew the lease (or take it over once it has expired); log when that changes."""
    passes = passes or Passes()
    with passes.one() as go, app.app_context():
        if not go:
            return False  # stopping: the lease is about to be released
        generation = acquire(LEASE, holder, lease_ttl(app))
    if holder not in _holding or _holding[holder] != generation:
        if generation is None:
            log.info("scheduler %s waits for the lease", holder)
        else:
            log.info("scheduler %s holds the lease (generation %s)", holder, generation)
        _holding[holder] = generation
    return generation is not None


_holding: dict[str, int | None] = {}  # holder -> generation at the last renewal, for the log


def build(
    app: Flask, scheduler: BaseScheduler, holder: str, passes: Passes | None = None
) -> BaseScheduler:
    """Add the lease keeper and every job to `scheduler`."""
    passes = passes or Passes()
    scheduler.configure(
        executors={"default": ThreadPoolExecutor(max_workers=4)}, job_defaults=JOB_DEFAULTS
    )
    renew = renew_seconds(app)
    scheduler.add_job(
        keep_lease, "interval", seconds=renew, args=[app, holder, passes], id="lease", name="lease"
    )
    for job_id, job, trigger, trigger_args in job_specs(app.config):
        scheduler.add_job(
            run_guarded,
            trigger,
            args=[app, holder, job, passes],
            id=job_id,
            name=job_id,
            **trigger_args,
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
    holder, passes = make_holder(), Passes()
    scheduler = build(app, BackgroundScheduler(daemon=True), holder, passes)
    scheduler.start()
    app.extensions["scheduler"] = (scheduler, holder, passes)
    atexit.register(stop_in_process, app)
    return scheduler


def stop_in_process(app: Flask) -> None:
    """Stop this app's background scheduler, if any, and hand the lease back."""
    running = app.extensions.pop("scheduler", None)
    if running is None:
        return
    scheduler, holder, passes = running
    scheduler.shutdown(wait=False)
    finish(app, holder, passes)


def run_forever(app: Flask) -> None:
    """`flask scheduler`: the blocking scheduler in the foreground until SIGINT/SIGTERM."""
    stop_in_process(app)
    holder, passes = make_holder(), Passes()
    scheduler = build(app, BlockingScheduler(), holder, passes)

    def on_sigterm(*_) -> None:
        if scheduler.running:  # a second SIGTERM while stopping changes nothing
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, on_sigterm)
    log.info("scheduler %s starting", holder)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        finish(app, holder, passes)


def finish(app: Flask, holder: str, passes: Passes) -> None:
    """Stop the running pass (it writes nothing more), wait for it a while, release the lease."""
    passes.stop()
    log.info("scheduler %s stopping", holder)
    if not passes.wait(STOP_GRACE):
        # Still in a relay call: its fence refuses its writes, and the interpreter waits for
        # its thread before exiting.
        log.warning("scheduler %s: a pass is still running; it will write nothing", holder)
    with app.app_context():
        release(LEASE, holder)
    log.info("scheduler %s stopped and released the lease", holder)


@contextmanager
def held(app: Flask, holder: str) -> Iterator[LeaseFence | None]:
    """The lease for one run outside the scheduler (`flask poll-once`), or None while another
    process holds it: taken, renewed by a thread every LEASE_RENEW_SECONDS, then released."""
    ttl = lease_ttl(app)
    generation = acquire(LEASE, holder, ttl)
    if generation is None:
        yield None
        return
    done = threading.Event()

    def renew() -> None:
        with app.app_context():
            while not done.wait(renew_seconds(app)):
                if acquire(LEASE, holder, ttl) != generation:
                    return  # lost: the run's fence finds out at its next check

    keeper = threading.Thread(target=renew, name="lease", daemon=True)
    keeper.start()
    try:
        yield LeaseFence(LEASE, generation, ttl)
    finally:
        done.set()
        keeper.join()
        db.session.rollback()  # whatever the run left unfinished is not committed now
        release(LEASE, holder)


def lease_ttl(app: Flask) -> float:
    return float(app.config.get("LEASE_SECONDS", 20))


def renew_seconds(app: Flask) -> int:
    return max(1, int(app.config.get("LEASE_RENEW_SECONDS", 5)))
