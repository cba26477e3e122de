"""Several web processes on one database, as behind a load balancer without sticky sessions:
whatever one worker starts, another can finish."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from blueprints.playground import pending
from blueprints.playground.build import Column, Spec
from blueprints.playground.models import RunSlot
from blueprints.playground.runs import Run
from database import db
from tests.conftest import PASSWORD, login
from tests.test_playground import assert_stopped, form, parse_sse, text


@pytest.fixture
def member_client(client, make_user, provider):
    """alice, logged in through the test client (one process)."""
    make_user("alice")
    login(client, "alice")
    return client


def test_a_batch_csv_downloads_from_another_worker(workers, provider, fake):
    """The table is checked on one worker; its CSV comes from the other (8 of 8 tries)."""
    one, two = workers(2)
    keys = [fake.add_token().key for _ in range(3)]
    for attempt in range(8):
        first, second = (one, two) if attempt % 2 == 0 else (two, one)
        page = requests.post(
            first + "/batch",
            data={"provider": provider, "keys": "\n".join(keys)},
            headers={"Accept": "application/x-ndjson"},
            timeout=10,
        )
        foot = json.loads(page.text.strip().splitlines()[-1])["html"]
        sealed = foot.split('name="table" value="')[1].split('"')[0]
        sheet = requests.post(second + "/batch.csv", data={"table": sealed}, timeout=10)
        assert sheet.status_code == 200
        lines = sheet.content.decode("utf-8-sig").splitlines()
        assert len(lines) == 4 and all(",active," in line for line in lines[1:])
        assert not any(key in sheet.text or key in page.text for key in keys)


# -- playground runs ------------------------------------------------------------------------------


def _member(make_user, url: str, *, verify: bool | str = True) -> requests.Session:
    """alice logged in at `url` (verify: the certificate an https URL is checked against)."""
    make_user("alice")
    session = requests.Session()
    session.verify = verify
    # requests lets REQUESTS_CA_BUNDLE from the environment override a session's own verify
    session.trust_env = verify is True
    assert session.post(url + "/login", data={"username": "alice", "password": PASSWORD}).ok
    return session


def _start(session: requests.Session, url: str, fake, **extra) -> tuple[int, str, str]:
    """POST a run on one worker: (status, stream path, run id)."""
    page = session.post(url + "/playground/run", data=form(fake, **extra), timeout=10)
    if page.status_code != 200:
        return page.status_code, "", ""
    stream = re.search(r'sse-connect="([^"]+)"', page.text)[1]
    return 200, html.unescape(stream), re.search(r'data-run="([^"]+)"', page.text)[1]


def test_a_run_started_on_one_worker_streams_from_another(workers, make_user, provider, fake):
    """12 runs, each started on one worker and streamed by the other: all 12 stream."""
    fake.script("m-plain", content=["Hel", "lo"], delay=0.01)
    one, two = workers(2)
    session = _member(make_user, one)
    for attempt in range(12):
        first, second = (one, two) if attempt % 2 == 0 else (two, one)
        status, stream, _run_id = _start(session, first, fake)
        assert status == 200
        answer = session.get(second + stream, timeout=10)
        assert answer.status_code == 200
        events = parse_sse(answer.text)
        assert text(events, "c0-content") == "Hello" and "done" in events
        assert session.get(first + stream, timeout=10).status_code == 204  # once, anywhere


def test_stop_sent_to_another_worker_stops_the_stream(workers, make_user, provider, fake):
    """The stream runs on one worker, Stop lands on the other: the relay connection closes."""
    fake.script("m-slow", content=[f"w{i} " for i in range(40)], delay=0.25)
    one, two = workers(2)
    session = _member(make_user, one)
    _status, stream, run_id = _start(session, one, fake, models=("m-slow",))
    body: list[str] = []
    reader = threading.Thread(
        target=lambda: body.append(session.get(one + stream, timeout=20).text)
    )
    reader.start()
    time.sleep(1.0)
    assert session.post(f"{two}/playground/runs/{run_id}/stop", timeout=5).status_code == 204
    reader.join(10)
    assert not reader.is_alive()
    assert_stopped(body[0], fake)


def test_open_runs_count_across_workers_and_a_stream_that_never_comes_frees_its_slot(
    workers, make_user, provider, fake, app, monkeypatch
):
    """Four runs opened on one worker fill the slots for the other too; a run whose stream
    never arrives gives its slot back when its row expires (no stranded "too many runs")."""
    fake.script("m-plain", content=["hi"])
    one, two = workers(2)
    session = _member(make_user, one)
    streams = [_start(session, one, fake)[1] for _ in range(pending.MAX_LIVE_PER_OWNER)]
    assert _start(session, two, fake)[0] == 429
    with app.app_context():  # as if PENDING_SECONDS had passed without any stream arriving
        db.session.execute(
            update(RunSlot).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    status, stream, _run_id = _start(session, two, fake)
    assert status == 200
    assert session.get(one + stream, timeout=10).status_code == 200
    assert session.get(two + streams[0], timeout=10).status_code == 204  # expired: never runs
    assert len(fake.requests_to("/v1/chat/completions")) == 1


def test_runs_started_at_once_never_take_more_than_the_owners_slots(app):
    """Eight runs of one owner started at the same moment, each in its own thread with its own
    database connection (as eight workers would): exactly MAX_LIVE_PER_OWNER get a slot."""
    spec = Spec(
        columns=[Column("m", {}, b"{}")],
        repeat=1,
        stream=True,
        mode="text",
        schema=None,
        prompt_text="hi",
    )
    start = threading.Barrier(8)
    got: list[bool] = []

    def begin() -> None:
        with app.app_context():
            run = Run("user:1", "http://relay.test", "fake", "sk-x", "sk-x", spec, {}, None)
            start.wait(10)
            got.append(pending.open_slot(run) is not None)
            db.session.remove()

    threads = [threading.Thread(target=begin) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(got) == 8 and got.count(True) == pending.MAX_LIVE_PER_OWNER
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RunSlot)) == 4


def test_the_database_never_holds_the_prompt_or_the_key(app, member_client, fake):
    """While a run waits for its stream its row holds ciphertext only (the one-time key is in
    the URL alone); the stream wipes it and the finished run leaves no row."""
    secret = fake.add_token().key
    prompt = "the secret recipe for tomato soup"
    fake.script("m-plain", content=["ok"])
    page = member_client.post("/playground/run", data=form(fake, key=secret, content=[prompt]))
    stream = html.unescape(re.search(r'sse-connect="([^"]+)"', page.get_data(as_text=True))[1])
    one_time = stream.split("k=")[1]
    with app.app_context():
        sealed = db.session.scalar(select(RunSlot.sealed))
        database = Path(db.engine.url.database)
    assert sealed and one_time.encode() not in sealed
    dump = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for plain in (secret, secret[3:], prompt):
        assert plain.encode() not in dump
    assert one_time.encode() not in dump
    assert member_client.get(stream).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RunSlot)) == 0


def test_a_stream_url_with_a_wrong_one_time_key_frees_the_slot(app, member_client, fake):
    """A tampered URL cannot open the sealed run: 204, nothing sent, and the slot is free."""
    fake.script("m-plain", content=["ok"])
    page = member_client.post("/playground/run", data=form(fake))
    stream = html.unescape(re.search(r'sse-connect="([^"]+)"', page.get_data(as_text=True))[1])
    wrong = stream.split("k=")[0] + "k=" + Fernet.generate_key().decode().rstrip("=")
    assert member_client.get(wrong).status_code == 204
    assert member_client.get(stream).status_code == 204  # the claim was spent
    assert fake.requests_to("/v1/chat/completions") == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RunSlot)) == 0


# -- rate limits ----------------------------------------------------------------------------------


def test_a_20_per_minute_limit_lets_exactly_20_through_two_workers(workers):
    """40 requests to /status.json spread over two web processes, 8 at a time, with its limit at
    20/minute: exactly 20 answer 200 and the rest 429 (memory storage let 40 through, 20 each)."""
    urls = workers(2, RATELIMIT_ENABLED=True, STATUS_RATE_LIMIT="20/minute")
    codes: list[int] = []

    def get(i: int) -> None:
        codes.append(requests.get(urls[i % 2] + "/status.json", timeout=20).status_code)

    for wave in range(5):
        threads = [threading.Thread(target=get, args=(wave * 8 + i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(codes) == 40
    assert codes.count(200) == 20 and codes.count(429) == 20
