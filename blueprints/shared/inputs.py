"""The one input-parsing layer: whole numbers, decimals, row ids, dates and JSON depth.

Every number, id, date and JSON body a request carries is read through here, so a hostile
value becomes a refusal, never a 500: "²" passes `str.isdigit()` but not `int()`, 5,000 digits
pass neither, 2**63 overflows SQLite's INTEGER, 0001-01-01 overflows once a zone is applied, and
"[" * 2000 overflows the JSON parser's stack. The refusal is `BadValue`: a 400 (a 404 for a row
id in a URL) whose message, from `message()`, names the field in the page's language. Features
that show their own form errors catch it; the app-wide handler (core) renders the rest.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BaseConverter, ValidationError

from .errors import Refusal

MAX_ID = 2**63 - 1  # SQLite's INTEGER (and PostgreSQL's BIGINT)
MAX_JSON_DEPTH = 64
# The days a zone can be applied to without leaving datetime's range (and before which the
# app has no data: its day numbers start at the Unix epoch).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9999, 12, 30)

# ASCII only: in a str pattern \d would also match "٣"; lengths are capped before int() runs.
_WHOLE = re.compile(r"-?[0-9]{1,19}")
_DECIMAL = re.compile(
    r"[-+]?(?:[0-9]{1,40}(?:\.[0-9]{0,40})?|\.[0-9]{1,40})(?:[eE][-+]?[0-9]{1,4})?"
)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")

MESSAGES = {
    "bad_number": _l("“%(field)s” must be a whole number from %(low)s to %(high)s (digits 0-9)."),
    "bad_decimal": _l("“%(field)s” must be a number from %(low)s to %(high)s (digits 0-9)."),
    "not_a_number": _l("“%(field)s” must be a number written with the digits 0-9."),
    "bad_date": _l("“%(field)s” must be a date written YYYY-MM-DD, from %(low)s to %(high)s."),
    "too_deep": _l("The JSON in “%(field)s” is nested too deeply (at most %(limit)s levels)."),
}


class BadValue(Refusal):
    """A value we cannot use: `code` picks the message, `field` names the value, `status` the
    HTTP answer (400; 404 for an id that names no row)."""

    def __init__(self, code: str, field: str, status: int = 400, **params):
        super().__init__(code)
        self.field = field
        self.status = status
        self.params = params


def message(error: BadValue) -> str:
    """The refusal in the request's language."""
    return str(MESSAGES[error.code]) % {"field": error.field, **error.params}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "?"  # a JSON list or object where a number belongs: refused below
    return str(value).strip()


def whole_number(
    value: object, field: str, *, low: int = 0, high: int = MAX_ID, default: int | None = None
) -> int | None:
    """A whole number from low to high (ASCII digits, an optional minus); blank → default."""
    text = _text(value)
    if not text:
        return default
    if not _WHOLE.fullmatch(text) or not low <= int(text) <= high:
        raise BadValue("bad_number", field, low=low, high=high)
    return int(text)


def decimal(
    value: object,
    field: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    default: float | None = None,
) -> float | None:
    """A finite number from low to high (ASCII digits, a point, an exponent); blank → default."""
    text = _text(value)
    if not text:
        return default
    number = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(number) or not low <= number <= high:
        if math.isinf(low) or math.isinf(high):
            raise BadValue("not_a_number", field)
        raise BadValue("bad_decimal", field, low=f"{low:g}", high=f"{high:g}")
    return number


def row_id(value: object) -> int | None:
    """A row id that can exist (1 to 2**63 - 1, ASCII digits), or None for anything else."""
    text = _text(value)
    if not _WHOLE.fullmatch(text) or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


class IdConverter(BaseConverter):
    """`<id:name>` in a route: a row id that can exist; anything else (², 2**63) is a 404."""

    regex = r"[0-9]{1,19}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = row_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def iso_date(
    value: object,
    field: str,
    *,
    low: date = FIRST_DAY,
    high: date = LAST_DAY,
    default: date | None = None,
) -> date | None:
    """A YYYY-MM-DD date from low to high; blank → default."""
    text = _text(value)
    if not text:
        return default
    try:
        day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None or not low <= day <= high:
        raise BadValue("bad_date", field, low=low.isoformat(), high=high.isoformat())
    return day


def check_depth(text: str, field: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON text nested deeper than limit, before a parser recurses into it."""
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket[0] in "[{" else -1
        if depth > limit:
            raise BadValue("too_deep", field, limit=limit)


def json_loads(text: str, field: str, limit: int = MAX_JSON_DEPTH, **options) -> Any:
    """json.loads with the depth checked first (ValueError for text that is not JSON)."""
    check_depth(text, field, limit)
    return json.loads(text, **options)


def json_body(limit: int = MAX_JSON_DEPTH) -> Any:
    """The request's JSON body (None when it is not JSON), its depth checked first."""
    if not request.is_json:
        return None
    check_depth(request.get_data(as_text=True), "body", limit)
    return request.get_json(silent=True)
