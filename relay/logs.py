"""A key's request log from new-api's /api/log/token, parsed into plain rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import http
from .calls import LOG_TOKEN, call
from .info import NEW_API_2025, ONE_API, RelayInfo
from .values import number, timestamp

CONSUME = 2  # log type of a billed request
WINDOW = 1000  # new-api 2026 returns only the newest MaxRecentItems rows


@dataclass(frozen=True)
class LogRow:
    """One billed request, cost already in the relay's unit."""

    created_at: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    quota: int
    cost: float
    use_time_s: int
    is_stream: bool
    frt_ms: int | None
    cache_tokens: int
    token_name: str
    request_id: str
    model_ratio: float | None
    completion_ratio: float | None
    group_ratio: float | None
    model_price: float | None


@dataclass(frozen=True)
class LogResult:
    """The rows plus what the relay said; `rows` is None when it gave none."""

    answer: http.Answer
    rows: list[LogRow] | None
    capped: bool = False
    unit: str = "USD"
    generation: str | None = None


def fetch_logs(
    base_url: str,
    key: str,
    info: RelayInfo,
    *,
    timeout=http.DEFAULT_TIMEOUT,
    prepaid=False,
    background=False,
):
    """Read the key's log: Bearer header *and* ?key= so both new-api generations answer."""
    if info.generation == ONE_API:
        return LogResult(http.Answer(LOG_TOKEN, http.SKIPPED), None, False, info.unit, ONE_API)
    params = {"key": key}
    answer = call(
        base_url,
        LOG_TOKEN,
        key,
        timeout=timeout,
        params=params,
        prepaid=prepaid,
        background=background,
    )
    items = answer.data.get("data") if answer.ok and isinstance(answer.data, dict) else None
    if not isinstance(items, list) or answer.data.get("success") is False:
        return LogResult(answer, None, False, info.unit, info.generation)
    rows = [row for row in (parse_row(item, info) for item in items) if row is not None]
    rows.sort(key=lambda row: row.created_at, reverse=True)
    # Only new-api 2026 trims to the newest 1,000 rows; 2025 returns everything.
    capped = info.generation != NEW_API_2025 and len(items) >= WINDOW
    return LogResult(answer, rows, capped, info.unit, info.generation)


def parse_row(item: object, info: RelayInfo) -> LogRow | None:
    """One Log dict → LogRow; rows that are not billed requests are dropped."""
    if not isinstance(item, dict) or _int(item.get("type")) != CONSUME:
        return None
    created_at = timestamp(item.get("created_at"))
    if created_at is None:
        return None
    other = _other(item.get("other"))
    quota = _int(item.get("quota"))
    frt = other.get("frt")
    return LogRow(
        created_at=created_at,
        model=str(item.get("model_name") or ""),
        prompt_tokens=_int(item.get("prompt_tokens")),
        completion_tokens=_int(item.get("completion_tokens")),
        quota=quota,
        cost=round(info.from_quota(quota), 8),
        use_time_s=_int(item.get("use_time")),
        is_stream=bool(item.get("is_stream")),
        frt_ms=int(number(frt)) if number(frt) > 0 else None,
        cache_tokens=_int(other.get("cache_tokens")),
        token_name=str(item.get("token_name") or ""),
        request_id=str(item.get("request_id") or ""),
        model_ratio=_float(other.get("model_ratio")),
        completion_ratio=_float(other.get("completion_ratio")),
        group_ratio=_float(other.get("group_ratio")),
        model_price=_float(other.get("model_price")),
    )


def _other(raw: object) -> dict:
    # `other` is a JSON *string* on new-api; tolerate a dict or garbage.
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _int(value: object) -> int:
    return int(number(value))


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return number(value)
