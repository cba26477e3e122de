"""The request-log view: sort, page, per-model and per-day sums, CSV — all from cached rows."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from flask_babel import gettext as _

from relay import LogRow

SORTS = {
    "time": lambda r: r.created_at,
    "model": lambda r: r.model,
    "prompt": lambda r: r.prompt_tokens,
    "completion": lambda r: r.completion_tokens,
    "cost": lambda r: r.cost,
    "duration": lambda r: r.use_time_s,
    "frt": lambda r: r.frt_ms or 0,
}
PAGE_SIZES = (10, 20, 50, 100)


@dataclass(frozen=True)
class Page:
    """One page of sorted rows and where it sits."""

    rows: list[LogRow]
    number: int
    pages: int
    size: int
    sort: str
    desc: bool
    total: int


def page_of(rows: list[LogRow], sort: str, desc: bool, number: int, size: int) -> Page:
    """Sort (stable, newest first as tie-break) and slice; bad values fall back to defaults."""
    sort = sort if sort in SORTS else "time"
    size = size if size in PAGE_SIZES else 20
    ordered = sorted(rows, key=SORTS[sort], reverse=desc)
    pages = max(1, -(-len(ordered) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(ordered[start : start + size], number, pages, size, sort, desc, len(rows))


def in_range(rows: list[LogRow], first: date | None, last: date | None, zone: tzinfo):
    """The rows made on the days first..last (inclusive, the viewer's calendar); None = open."""
    if first is None and last is None:
        return rows
    low = datetime.combine(first, time.min, zone).timestamp() if first else float("-inf")
    high = datetime.combine(last + timedelta(days=1), time.min, zone).timestamp() if last else None
    return [r for r in rows if low <= r.created_at and (high is None or r.created_at < high)]


def by_model(rows: list[LogRow]) -> list[dict]:
    """Requests, tokens and cost per model, most expensive first."""
    sums: dict[str, dict] = defaultdict(
        lambda: {"requests": 0, "prompt": 0, "completion": 0, "cache": 0, "cost": 0.0}
    )
    for row in rows:
        item = sums[row.model]
        item["requests"] += 1
        item["prompt"] += row.prompt_tokens
        item["completion"] += row.completion_tokens
        item["cache"] += row.cache_tokens
        item["cost"] += row.cost
    table = [{"model": model, **values} for model, values in sums.items()]
    return sorted(table, key=lambda item: (-item["cost"], item["model"]))


def by_day(rows: list[LogRow], zone: tzinfo) -> list[dict]:
    """Requests, tokens and cost per calendar day in the viewer's time zone, newest first."""
    sums: dict[str, dict] = defaultdict(lambda: {"requests": 0, "tokens": 0, "cost": 0.0})
    for row in rows:
        day = datetime.fromtimestamp(row.created_at, zone).date().isoformat()
        sums[day]["requests"] += 1
        sums[day]["tokens"] += row.prompt_tokens + row.completion_tokens
        sums[day]["cost"] += row.cost
    return [{"day": day, **sums[day]} for day in sorted(sums, reverse=True)]


def local_time(timestamp: int, zone: tzinfo) -> str:
    """'2026-11-28 15:04:05' in the viewer's zone."""
    return datetime.fromtimestamp(timestamp, zone).strftime("%Y-%m-%d %H:%M:%S")


def formula(row: LogRow) -> str:
    """How the relay priced the row, as new-api explains it (ratios or a fixed price)."""
    if row.model_price is not None and row.model_price >= 0:
        return _(
            "fixed price %(price)s × group %(group)s",
            price=f"{row.model_price:g}",
            group=f"{row.group_ratio or 1:g}",
        )
    parts = []
    if row.model_ratio is not None:
        parts.append(_("model %(ratio)s", ratio=f"{row.model_ratio:g}"))
    if row.completion_ratio is not None:
        parts.append(_("completion %(ratio)s", ratio=f"{row.completion_ratio:g}"))
    if row.group_ratio is not None:
        parts.append(_("group %(ratio)s", ratio=f"{row.group_ratio:g}"))
    return " × ".join(parts)


CSV_HEADER = (
    "time",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cache_tokens",
    "cost",
    "unit",
    "duration_s",
    "stream",
    "first_response_ms",
    "request_id",
)


def to_csv(rows: list[LogRow], unit: str, zone: tzinfo = UTC) -> bytes:
    """The log as CSV in money units (not raw quota), UTF-8 with a BOM so Excel reads 中文."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in sorted(rows, key=lambda r: r.created_at, reverse=True):
        writer.writerow(
            (
                datetime.fromtimestamp(row.created_at, zone).isoformat(),
                _safe(row.model),
                row.prompt_tokens,
                row.completion_tokens,
                row.cache_tokens,
                f"{row.cost:.8f}".rstrip("0").rstrip(".") or "0",
                unit,
                row.use_time_s,
                "true" if row.is_stream else "false",
                row.frt_ms if row.frt_ms is not None else "",
                _safe(row.request_id),
            )
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _safe(text: str) -> str:
    # A cell starting with = + - @ runs as a formula in spreadsheets.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
