"""Bucket math and the reads on it: day bars, latency series, sparklines (windows.py: uptime).

history.py writes the buckets. Each read is one or two grouped queries over the buckets of every
asked provider at once (Bucket's key is provider_id, model, grain, start: one index range per
provider), never raw rows except in model_stats_24h.
- p50/p95 are nearest-rank (rank = ceil(n·q)). Minute and hour buckets hold them exactly, from
  their raw latencies; a merge of buckets takes the upper edge of the histogram bin where the
  cumulative count reaches the rank, capped at the max (the last bin is open).
- Uptime = ok / total. A slow but useful answer is up (and counts as degraded); a 429, an empty
  200 or any failure is down. No probes in a window: None, never 1.0; a day without probes
  inside a window adds nothing to either count, so it is left out, not 100 %.
- Uptime windows (windows.py) are never shorter than their names: 24h is the last 24 whole
  hours plus the current one so far (hour buckets); 7d/30d/90d the last 7/30/90 whole UTC days
  plus today so far (day buckets): the coarsest tier that fits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import Integer, cast, extract, select

from database import db, utcnow

from .models import Bucket, Probe

# Upper bin edges in ms, roughly logarithmic; the last bin is open.
BINS = (25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 4000, 6000)
BINS += (8000, 12000, 20000, 30000, 60000, math.inf)
STEP = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
KEEP = {"m": timedelta(hours=24), "h": timedelta(days=90), "d": timedelta(days=730)}
SUMS = ("total", "ok", "degraded", "latency_n", "latency_sum", "latency_min", "latency_max")
SUMS += ("histogram", "ttft_n", "ttft_sum", "tps_n", "tps_sum")
HOURS = (Bucket.provider_id, Bucket.model, Bucket.grain, Bucket.start)
HOURS += tuple(getattr(Bucket, name) for name in SUMS)


def floor(at: datetime, grain: str) -> datetime:
    """The start of the UTC minute, hour or day holding an aware datetime."""
    if at.tzinfo is not UTC:  # rows read back are UTC already: skip the conversion
        at = at.astimezone(UTC)
    at = at.replace(second=0, microsecond=0)
    if grain == "m":
        return at
    return at.replace(minute=0) if grain == "h" else at.replace(minute=0, hour=0)


# -- percentiles and histograms ---------------------------------------------------------------


def _rank(n: int, percent: int) -> int:
    return max(1, (n * percent + 99) // 100)  # nearest rank, in integers: no 0.95 * n float


def exact(ordered: list[float], percent: int) -> float | None:
    """The nearest-rank percentile of sorted values (None for none)."""
    return ordered[_rank(len(ordered), percent) - 1] if ordered else None


def from_histogram(counts: list[int], percent: int, top: float | None) -> float | None:
    """The upper edge of the bin where the cumulative count reaches the rank, capped at `top`."""
    n = sum(counts)
    if not n or top is None:
        return None
    need, seen = _rank(n, percent), 0
    for edge, count in zip(BINS, counts, strict=False):
        seen += count
        if seen >= need:
            return min(float(edge), top)
    return top


def encode(counts: list[int]) -> str:
    """Bin counts as text, trailing zeros dropped (most minute buckets hold one probe)."""
    last = max((i for i, c in enumerate(counts) if c), default=-1)
    return ",".join(str(c) for c in counts[: last + 1])


def decode(histogram: str) -> list[int]:
    """Bin counts from text, one per bin."""
    counts = [int(c) for c in histogram.split(",")] if histogram else []
    return counts + [0] * (len(BINS) - len(counts))


def merge(buckets: list) -> dict:
    """One bucket's counters from finer buckets (attribute access), histogram percentiles; pure."""
    out = {name: 0 for name in ("total", "ok", "degraded", "latency_n", "ttft_n", "tps_n")}
    sums = {"latency_sum": 0.0, "ttft_sum": 0.0, "tps_sum": 0.0}
    counts = [0] * len(BINS)
    lows, highs = [], []
    for b in buckets:
        for name in out:
            out[name] += getattr(b, name)
        for name in sums:
            sums[name] += getattr(b, name)
        counts = [a + c for a, c in zip(counts, decode(b.histogram), strict=True)]
        if b.latency_min is not None:
            lows.append(b.latency_min)
            highs.append(b.latency_max)
    top = max(highs, default=None)
    return {
        **out,
        **{name: round(value, 3) for name, value in sums.items()},
        "latency_min": min(lows, default=None),
        "latency_max": top,
        "latency_p50": from_histogram(counts, 50, top),
        "latency_p95": from_histogram(counts, 95, top),
        "histogram": encode(counts),
    }


# -- reads -----------------------------------------------------------------------------------


SLACK = timedelta(minutes=5)  # a caller's `now - 24 h` taken a moment ago still reads minutes


class DayBar(NamedTuple):
    """One UTC day of a provider or model, as the 90-day bars show it."""

    day: date
    total: int
    ok: int
    degraded: int
    uptime: float | None
    color: str  # green | yellow | red | grey (no data)


class Point(NamedTuple):
    """One bucket of a latency chart (None where the bucket had no successful probe)."""

    start: datetime
    p50: float | None
    p95: float | None
    ttft_avg: float | None


def color(total: int, ok: int, degraded: int) -> str:
    """A day bar's colour: grey without data, red under 95 %, green at 99.9 % with nothing
    degraded, yellow otherwise."""
    if not total:
        return "grey"
    if ok / total < 0.95:
        return "red"
    return "green" if ok / total >= 0.999 and not degraded else "yellow"


