"""Masking key-shaped text in log records, for loggers that may see relay URLs or errors."""

from __future__ import annotations

import logging
import re

# sk-… keys anywhere; ?key= (new-api 2025 logs, WeCom bots), ?access_token= / &sign= (DingTalk)
# and /hook/<token> (Feishu) — everything urllib3 may print in a request line.
_SECRET = re.compile(
    r"(sk-)[A-Za-z0-9_\-]{6,}"
    r"|((?<=[?&])(?:key|access_token|sign)=)[^&\s\"'<>]+"
    r"|(/hook/)[^\s?\"'<>]+"
)

# urllib3 logs every request line at DEBUG, query string (and so ?key=) included.
WATCHED = ("urllib3.connectionpool", "werkzeug", "requests")


def redact(text: str) -> str:
    """Replace anything key-shaped with a stub."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)


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
