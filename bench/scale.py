"""Scale bench: `gunicorn -w 4` (deploy/gunicorn.conf.py) on PostgreSQL + Redis, a fresh
connection per request, so consecutive requests land on any worker.

Spec (issue 13): 12/12 playground runs stream (Run on one worker, the stream on whichever),
8/8 batch CSVs download, a 20/minute limit lets exactly 20 through, a 10-call relay budget is
never exceeded (the relay counts), lookups per second; and the poller's keys/s on PostgreSQL
beside SQLite. PostgreSQL and Redis are started for the run (bench/services.py); the fake relay
runs in its own process. CSRF is off for this client (it is not what is measured).

Run from the repo root: .venv/bin/python bench/scale.py [--workers 4] [--lookups 300]
The last line printed is one JSON object {"playground_streams_ok", "batch_csv_ok",
"limit_overrun", "budget_overrun", "lookup_rps", "poller_keys_per_s_postgres",
"poller_keys_per_s_sqlite"}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

import relay  # noqa: E402
from app import create_app  # noqa: E402
from bench.fakerelay_process import RelayProcess  # noqa: E402
from bench.poller import full_pass, make_keys, max_in_window, seed  # noqa: E402
from blueprints.auth.service import create_user  # noqa: E402
from blueprints.core.setup import setup_database  # noqa: E402
from blueprints.providers.service import add_provider  # noqa: E402
from database import db  # noqa: E402
from tests.services import fresh, gunicorn, postgres, redis  # noqa: E402

PASSWORD = "bench-password-1"
LIMIT = 20  # STATUS_RATE_LIMIT per minute
BUDGET = (10, 60)  # the budgeted provider's relay request budget
MODEL = "gpt-4o-mini"


def database(server_url: str, name: str) -> str:
    """A fresh database `name` on the server; its URL."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def config(url: str, redis_url: str) -> dict:
    """What every process gets: the shared database, store and secrets; limits as measured."""
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "FINGERPRINT_SECRET": secrets.token_urlsafe(48),
        "DEFAULT_PROVIDERS": [],
        "ALLOW_PRIVATE_PROVIDERS": True,
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": False,
        "STATUS_RATE_LIMIT": f"{LIMIT}/minute",
        "LOOKUP_RATE_LIMIT": "100000/minute",
        "BATCH_RATE_LIMIT": "100000/minute",
        "LOGIN_RATE_LIMIT": "100000/minute",
        "PLAYGROUND_RATE_LIMIT": "100000/minute",
        "RELAY_CONNECT_TIMEOUT": 3.0,
        "RELAY_READ_TIMEOUT": 10.0,
    }


def prepare(settings: dict, relay_url: str) -> None:
    """Migrate, then a member and the providers: `fake` (new-api), `budgeted` (the same relay by
    another name, 10 calls a minute), `open` (the same relay as a plain OpenAI-compatible API:
    /v1/models only, outside every per-IP limit, for the lookup rate)."""
    app = create_app(settings)
    with app.app_context():
        setup_database()
        create_user("bench", PASSWORD)
        port = relay_url.rsplit(":", 1)[1]
        add_provider("fake", relay_url)
        add_provider("budgeted", f"http://localhost:{port}", budget=BUDGET)
        add_provider("open", f"http://127.0.0.1:{port}/v1", kind="openai")
        db.session.commit()
        db.engine.dispose()


def start_gunicorn(settings: dict, workers: int, folder: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "RELAYDASH_INSTANCE": str(folder / "instance")}
    env.update({f"RELAYDASH_{k}": json.dumps(v) for k, v in settings.items()})
    process, url = gunicorn(env, workers=workers, threads=32, root=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/readyz", timeout=2).ok:
                return process, url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not become ready")


def login(url: str) -> dict:
    answer = fresh(
        "POST",
        url + "/login",
        data={"username": "bench", "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.status_code
    return answer.cookies.get_dict()


def playground_streams(url: str, keys: list[str], runs: int) -> int:
    """Runs that streamed a whole answer, Run and stream each on a fresh connection."""
    cookies, ok = login(url), 0
    for i in range(runs):
        form = {
            "source": "pasted",
            "provider": "fake",
            "key": keys[i],
            "model": [MODEL],
            "system": "",
            "role": ["user"],
            "content": ["Say hello"],
            "stream": "1",
            "format": "none",
            "repeat": "1",
        }
        page = fresh("POST", url + "/playground/run", data=form, cookies=cookies)
        found = re.search(r'sse-connect="([^"]+)"', page.text) if page.ok else None
        if not found:
            continue
        stream = fresh("GET", url + unescape(found[1]), cookies=cookies)
        if stream.ok and "event: done" in stream.text and "event: c0-content" in stream.text:
            ok += 1
    return ok


def batch_csvs(url: str, keys: list[str], tries: int) -> int:
    """Batch tables checked on one connection whose CSV downloads on another."""
    ok = 0
    for i in range(tries):
        chosen = keys[i * 3 : i * 3 + 3]
        page = fresh(
            "POST",
            url + "/batch",
            data={"provider": "fake", "keys": "\n".join(chosen)},
            headers={"Accept": "application/x-ndjson"},
        )
        try:
            foot = json.loads(page.text.strip().splitlines()[-1])["html"]
            sealed = foot.split('name="table" value="')[1].split('"')[0]
        except (ValueError, KeyError, IndexError):
            continue
        sheet = fresh("POST", url + "/batch.csv", data={"table": sealed})
        lines = sheet.content.decode("utf-8-sig").splitlines() if sheet.ok else []
        if len(lines) == len(chosen) + 1 and not any(key in sheet.text for key in chosen):
            ok += 1
    return ok


def limit_passed(url: str, requests_sent: int = 2 * LIMIT) -> int:
    """GET /status.json 40 times, 8 at once, fresh connections: how many got through."""
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda _: fresh("GET", url + "/status.json").status_code, range(requests_sent))
        )
    return codes.count(200)


def lookups(url: str, provider: str, keys: list[str], threads: int = 16) -> tuple[float, int]:
    """Lookups of distinct keys through the API, `threads` at once: (per second, answered)."""
    answered = threading.Semaphore(0)

    def look(key: str) -> None:
        answer = fresh("POST", url + "/api/v1/lookup", json={"provider": provider, "key": key})
        if answer.status_code == 200:
            answered.release()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(look, keys))
    seconds = time.perf_counter() - started
    count = 0
    while answered.acquire(blocking=False):
        count += 1
    return len(keys) / seconds, count


