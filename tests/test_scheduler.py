"""The scheduler lease (in one process and across real processes), the jobs and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from blueprints.alerts import deliver_due_job
from blueprints.auth.models import User
from blueprints.keys import poll_once, prune_samples
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.providers.models import Provider
from blueprints.scheduler import runner
from blueprints.scheduler.lease import acquire, generation_of, holder_of, release
from blueprints.scheduler.models import Lease
from blueprints.shared.vault import vault
from blueprints.status import probe_job
from database import db, utcnow

ROOT = Path(__file__).resolve().parent.parent
TTL = 20


def test_it_gives_the_lease_to_one_holder_at_a_time(app):
    with app.app_context():
        assert acquire("scheduler", "a", TTL) == 1
        assert acquire("scheduler", "b", TTL) is None
        assert acquire("scheduler", "a", TTL) == 1  # renewed: the same generation
        assert holder_of("scheduler") == "a"


def test_it_hands_an_expired_lease_to_the_standby_under_a_new_generation(app):
    with app.app_context():
        assert acquire("scheduler", "a", -1) == 1  # "a" died: its lease has run out
        assert holder_of("scheduler") is None
        assert acquire("scheduler", "b", TTL) == 2
        assert acquire("scheduler", "a", TTL) is None
        release("scheduler", "a")  # not the holder: no effect
        assert holder_of("scheduler") == "b"
        release("scheduler", "b")
        assert holder_of("scheduler") is None
        assert acquire("scheduler", "a", TTL) == 3  # the row stays: generations never repeat
        assert generation_of("scheduler") == 3


def test_it_moves_the_generation_on_when_a_holder_takes_back_its_own_expired_lease(app):
    with app.app_context():
        assert acquire("scheduler", "a", -1) == 1  # "a" stalled past its lease
        assert acquire("scheduler", "a", TTL) == 2  # what ran under 1 is fenced out


def test_it_judges_expiry_by_the_database_clock_in_the_stored_format(app):
    with app.app_context():
        assert acquire("scheduler", "a", TTL) == 1
        stored = db.session.get(Lease, "scheduler").expires_at  # written by the database
        assert timedelta(seconds=TTL - 5) < stored - utcnow() < timedelta(seconds=TTL + 5)
        # Rows written with the app's own clock compare right to the millisecond: 200 ms ago
        # is expired (CURRENT_TIMESTAMP, without a fraction, would call it live within the second).
        for offset, holder in ((-0.2, None), (30, "a")):
            db.session.execute(
                update(Lease).values(expires_at=utcnow() + timedelta(seconds=offset))
            )
            db.session.commit()
            assert holder_of("scheduler") == holder


def old_sample(app) -> None:
    """A user, a provider, a key and one sample past retention, for a visible job effect."""
    with app.app_context():
        user = User(username="alice", password_hash="!")
        provider = Provider(name="p", base_url="http://127.0.0.1:9")
        db.session.add_all([user, provider])
        db.session.flush()
        key = TrackedKey(
            user_id=user.id,
            provider_id=provider.id,
            label="k",
            ciphertext=vault().encrypt("sk-" + "x" * 48),
            fingerprint="f",
            head="sk-xxx",
            last4="xxxx",
            paused=True,
        )
        db.session.add(key)
        db.session.flush()
        db.session.add(
            BalanceSample(key_id=key.id, taken_at=utcnow() - timedelta(days=400), status="active")
        )
        db.session.commit()


def sample_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(BalanceSample))


def test_it_runs_a_job_only_in_the_scheduler_holding_the_lease(app):
    old_sample(app)
    with app.app_context():
        assert acquire(runner.LEASE, "first", TTL) == 1
    assert runner.run_guarded(app, "second", prune_samples) is None
    assert sample_count(app) == 1  # the second scheduler did nothing
    assert runner.run_guarded(app, "first", prune_samples) == 1
    assert sample_count(app) == 0


def test_it_lets_the_standby_act_once_the_holder_is_gone(app):
    old_sample(app)
    with app.app_context():
        assert acquire(runner.LEASE, "dead", -1) == 1
    assert runner.keep_lease(app, "standby")
    assert runner.run_guarded(app, "standby", prune_samples) == 1
    assert not runner.keep_lease(app, "dead")


def test_it_keeps_a_failing_job_from_killing_the_scheduler(app, caplog):
    assert runner.run_guarded(app, "me", json.loads) is None  # TypeError: no argument
    assert "scheduled job json:loads failed" in caplog.text


def test_it_builds_the_jobs_with_safe_defaults(app):
    scheduler = runner.build(app, runner.BackgroundScheduler(), "me")
    scheduler.start(paused=True)  # defaults are applied to jobs when the scheduler starts
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert set(jobs) == {"lease", "poll", "alerts", "retention", "probes", "status_cleanup"}
    assert jobs["poll"].args[2] is poll_once
    assert jobs["poll"].trigger.interval == timedelta(seconds=30)
    assert jobs["probes"].args[2] is probe_job
    assert jobs["alerts"].args[2] is deliver_due_job
    assert jobs["probes"].trigger.interval == timedelta(seconds=15)
    assert str(jobs["retention"].trigger).startswith("cron[hour='3', minute='30'")
    assert str(jobs["status_cleanup"].trigger).startswith("cron[hour='3', minute='45'")
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 30)


def test_it_starts_in_process_only_when_enabled_and_not_in_the_reloader_parent(app, monkeypatch):
    assert runner.start_in_process(app) is None  # SCHEDULER_ENABLED is off in tests
    app.config["SCHEDULER_ENABLED"] = True
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    assert runner.start_in_process(app) is None  # the reloader parent
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    scheduler = runner.start_in_process(app)
    try:
        assert scheduler is not None and scheduler.running
        assert runner.start_in_process(app) is scheduler  # once per app
    finally:
        runner.stop_in_process(app)
    assert "scheduler" not in app.extensions and not scheduler.running


def test_it_polls_once_from_the_cli(app, fake):
    token = fake.add_token()
    with app.app_context():
        user = User(username="alice", password_hash="!")
        provider = Provider(name="fake", base_url=fake.url)
        db.session.add_all([user, provider])
        db.session.flush()
        db.session.add(
            TrackedKey(
                user_id=user.id,
                provider_id=provider.id,
                label="k",
                ciphertext=vault().encrypt(token.key),
                fingerprint="f",
                head=token.key[:6],
                last4=token.key[-4:],
            )
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["poll-once"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("polled 1 of 1 due keys (0 failed, 0 deferred)")
    assert token.key.removeprefix("sk-") not in result.output
    assert sample_count(app) == 1


# -- real processes on one SQLite file ---------------------------------------------------------

CONTENDER = textwrap.dedent(
    """
    import sys, time
    from app import create_app
    from blueprints.scheduler.lease import acquire
    uri, holder, mode, ttl = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    from cryptography.fernet import Fernet
    # the secrets come from config, as off SQLite they must (nothing is encrypted here)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": uri,
                      "DEFAULT_PROVIDERS": [], "FERNET_KEYS": Fernet.generate_key().decode(),
                      "FINGERPRINT_SECRET": "x"})
    with app.app_context():
        if mode == "count":
            go = float(sys.argv[5])
            while time.time() < go:
                time.sleep(0.005)
            print(sum(acquire("scheduler", holder, ttl) is not None for _ in range(40)), flush=True)
        elif mode == "hold":
            while True:
                if acquire("scheduler", holder, ttl):
                    print("held", flush=True)
                time.sleep(0.2)
        else:
            print("waiting", flush=True)
            deadline = time.time() + 60
            while time.time() < deadline:
                if acquire("scheduler", holder, ttl):
                    print("took over", flush=True)
                    break
                time.sleep(0.2)
    """
)


def contender(app, holder: str, mode: str, ttl: float, *extra: str) -> subprocess.Popen:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    return subprocess.Popen(
        [sys.executable, "-c", CONTENDER, uri, holder, mode, str(ttl), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_it_lets_exactly_one_of_two_processes_act(app):
    go = str(time.time() + 3)  # both start on the same line, after their imports
    procs = [contender(app, name, "count", 60, go) for name in ("p1", "p2")]
    wins = sorted(int(p.communicate(timeout=60)[0].strip() or -1) for p in procs)
    assert wins == [0, 40]


def test_it_hands_over_when_the_holding_process_is_killed(app):
    holder = contender(app, "doomed", "hold", 2)
    try:
        assert holder.stdout.readline().strip() == "held"
        standby = contender(app, "standby", "wait", 2)
        assert standby.stdout.readline().strip() == "waiting"
        with app.app_context():
            assert holder_of("scheduler") == "doomed"
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    out, err = standby.communicate(timeout=90)
    assert out.strip() == "took over", err
    with app.app_context():
        assert holder_of("scheduler") in ("standby", None)  # None once its 2 s ran out


@pytest.fixture(autouse=True)
def _no_leftover_scheduler(app):
    yield
    runner.stop_in_process(app)
