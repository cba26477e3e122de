"""ISO-8601 dates in relay JSON, read safely into unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime

from ..values import MAX_TIMESTAMP


def iso_seconds(value: object) -> int | None:
    """'2026-01-02T03:04:05Z' (or +00:00, or naive UTC) → unix seconds; None for anything else."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = int(moment.timestamp())
    except (OverflowError, OSError, ValueError):
        return None
    return seconds if 0 < seconds <= MAX_TIMESTAMP else None
