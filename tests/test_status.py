"""Status end to end: probe passes against the fake relay with faults, states, incidents, pages."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import relay
from blueprints.alerts.models import Channel, Delivery
from blueprints.auth.models import User
from blueprints.providers.models import Provider
from blueprints.providers.service import add_provider, edit_provider
from blueprints.shared.vault import vault
from blueprints.status import board
from blueprints.status.models import Bucket, Health, Incident, Monitor, Notice, Probe
from blueprints.status.prober import probe_once
from blueprints.status.settings import configure
from database import db
from tests.conftest import login

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def watch(app, fake, name="fake", *, models=(), key=True, public=True, **settings) -> int:
    """A provider on the fake relay, monitored; returns its id."""
    with app.app_context():
        provider = db.session.scalar(select(Provider).where(Provider.name == name))
        if provider is None:
            provider = add_provider(name, fake.url)
        configure(
            provider,
            enabled=True,
            public=public,
            probe_key=fake.add_token().key if key else None,
            models=list(models),
            **settings,
        )
        return provider.id


def passes(app, start: datetime, count: int, step: timedelta = timedelta(minutes=1)):
    """Run `count` probe passes, `step` apart (every probe due each time via force)."""
    reports = []
    with app.app_context():
        for n in range(count):
            reports.append(probe_once(start + n * step, force=True))
    return reports


def health(app, pid: int, model: str = "") -> Health:
    with app.app_context():
        row = db.session.get(Health, (pid, model))
        db.session.expunge(row)
        return row


def probes(app, pid: int, tier: str | None = None) -> list[Probe]:
    with app.app_context():
        query = select(Probe).where(Probe.provider_id == pid).order_by(Probe.at, Probe.id)
        if tier:
            query = query.where(Probe.tier == tier)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


# -- probes, states, incidents -----------------------------------------------------------------


def test_a_healthy_relay_is_up_with_every_tier_recorded(app, fake):
    fake.script("m-1", content=["a", "b", "c", "d"], delay=0.01)
    pid = watch(app, fake, models=["m-1"])
    report = passes(app, T0, 1)[0]
    assert report.probed == 4 and report.failed == 0  # status, models, light, stream
    assert health(app, pid).state == "up" and health(app, pid, "m-1").state == "up"
    stream = probes(app, pid, "stream")[0]
    assert stream.ttft_ms is not None and stream.tokens_per_s is not None
    assert health(app, pid, "m-1").ttft_p50_ms == pytest.approx(stream.ttft_ms)


def test_a_down_relay_goes_down_after_two_failures_and_opens_one_incident(app, fake):
    pid = watch(app, fake, key=False)
    passes(app, T0, 1)
    fake.set_fault("*", "503")
    passes(app, T0 + timedelta(minutes=1), 1)
    assert health(app, pid).state == "up"  # one bad probe is not an outage
    passes(app, T0 + timedelta(minutes=2), 2)
    assert health(app, pid).state == "down"
    assert {p.error for p in probes(app, pid)[1:]} == {"http_5xx"}
    fake.set_fault("*", None)
    passes(app, T0 + timedelta(minutes=4), 1)
    assert health(app, pid).state == "down"  # back up only after two good probes
    passes(app, T0 + timedelta(minutes=5), 1)
    assert health(app, pid).state == "up"
    with app.app_context():
        incidents = db.session.scalars(select(Incident)).all()
        assert len(incidents) == 1
        assert incidents[0].state == "down" and incidents[0].cause == "http_5xx"
        assert incidents[0].started_at == T0 + timedelta(minutes=2)
        assert incidents[0].ended_at == T0 + timedelta(minutes=5)


def test_connection_refused_is_a_connect_error(app, relays):
    dead = relays("one-api")
    pid = watch(app, dead, key=False)
    dead.stop()
    passes(app, T0, 2)
    assert [p.error for p in probes(app, pid)] == ["connect", "connect"]
    assert health(app, pid).state == "down"


def test_a_flaky_relay_never_goes_down(app, fake):
    pid = watch(app, fake, key=False)
    passes(app, T0, 1)  # the family is known from here on: no detection call in the way
    fake.set_fault("/api/status", "flaky_502")
    passes(app, T0 + timedelta(minutes=1), 6)
    errors = [p.error for p in probes(app, pid)[1:]]
    assert errors == [None, "http_5xx"] * 3
    assert health(app, pid).state == "up"


def test_empty_answers_and_429s_degrade_but_never_go_down(app, fake):
    fake.script("m-empty", content=[])
    pid = watch(app, fake, models=["m-empty"])
    passes(app, T0, 3)
    model = health(app, pid, "m-empty")
    assert model.state == "degraded" and model.last_error == "empty_response"
    # (/v1/models: a 429 on /api/status also starts our own hold, which skips the next probes)
    fake.set_fault("/v1/models", "429")
    passes(app, T0 + timedelta(minutes=3), 2)
    assert health(app, pid).state == "degraded"
    assert probes(app, pid, "models")[-1].error == "rate_limited"


def test_a_slow_first_token_degrades_the_model(app, fake):
    fake.script("m-slow", content=["x", "y", "z"], first_delay=0.4)
    pid = watch(app, fake, models=["m-slow"], ttft_slow_ms=200, light_seconds=60)
    passes(app, T0, 2)
    assert health(app, pid, "m-slow").state == "degraded"
    assert probes(app, pid, "stream")[0].ttft_ms >= 400


def test_rollups_count_what_the_probes_saw(app, fake):
    pid = watch(app, fake, key=False)
    passes(app, T0, 3)
    fake.set_fault("*", "503")
    passes(app, T0 + timedelta(minutes=3), 1)
    with app.app_context():
        day = db.session.get(Bucket, (pid, "", "d", T0.replace(hour=0)))
        hour = db.session.get(Bucket, (pid, "", "h", T0))
        assert (day.total, day.ok) == (4, 3) and (hour.total, hour.ok) == (4, 3)
        minutes = db.session.scalar(
            select(func.count()).where(Bucket.provider_id == pid, Bucket.grain == "m")
        )
        assert minutes == 4


def test_a_probe_our_budget_held_back_is_not_recorded(app, fake):
    pid = watch(app, fake, key=False)
    with app.app_context():
        edit_provider(db.session.get(Provider, pid), budget=(3, 3600))
    passes(app, T0, 1)  # detection asks /api/status once, the probe once
    sent = len(fake.requests_to("/api/status"))
    passes(app, T0 + timedelta(minutes=1), 2)
    assert len(probes(app, pid)) == 1  # the probes our budget held back were never recorded
    assert health(app, pid).state == "up"
    assert len(fake.requests_to("/api/status")) == sent  # nor sent
    assert relay.BUDGETS.room(fake.url, "/api/status") == 1  # the people's share stays free


def test_due_times_are_honoured_without_force(app, fake):
    pid = watch(app, fake, key=False, status_seconds=60)
    with app.app_context():
        assert probe_once(T0).probed == 1
        assert probe_once(T0 + timedelta(seconds=30)).probed == 0
        report = probe_once(T0 + timedelta(seconds=75))
        assert report.probed == 1 and report.lag_s == pytest.approx(15)
    assert len(probes(app, pid)) == 2


# -- notifications and maintenance -------------------------------------------------------------


def subscribe(app, name: str, *, admin: bool, status_changes: bool = True) -> None:
    with app.app_context():
        user = User(username=name, password_hash="!", role="admin" if admin else "member")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            Channel(
                user_id=user.id,
                kind="webhook",
                name=name,
                url_ciphertext=vault().encrypt("https://hooks.example/x"),
                url_hint="hooks.example",
                status_changes=status_changes,
            )
        )
        db.session.commit()


def test_state_changes_reach_subscribed_admins_only_outside_maintenance(app, fake):
    subscribe(app, "root", admin=True)
    subscribe(app, "quiet", admin=True, status_changes=False)
    subscribe(app, "member", admin=False)
    pid = watch(app, fake, key=False)
    passes(app, T0, 1)
    fake.set_fault("*", "503")
    passes(app, T0 + timedelta(minutes=1), 2)
    with app.app_context():
        sent = db.session.scalars(select(Delivery)).all()
        assert [d.event for d in sent] == ["status_down"]
        assert json.loads(sent[0].payload)["provider"] == "fake"
        db.session.add(Notice(provider_id=pid, kind="maintenance", title="upgrade", starts_at=T0))
        db.session.commit()
    fake.set_fault("*", None)
    passes(app, T0 + timedelta(minutes=3), 2)
    assert health(app, pid).state == "up"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1  # muted


def test_every_process_that_imports_the_app_has_alerts_listening_to_status():
    """Web, `flask scheduler` and `flask poll-once` all import app: alerts' receiver is on."""
    code = (
        "import app\n"
        "from blueprints.providers.signals import state_changed\n"
        "print(*(f'{r.__module__}.{r.__name__}' for r in state_changed.receivers_for(None)))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["blueprints.alerts.status_changes.on_state_changed"]


# -- pages, feed, badge -------------------------------------------------------------------------


def test_the_public_page_shows_public_providers_only(app, client, relays):
    shown, hidden = relays("one-api"), relays("new-api-2025")
    watch(app, shown, "shown", key=False)
    watch(app, hidden, "secret-relay", key=False, public=False)
    passes(app, datetime.now(UTC), 1)
    page = client.get("/status")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown" in html and "secret-relay" not in html
    assert 'data-color="grey"' in html and 'data-color="green"' in html
    feed = client.get("/status.json").get_json()
    assert [p["name"] for p in feed["providers"]] == ["shown"]
    assert client.get("/status/secret-relay").status_code == 404
    assert client.get("/status/secret-relay/badge.svg").status_code == 404


def test_the_feed_has_the_documented_shape(app, client, fake):
    fake.script("m-1", content=["a", "b", "c"])
    watch(app, fake, models=["m-1"])
    passes(app, datetime.now(UTC) - timedelta(minutes=2), 2)
    feed = client.get("/status.json")
    assert feed.headers["Cache-Control"].startswith("public")
    provider = feed.get_json()["providers"][0]
    assert set(provider) == {
        "name",
        "state",
        "uptime",
        "coverage",
        "latency_ms_p50",
        "models",
        "incidents",
    }
    assert provider["state"] == "up"
    assert provider["uptime"]["24h"] == 1.0 and provider["uptime"]["7d"] == 1.0
    # Two minutes of probes: 100 % of a sliver of each window, and the feed says how thin.
    for window, length in (("24h", 24 * 60), ("7d", 7 * 24 * 60), ("90d", 90 * 24 * 60)):
        assert 1 / length <= provider["coverage"][window] <= 4 / length + 1e-4, window
    assert provider["models"][0]["model"] == "m-1"
    assert set(provider["models"][0]) == {
        "model",
        "state",
        "ttft_ms_p50",
        "tokens_per_s_p50",
        "last_checked_at",
    }


def test_uptime_without_probes_is_null_not_100(app, client, fake):
    watch(app, fake, key=False)
    provider = client.get("/status.json").get_json()["providers"][0]
    assert provider["uptime"] == {"24h": None, "7d": None, "30d": None, "90d": None}
    assert provider["state"] == "unknown"


def test_badges_render_status_and_uptime(app, client, fake):
    watch(app, fake, key=False)
    passes(app, datetime.now(UTC), 1)
    status = client.get("/status/fake/badge.svg")
    assert status.status_code == 200 and status.mimetype == "image/svg+xml"
    assert "<svg" in status.get_data(as_text=True) and "up" in status.get_data(as_text=True)
    uptime = client.get("/status/fake/badge.svg?metric=uptime&window=7d").get_data(as_text=True)
    assert "100.00%" in uptime
    assert client.get("/status/fake/badge.svg?metric=bogus").status_code == 400


def test_the_models_badge_counts_probe_models_up(app, client, fake):
    fake.script("m-1", content=["a", "b"])
    pid = watch(app, fake, models=["m-1", "m-2"])
    passes(app, datetime.now(UTC), 1)
    with app.app_context():
        up = {h.model for h in db.session.scalars(select(Health)) if h.state == "up" and h.model}
    text = client.get("/status/fake/badge.svg?metric=models").get_data(as_text=True)
    assert f"fake: {len(up)}/2 models up" in text and up  # a model not up yet is not counted
    assert client.get("/status/fake/badge.svg?metric=models&window=1y").status_code == 400
    with app.app_context():
        configure(db.session.get(Provider, pid), models=[])
    from blueprints.status.pages import FEEDS

    FEEDS.clear()
    assert "no models" in client.get("/status/fake/badge.svg?metric=models").get_data(as_text=True)


def test_the_provider_page_draws_its_charts(app, client, fake):
    watch(app, fake, key=False)
    passes(app, datetime.now(UTC) - timedelta(minutes=5), 3)
    for window in ("24h", "7d", "30d", "90d"):
        page = client.get(f"/status/fake?range={window}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'data-testid="chart-latency"' in html
    # Plotly speaks Chinese on a Chinese page (its vendored zh-CN locale), and only there.
    assert "plotly-locale-zh-cn" not in html
    zh = client.get("/status/fake", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "plotly-locale-zh-cn-4.1.1.js" in zh and "charts.js" in zh


# -- settings -----------------------------------------------------------------------------------


def test_the_cli_turns_monitoring_on_with_a_key_from_stdin(app, fake):
    with app.app_context():
        add_provider("fake", fake.url)
    runner = app.test_cli_runner()
    key = fake.add_token().key
    result = runner.invoke(
        args=["providers", "monitor", "fake", "--probe-models", "m-a,m-b", "--private"],
        input=key + "\n",
    )
    assert result.exit_code == 0, result.output
    assert key not in result.output and "m-a, m-b" in result.output and "private" in result.output
    off = runner.invoke(args=["providers", "monitor", "fake", "--off"], input="")
    assert "not monitored" in off.output
    bad = runner.invoke(args=["providers", "monitor", "fake", "--interval", "5"], input="")
    assert bad.exit_code != 0 and "status_seconds" in bad.output


def test_poll_once_force_runs_every_probe(app, fake):
    watch(app, fake, key=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["poll-once"])
    second = runner.invoke(args=["poll-once"])
    forced = runner.invoke(args=["poll-once", "--force"])
    assert "probed 1 of 1" in first.output
    assert "probed 0 of 0" in second.output
    assert "probed 1 of 1" in forced.output


def test_the_admin_page_saves_settings_and_refuses_bad_ones(app, client, fake, make_user):
    pid = watch(app, fake, key=False)
    make_user("root", admin=True)
    login(client, "root")
    assert client.get(f"/admin/status/{pid}").status_code == 200
    form = {"enabled": "1", "public": "1", "probe_models": "m-1", "status_seconds": "120"}
    assert client.post(f"/admin/status/{pid}", data=form).status_code == 303
    refused = client.post(f"/admin/status/{pid}", data={**form, "status_seconds": "1"})
    assert refused.status_code == 400 and 'data-testid="error"' in refused.get_data(as_text=True)
    with app.app_context():
        monitor = db.session.get(Monitor, pid)
    assert monitor.status_seconds == 120 and monitor.models == ["m-1"]
    note = client.post(f"/admin/status/{pid}/notices", data={"kind": "maintenance", "title": "db"})
    assert note.status_code == 303
    assert "db" in client.get("/status").get_data(as_text=True)


def test_members_cannot_reach_the_admin_page(app, client, fake, make_user):
    pid = watch(app, fake, key=False)
    make_user("alice")
    login(client, "alice")
    assert client.get(f"/admin/status/{pid}").status_code == 403


def test_the_page_lists_trouble_first_and_pages_but_the_feed_has_everyone(
    app, client, relays, monkeypatch
):
    monkeypatch.setattr(board, "PAGE_SIZE", 2)
    fakes = {name: relays("one-api") for name in ("alpha", "beta", "gamma")}
    for name, relay_ in fakes.items():
        watch(app, relay_, name, key=False)
    fakes["gamma"].set_fault("*", "503")
    passes(app, datetime.now(UTC) - timedelta(minutes=3), 2)
    first = client.get("/status").get_data(as_text=True)
    second = client.get("/status?page=2").get_data(as_text=True)
    assert first.index("provider-gamma") < first.index("provider-alpha")  # down before up
    assert "provider-beta" not in first and "provider-beta" in second
    # The banner covers all providers, on every page, and names who is down (1 of 3: partial).
    assert 'data-state="down"' in first and "Partial outage: gamma" in second
    names = [p["name"] for p in client.get("/status.json").get_json()["providers"]]
    assert sorted(names) == ["alpha", "beta", "gamma"]
    assert client.get("/status?page=99").status_code == 200
