"""Masking keys in relay texts and log records.

Relays may echo the key they were sent (some do, in error messages), so every reply is cleaned at
the boundary (relay.http.classify, relay.chat) before any caller sees it: the exact key sent, in
full or without its sk- prefix, and anything else key-shaped. Log records get the key-shaped half
through the RedactKeys filter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"

# sk-… keys anywhere (not the tail of a word: "risk-averse" stays); ?key= (new-api 2025 logs,
# WeCom bots), ?access_token= / &sign= (DingTalk) and /hook/<token> (Feishu) — everything
# urllib3 may print in a request line.
_SECRET = re.compile(
    r"(?<![A-Za-z0-9])(sk-)[A-Za-z0-9_\-]{6,}"
    r"|((?<=[?&])(?:key|access_token|sign)=)[^&\s\"'<>]+"
    r"|(/hook/)[^\s?\"'<>]+"
)
# What the pattern needs in a JSON body before it can match, escapes included: the letters and
# the slash of a match can only be escaped as \uXXXX or \/.
_MARKS = (b"sk-", b"key=", b"access_token=", b"sign=", b"/hook/", b"\\u", b"\\/")
# A key's secret part shorter than this is no key (relay.keys accepts 16 characters and more);
# masking it everywhere would only garble the text.
_SHORTEST = 8

# urllib3 logs every request line at DEBUG, query string (and so ?key=) included.
WATCHED = ("urllib3.connectionpool", "werkzeug", "requests")


def key_parts(*keys: str | None) -> tuple[str, ...]:
    """The texts to mask for these keys: each one's secret part (the key without sk-)."""
    found = {k.removeprefix("sk-") for k in keys if k}
    return tuple(sorted((s for s in found if len(s) >= _SHORTEST), key=len, reverse=True))


def redact(text: str, hidden: Iterable[str] = ()) -> str:
    """Replace the given secrets (sk-KEY → sk-***, KEY → ***) and anything key-shaped."""
    for secret in hidden:
        text = text.replace(secret, MASK)
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, text)


def needed(raw: bytes | str, hidden: Iterable[str] = ()) -> bool:
    """False when the raw reply cannot hold anything to mask (the common case: skip the walk)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return any(mark in data for mark in _MARKS) or any(s.encode() in data for s in hidden)


def redact_data(value, hidden: Iterable[str] = ()):
    """A parsed JSON value with every string in it (object keys too) redacted."""
    hidden = tuple(hidden)
    if isinstance(value, str):
        return redact(value, hidden)
    if isinstance(value, list):
        return [redact_data(item, hidden) for item in value]
    if isinstance(value, dict):
        return {redact(k, hidden): redact_data(v, hidden) for k, v in value.items()}
    return value


class RedactKeys(logging.Filter):
    """Rewrites a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(*names: str) -> None:
    """Attach the filter (once) to the watched loggers and any extra ones named."""
    for name in (*WATCHED, *names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
