"""The polling pass, log ingestion and retention against the real fake relay and real SQLite."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

import relay
from blueprints.auth.models import User
from blueprints.keys.advice import budget_advice
from blueprints.keys.ingest import digests
from blueprints.keys.models import BalanceSample, TrackedKey, UsageRecord
from blueprints.keys.poller import poll_key, poll_once
from blueprints.keys.retention import prune_samples
from blueprints.keys.signals import key_polled
from blueprints.providers.models import Provider
from database import db, utcnow
from tests.fakerelay import FLAVORS, make_logs, random_key

USD = 500000
OA, NA, NA_PLUS = FLAVORS
SUB = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
TOKEN_USAGE = "/api/usage/token"
LOG = "/api/log/token"
LIMITED = ("/api/", "/v1/dashboard/", "/dashboard/")


@pytest.fixture
def track(app):
    """Factory: track a key on a fake relay for one user; returns the TrackedKey id."""
    providers: dict[str, int] = {}

    def make(fake, key: str, *, budget: tuple[int, int] = (150, 180), **fields) -> int:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == "alice"))
            if user is None:
                user = User(username="alice", password_hash="!")
                db.session.add(user)
            if fake.url not in providers:
                provider = Provider(
                    name=f"relay{len(providers)}",
                    base_url=fake.url,
                    request_budget=budget[0],
                    budget_seconds=budget[1],
                )
                db.session.add(provider)
                db.session.flush()
                providers[fake.url] = provider.id
            tracked = TrackedKey.sealed(
                key,
                user_id=user.id,
                provider_id=providers[fake.url],
                label=fields.pop("label", key[-4:]),
                **fields,
            )
            db.session.add(tracked)
            db.session.commit()
            return tracked.id

    return make


def run_pass(app, now=None):
    with app.app_context():
        return poll_once(now)


def key_row(app, key_id: int) -> TrackedKey:
    with app.app_context():
        key = db.session.get(TrackedKey, key_id)
        db.session.expunge(key)
        return key


def samples_of(app, key_id: int) -> list[BalanceSample]:
    with app.app_context():
        rows = db.session.scalars(
            select(BalanceSample).where(BalanceSample.key_id == key_id).order_by(BalanceSample.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def usage_count(app, key_id: int) -> int:
    with app.app_context():
        query = select(func.count()).select_from(UsageRecord)
        return db.session.scalar(query.where(UsageRecord.key_id == key_id))


def limited_requests(fake) -> list:
    return [r for r in fake.requests if r.path.startswith(LIMITED)]


def four_keys(fake, track, **options) -> dict[str, int]:
    """An active, an exhausted, an expired and an unknown key, tracked."""
    active = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    exhausted = fake.add_token(remain_quota=0, used_quota=5 * USD)
    expired = fake.add_token(remain_quota=4 * USD, expired_time=int(time.time()) - 3600)
    return {
        "active": track(fake, active.key, **options),
        "exhausted": track(fake, exhausted.key, **options),
        "expired": track(fake, expired.key, **options),
        "invalid": track(fake, random_key(), **options),
    }


# -- one pass ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_it_records_a_sample_per_key_in_every_state(app, relays, track, flavor, lang):
    fake = relays(flavor, lang=lang)
    ids = four_keys(fake, track)
    report = run_pass(app)
    assert (report.due, report.polled, report.failed, report.deferred) == (4, 4, 0, 0)
    for state, key_id in ids.items():
        (sample,) = samples_of(app, key_id)
        assert sample.status == state, (flavor, lang, state)
        key = key_row(app, key_id)
        assert key.status == state and key.last_polled_at is not None
        assert key.next_poll_at > key.last_polled_at
    active = key_row(app, ids["active"])
    assert (active.total, active.used, active.remaining, active.unit) == (15.0, 3.0, 12.0, "USD")
    assert samples_of(app, ids["active"])[0].source == SUB
    assert key_row(app, ids["exhausted"]).remaining == 0.0


def test_it_asks_usage_token_only_when_the_pair_cannot_tell(relays, app, track):
    fake = relays(NA_PLUS, lang="en")  # recent new-api: every 401 says "Invalid token"
    active = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    exhausted = fake.add_token(remain_quota=0, used_quota=5 * USD)
    track(fake, active.key)
    exhausted_id = track(fake, exhausted.key)
    run_pass(app)
    assert len(fake.requests_to(SUB)) == 2 and len(fake.requests_to(USAGE)) == 2
    assert len(fake.requests_to(TOKEN_USAGE)) == 1  # only the ambiguous 401
    (sample,) = samples_of(app, exhausted_id)
    assert (sample.status, sample.used, sample.remaining) == ("exhausted", 5.0, 0.0)
    assert sample.source == TOKEN_USAGE.rstrip("/") + "/"


FAULTS = [
    ("timeout", "unreachable", "timeout"),
    ("reset", "unreachable", "reset"),
    ("429", "rate_limited", "relay_rate_limited"),
    ("500", "error", "relay_error"),
    ("502_html", "error", "relay_error"),
    ("db_error", "error", "relay_error"),
    ("malformed", "error", "malformed"),
    ("html", "error", "no_balance_endpoint"),
]


@pytest.mark.parametrize("flavor", [OA, NA_PLUS])
@pytest.mark.parametrize(("fault", "status", "reason"), FAULTS)
def test_it_records_every_fault_on_the_sample_and_never_raises(
    app, relays, track, flavor, fault, status, reason
):
    fake = relays(flavor)
    good = fake.add_token(remain_quota=12 * USD)
    key_id = track(fake, good.key)
    relay.relay_info(fake.url, timeout=(1.0, 1.0))  # the relay answered /api/status earlier
    fake.set_fault("*", fault)
    report = run_pass(app)
    assert (report.polled, report.failed) == (1, 1)
    (sample,) = samples_of(app, key_id)
    assert (sample.status, sample.error) == (status, reason)
    key = key_row(app, key_id)
    assert (key.status, key.error) == (status, reason)
    assert key.failures == (0 if fault == "429" else 1)


def test_it_keeps_the_last_numbers_when_a_poll_fails(app, fake, track):
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    key_id = track(fake, token.key)
    now = utcnow()
    run_pass(app, now)
    fake.set_fault(SUB, "500")
    fake.set_fault(TOKEN_USAGE, "500")  # new-api 2026 would ask it next
    run_pass(app, now + timedelta(hours=2))
    key = key_row(app, key_id)
    assert (key.status, key.remaining, key.used) == ("error", 12.0, 3.0)
    assert [s.remaining for s in samples_of(app, key_id)] == [12.0, None]


def test_it_backs_off_per_key_on_relay_errors_up_to_an_hour(app, fake, track):
    token = fake.add_token()
    key_id = track(fake, token.key, poll_interval=600)
    fake.set_fault(SUB, "500")
    fake.set_fault(TOKEN_USAGE, "500")
    now = utcnow()
    delays = []
    for _ in range(4):
        run_pass(app, now)
        key = key_row(app, key_id)
        delays.append((key.next_poll_at - now).total_seconds())
        now = key.next_poll_at
    assert key.failures == 4
    for delay, expected in zip(delays, (1200, 2400, 3600, 3600), strict=True):
        assert expected * 0.9 <= delay <= expected * 1.1
    fake.set_fault(SUB, None)
    run_pass(app, now)
    key = key_row(app, key_id)
    assert key.failures == 0 and key.status == "active"
    assert 540 <= (key.next_poll_at - now).total_seconds() <= 660


def test_it_slows_the_whole_provider_after_a_relay_429(app, relays, track):
    app.config["POLL_PER_PROVIDER"] = 2
    fake = relays(OA)
    ids = [track(fake, fake.add_token().key) for _ in range(10)]
    fake.set_fault(SUB, "429")
    now = utcnow()
    report = run_pass(app, now)
    polled = [i for i in ids if samples_of(app, i)]
    assert 1 <= len(polled) <= 2 and report.deferred >= 8
    assert all(samples_of(app, i)[0].error == "relay_rate_limited" for i in polled)
    assert len(fake.requests_to(SUB)) <= 2
    for key_id in set(ids) - set(polled):
        assert key_row(app, key_id).next_poll_at <= now  # still due, not failed
    seen = len(fake.requests)
    report = run_pass(app, now)  # the provider is held: nobody calls it
    assert report.polled == 0 and len(fake.requests) == seen


@pytest.mark.parametrize("flavor", [OA, NA_PLUS])
def test_it_never_exceeds_the_provider_budget(app, relays, track, flavor):
    fake = relays(flavor, lang="en")
    ids = [track(fake, fake.add_token().key, budget=(6, 180)) for _ in range(8)]
    ids.append(track(fake, random_key(), budget=(6, 180)))  # 2026: an extra usage/token call
    now = utcnow()
    polled = 0
    for step in range(5):
        polled += run_pass(app, now + timedelta(hours=step)).polled
        assert len(limited_requests(fake)) <= 6
    assert 1 <= polled <= 3
    waiting = [i for i in ids if key_row(app, i).last_polled_at is None]
    assert len(waiting) >= 6
    assert all(key_row(app, i).next_poll_at <= now for i in waiting)


def test_it_polls_everything_without_a_budget(app, fake, track):
    ids = [track(fake, fake.add_token().key, budget=(0, 180)) for _ in range(40)]
    report = run_pass(app)
    assert (report.polled, report.deferred) == (40, 0)
    assert all(samples_of(app, i) for i in ids)


def test_it_skips_paused_keys_and_keys_not_due(app, fake, track):
    paused = track(fake, fake.add_token().key, paused=True)
    later = track(fake, fake.add_token().key, next_poll_at=utcnow() + timedelta(minutes=5))
    due = track(fake, fake.add_token().key)
    report = run_pass(app)
    assert report.polled == 1
    assert samples_of(app, due) and not samples_of(app, paused) and not samples_of(app, later)
    assert len(fake.requests_to(SUB)) == 1


def test_it_records_an_undecryptable_key_without_calling(app, fake, track):
    key_id = track(fake, fake.add_token().key)
    with app.app_context():
        db.session.get(TrackedKey, key_id).ciphertext = b"not fernet"
        db.session.commit()
    run_pass(app)
    (sample,) = samples_of(app, key_id)
    assert (sample.status, sample.error) == ("error", "undecryptable")
    assert not fake.requests_to(SUB)


def test_it_sends_key_polled_once_per_sample(app, fake, track):
    ids = [track(fake, fake.add_token().key) for _ in range(3)]
    seen = []

    def listener(sender, key, sample, previous):
        seen.append((sender, key.id, sample.key_id, sample.status, previous))

    with key_polled.connected_to(listener):
        now = utcnow()
        run_pass(app, now)
        run_pass(app, now + timedelta(hours=1))
    assert len(seen) == 6
    assert all(sender is app and k == s for sender, k, s, _, _ in seen)
    assert sorted(k for _, k, *_ in seen[:3]) == ids
    assert [p for *_, p in seen] == [None] * 3 + ["active"] * 3


def test_it_survives_a_failing_listener(app, fake, track):
    key_id = track(fake, fake.add_token().key)

    def broken(sender, **kwargs):
        raise RuntimeError("listener bug")

    with key_polled.connected_to(broken):
        report = run_pass(app)
    assert report.polled == 1 and samples_of(app, key_id)


def test_it_polls_one_key_now(app, fake, track):
    key_id = track(fake, fake.add_token(remain_quota=7 * USD).key)
    seen = []

    def listener(sender, **kwargs):
        seen.append(kwargs["sample"].status)

    with key_polled.connected_to(listener), app.app_context():
        sample = poll_key(key_id)
        assert (sample.status, sample.remaining) == ("active", 7.0)
        assert poll_key(987654) is None
    assert seen == ["active"]


@pytest.mark.sqlite_only
def test_it_keeps_the_key_out_of_the_database_file(app, tmp_path, fake, track):
    token = fake.add_token(logs=make_logs(20))
    exhausted = fake.add_token(remain_quota=0)  # its 401 text carries a masked key
    unknown = random_key()
    for key in (token.key, exhausted.key, unknown):
        track(fake, key)
    run_pass(app)
    blob = b"".join(p.read_bytes() for p in Path(tmp_path).glob("test.sqlite*"))  # with -wal
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # checkpoints the WAL into the main file
    blob += b"".join(p.read_bytes() for p in Path(tmp_path).glob("test.sqlite*"))
    assert len(blob) > 10000
    for key in (token.key, exhausted.key, unknown):
        assert key.removeprefix("sk-").encode() not in blob
        assert key.removeprefix("sk-")[:20].encode() not in blob


# -- request-log ingestion ---------------------------------------------------------------------


@pytest.mark.parametrize("flavor", [NA, NA_PLUS])
def test_it_ingests_each_log_row_once_across_passes(app, relays, track, flavor):
    fake = relays(flavor)
    start = int(time.time()) - 40 * 600
    token = fake.add_token(logs=make_logs(30, start=start), used_quota=USD)
    key_id = track(fake, token.key)
    now = utcnow()
    report = run_pass(app, now)
    assert (report.log_reads, report.usage_rows) == (1, 30)
    # more traffic: the relay renumbers ids, we must not store the first 30 again
    for row in make_logs(5, start=start + 31 * 600, seed=2):
        del row["id"]
        token.logs.append(row)
    token.used_quota += USD
    report = run_pass(app, now + timedelta(hours=1))
    assert (report.log_reads, report.usage_rows) == (1, 5)
    assert usage_count(app, key_id) == 35
    report = run_pass(app, now + timedelta(hours=2))  # nothing moved: no read at all
    assert report.log_reads == 0 and len(fake.requests_to(LOG)) == 2
    with app.app_context():
        row = db.session.scalars(select(UsageRecord).order_by(UsageRecord.created_at)).first()
        assert row.model and row.quota > 0 and row.cost > 0 and row.unit == "USD"
        assert row.created_at.timestamp() == start


def test_it_keeps_history_after_the_relay_trims_and_the_key_runs_dry(app, fake, track):
    start = int(time.time()) - 100 * 600
    token = fake.add_token(logs=make_logs(50, start=start), used_quota=USD)
    key_id = track(fake, token.key)
    now = utcnow()
    run_pass(app, now)
    token.logs[:] = token.logs[-10:]  # the relay keeps only its newest rows
    for row in make_logs(3, start=start + 60 * 600, seed=3):
        del row["id"]
        token.logs.append(row)
    token.remain_quota, token.used_quota = 0, 2 * USD
    report = run_pass(app, now + timedelta(hours=1))
    assert key_row(app, key_id).status == "exhausted"
    assert report.usage_rows == 3 and usage_count(app, key_id) == 53


def test_it_tells_identical_rows_apart_but_stably(fake):
    rows = make_logs(1)
    info = relay.RelayInfo(generation="new-api-2025")
    parsed = [relay.logs.parse_row(dict(rows[0]), info) for _ in range(2)]
    first = [d for _, d in digests(parsed)]
    assert len(set(first)) == 2
    assert [d for _, d in digests(parsed)] == first


def test_it_reads_only_logs_of_keys_whose_usage_moved(app, fake, track):
    quiet = fake.add_token(logs=make_logs(3), used_quota=USD)
    busy = fake.add_token(logs=make_logs(3, seed=4), used_quota=USD)
    track(fake, quiet.key)
    busy_id = track(fake, busy.key)
    now = utcnow()
    assert run_pass(app, now).log_reads == 2
    busy.used_quota += USD
    busy.logs.append(make_logs(1, seed=5)[0] | {"id": 99})
    report = run_pass(app, now + timedelta(hours=1))
    assert report.log_reads == 1 and usage_count(app, busy_id) == 4
    reads = [r.headers.get("Authorization") for r in fake.requests_to(LOG)]
    assert reads[-1] == f"Bearer {busy.key}"


def test_it_never_reads_logs_on_one_api(app, relays, track):
    fake = relays(OA)
    track(fake, fake.add_token(used_quota=USD).key)
    assert run_pass(app).log_reads == 0
    assert not fake.requests_to(LOG)


def test_it_leaves_critical_budget_for_people_and_for_poll_checks(app, fake, track, monkeypatch):
    app.config["LOG_READS_PER_PASS"] = 10
    tokens = [fake.add_token(logs=make_logs(2, seed=i), used_quota=USD) for i in range(8)]
    for token in tokens:
        track(fake, token.key)
    monkeypatch.setitem(relay.BUDGETS.limits, relay.budget.CRITICAL, (16, 1200.0))
    report = run_pass(app)
    # 16 less the half kept for people, less the headroom of 4 kept for /api/usage/token
    assert report.log_reads == 4
    assert len(fake.requests_to(LOG)) == 4
    assert relay.BUDGETS.room(fake.url, LOG) == 12


# -- retention and budget advice ---------------------------------------------------------------


def test_it_prunes_only_samples_past_retention(app, fake, track):
    key_id = track(fake, fake.add_token().key)
    now = utcnow()
    with app.app_context():
        for days in (120, 91, 89, 0):
            db.session.add(
                BalanceSample(key_id=key_id, taken_at=now - timedelta(days=days), status="active")
            )
        db.session.commit()
        assert prune_samples(now) == 2
        assert prune_samples(now) == 0
    assert len(samples_of(app, key_id)) == 2


def test_it_advises_an_interval_that_fits_the_budget():
    provider = Provider(name="p", base_url="http://x", request_budget=150, budget_seconds=180)
    assert budget_advice(provider, [600] * 10) is None
    advice = budget_advice(provider, [60] * 500)
    assert advice["budget"] == 150 and advice["calls_needed"] > 150
    minutes = advice["fit_interval_minutes"]
    assert budget_advice(provider, [minutes * 60] * 500) is None
    assert budget_advice(provider, [(minutes - 1) * 60] * 500) is not None
    provider.request_budget = 0
    assert budget_advice(provider, [60] * 500) is None


def test_it_ignores_paused_keys_in_the_advice():
    provider = Provider(name="p", base_url="http://x", request_budget=10, budget_seconds=180)
    keys = [TrackedKey(poll_interval=60, paused=True) for _ in range(50)]
    assert budget_advice(provider, keys) is None


class OddRelay:
    """A relay that answers well-formed JSON with absurd values (ms timestamps, inf hints)."""

    def __init__(self, routes: dict[str, tuple[int, dict, bytes]]):
        self.routes = routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler):  # noqa: N802 - stdlib name
                status, headers, body = routes.get(handler.path.split("?")[0], (404, {}, b"{}"))
                handler.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    handler.send_header(name, value)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_it_survives_absurd_numbers_from_one_relay(app, fake, track):
    """A ms timestamp or Retry-After: inf on one relay never stalls the keys behind it."""
    status = json.dumps({"success": True, "data": {"quota_per_unit": 500000, "chat_link": ""}})
    odd = OddRelay(
        {
            "/api/status": (200, {}, status.encode()),
            "/v1/dashboard/billing/subscription": (
                200,
                {},
                b'{"hard_limit_usd": 10, "access_until": 99999999999999999}',
            ),
            "/v1/dashboard/billing/usage": (200, {}, b'{"total_usage": 100}'),
            "/v1/models": (429, {"Retry-After": "inf"}, b""),
        }
    )
    try:
        strange = track(odd, "sk-" + "o" * 48)
        healthy = [track(fake, fake.add_token().key) for _ in range(3)]
        for _ in range(2):
            run_pass(app)
        assert key_row(app, strange).status == "active"
        assert key_row(app, strange).expires_at is None
        assert all(key_row(app, k).status == "active" for k in healthy)
    finally:
        odd.stop()
