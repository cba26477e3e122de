"""Fenced passes: a pass whose lease generation was superseded writes nothing and stops calling
relays — in one process, and with real `flask scheduler` processes paused (SIGSTOP) and stopped
(SIGTERM) mid-pass."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.pool import NullPool

from blueprints.alerts.deliver import deliver_due
from blueprints.alerts.models import Channel, Delivery
from blueprints.auth.models import User
from blueprints.keys import poll_once, prune_samples
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.providers.models import Provider
from blueprints.providers.service import add_provider
from blueprints.scheduler import runner
from blueprints.scheduler.lease import LeaseFence, acquire, generation_of, holder_of
from blueprints.scheduler.models import Lease
from blueprints.shared.fence import FencedOut, fenced
from blueprints.shared.vault import vault
from blueprints.status.models import Probe
from blueprints.status.prober import probe_once
from blueprints.status.settings import configure
from database import db, utcnow
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
LEASE = runner.LEASE
TTL = 20
SUB = "/v1/dashboard/billing/subscription"  # one per key polled on new-api
ONE_AT_A_TIME = {"POLL_THREADS": 1, "POLL_PER_PROVIDER": 1, "POLL_BATCH": 1}


@pytest.fixture
def app(tmp_path):
    """The app, with its Fernet key in the config so scheduler processes can share it."""
    app = make_app(tmp_path, FERNET_KEYS=Fernet.generate_key().decode(), LOG_READS_PER_PASS=0)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def track(app, fake, count: int) -> list[int]:
    """`count` keys of one user on the fake relay; their ids."""
    with app.app_context():
        user = User(username="alice", password_hash="!")
        provider = Provider(name="fake", base_url=fake.url)
        db.session.add_all([user, provider])
        db.session.flush()
        keys = [
            TrackedKey.sealed(
                fake.add_token().key, user_id=user.id, provider_id=provider.id, label=f"k{n}"
            )
            for n in range(count)
        ]
        db.session.add_all(keys)
        db.session.commit()
        return [key.id for key in keys]


def samples(app) -> Counter[int]:
    """How many samples each key has."""
    with app.app_context():
        return Counter(db.session.scalars(select(BalanceSample.key_id)))


def take_over(app, holder: str = "new") -> int:
    """The lease runs out and `holder` takes it: the new generation."""
    with app.app_context():
        db.session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        return acquire(LEASE, holder, TTL)


def stalled_fence(holder: str = "old") -> LeaseFence:
    """The fence of a pass that took the lease and then stalled for longer than a lease."""
    fence = LeaseFence(LEASE, acquire(LEASE, holder, TTL), TTL)
    fence.trust = 0  # its last confirmation is too old: every check asks the database
    return fence


def wait_for(condition: Callable[[], object], what: str, seconds: float = 90) -> None:
    """Poll `condition` until it holds; generous, since the machine may be busy."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- one process ---------------------------------------------------------------------------------


def test_it_lets_a_superseded_poll_pass_neither_call_nor_write(app, fake):
    track(app, fake, 3)
    with app.app_context():
        fence = stalled_fence()
        assert take_over(app) == 2
        with pytest.raises(FencedOut, match="lost the scheduler lease"), fenced(fence):
            poll_once()
    assert fake.requests == []
    assert samples(app) == Counter()


def test_it_stops_a_poll_pass_at_its_next_relay_call_once_another_took_over(app, fake):
    track(app, fake, 4)
    app.config.update(ONE_AT_A_TIME)
    gate = fake.hold(SUB, after=1)  # the second key's poll waits for the test
    stopped: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                with fenced(stalled_fence()):
                    poll_once()
            except FencedOut as out:
                stopped.append(out)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: len(fake.requests_to(SUB)) == 2 and samples(app).total(), "the first key")
    take_over(app)
    gate.set()
    thread.join(60)
    assert [str(out) for out in stopped] == ["lost the scheduler lease"]
    assert len(fake.requests_to(SUB)) == 2  # the third and fourth keys were never asked
    assert list(samples(app).values()) == [1]  # the second key's answer was not written