def _epoch(column):
    """Whole seconds since 1970 in SQL: far cheaper to read back than datetimes (45k bars)."""
    return cast(extract("epoch", column), Integer)


def day_bars(
    provider_ids: Iterable[int], model: str = "", today: date | None = None, days: int = 90
) -> dict[int, list[DayBar]]:
    """{provider_id: exactly `days` DayBars, oldest first, ending with today (UTC)}."""
    ids = sorted(set(provider_ids))
    first = datetime.combine(today or utcnow().date(), time(), UTC) - (days - 1) * STEP["d"]
    dates = [(first + i * STEP["d"]).date() for i in range(days)]
    grey = [DayBar(day, 0, 0, 0, None, "grey") for day in dates]
    out = {pid: grey.copy() for pid in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(
            Bucket.provider_id, _epoch(Bucket.start), Bucket.total, Bucket.ok, Bucket.degraded
        ).where(
            Bucket.provider_id.in_(ids),
            Bucket.model == model,
            Bucket.grain == "d",
            Bucket.start >= first,
            Bucket.start < first + days * STEP["d"],
        )
    )
    base = int(first.timestamp())
    for pid, epoch, total, ok, degraded in rows:  # one pass: 500 providers make 45k bars
        i = (epoch - base) // 86400
        up = ok / total if total else None
        out[pid][i] = DayBar(dates[i], total, ok, degraded, up, color(total, ok, degraded))
    return out


def grain_for(start: datetime, end: datetime, now: datetime | None = None) -> str:
    """The finest tier for a chart range that still holds its start: minute buckets up to 24 h,
    hour buckets up to 90 d, day buckets beyond (or whenever the finer tier is pruned)."""
    now = now or utcnow()
    for grain, longest in (("m", timedelta(hours=24)), ("h", timedelta(days=90))):
        if end - start <= longest and start >= now - KEEP[grain] - SLACK:
            return grain
    return "d"


def latency_series(
    provider_id: int, model: str, start: datetime, end: datetime, now: datetime | None = None
) -> list[Point]:
    """Latency p50/p95 and average TTFT per bucket in [start, end), in grain_for's tier."""
    grain = grain_for(start, end, now)
    rows = db.session.execute(
        select(Bucket.start, Bucket.latency_p50, Bucket.latency_p95, Bucket.ttft_sum, Bucket.ttft_n)
        .where(
            Bucket.provider_id == provider_id,
            Bucket.model == model,
            Bucket.grain == grain,
            Bucket.start >= floor(start, grain),
            Bucket.start < end,
        )
        .order_by(Bucket.start)
    )
    return [Point(s, p50, p95, t_sum / t_n if t_n else None) for s, p50, p95, t_sum, t_n in rows]


def sparkline_24h(
    provider_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[float | None]]:
    """{provider_id: 24 hourly latency p50s, oldest first, the current hour last; None: no data}."""
    ids = sorted(set(provider_ids))
    current = floor(now or utcnow(), "h")
    first = current - 23 * STEP["h"]
    out: dict[int, list[float | None]] = {p: [None] * 24 for p in ids}
    if ids:
        rows = db.session.execute(
            select(Bucket.provider_id, _epoch(Bucket.start), Bucket.latency_p50).where(
                Bucket.provider_id.in_(ids),
                Bucket.model == "",
                Bucket.grain == "h",
                Bucket.start >= first,
                Bucket.start <= current,
            )
        )
        base = int(first.timestamp())
        for pid, epoch, p50 in rows:
            out[pid][(epoch - base) // 3600] = p50
    return out


def latency_p50_24h(provider_id: int, now: datetime) -> float | None:
    """A provider's reachability latency p50 over the last 24 h, from its hour buckets."""
    hours = db.session.scalars(
        select(Bucket).where(
            Bucket.provider_id == provider_id,
            Bucket.model == "",
            Bucket.grain == "h",
            Bucket.start > now - timedelta(hours=24),
        )
    ).all()
    return merge(hours)["latency_p50"] if hours else None


def model_stats_24h(
    provider_id: int, now: datetime | None = None, tiers: tuple[str, ...] = ("light", "stream")
) -> dict[str, dict]:
    """{model: {"ttft_p50", "tps_p50", "last_checked_at"}} from the last 24 h of raw probes.

    p50s are exact (nearest rank) over the stream probes carrying the value; last_checked_at is
    the newest probe of `tiers` (the prober asks for stream only: light rows add no p50).
    """
    rows = db.session.execute(
        select(Probe.model, Probe.at, Probe.ttft_ms, Probe.tokens_per_s).where(
            Probe.provider_id == provider_id,
            Probe.at >= (now or utcnow()) - timedelta(hours=24),
            Probe.tier.in_(tiers),
        )
    )
    seen: dict[str, tuple[datetime, list[float], list[float]]] = {}
    for model, at, ttft, tps in rows:
        last, ttfts, speeds = seen.setdefault(model, (at, [], []))
        seen[model] = (max(last, at), ttfts, speeds)
        if ttft is not None:
            ttfts.append(ttft)
        if tps is not None:
            speeds.append(tps)
    return {
        model: {
            "ttft_p50": exact(sorted(ttfts), 50),
            "tps_p50": exact(sorted(speeds), 50),
            "last_checked_at": last,
        }
        for model, (last, ttfts, speeds) in sorted(seen.items())
    }
