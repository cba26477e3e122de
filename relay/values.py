"""Numbers from relay JSON, made safe: finite, in range, or None."""

from __future__ import annotations

import math

# 9999-12-31T23:59:59Z: past this a "unix seconds" field is really milliseconds or garbage.
MAX_TIMESTAMP = 253402300799


def finite_float(text: str) -> float:
    """json.loads(parse_float=…): 1e999 would become inf; treat it as a malformed body."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def reject_constant(name: str) -> float:
    """json.loads(parse_constant=…): NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not a number")


def number(value: object) -> float:
    """A finite number, or 0 for anything else (bools, strings, None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) else 0.0


def timestamp(value: object) -> int | None:
    """Unix seconds when plausible (0 and -1 mean "never"), else None."""
    seconds = number(value)
    return int(seconds) if 0 < seconds <= MAX_TIMESTAMP else None
