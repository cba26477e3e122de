"""`flask demo`: the filled throw-away instance on the demo relay, page by page, and the command."""

from __future__ import annotations

import html
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select as sql_select

from app import create_app
from blueprints.keys.models import BalanceSample, TrackedKey, UsageRecord
from database import db
from demo.cli import build
from demo.fill import DAYS, PROVIDER
from demo.relay import QUOTA_PER_UNIT, REPLY, DemoRelay, DemoToken, log_row
from tests import services
from tests.fakerelay import NA_PLUS, FakeRelay
from tests.test_playground import parse_sse, text

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under folder with its size, mtime and mode (missing folder: empty)."""
    if not folder.exists():
        return {}
    found = {".": (0, folder.stat().st_mtime_ns, folder.stat().st_mode)}
    for path in folder.rglob("*"):
        info = path.stat()
        found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One filled demo instance for the module: (app, login, relay, instance folder, before)."""
    before = _snapshot(ROOT / "instance")
    instance = tmp_path_factory.mktemp("demo-instance")
    relay = DemoRelay().start()
    app, login = build(create_app, instance, relay)
    app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    yield app, login, relay, instance, before
    from blueprints.scheduler.runner import stop_in_process  # noqa: PLC0415 - teardown only

    stop_in_process(app)
    with app.app_context():
        db.engine.dispose()
    relay.stop()


@pytest.fixture
def member(demo):
    app, login, *_ = demo
    client = app.test_client()
    answer = client.post("/login", data={"username": login.username, "password": login.password})
    assert answer.status_code == 303
    return client


def _text(page: str) -> str:
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_demo_lives_in_its_own_folder_and_never_touches_instance(demo):
    """The database, the secrets and the app's instance path are the temp folder's; instance/ is
    as it was (and nothing from it configures the demo)."""
    app, _login, _relay, instance, before = demo
    assert Path(app.instance_path) == instance
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'demo.sqlite'}"
    assert (instance / "demo.sqlite").stat().st_size > 0
    assert _snapshot(ROOT / "instance") == before
    assert app.config["SCHEDULER_ENABLED"] is True  # served like `make run`
    assert "scheduler" in app.extensions
    # the loopback relay is allowed in the demo's config only; the default stays closed
    assert app.config["ALLOW_PRIVATE_PROVIDERS"] is True
    from app import DEFAULTS  # noqa: PLC0415

    assert DEFAULTS["ALLOW_PRIVATE_PROVIDERS"] is False


def test_it_stores_a_week_of_samples_and_request_logs(demo):
    """Every key has balance samples across DAYS days and its request log ingested."""
    app, login, relay, *_ = demo
    with app.app_context():
        keys = db.session.scalars(sql_select(TrackedKey)).all()
        assert len(keys) == len(login.keys) == 3
        for key in keys:
            times = db.session.scalars(
                sql_select(BalanceSample.taken_at).where(BalanceSample.key_id == key.id)
            ).all()
            assert max(times) - min(times) >= timedelta(days=DAYS - 1)
            logged = db.session.scalar(sql_select(func.count()).where(UsageRecord.key_id == key.id))
            token = relay.tokens[db_key(app, key).removeprefix("sk-")]
            assert logged == len(token.logs) > 0
            assert key.status == "active"


def db_key(app, key: TrackedKey) -> str:
    from blueprints.shared.vault import vault  # noqa: PLC0415

    return vault().decrypt(key.ciphertext)


def test_a_guest_looks_up_the_printed_key(demo):
    """/lookup with the demo key: active, and exactly the relay's remaining balance."""
    app, login, relay, *_ = demo
    token = relay.tokens[login.lookup_key.removeprefix("sk-")]
    page = app.test_client().post("/lookup", data={"provider": PROVIDER, "key": login.lookup_key})
    assert page.status_code == 200
    shown = _text(page.get_data(as_text=True))
    assert "Active" in shown
    assert f"${token.remain_quota / QUOTA_PER_UNIT:,.2f}" in shown
    assert "New API (relaydash demo)" in shown