def test_it_lets_a_superseded_probe_pass_neither_probe_nor_write(app, fake):
    with app.app_context():
        configure(add_provider("fake", fake.url), enabled=True, probe_key=fake.add_token().key)
        fake.reset()
        fence = stalled_fence()
        take_over(app)
        with pytest.raises(FencedOut), fenced(fence):
            probe_once(force=True)
        assert db.session.scalar(select(func.count()).select_from(Probe)) == 0
    assert fake.requests == []


def test_it_sends_no_alert_from_a_superseded_pass(app, fake):
    with app.app_context():
        user = User(username="alice", password_hash="!")
        db.session.add(user)
        db.session.flush()
        channel = Channel(
            user_id=user.id,
            kind="webhook",
            name="hook",
            url_ciphertext=vault().encrypt(fake.url + "/hook"),
            url_hint="127.0.0.1",
        )
        db.session.add(channel)
        db.session.flush()
        db.session.add(Delivery(channel_id=channel.id, event="test", payload="{}"))
        db.session.commit()
        fence = stalled_fence()
        take_over(app)
        with pytest.raises(FencedOut), fenced(fence):
            deliver_due()
        db.session.rollback()
        delivery = db.session.scalar(select(Delivery))
        assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert fake.requests == []


def test_it_rolls_back_a_job_whose_lease_was_taken_over_before_it_committed(app, fake, caplog):
    key_id, *_ = track(app, fake, 1)
    with app.app_context():
        old = BalanceSample(key_id=key_id, taken_at=utcnow() - timedelta(days=400), status="active")
        db.session.add(old)
        db.session.commit()

    def prune_after_a_takeover() -> int:
        take_over(app)
        return prune_samples()

    assert runner.run_guarded(app, "old", prune_after_a_takeover) is None
    assert samples(app) == Counter({key_id: 1})  # the delete was rolled back
    assert "stopped (generation 1): lost the scheduler lease" in caplog.text


def test_it_refuses_only_fenced_commits_and_leaves_the_session_usable(app):
    def providers() -> int:
        return db.session.scalar(select(func.count()).select_from(Provider))

    with app.app_context():
        fence = LeaseFence(LEASE, acquire(LEASE, "old", TTL), TTL)
        with fenced(fence):
            db.session.add(Provider(name="kept", base_url="http://127.0.0.1:9"))
            db.session.commit()  # still the holder's generation
            take_over(app)
            db.session.add(Provider(name="lost", base_url="http://127.0.0.1:8"))
            with pytest.raises(FencedOut):
                db.session.commit()
        db.session.rollback()
        assert providers() == 1
        db.session.add(Provider(name="web", base_url="http://127.0.0.1:7"))
        db.session.commit()  # outside a pass nothing is fenced
        assert providers() == 2


def test_it_stops_calling_relays_once_the_scheduler_is_stopping(app, fake):
    track(app, fake, 2)
    passes = runner.Passes()
    with app.app_context():
        fence = LeaseFence(LEASE, acquire(LEASE, "me", TTL), TTL, passes.stopping)
        passes.stop()
        assert passes.wait(timeout=1)  # nothing was running
        with passes.one() as go:
            assert not go  # nothing new starts
        with pytest.raises(FencedOut, match="stopping"), fenced(fence):
            poll_once()
    assert fake.requests == []


def test_it_polls_once_under_the_lease_and_releases_it(app, fake):
    track(app, fake, 2)
    with app.app_context():
        assert acquire(LEASE, "scheduler", TTL) == 1
    result = app.test_cli_runner().invoke(args=["poll-once"])
    assert result.exit_code == 1 and "a scheduler is running (scheduler)" in result.output
    assert "stop it first" in result.output and "next tick" in result.output
    assert fake.requests == []
    take_over(app, "gone")  # generation 2, then "gone" dies
    with app.app_context():
        db.session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["poll-once"])
    assert result.exit_code == 0, result.output
    assert samples(app) == Counter({1: 1, 2: 1})
    with app.app_context():
        assert (holder_of(LEASE), generation_of(LEASE)) == (None, 3)


# -- real scheduler processes ----------------------------------------------------------------------


