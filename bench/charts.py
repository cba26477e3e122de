"""Usage pages bench: server time of the per-key chart page (30 d, 1 y) and of /usage, 200 keys.

Spec (from the issue): one key with a year of one-minute samples (~525k rows) and a year of
logs; print the server time of the per-key chart response for 30 d and 1 y ranges, and of
/usage with 200 keys. Goal ≤ 200 ms each.

Setup, timed but not measured as response time: one key gets 525,600 one-minute balance samples
(spend following its request log, a few top-ups, a few failed polls) and a year of request logs
(about one request every 10 minutes, four models), bulk-inserted into a migrated temp SQLite DB,
then `rollups.rebuild(key_id)` fills its hourly and daily rollups. 199 more keys of the same user
get 35 days of hourly balance rollups written directly, and their daily rows (`seed_overview_keys`).

Measured: wall time of `app.test_client()` requests (the whole WSGI response, no network) after a
login through the real /login form, Asia/Shanghai days; one warm-up, then the median and p90 of
--runs requests. Each response must be 200 and carry its charts' data-figure attributes with the
expected number of days, or the bench stops: it never times an error page. For each page over
the goal (every page with --profile): the un-profiled time per request of each usage function
(wrapped at run time only; no app code changes), then a cProfile of one request.

Run from the repo root: .venv/bin/python bench/charts.py [--runs 9] [--keys 200]
The last line printed is one JSON object {"chart_30d_ms", "chart_1y_ms", "overview_200_keys_ms",
...} (medians; p90s, row counts and setup seconds as extra keys).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import html
import inspect
import json
import math
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # `python bench/charts.py` puts bench/ on sys.path, not the repo root.
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from blueprints.auth.service import create_user  # noqa: E402
from blueprints.keys.models import BalanceSample, TrackedKey, UsageRecord  # noqa: E402
from blueprints.providers.service import add_provider  # noqa: E402
from blueprints.shared.vault import vault  # noqa: E402
from blueprints.usage import charts, kpis, pages, queries, routes  # noqa: E402
from blueprints.usage.daily import rebuild_days  # noqa: E402
from blueprints.usage.models import BalanceHour  # noqa: E402
from blueprints.usage.rollups import rebuild  # noqa: E402
from database import db, utcnow  # noqa: E402
from tests.conftest import PASSWORD, make_app  # noqa: E402

GOAL_MS = 200.0
TZ_NAME = "Asia/Shanghai"
LOCAL = ZoneInfo(TZ_NAME)
USER = "bench"
CHUNK = 20_000  # rows per executemany
MINUTES = 365 * 24 * 60
OVERVIEW_DAYS = 35  # more than the 30 days /usage reads
# model: (weight, $ per 1k prompt tokens, $ per 1k completion tokens)
MODELS = {
    "gpt-4o-mini": (0.35, 0.00015, 0.0006),
    "gpt-4o": (0.3, 0.0025, 0.01),
    "claude-3-5-sonnet": (0.25, 0.003, 0.015),
    "deepseek-chat": (0.1, 0.00027, 0.0011),
}
QUOTA_PER_USD = 500_000  # new-api's quota units
KEY_FIGURES = ("chart-remaining", "chart-spend", "chart-models", "chart-tokens", "chart-requests")
FIGURE = re.compile(r'data-figure="([^"]*)"(?: data-testid="([^"]*)")?')


# -- setup -------------------------------------------------------------------------------------


def busy(at) -> float:
    """Relative request rate by local hour: quiet nights, busy working hours."""
    hour = at.astimezone(LOCAL).hour
    return 0.15 if hour < 8 else 1.6 if hour < 19 else 0.7


def tracked_key(user_id: int, provider_id: int, n: int, **fields) -> TrackedKey:
    """A key row like the keys page makes (vault ciphertext, fingerprint, masked parts)."""
    secret = f"sk-bench{n:06d}" + "x" * 40
    return TrackedKey(
        user_id=user_id,
        provider_id=provider_id,
        ciphertext=vault().encrypt(secret),
        fingerprint=vault().fingerprint(secret),
        head=secret[:6],
        last4=secret[-4:],
        status="active",
        unit="USD",
        **({"label": f"key-{n:03d}"} | fields),
    )


def bulk(model, rows: list[dict]) -> None:
    """Core executemany in chunks (no ORM objects: 500k of them would dominate the setup)."""
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def year_of_history(key_id: int, now, rng: random.Random) -> tuple[int, int]:
    """A year of request logs and one-minute balance samples for one key; (samples, records).

    The balance drops by the logged costs plus ~3% the log does not show (relay rounding, other
    keys of the account), and is topped up by $300 whenever it falls under $40.
    """
    start = now - timedelta(minutes=MINUTES)
    names, weights = list(MODELS), [w for w, _p, _c in MODELS.values()]
    records, samples = [], []
    remaining, used = 300.0, 0.0
    for minute in range(1, MINUTES + 1):
        at = start + timedelta(minutes=minute)
        if rng.random() < 0.1 * busy(at):  # about one request per 10 minutes on average
            model = rng.choices(names, weights)[0]
            _w, per_prompt, per_completion = MODELS[model]
            prompt = int(rng.lognormvariate(8.7, 1.0))  # median ~6k tokens (long contexts)
            completion = int(rng.lognormvariate(5.8, 0.8))  # median ~330 tokens
            cost = round((prompt * per_prompt + completion * per_completion) / 1000, 6)
            records.append(
                {
                    "key_id": key_id,
                    "created_at": at - timedelta(seconds=rng.randrange(60)),
                    "model": model,
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "cache_tokens": prompt // 4 if rng.random() < 0.3 else 0,
                    "quota": round(cost * QUOTA_PER_USD),
                    "cost": cost,
                    "unit": "USD",
                    "use_time_s": rng.randrange(1, 30),
                    "is_stream": rng.random() < 0.6,
                    "request_id": f"req-{len(records):08d}",
                    "dedupe": f"{len(records):032x}",
                }
            )
            spent = cost * 1.03
            used, remaining = used + spent, remaining - spent
        if remaining < 40.0:
            remaining += 300.0
        sample = {"key_id": key_id, "taken_at": at, "unit": "USD", "source": "/api/usage/token"}
        if rng.random() < 0.002:  # a failed poll: counted, no numbers
            sample |= {"status": "error", "error": "timeout"}
        else:
            sample |= {
                "status": "active",
                "total": round(remaining + used, 6),
                "used": round(used, 6),
                "remaining": round(remaining, 6),
            }
        samples.append(sample)
    bulk(BalanceSample, samples)
    bulk(UsageRecord, records)
    db.session.execute(
        TrackedKey.__table__.update()
        .where(TrackedKey.id == key_id)
        .values(
            remaining=round(remaining, 6), used=round(used, 6), total=round(remaining + used, 6)
        )
    )
    db.session.commit()
    return len(samples), len(records)


def seed_overview_keys(
    user_id: int, provider_id: int, count: int, now, rng: random.Random
) -> tuple[int, int]:
    """`count` keys with OVERVIEW_DAYS of hourly balance rollups each; (keys, rollup rows).

    /usage reads only the rollups and the key rows, never raw samples, so these keys get their
    hourly rows written directly instead of ~50k raw samples each, then their daily rows built.
    """
    keys = []
    for n in range(1, count + 1):
        keys.append(tracked_key(user_id, provider_id, n, low_threshold=20.0))
    db.session.add_all(keys)
    db.session.flush()
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=OVERVIEW_DAYS)
    rows = []
    for key in keys:
        per_hour = rng.uniform(0.02, 1.0)  # $0.5 to $24 a day: runways from days to months
        remaining = rng.uniform(50.0, 600.0) + per_hour * 24 * OVERVIEW_DAYS
        used = rng.uniform(0.0, 1000.0)
        for h in range(OVERVIEW_DAYS * 24):
            hour = first + timedelta(hours=h)
            spend = round(per_hour * busy(hour) * rng.uniform(0.5, 1.5), 6)
            rows.append(
                {
                    "key_id": key.id,
                    "hour_start": hour,
                    "samples": 6,  # a 10-minute poll interval
                    "unit": "USD",
                    "remaining_first": round(remaining, 6),
                    "remaining_last": round(remaining - spend, 6),
                    "remaining_min": round(remaining - spend, 6),
                    "used_last": round(used + spend, 6),
                    "last_at": hour + timedelta(minutes=50),
                    "spend": spend,
                    "topup": 0.0,
                    "status_last": "active",
                }
            )
            remaining, used = remaining - spend, used + spend
        key.remaining, key.used = round(remaining, 6), round(used, 6)
        key.total = round(remaining + used, 6)
    bulk(BalanceHour, rows)
    rebuild_days()  # their daily rollups, as the poller's receivers would have kept them
    db.session.commit()
    return len(keys), len(rows)


def seed(app, keys: int) -> tuple[int, dict]:
    """The whole data set; returns (the full key's id, setup numbers)."""
    rng, now, out = random.Random(4), utcnow().replace(second=0, microsecond=0), {}
    with app.app_context():
        user = create_user(USER, PASSWORD)
        provider = add_provider("bench", "https://relay.example")
        key = tracked_key(user.id, provider.id, 0, label="main", low_threshold=50.0)
        db.session.add(key)
        db.session.commit()
        key_id = key.id
        started = time.perf_counter()
        out["samples"], out["usage_records"] = year_of_history(key_id, now, rng)
        out["insert_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        out["balance_hours"], out["usage_hours"] = rebuild(key_id)
        out["rebuild_s"] = round(time.perf_counter() - started, 1)
        out["topup_hours"] = db.session.scalar(
            select(func.count()).where(BalanceHour.key_id == key_id, BalanceHour.topup > 0)
        )
        started = time.perf_counter()
        out["overview_keys"], out["overview_hours"] = seed_overview_keys(
            user.id, provider.id, keys - 1, now, rng
        )
        out["overview_keys"] += 1
        out["overview_seed_s"] = round(time.perf_counter() - started, 1)
    return key_id, out


# -- measuring ---------------------------------------------------------------------------------


def figures(page: str) -> list[tuple[str, dict]]:
    """(test id or "", parsed figure) for every data-figure attribute on the page."""
    return [(test_id, json.loads(html.unescape(raw))) for raw, test_id in FIGURE.findall(page)]


def check_key_page(response, days: int) -> None:
    """200, the five charts, and a daily-spend chart with (about) one bar per day."""
    page = _page(response)
    found = dict(figures(page))
    missing = [name for name in KEY_FIGURES if name not in found]
    if missing:
        sys.exit(f"per-key page lacks {missing}: not a chart page")
    bars, points = (
        _first_trace_size(found["chart-spend"]),
        _first_trace_size(found["chart-remaining"]),
    )
    # The remaining line is hourly on long ranges and thinned to at most ~1,500 points.
    if not days - 1 <= bars <= days + 1 or points < min(days * 24, 1500) // 2:
        sys.exit(f"per-key page: {bars} spend bars for {days} days, {points} remaining points")


def check_overview(response, keys: int) -> None:
    """200, the stacked chart with a trace per key, and a sparkline per key."""
    page = _page(response)
    found = figures(page)
    stacked = [fig for test_id, fig in found if test_id == "chart-overview"]
    sparks = page.count('<svg class="spark"')  # server-drawn SVG, not Plotly figures
    if not stacked or len(stacked[0]["data"]) != keys or sparks != keys:
        sys.exit(f"/usage: {len(stacked)} overview charts, {sparks} sparklines for {keys} keys")


def _first_trace_size(fig: dict) -> int:
    """Points in a figure's first trace; 0 for an empty ("No data yet") figure."""
    data = fig.get("data") or [{}]
    return len(data[0].get("x") or ())


def _page(response) -> str:
    if response.status_code != 200:
        sys.exit(f"{response.request.path}: HTTP {response.status_code}, not a chart page")
    return response.get_data(as_text=True)


def timed(client, url: str, check, runs: int) -> dict:
    """One checked warm-up, then `runs` timed requests (each checked after its timing)."""
    check(client.get(url))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        check(response)
    times.sort()
    return {
        "median": statistics.median(times),
        "p90": times[min(len(times) - 1, math.ceil(0.9 * len(times)) - 1)],
        "min": times[0],
        "bytes": len(response.data),
    }


def breakdown(client, url: str, runs: int = 3) -> None:
    """Un-profiled wall time per request of each usage function the page calls (wrapped here)."""
    totals: dict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    inside: dict[str, str] = {}
    stack: list[str] = []
    patched = []

    def wrap(module, name: str, fn) -> None:
        label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

        @functools.wraps(fn)
        def timed_call(*args, **kwargs):
            if stack:
                inside.setdefault(label, stack[-1])
            stack.append(label)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - started
                calls[label] += 1
                stack.pop()

        patched.append((module, name, fn))
        setattr(module, name, timed_call)

    for module in (queries, charts, kpis):
        for name, fn in list(vars(module).items()):
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name[0] != "_":
                wrap(module, name, fn)
    for module, name in ((pages, "render_template"), (pages, "my_keys"), (routes, "owned_key")):
        if hasattr(module, name):
            wrap(module, name, getattr(module, name))
    try:
        started = time.perf_counter()
        for _ in range(runs):
            client.get(url)
        wall = (time.perf_counter() - started) * 1000 / runs
    finally:
        for module, name, fn in patched:
            setattr(module, name, fn)
    top = sum(t for label, t in totals.items() if label not in inside) * 1000 / runs
    print(f"\nwhere the time goes, GET {url} (no profiler; mean of {runs}): {wall:.1f} ms")
    print("  ms/request  calls  function (indented: inside the one above)")

    def show(label: str, depth: int) -> None:
        ms = totals[label] * 1000 / runs
        if ms < 0.1:
            return  # kpis.* and the like: pure arithmetic on a few rows
        print(f"  {ms:10.1f}  {calls[label] // runs:5d}  {'  ' * depth}{label}")
        for child in sorted((c for c, p in inside.items() if p == label), key=totals.get)[::-1]:
            show(child, depth + 1)

    for label in sorted((lb for lb in totals if lb not in inside), key=totals.get)[::-1]:
        show(label, 0)
    print(f"  {wall - top:10.1f}         rest: Flask, session + user load, key / response glue")


def profile(client, url: str, top: int) -> None:
    """cProfile one request: our functions by cumulative time, then the hottest by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = max(ct for _cc, _nc, _tt, ct, _callers in stats.values())
    print(f"\nprofile of GET {url} (cProfile overhead included: {total * 1000:.0f} ms in all)")
    rows = [
        (file, line, name, nc, tt, ct)
        for (file, line, name), (_cc, nc, tt, ct, _c) in stats.items()
    ]
    ours = sorted((r for r in rows if _watched(r[0], r[2])), key=lambda r: -r[5])
    print("  cumulative ms  calls  function (ours; Flask render_template; plotly Figure, to_json)")
    for file, line, name, nc, _tt, ct in ours[:top]:
        print(f"  {ct * 1000:13.1f}  {nc:5d}  {_relative(file)}:{line} {name}")
    print("  own ms         calls  hottest functions by own time")
    for file, line, name, nc, tt, _ct in sorted(rows, key=lambda r: -r[4])[:8]:
        print(f"  {tt * 1000:13.1f}  {nc:5d}  {_relative(file)}:{line} {name}")


def _watched(file: str, name: str) -> bool:
    if file.startswith(str(ROOT / "blueprints")):
        return True
    if name == "render_template":
        return "flask" in file
    return "plotly" in file and (
        name == "to_json" or (name == "__init__" and file.endswith("basedatatypes.py"))
    )


def _relative(file: str) -> str:
    path = Path(file)
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    parts = path.parts
    return "/".join(parts[parts.index("site-packages") + 1 :]) if "site-packages" in parts else file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keys", type=int, default=200, help="keys on /usage, the full one too")
    parser.add_argument("--profile", action="store_true", help="profile even when goals are met")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="charts-bench-") as tmp:
        run(Path(tmp), args)


def run(tmp: Path, args) -> None:
    """Seed, measure, report; the last line printed is the JSON object."""
    app = make_app(tmp)
    key_id, setup = seed(app, args.keys)
    gc.collect()  # the setup's half a million row dicts are garbage: not the requests' cost
    print(
        f"setup: {setup['samples']:,} samples + {setup['usage_records']:,} usage records "
        f"inserted in {setup['insert_s']} s; rebuild({key_id}) → {setup['balance_hours']:,} "
        f"balance hours ({setup['topup_hours']} with a top-up) + {setup['usage_hours']:,} usage "
        f"hours in {setup['rebuild_s']} s; "
        f"{setup['overview_keys'] - 1} more keys with {setup['overview_hours']:,} balance hours "
        f"in {setup['overview_seed_s']} s"
    )
    client = app.test_client()
    login = client.post("/login", data={"username": USER, "password": PASSWORD})
    if login.status_code != 303:  # 401 with the form again on failure
        sys.exit(f"login failed: HTTP {login.status_code}")
    pages = {
        "chart_30d": (f"/usage/{key_id}?range=30d&tz={TZ_NAME}", lambda r: check_key_page(r, 30)),
        "chart_1y": (f"/usage/{key_id}?range=1y&tz={TZ_NAME}", lambda r: check_key_page(r, 365)),
        f"overview_{setup['overview_keys']}_keys": (
            f"/usage?tz={TZ_NAME}",
            lambda r: check_overview(r, setup["overview_keys"]),
        ),
    }
    results = {name: timed(client, url, check, args.runs) for name, (url, check) in pages.items()}
    print(
        f"\n{'response (' + TZ_NAME + ' days)':36s} {'median ms':>10s} {'p90 ms':>8s} "
        f"{'min ms':>8s} {'kB':>7s}"
    )
    for name, (url, _check) in pages.items():
        r = results[name]
        print(
            f"{url:36s} {r['median']:10.1f} {r['p90']:8.1f} {r['min']:8.1f} "
            f"{r['bytes'] / 1024:7.0f}"
        )
    print(f"(median / p90 / min of {args.runs} test-client requests after one warm-up)\n")
    for name, r in results.items():
        verdict = "met" if r["median"] <= GOAL_MS else "NOT met"
        print(f"goal ≤ {GOAL_MS:.0f} ms: {name} {r['median']:.1f} ms — {verdict}")
    for name, (url, _check) in pages.items():
        if args.profile or results[name]["median"] > GOAL_MS:
            breakdown(client, url)
            profile(client, url, top=12)
    out = {f"{name}_ms": round(r["median"], 1) for name, r in results.items()}
    out |= {f"{name}_p90_ms": round(r["p90"], 1) for name, r in results.items()}
    out |= {k: setup[k] for k in ("samples", "usage_records", "balance_hours", "usage_hours")}
    out |= {k: setup[k] for k in ("topup_hours", "insert_s", "rebuild_s", "overview_keys")}
    with app.app_context():
        db.engine.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