def test_usage_shows_spend_and_runway_for_every_key(demo, member):
    """/usage: the three keys with a 7-day spend and a runway; a key's page has its charts."""
    _app, login, *_ = demo
    overview = _text(member.get("/usage").get_data(as_text=True))
    for label in ("Main key", "Team bot", "Trial"):
        row = re.search(re.escape(label) + r" sk-\S+ (\$[0-9.,]+ ){4}≈ (\d+) days", overview)
        assert row, label
    page = member.get("/usage/1").get_data(as_text=True)
    figures = re.findall(r'data-figure="([^"]+)"', page) or re.findall(
        r"<script[^>]*application/json[^>]*>(.*?)</script>", page, re.S
    )
    assert figures, "no chart data on the key's usage page"
    shown = _text(page)
    assert "The request log and the balance agree." in shown
    assert "Runway ≈" in shown


def test_the_key_page_lists_a_week_of_polls(demo, member):
    shown = _text(member.get("/keys/1").get_data(as_text=True))
    polls = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Active \$", shown)
    assert len(polls) >= 20


def test_status_has_probe_history(demo):
    """/status: operational with latency, and days of the past week with data."""
    app, *_ = demo
    page = app.test_client().get("/status").get_data(as_text=True)
    shown = _text(page)
    assert PROVIDER in shown and "Operational" in shown
    days_with_data = re.findall(r"\d{4}-\d\d-\d\d: (?!no data)", shown)
    assert len(days_with_data) >= DAYS - 1


def test_the_alert_rules_fired_and_reached_the_demo_channel(demo, member):
    """Team bot crossed its low-balance line during the week and Trial expires within 7 days:
    both were sent to the demo webhook and logged."""
    _app, _login, relay, *_ = demo
    shown = _text(member.get("/alerts").get_data(as_text=True))
    assert re.search(r"Team bot sk-\S+ Low balance Sent", shown)
    assert re.search(r"Trial sk-\S+ Expires soon Sent", shown)
    assert len(relay.alerts) >= 2


def test_the_playground_streams_from_the_demo_relay(demo, member):
    """A run on a tracked demo key streams the demo relay's reply word by word."""
    form = {
        "source": "tracked",
        "key_id": "1",
        "provider": PROVIDER,
        "model": ["gpt-4o-mini"],
        "system": "",
        "role": ["user"],
        "content": ["Say hello"],
        "stream": "1",
        "format": "none",
        "repeat": "1",
    }
    page = member.post("/playground/run", data=form)
    assert page.status_code == 200, page.get_data(as_text=True)
    url = re.search(r'sse-connect="([^"]+)"', page.get_data(as_text=True))[1]
    events = parse_sse(member.get(url).get_data(as_text=True))
    assert events["outcome"] == ["ok"]
    assert text(events, "c0-content") == REPLY
    assert 'data-metric="ttft"' in events["c0-result"][0]


def _answers(url: str, key: str) -> dict[str, object]:
    """The relay's JSON answers relaydash reads, for one key."""
    auth = {"Authorization": f"Bearer {key}"}
    found = {}
    for path in (
        "/api/status",
        "/api/usage/token/",
        "/api/log/token",
        "/v1/models",
        "/v1/dashboard/billing/subscription",
        "/v1/dashboard/billing/usage",
    ):
        found[path] = requests.get(url + path, headers=auth, timeout=5).json()
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    found["chat"] = requests.post(url + "/v1/chat/completions", json=chat, headers=auth, timeout=5)
    found["stream"] = requests.post(
        url + "/v1/chat/completions",
        json={**chat, "stream": True, "stream_options": {"include_usage": True}},
        headers=auth,
        timeout=5,
    )
    found["nobody"] = requests.get(url + "/v1/models", timeout=5)
    return found


