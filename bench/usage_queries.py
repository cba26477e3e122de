"""Usage data-layer bench: the chart queries over a year of hourly rollups, and a rebuild.

One key with a year of balance hours and three models of usage hours, 199 more keys with 30
days of balance hours, 48 h of one-minute raw samples; best of five runs per query, Asia/Shanghai
days. Then `rebuild_balance` over a year of one-minute samples (~525k rows), the one-off cost of
`flask usage rebuild` after migrating a full database (--no-rebuild skips it).

Run from the repo root: .venv/bin/python bench/usage_queries.py
The last line printed is one JSON object of milliseconds (and rebuild seconds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from blueprints.auth.models import User  # noqa: E402
from blueprints.keys.models import BalanceSample, TrackedKey  # noqa: E402
from blueprints.providers.models import Provider  # noqa: E402
from blueprints.usage import queries, rollups  # noqa: E402
from blueprints.usage.models import BalanceHour, UsageHour  # noqa: E402
from database import db  # noqa: E402
from tests.conftest import make_app  # noqa: E402

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet")


def best_ms(fn, runs: int = 5) -> float:
    """Best wall time of `runs` calls after one warm-up, in ms."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(min(times) * 1000, 1)


def seed(keys: int) -> list[int]:
    """Keys, hourly rollups and 48 h of raw samples; returns the key ids (the first is full)."""
    rng = random.Random(1)
    user = User(username="bench", password_hash="!")
    provider = Provider(name="bench", base_url="http://bench.invalid")
    db.session.add_all([user, provider])
    db.session.flush()
    tracked = [
        TrackedKey(
            user_id=user.id,
            provider_id=provider.id,
            label=f"k{i}",
            ciphertext=b"-",
            fingerprint=f"f{i}",
            head="sk-ben",
            last4=f"{i:04d}",
        )
        for i in range(keys)
    ]
    db.session.add_all(tracked)
    db.session.commit()
    ids = [key.id for key in tracked]
    year = [NOW - timedelta(hours=h) for h in range(365 * 24, 0, -1)]
    balance, usage = [], []
    for key_id in ids:
        for hour in year if key_id == ids[0] else year[-30 * 24 :]:
            balance.append(_hour(key_id, hour, rng.random()))
            if key_id == ids[0]:
                usage.extend(_usage(key_id, hour, model) for model in MODELS)
    db.session.execute(insert(BalanceHour), balance)
    db.session.execute(insert(UsageHour), usage)
    raw = [
        {"key_id": ids[0], "taken_at": NOW - timedelta(minutes=m), "status": "active"}
        | {"unit": "USD", "used": 1.0, "remaining": 49.0}
        for m in range(48 * 60)
    ]
    db.session.execute(insert(BalanceSample), raw)
    db.session.commit()
    print(f"{len(balance)} balance hours, {len(usage)} usage hours, {len(raw)} raw samples")
    return ids


def _hour(key_id: int, hour: datetime, spend: float) -> dict:
    return {
        "key_id": key_id,
        "hour_start": hour,
        "samples": 60,
        "unit": "USD",
        "remaining_first": 50.0,
        "remaining_last": 49.0,
        "remaining_min": 49.0,
        "used_last": 1.0,
        "last_at": hour + timedelta(minutes=59),
        "spend": spend,
        "topup": 0.0,
        "status_last": "active",
    }


def _usage(key_id: int, hour: datetime, model: str) -> dict:
    return {
        "key_id": key_id,
        "hour_start": hour,
        "model": model,
        "requests": 5,
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "cache_tokens": 0,
        "quota": 5000,
        "cost": 0.01,
        "unit": "USD",
    }


def measure(ids: list[int]) -> dict[str, float]:
    """Every query the pages will make, for 30 d and 1 y, plus the 200-key overview."""
    key, today, out = ids[0], NOW.astimezone(TZ).date(), {}
    for label, days in (("30d", 30), ("1y", 365)):
        first = today - timedelta(days=days - 1)
        since = NOW - timedelta(days=days)
        calls = {
            "daily_spend": partial(queries.daily_spend, [key], first, today, TZ),
            "model_spend_by_day": partial(queries.model_spend_by_day, key, first, today, TZ),
            "tokens_by_day": partial(queries.tokens_by_day, key, first, today, TZ),
            "remaining_series": partial(queries.remaining_series, key, since, NOW),
            "reconcile_inputs": partial(queries.reconcile_inputs, key, since, NOW),
        }
        for name, call in calls.items():
            out[f"{name}_{label}_ms"] = best_ms(call)
        out[f"key_page_{label}_ms"] = round(sum(out[f"{n}_{label}_ms"] for n in calls), 1)
    first = today - timedelta(days=29)
    out["overview_daily_spend_ms"] = best_ms(
        lambda: queries.daily_spend(ids, first, today, TZ, usage=False)
    )
    out["overview_spend_windows_ms"] = best_ms(lambda: queries.spend_windows_by_key(ids, NOW, TZ))
    return out


def rebuild_seconds(key_id: int) -> float:
    """Seconds to rebuild one key's balance hours from a year of one-minute samples."""
    start = NOW - timedelta(days=365)
    rows = [
        {"key_id": key_id, "taken_at": start + timedelta(minutes=m), "status": "active"}
        | {"unit": "USD", "used": m * 0.001, "remaining": 1000 - m * 0.001}
        for m in range(365 * 24 * 60)
    ]
    db.session.execute(insert(BalanceSample), rows)
    db.session.commit()
    started = time.perf_counter()
    hours = rollups.rebuild_balance(key_id)
    db.session.commit()
    print(f"rebuilt {hours} hours from {len(rows)} samples")
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--no-rebuild", action="store_true")
    args = parser.parse_args()
    app = make_app(Path(tempfile.mkdtemp(prefix="usage-bench-")))
    with app.app_context():
        ids = seed(args.keys)
        out = measure(ids)
        for name, value in out.items():
            print(f"{name:34s} {value:8.1f}")
        if not args.no_rebuild:
            out["rebuild_525k_samples_s"] = rebuild_seconds(ids[1])
        db.engine.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
