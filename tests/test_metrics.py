"""Prometheus /metrics: off (404) without METRICS_TOKEN, bearer-guarded, read from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from blueprints.auth.models import User
from blueprints.keys.models import TrackedKey, UsageRecord
from blueprints.keys.poller import poll_once
from blueprints.providers.models import Provider
from blueprints.scheduler.lease import acquire
from blueprints.shared import passfacts
from blueprints.status.models import Bucket, Health
from database import db
from tests.conftest import make_app

TOKEN = "scrape-token-5f1c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
USD = 500000


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, METRICS_TOKEN=TOKEN)


def scrape(client) -> dict:
    """name -> family, parsed by prometheus_client's own parser (fails on a bad exposition)."""
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.content_type.startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}


def samples(family, name: str | None = None) -> dict:
    """frozenset(labels) -> value for the family's samples called `name` (default: its own)."""
    wanted = name or family.name
    return {frozenset(s.labels.items()): s.value for s in family.samples if s.name == wanted}


def test_it_does_not_exist_without_a_token(tmp_path):
    """METRICS_TOKEN unset: 404 whatever the request carries, as if there were no endpoint."""
    client = make_app(tmp_path).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer tökén-ü",
        "Bearer " + "a" * 5000,
        f"Bearer {TOKEN} extra",
    ],
)
def test_it_answers_401_with_a_bearer_challenge_to_a_wrong_token(app, header):
    """Missing, wrong, other scheme, non-ASCII, huge: 401 + WWW-Authenticate, never a 500."""
    headers = {} if header is None else {"Authorization": header}
    answer = app.test_client().get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "relaydash_" not in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers


def test_it_takes_the_scheme_in_any_case(app):
    answer = app.test_client().get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers  # no session for a scraper


def test_an_empty_database_still_gives_a_valid_exposition(app):
    families = scrape(app.test_client())
    assert samples(families["relaydash_poll_passes"], "relaydash_poll_passes_total") == {
        frozenset(): 0.0
    }
    assert samples(families["relaydash_key_remaining"]) == {}


def _alice_key(app, fake, secret: str, username: str = "alice") -> int:
    with app.app_context():
        user = User(username=username, password_hash="!")
        provider = Provider(name='relay "one"\\', base_url=fake.url)
        db.session.add_all([user, provider])
        db.session.flush()
        key = TrackedKey.sealed(secret, user_id=user.id, provider_id=provider.id, label="x")
        db.session.add(key)
        db.session.commit()
        return key.id


def test_it_exposes_a_polled_key_by_id_owner_and_masked_ends_never_the_key(app, fake):
    """After a real poll pass: remaining, status, expiry, last poll, spend, the pass's facts."""
    expires = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD, expired_time=expires)
    username = 'ali"ce\\n\n'  # escaped by prometheus_client, read back intact
    key_id = _alice_key(app, fake, token.key, username)
    with app.app_context():
        report = poll_once()
        assert report.polled == 1
        for cost in (0.25, 0.5):
            db.session.add(
                UsageRecord(
                    key_id=key_id,
                    created_at=datetime.now(UTC),
                    model="m",
                    cost=cost,
                    unit="USD",
                    dedupe=str(cost),
                )
            )
        db.session.commit()
        key = db.session.get(TrackedKey, key_id)
        masked, status, unit = key.masked, key.status, key.unit
        remaining, polled_at = key.remaining, key.last_polled_at

    answer = app.test_client().get("/metrics", headers=AUTH)
    body = answer.get_data(as_text=True)
    assert token.key not in body and token.key[6:-4] not in body
    families = scrape(app.test_client())
    labels = {
        "key_id": str(key_id),
        "key": masked,
        "provider": 'relay "one"\\',
        "unit": unit,
        "owner": username,
    }
    one = frozenset(labels.items())
    assert samples(families["relaydash_key_remaining"]) == {one: pytest.approx(remaining)}
    assert remaining == pytest.approx(12)
    assert samples(families["relaydash_key_status"]) == {
        frozenset({**labels, "status": status}.items()): 1.0
    }
    assert samples(families["relaydash_key_expires_timestamp_seconds"]) == {one: expires}
    assert samples(families["relaydash_key_last_poll_timestamp_seconds"]) == {
        one: pytest.approx(polled_at.timestamp())
    }
    spend = samples(families["relaydash_key_spend"], "relaydash_key_spend_total")
    assert spend == {frozenset({**labels, "unit": "USD"}.items()): pytest.approx(0.75)}
    assert families["relaydash_key_spend"].type == "counter"

    def total(name: str) -> float:
        return samples(families[name], name + "_total")[frozenset()]

    assert total("relaydash_poll_passes") == 1
    assert total("relaydash_poll_keys_polled") == 1
    assert samples(families["relaydash_poll_pass_keys"]) == {frozenset(): 1}
    calls = samples(families["relaydash_relay_calls"], "relaydash_relay_calls_total")
    assert calls == {frozenset({"provider": 'relay "one"\\', "outcome": status}.items()): 1}


def test_counters_grow_pass_after_pass_and_every_worker_reads_the_same(app, fake, tmp_path):
    """Two passes add up; a second app on the same database (another worker) answers the same."""
    token = fake.add_token(remain_quota=5 * USD)
    _alice_key(app, fake, token.key)
    with app.app_context():
        poll_once()
        poll_once(force=True)
    mine = scrape(app.test_client())
    polled = samples(mine["relaydash_poll_keys_polled"], "relaydash_poll_keys_polled_total")
    assert polled == {frozenset(): 2}
    other = make_app(tmp_path, METRICS_TOKEN=TOKEN).test_client()
    theirs = other.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert theirs == app.test_client().get("/metrics", headers=AUTH).get_data(as_text=True)


