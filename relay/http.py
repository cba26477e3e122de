"""One pooled HTTP session, and the Answer that every relay call turns into."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from . import redact
from .values import finite_float, reject_constant

redact.install()

MAX_RETRY_AFTER = 3600.0

# Connect fast-fails a dead host; read covers a slow but alive relay.
DEFAULT_TIMEOUT = (3.0, 10.0)

# Answer kinds. Anything but "ok" is an ordinary day on a relay, not an exception.
OK = "ok"
DENIED = "denied"  # 401/403 with a body we can read
NOT_FOUND = "not_found"  # 404, or the endpoint does not exist on this relay
HTML = "html"  # an SPA index page where JSON was expected
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"  # 5xx, or a 200 carrying {"error": …}
MALFORMED = "malformed"
TIMEOUT = "timeout"
RESET = "reset"
UNREACHABLE = "unreachable"
REJECTED = "rejected"  # another 4xx: the relay refused the request itself, not the key
SKIPPED = "skipped"  # we chose not to call (budget, generation)


@dataclass(frozen=True)
class Answer:
    """What one endpoint said, already sorted into a kind."""

    path: str
    kind: str
    status: int | None = None
    data: Any = None
    message: str = ""
    retry_after: float | None = None
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the endpoint answered with usable JSON."""
        return self.kind == OK


def make_session(pool: int = 64) -> requests.Session:
    """A pooled session that never keeps cookies: one user's relay cookie is not another's."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "relaydash/0.1"
    return session


SESSION = make_session()


def get(
    base_url: str,
    path: str,
    *,
    key: str | None = None,
    params: dict[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> Answer:
    """GET base_url+path and sort the outcome; never raises for network or body trouble."""
    answer = _get_once(base_url, path, key, params, timeout, session)
    if answer.kind == RESET and answer.status is None:
        # A pooled keep-alive connection the relay (or its nginx) already closed fails at
        # once with a reset; one immediate retry on a fresh connection is the cure.
        answer = _get_once(base_url, path, key, params, timeout, session)
    return answer


def _get_once(base_url, path, key, params, timeout, session) -> Answer:
    headers = {"Accept": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    try:
        response = (session or SESSION).get(
            base_url + path, headers=headers, params=params, timeout=timeout, allow_redirects=False
        )
    except requests.exceptions.Timeout:
        return Answer(path, TIMEOUT, elapsed_ms=_ms(started))
    except requests.exceptions.ConnectionError as exc:
        # The exception text carries the URL (and so a ?key=); it is never kept.
        kind = RESET if _is_reset(exc) else UNREACHABLE
        return Answer(path, kind, elapsed_ms=_ms(started))
    except requests.exceptions.RequestException:
        return Answer(path, UNREACHABLE, elapsed_ms=_ms(started))
    with response:
        try:
            body = response.content
        except requests.exceptions.RequestException:
            return Answer(path, RESET, response.status_code, elapsed_ms=_ms(started))
        return classify(path, response.status_code, response.headers, body, _ms(started))


def classify(path: str, status: int, headers, body: bytes, elapsed_ms: float = 0.0) -> Answer:
    """Sort a raw HTTP reply into an Answer kind (relay-api.md §5 error table)."""
    ctype = headers.get("Content-Type", "").lower()
    if status == 429:
        return Answer(
            path, RATE_LIMITED, status, retry_after=_retry_after(headers), **_t(elapsed_ms)
        )
    text = body.lstrip()[:1].decode("latin-1")
    if "text/html" in ctype or text == "<":
        kind = NOT_FOUND if status == 404 else (HTML if status < 400 else SERVER_ERROR)
        return Answer(path, kind, status, **_t(elapsed_ms))
    try:
        data = (
            json.loads(body, parse_float=finite_float, parse_constant=reject_constant)
            if body.strip()
            else None
        )
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        if status >= 400:
            # A plain-text error page ("404 page not found", "Internal Server Error") is an
            # error by its status, not a broken API reply.
            return Answer(path, _error_kind(status), status, **_t(elapsed_ms))
        return Answer(path, MALFORMED, status, **_t(elapsed_ms))
    message = error_message(data)
    if status == 404:
        return Answer(path, NOT_FOUND, status, data, message, **_t(elapsed_ms))
    if status in (401, 403):
        return Answer(path, DENIED, status, data, message, **_t(elapsed_ms))
    if status >= 400 or data is None:
        kind = REJECTED if 400 <= status < 500 else SERVER_ERROR
        return Answer(path, kind, status, data, message, **_t(elapsed_ms))
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        # The billing handlers report DB trouble as HTTP 200 + {"error": …}.
        return Answer(path, SERVER_ERROR, status, data, message, **_t(elapsed_ms))
    return Answer(path, OK, status, data, message, **_t(elapsed_ms))


def _error_kind(status: int) -> str:
    if status == 404:
        return NOT_FOUND
    if status in (401, 403):
        return DENIED
    return REJECTED if status < 500 else SERVER_ERROR


def error_message(data: Any) -> str:
    """The human text of any relay error body: {"error":{"message"}} or {"message"}."""
    if not isinstance(data, dict):
        return ""
    err = data.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return err["message"]
    if isinstance(err, str):
        return err
    if data.get("success") is False and isinstance(data.get("message"), str):
        return data["message"]
    return ""


def _t(elapsed_ms: float) -> dict[str, float]:
    return {"elapsed_ms": elapsed_ms}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    # An absurd hint (inf, 1e12) must not block a relay until the process restarts.
    return min(max(0.0, seconds), MAX_RETRY_AFTER) if seconds == seconds else None


def _is_reset(exc: Exception) -> bool:
    # repr() holds the URL (and so a ?key=): it is only inspected here, never kept.
    text = repr(exc)
    return any(mark in text for mark in _RESET_MARKS)


_RESET_MARKS = ("Connection aborted", "ConnectionResetError", "RemoteDisconnected", "reset by peer")