def start_scheduler(app, tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """`flask scheduler` on the test's database, a short lease, one key at a time; its stderr."""
    config = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "FERNET_KEYS": app.config["FERNET_KEYS"],
        "FINGERPRINT_SECRET": app.config["FINGERPRINT_SECRET"],  # required off SQLite
        "SECRET_KEY": "x",
        "DEFAULT_PROVIDERS": "[]",
        "ALLOW_PRIVATE_PROVIDERS": "true",  # the fake relay listens on 127.0.0.1
        "LEASE_SECONDS": "5",
        "LEASE_RENEW_SECONDS": "1",
        "POLL_TICK_SECONDS": "1",
        "STATUS_TICK_SECONDS": "3600",
        "ALERTS_TICK_SECONDS": "3600",
        "LOG_READS_PER_PASS": "0",
        **{name: str(value) for name, value in ONE_AT_A_TIME.items()},
    }
    env = {**os.environ, **{f"RELAYDASH_{k}": v for k, v in config.items()}}
    env["RELAYDASH_INSTANCE"] = str(tmp_path / f"instance-{name}")
    err = tmp_path / f"{name}.err"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "scheduler"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return proc, err


def pause(proc: subprocess.Popen, uri: str) -> None:
    """SIGSTOP, but never while the process holds a write lock (a renewal in flight): SQLite's
    file lock, or on PostgreSQL any lock stronger than a read's."""
    while True:
        os.kill(proc.pid, signal.SIGSTOP)
        if not writing(uri):
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.1)


def writing(uri: str) -> bool:
    """Whether another connection holds a write lock on the database."""
    if uri.startswith("sqlite:///"):
        connection = sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=2)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
    engine = create_engine(uri, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return bool(
                connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE l.pid <> pg_backend_pid() AND a.datname = current_database()"
                        " AND (l.locktype = 'transactionid' OR l.mode <> 'AccessShareLock'"
                        " AND l.locktype IN ('relation', 'tuple'))"
                    )
                )
            )
    finally:
        engine.dispose()


def stop(proc: subprocess.Popen, err: Path) -> str:
    """SIGTERM; the process must end by itself, exit 0 and print no traceback."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = err.read_text()
    assert "Traceback" not in log, log
    return log


def test_a_paused_holder_writes_nothing_after_the_standby_took_over(app, fake, tmp_path):
    keys = track(app, fake, 4)
    gate = fake.hold(SUB, after=1)  # the holder's second poll waits: it is paused mid-pass
    old, old_err = start_scheduler(app, tmp_path, "old")
    new = None

    def stops() -> int:
        return old_err.read_text().count("lost the scheduler lease")

    def holder_pid() -> int | None:
        with app.app_context():
            holder = holder_of(LEASE)
        return int(holder.split(":")[1]) if holder else None

    try:
        wait_for(lambda: len(fake.requests_to(SUB)) == 2 and samples(app).total(), "a pass")
        pause(old, app.config["SQLALCHEMY_DATABASE_URI"])
        gate.set()  # the answer waits in the paused process's socket
        new, new_err = start_scheduler(app, tmp_path, "new")
        wait_for(lambda: set(samples(app)) == set(keys), "the standby's pass")
        polls, stopped = len(fake.requests_to(SUB)), stops()
        os.kill(old.pid, signal.SIGCONT)
        wait_for(lambda: stops() > stopped, "the old pass to stop")
        # It wrote nothing (not even the answer it had in flight) and polled no other key.
        assert samples(app) == Counter({key: 1 for key in keys})
        assert len(fake.requests_to(SUB)) == polls
        wait_for(lambda: holder_pid() == new.pid, "the standby to keep the lease")
        stop(old, old_err)
        stop(new, new_err)
    finally:
        for proc in (old, new):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for err in sorted(tmp_path.glob("*.err")):
            print(f"--- {err.name}\n{err.read_text()}")  # shown when the test fails


def test_sigterm_mid_pass_stops_cleanly_and_releases_the_lease(app, fake, tmp_path):
    track(app, fake, 2)
    gate = fake.hold(SUB)
    proc, err = start_scheduler(app, tmp_path, "only")
    try:
        wait_for(lambda: fake.requests_to(SUB), "the pass to start")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: " stopping" in err.read_text(), "the scheduler to stop scheduling")
        gate.set()  # the pass gets its answer, then stops before the next key
        log = stop(proc, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "the scheduler is stopping" in log, log
    assert len(fake.requests_to(SUB)) == 1
    with app.app_context():
        assert holder_of(LEASE) is None
