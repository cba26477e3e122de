"""Lookup latency bench: relaydash's median lookup ÷ one relay call, against sequential calls.

Spec (from the issue): the fake relay with 200 ms on every endpoint; print the median lookup time
through relaydash ÷ the single-call time, beside the same ratio for calling the endpoints one
after another the way new-api-key-tool and NextChat do. Goal: ≤ 1.15. The last line printed is
one JSON object {"lookup_ratio": …, "sequential_ratio": …, …}.

Run from the repo root: .venv/bin/python bench/lookup.py [--n 15] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # `python bench/lookup.py` puts bench/ on sys.path, not the repo root.
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

import relay  # noqa: E402
from blueprints.lookup.service import RESULTS  # noqa: E402
from blueprints.providers.service import add_provider  # noqa: E402
from database import db  # noqa: E402
from relay.budget import CRITICAL, GLOBAL  # noqa: E402
from relay.calls import USAGE_TOKEN  # noqa: E402
from tests.conftest import make_app  # noqa: E402
from tests.fakerelay import FakeRelay, make_logs  # noqa: E402

GOAL = 1.15
PROVIDER = "bench"
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "deepseek-chat"]

# The single call: one plain GET of the endpoint a 2026 lookup is really about.
SINGLE = USAGE_TOKEN
WARM_UPSTREAM = sorted([USAGE_TOKEN, "/v1/models"])

# The sequential baseline. new-api-key-tool (older releases, and its billing view) and NextChat
# read a balance with GET /v1/dashboard/billing/subscription, then GET
# /v1/dashboard/billing/usage, one after the other. Everything relaydash shows for a key also
# needs the relay's unit settings (GET /api/status) and the key's models (GET /v1/models), so a
# client doing a full lookup without parallelism or a status cache makes these four calls in a
# row: status → subscription → usage → models.
SEQUENTIAL = (
    ("/api/status", False),
    ("/v1/dashboard/billing/subscription", True),
    ("/v1/dashboard/billing/usage", True),
    ("/v1/models", True),
)


def raise_budgets() -> None:
    """Lift relaydash's client-side per-relay budgets so no measured lookup hits them.

    The default budget allows 18 /api/usage/token calls per 20 min per base URL; past that a
    lookup skips that endpoint and falls back to the billing pair (a second round trip), which
    would make this bench measure the fallback instead of the normal path. The fake relay here
    has no per-IP limits of its own, so lifting ours is safe.
    """
    relay.BUDGETS.limits = {CRITICAL: (1_000_000, 1200.0), GLOBAL: (1_000_000, 180.0)}
    relay.BUDGETS.clear()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def get_ok(session: requests.Session, url: str, key: str | None) -> None:
    """One GET that must answer 200 with a body."""
    headers = {"Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = session.get(url, headers=headers, timeout=(3.0, 10.0))
    body = response.content
    if response.status_code != 200 or not body:
        raise SystemExit(f"bench: GET {url.split('?')[0]} answered {response.status_code}")


def main() -> int:
    """Run the bench and print the table, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="fake relay delay per endpoint, s"
    )
    args = parser.parse_args()

    fake = FakeRelay("new-api-2026", fault_sleep=2.0).start()
    tmp = tempfile.TemporaryDirectory(prefix="relaydash-bench-")
    app = None
    try:
        fake.set_latency(args.latency)
        token = fake.add_token(
            models=MODELS,
            remain_quota=500000 * 8,
            used_quota=500000 * 2,
            logs=make_logs(20),
        )
        key = token.key
        # Real-deployment timeouts, not the tests' 1 s ones.
        app = make_app(
            Path(tmp.name),
            RATELIMIT_ENABLED=False,
            RELAY_CONNECT_TIMEOUT=3.0,
            RELAY_READ_TIMEOUT=10.0,
        )
        with app.app_context():
            add_provider(PROVIDER, fake.url + "/v1")
        client = app.test_client()
        session = requests.Session()

        for cache in (RESULTS, relay.STATUS_CACHE):
            cache.clear()
        raise_budgets()

        def do_lookup() -> dict:
            response = client.post("/api/v1/lookup", json={"provider": PROVIDER, "key": key})
            if response.status_code != 200:
                raise SystemExit(f"bench: lookup answered {response.status_code}")
            return response.get_json()

        def do_single() -> None:
            get_ok(session, fake.url + SINGLE, key)

        def do_sequential() -> None:
            for path, with_key in SEQUENTIAL:
                get_ok(session, fake.url + path, key if with_key else None)

        def check(data: dict, upstream: list[str] | None) -> None:
            # Fail loudly if this is not the normal one-round-trip path.
            if data.get("status") != "active" or USAGE_TOKEN not in data.get("answered_by", []):
                raise SystemExit(f"bench: unexpected lookup result {data!r}")
            # A warm 2026 lookup calls exactly /api/usage/token/ and /v1/models, in parallel;
            # anything else (billing-pair fallback, a status refetch) is not what we measure.
            if upstream is not None and sorted(upstream) != WARM_UPSTREAM:
                raise SystemExit(f"bench: warm lookup went to {upstream}, not {WARM_UPSTREAM}")

        def upstream_since(mark: int) -> list[str]:
            return [r.path for r in fake.requests[mark:]]

        # Cold: empty status cache and a fresh connection pool (as after a restart).
        mark = len(fake.requests)
        cold, data = timed(do_lookup)
        cold_paths = upstream_since(mark)
        check(data, None)  # a status miss fans out to all five endpoints: expected
        # Warm-up: status now cached (a deployment keeps it 10 min), connections pooled.
        for fn in (do_single, do_sequential):
            fn()
        RESULTS.clear()
        mark = len(fake.requests)
        data = do_lookup()
        check(data, upstream_since(mark))

        samples: dict[str, list[float]] = {"lookup": [], "single": [], "sequential": []}
        warm_paths: list[str] = []
        order = ["lookup", "single", "sequential"]
        for i in range(args.n):
            # Round-robin, rotating who goes first, so machine noise hits every side alike.
            for name in order[i % 3 :] + order[: i % 3]:
                if name == "lookup":
                    RESULTS.clear()  # defeat the 30 s result cache: really go upstream
                    relay.BUDGETS.clear()  # belt and braces on top of raise_budgets()
                    mark = len(fake.requests)
                    seconds, data = timed(do_lookup)
                    warm_paths = upstream_since(mark)
                    check(data, warm_paths)
                elif name == "single":
                    seconds, _ = timed(do_single)
                else:
                    seconds, _ = timed(do_sequential)
                samples[name].append(seconds)

        med = {name: statistics.median(values) for name, values in samples.items()}
        lookup_ratio = med["lookup"] / med["single"]
        sequential_ratio = med["sequential"] / med["single"]

        def ms(seconds: float) -> str:
            return f"{seconds * 1000:8.1f}"

        print(f"fake relay new-api-2026, {args.latency * 1000:.0f} ms per endpoint, n={args.n}")
        print(f"{'':34}{'median':>8}{'min':>9}{'max':>9}  ratio")
        rows = (
            ("single call  GET " + SINGLE, "single"),
            ("lookup via relaydash (warm)", "lookup"),
            (f"sequential ({len(SEQUENTIAL)} calls in a row)", "sequential"),
        )
        for label, name in rows:
            values = samples[name]
            ratio = med[name] / med["single"]
            print(
                f"{label:34}{ms(med[name])}{ms(min(values)):>9}{ms(max(values)):>9}  {ratio:5.3f}"
            )
        print(f"{'cold first lookup (status miss)':34}{ms(cold)}")
        print(f"upstream per warm lookup: {', '.join(warm_paths)}")
        print(f"upstream for the cold lookup: {', '.join(sorted(cold_paths))}")
        met = "met" if lookup_ratio <= GOAL else "not met"
        print(f"lookup_ratio {lookup_ratio:.3f}  —  goal ≤ {GOAL}: {met}")
        print(
            json.dumps(
                {
                    "lookup_ratio": round(lookup_ratio, 3),
                    "sequential_ratio": round(sequential_ratio, 3),
                    "single_call_ms": round(med["single"] * 1000, 1),
                    "lookup_ms": round(med["lookup"] * 1000, 1),
                    "sequential_ms": round(med["sequential"] * 1000, 1),
                    "cold_lookup_ms": round(cold * 1000, 1),
                    "latency_ms": round(args.latency * 1000, 1),
                    "n": args.n,
                    "goal": GOAL,
                }
            )
        )
        return 0
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        fake.stop()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
