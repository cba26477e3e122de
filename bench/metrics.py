"""Metrics bench: server time of one /metrics scrape over 5,000 keys and 500 providers.

Seeds (Core inserts, no relay): 500 providers, 50 users, 5,000 tracked keys with a polled state
(remaining, status, expiry on most, last poll), 20 logged requests per key (50,000 usage rows),
a provider health row and 3 model health rows (TTFT, tokens/s) per provider, today's UTC day
buckets with a latency histogram for each provider and model, the pass facts a poll pass leaves
(relay calls by provider and outcome) and the scheduler lease. Goal: ≤ 200 ms per scrape.

Timed: test-client GETs of /metrics with the bearer token (the whole request: auth, the
queries, building the families, generate_latest), one warm-up, then the median and p90 of --runs.
The exposition is parsed once with prometheus_client's parser to check it.

Run from the repo root: .venv/bin/python bench/metrics.py [--keys 5000] [--providers 500]
[--runs 21]
The last line printed is one JSON object {"scrape_ms_5000_keys", "scrape_ms_p90", ...}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from blueprints.auth.models import User  # noqa: E402
from blueprints.keys.models import TrackedKey, UsageRecord  # noqa: E402
from blueprints.providers.models import Provider  # noqa: E402
from blueprints.scheduler.lease import acquire  # noqa: E402
from blueprints.shared import passfacts  # noqa: E402
from blueprints.status.models import Bucket, Health  # noqa: E402
from database import db  # noqa: E402
from tests.conftest import make_app  # noqa: E402

TOKEN = "bench-token"
STATUSES = ("active", "active", "active", "exhausted", "expired", "invalid", "error")
MODELS = ("gpt-4o-mini", "claude-3-5-haiku", "deepseek-chat")


def seed(keys: int, providers: int, rng: random.Random) -> None:
    """Every table a scrape reads, at the given scale."""
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    users = max(1, keys // 100)
    db.session.execute(
        insert(Provider),
        [
            {"id": i, "name": f"relay-{i}", "base_url": f"https://r{i}.example"}
            for i in range(1, providers + 1)
        ],
    )
    db.session.execute(
        insert(User),
        [{"id": i, "username": f"user{i}", "password_hash": "!"} for i in range(1, users + 1)],
    )
    rows = []
    for i in range(1, keys + 1):
        rows.append(
            {
                "id": i,
                "user_id": 1 + i % users,
                "provider_id": 1 + i % providers,
                "label": f"k{i}",
                "ciphertext": b"x",
                "fingerprint": f"{i:064x}",
                "head": "sk-abc",
                "last4": f"{i % 10000:04d}",
                "status": rng.choice(STATUSES),
                "unit": rng.choice(("USD", "CNY")),
                "remaining": round(rng.uniform(0, 500), 4),
                "total": 500.0,
                "used": 1.0,
                "expires_at": now + timedelta(days=rng.randint(1, 365)) if i % 4 else None,
                "last_polled_at": now - timedelta(seconds=rng.randint(0, 600)),
                "next_poll_at": now,
            }
        )
    db.session.execute(insert(TrackedKey), rows)
    usage = [
        {
            "key_id": k,
            "created_at": now - timedelta(minutes=j),
            "model": MODELS[j % 3],
            "cost": rng.uniform(0, 0.1),
            "unit": "USD",
            "dedupe": f"{k}-{j}",
        }
        for k in range(1, keys + 1)
        for j in range(20)
    ]
    db.session.execute(insert(UsageRecord), usage)
    health, buckets = [], []
    for p in range(1, providers + 1):
        health.append(
            {"provider_id": p, "model": "", "state": rng.choice(("up", "up", "degraded", "down"))}
        )
        for model in ("", *MODELS):
            if model:
                health.append(
                    {
                        "provider_id": p,
                        "model": model,
                        "state": "up",
                        "ttft_p50_ms": rng.uniform(200, 3000),
                        "tps_p50": rng.uniform(10, 120),
                    }
                )
            counts = [rng.randint(0, 60) for _ in range(12)]
            buckets.append(
                {
                    "provider_id": p,
                    "model": model,
                    "grain": "d",
                    "start": today,
                    "total": sum(counts) + 3,
                    "ok": sum(counts),
                    "latency_n": sum(counts),
                    "latency_sum": sum(counts) * 420.0,
                    "histogram": ",".join(map(str, counts)),
                }
            )
    db.session.execute(insert(Health), health)
    db.session.execute(insert(Bucket), buckets)
    add = {("poll_passes", 0, ""): 1000, ("poll_keys", 0, ""): 900000, ("budget_waits", 0, ""): 120}
    for p in range(1, providers + 1):
        for outcome in ("active", "error", "unreachable", "rate_limited"):
            add[("relay_calls", p, outcome)] = rng.randint(0, 5000)
    passfacts.note(
        add=add,
        put={
            ("poll_last_seconds", 0, ""): 12.5,
            ("poll_last_keys", 0, ""): 800,
            ("poll_last_at", 0, ""): now.timestamp(),
        },
    )
    db.session.commit()
    acquire("scheduler", "bench:1:0000", 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--providers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    app = make_app(Path(tempfile.mkdtemp(prefix="metrics-bench-")), METRICS_TOKEN=TOKEN)
    started = time.perf_counter()
    with app.app_context():
        seed(args.keys, args.providers, random.Random(15))
    seeded_s = time.perf_counter() - started
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.get("/metrics", headers=headers)  # warm-up
    assert answer.status_code == 200, answer.status_code
    body = answer.get_data(as_text=True)
    families = list(text_string_to_metric_families(body))
    series = sum(len(f.samples) for f in families)
    timings = []
    for _ in range(args.runs):
        start = time.perf_counter()
        answer = client.get("/metrics", headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    timings.sort()
    p90 = timings[min(len(timings) - 1, round(0.9 * (len(timings) - 1)))]
    print(
        f"seeded in {seeded_s:.1f}s; {len(families)} families, {series} samples, {len(body)} bytes"
    )
    print(
        f"scrape ms: median {statistics.median(timings):.1f}, p90 {p90:.1f}, "
        f"min {timings[0]:.1f}, max {timings[-1]:.1f}"
    )
    result = {
        f"scrape_ms_{args.keys}_keys": round(statistics.median(timings), 1),
        "scrape_ms_p90": round(p90, 1),
        "keys": args.keys,
        "providers": args.providers,
        "samples": series,
        "bytes": len(body),
        "runs": args.runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