def poller_rate(url: str, keys: list[str], relay_url: str, folder: Path) -> float:
    """keys/s of one poll pass over `keys` on the database at `url` (bench/poller's pass)."""
    os.environ["RELAYDASH_INSTANCE"] = str(folder)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "FERNET_KEYS": Fernet.generate_key().decode(),
            "FINGERPRINT_SECRET": "bench",
            "DEFAULT_PROVIDERS": [],
            "ALLOW_PRIVATE_PROVIDERS": True,
            "RELAY_CONNECT_TIMEOUT": 3.0,
            "RELAY_READ_TIMEOUT": 10.0,
        }
    )
    with app.app_context():
        setup_database()
        seed(keys, relay_url)
    relay.BUDGETS.clear()  # (after setup: on PostgreSQL the budget slots are a migrated table)
    relay.STATUS_CACHE.clear()
    seconds, polled, _samples = full_pass(app)
    with app.app_context():
        db.engine.dispose()
    return polled / seconds if seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--streams", type=int, default=12)
    parser.add_argument("--csvs", type=int, default=8)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--poll-keys", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="the relay's, per call")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="relaydash-scale-"))
    os.environ["RELAYDASH_INSTANCE"] = str(folder / "instance-setup")  # not the checkout's
    keys = make_keys(args.streams + 3 * args.csvs + 60 + args.lookups + args.poll_keys)
    fake = RelayProcess(keys, args.latency)
    try:
        with postgres() as server, redis() as redis_url:
            settings = config(database(server, "relaydash_scale"), redis_url)
            prepare(settings, fake.url)
            gunicorn, url = start_gunicorn(settings, args.workers, folder)
            print(f"gunicorn -w {args.workers} on PostgreSQL + Redis at {url}")
            try:
                used = iter(keys)
                take = lambda n: [next(used) for _ in range(n)]  # noqa: E731
                streams = playground_streams(url, take(args.streams), args.streams)
                print(f"playground: {streams}/{args.streams} runs streamed")
                csvs = batch_csvs(url, take(3 * args.csvs), args.csvs)
                print(f"batch: {csvs}/{args.csvs} CSVs downloaded")
                passed = limit_passed(url)
                print(f"rate limit {LIMIT}/minute: {passed} of {2 * LIMIT} got through")
                fake.reset()
                _rate, _n = lookups(url, "budgeted", take(60), threads=12)
                times, _total = fake.limited_times()
                peak = max_in_window(times, BUDGET[1])
                print(f"budget {BUDGET[0]}/{BUDGET[1]}s: the relay saw at most {peak} in a window")
                rps, answered = lookups(url, "open", take(args.lookups))
                print(f"lookups: {rps:.0f}/s ({answered}/{args.lookups} answered 200)")
            finally:
                gunicorn.terminate()
                gunicorn.wait(60)
            poll_keys = take(args.poll_keys)
            pg_rate = poller_rate(
                database(server, "relaydash_poll"), poll_keys, fake.url, folder / "pg"
            )
            sqlite_rate = poller_rate(
                f"sqlite:///{folder / 'poll.sqlite'}", poll_keys, fake.url, folder / "sqlite"
            )
            print(f"poller: {pg_rate:.0f} keys/s on PostgreSQL, {sqlite_rate:.0f} on SQLite")
    finally:
        fake.stop()
    result = {
        "playground_streams_ok": f"{streams}/{args.streams}",
        "batch_csv_ok": f"{csvs}/{args.csvs}",
        "limit_overrun": passed - LIMIT,
        "budget_overrun": max(0, peak - BUDGET[0]),
        "lookup_rps": round(rps, 1),
        "poller_keys_per_s_postgres": round(pg_rate, 1),
        "poller_keys_per_s_sqlite": round(sqlite_rate, 1),
    }
    print(json.dumps(result))
    good = streams == args.streams and csvs == args.csvs and passed == LIMIT and peak <= BUDGET[0]
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