def _shape(value: object) -> object:
    """Keys and value types, recursively (lists by their first item, numbers alike)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"  # Go writes 12.0 as 12
    return type(value).__name__ if value is not None else None


def test_the_demo_relay_speaks_the_test_fakes_wire_format():
    """Answer by answer the demo relay has the test fake's shape (new-api 2026), so what the
    tests prove against the fake holds for the demo: same fields and types where it answers."""
    demo_relay = DemoRelay().start()
    fake = FakeRelay(NA_PLUS).start()
    try:
        token = demo_relay.add_token(DemoToken(key="sk-" + "d" * 48, name="t", remain_quota=10**7))
        token.logs.append(log_row(int(time.time()), "gpt-4o", 100, 20, token))
        fake.add_token("sk-" + "f" * 48, name="t", logs=[dict(token.logs[0], other="{}")])
        demo_answers = _answers(demo_relay.url, "sk-" + "d" * 48)
        fake_answers = _answers(fake.url, "sk-" + "f" * 48)
    finally:
        demo_relay.stop()
        fake.stop()
    for path in ("/api/usage/token/", "/api/log/token", "/v1/dashboard/billing/subscription"):
        assert _shape(demo_answers[path]) == _shape(fake_answers[path]), path
    status, fake_status = demo_answers["/api/status"]["data"], fake_answers["/api/status"]["data"]
    assert {k: _shape(v) for k, v in status.items()} == {k: _shape(fake_status[k]) for k in status}
    for name in ("chat", "stream", "nobody"):
        ours, theirs = demo_answers[name], fake_answers[name]
        assert ours.status_code == theirs.status_code, name
        assert (
            ours.headers["Content-Type"].split(";")[0]
            == (theirs.headers["Content-Type"].split(";")[0])
        ), name
    events = [
        json.loads(line[6:])
        for line in demo_answers["stream"].text.splitlines()
        if line.startswith("data: {")
    ]
    fake_events = [
        json.loads(line[6:])
        for line in fake_answers["stream"].text.splitlines()
        if line.startswith("data: {")
    ]
    assert set(events[0]) == set(fake_events[0]) - {"system_fingerprint"}
    assert events[-1]["usage"].keys() == fake_events[-1]["usage"].keys()
    assert demo_answers["stream"].text.endswith("data: [DONE]\n\n")


@pytest.mark.sqlite_only
def test_flask_demo_serves_and_ctrl_c_removes_the_instance(tmp_path):
    """The real command as `make demo` runs it: it prints the URL and login, serves the filled
    instance, and Ctrl-C removes the temp folder; instance/ is untouched."""
    before = _snapshot(ROOT / "instance")
    port = services.free_port()
    env = {
        **os.environ,
        "RELAYDASH_INSTANCE": str(tmp_path / "boot"),  # what `make demo` gives the loader
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = _read_until(process, "removed on Ctrl-C", seconds=120)
        banner = "\n".join(lines)
        url = re.search(r"relaydash demo: (http://\S+)", banner)[1]
        username, password = re.search(r"log in as (\S+) / (\S+)", banner).groups()
        instance = Path(re.search(r"throw-away instance: (\S+)", banner)[1])
        assert url == f"http://127.0.0.1:{port}"
        assert instance.is_dir() and (instance / "demo.sqlite").exists()
        session = requests.Session()
        _wait(session, url + "/healthz")
        assert PROVIDER in session.get(url + "/status", timeout=10).text
        login = session.get(url + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)[1]
        answer = session.post(
            url + "/login",
            data={"username": username, "password": password, "csrf_token": token},
            timeout=10,
        )
        assert answer.ok and "Main key" in answer.text
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert not instance.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
    assert _snapshot(ROOT / "instance") == before


def _read_until(process: subprocess.Popen, marker: str, seconds: float) -> list[str]:
    """Output lines up to the one with `marker` (a reader thread: readline may block)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} in the output: {seen}")


def _wait(session: requests.Session, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if session.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer")
        time.sleep(0.2)