def test_it_exposes_provider_states_model_speeds_probe_latency_and_the_lease(app):
    """Health rows, today's day buckets (histogram bins) and the lease row, as stored."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context():
        up, slow, gone = (Provider(name=n, base_url=f"https://{n}.example") for n in "abc")
        db.session.add_all([up, slow, gone])
        db.session.flush()
        db.session.add_all(
            [
                Health(provider_id=up.id, model="", state="up"),
                Health(provider_id=slow.id, model="", state="degraded"),
                Health(provider_id=gone.id, model="", state="down"),
                Health(provider_id=up.id, model="gpt-x", state="up", ttft_p50_ms=850, tps_p50=42),
                # bins 25, 50, 75 ms: one probe ≤ 25 ms, two ≤ 75 ms; 4 probes, 1 failed
                Bucket(
                    provider_id=up.id,
                    model="",
                    grain="d",
                    start=today,
                    total=4,
                    ok=3,
                    latency_n=3,
                    latency_sum=150.0,
                    histogram="1,0,2",
                ),
                Bucket(
                    provider_id=up.id,
                    model="",
                    grain="d",
                    start=today - timedelta(days=1),
                    total=99,
                    ok=99,
                    histogram="99",
                ),
            ]
        )
        db.session.commit()
        assert acquire("scheduler", "host:1:abcd", 60) == 1

    families = scrape(app.test_client())
    assert samples(families["relaydash_provider_up"]) == {
        frozenset({"provider": "a"}.items()): 1.0,
        frozenset({"provider": "b"}.items()): 0.5,
        frozenset({"provider": "c"}.items()): 0.0,
    }
    model = frozenset({"provider": "a", "model": "gpt-x"}.items())
    assert samples(families["relaydash_model_ttft_seconds"]) == {model: 0.85}
    assert samples(families["relaydash_model_tokens_per_second"]) == {model: 42}
    latency = families["relaydash_probe_latency_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert buckets["0.025"] == 1 and buckets["0.05"] == 1 and buckets["0.075"] == 3
    assert buckets["+Inf"] == 3  # yesterday's bucket is not counted
    tier = frozenset({"provider": "a", "tier": "provider"}.items())
    assert samples(latency, "relaydash_probe_latency_seconds_sum") == {tier: 0.15}
    assert samples(latency, "relaydash_probe_latency_seconds_count") == {tier: 3}
    probes = samples(families["relaydash_probe_calls"], "relaydash_probe_calls_total")
    assert probes[frozenset({"provider": "a", "outcome": "failed"}.items())] == 1
    assert probes[frozenset({"provider": "a", "outcome": "ok"}.items())] == 3
    assert samples(families["relaydash_scheduler_lease_holder"]) == {
        frozenset({"lease": "scheduler", "holder": "host:1:abcd"}.items()): 1.0
    }


def test_pass_facts_add_counters_and_replace_gauges(app):
    with app.app_context():
        for seconds in (2.0, 3.5):
            passfacts.note(
                add={("poll_passes", 0, ""): 1, ("relay_calls", 4, "ok"): 10},
                put={("poll_last_seconds", 0, ""): seconds},
            )
            db.session.commit()
        assert passfacts.read() == {
            ("poll_passes", 0, ""): 2,
            ("relay_calls", 4, "ok"): 20,
            ("poll_last_seconds", 0, ""): 3.5,
        }


def test_a_pass_that_lost_the_lease_leaves_no_facts(app, fake):
    """The facts go in a fenced commit: once the lease is lost mid-pass none are written."""
    from blueprints.keys.signals import key_polled
    from blueprints.shared.fence import FencedOut, fenced

    _alice_key(app, fake, fake.add_token(remain_quota=5 * USD).key)

    class Fence:
        held = True

        def confirm(self, session):
            return self.held

        def check(self):
            pass

    fence = Fence()

    def lose(*_args, **_kwargs):
        fence.held = False  # another scheduler took over once the samples were stored

    key_polled.connect(lose)
    try:
        with app.app_context(), pytest.raises(FencedOut), fenced(fence):
            poll_once()
    finally:
        key_polled.disconnect(lose)
    with app.app_context():
        assert db.session.get(TrackedKey, 1).last_polled_at is not None  # the pass did run
        assert passfacts.read() == {}


def test_the_grafana_dashboard_and_readme_name_only_exposed_metrics(app, fake):
    """Every relaydash_* name in deploy/grafana-relaydash.json and the README's Metrics section
    is a family the endpoint serves (after a poll pass, probes and a lease)."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    dashboard = json.loads((root / "deploy" / "grafana-relaydash.json").read_text("utf-8"))
    assert dashboard["panels"]
    readme = (root / "README.md").read_text("utf-8")
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"relaydash_[a-z_]+", json.dumps(dashboard) + section))
    assert "relaydash_key_remaining" in named and "relaydash_provider_up" in named

    _alice_key(app, fake, fake.add_token(remain_quota=5 * USD).key)
    with app.app_context():
        poll_once()
    body = app.test_client().get("/metrics", headers=AUTH).get_data(as_text=True)
    served = set(re.findall(r"^# TYPE (\w+) ", body, re.M))
    served |= {name + suffix for name in served for suffix in ("_bucket", "_total")}
    assert named - served == set()
