"""Base URLs as users paste them, reduced to what the relay code appends paths to."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# Suffixes that client set-up guides tell people to paste; we append the paths ourselves.
_SUFFIXES = ("/v1/chat/completions", "/chat/completions", "/v1/models", "/v1")


class BadBaseURL(ValueError):
    """The text is not an http(s) URL we can use; `code` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def normalise_base_url(text: str) -> str:
    """'https://api.juheai.top/v1/' → 'https://api.juheai.top'; refuse anything not http(s)."""
    raw = (text or "").strip()
    if not raw:
        raise BadBaseURL("empty")
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise BadBaseURL("scheme")
    if not parts.hostname or parts.username or parts.password:
        raise BadBaseURL("host")
    path = parts.path.rstrip("/")
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if path.lower().endswith(suffix):
                path = path[: -len(suffix)].rstrip("/")
                changed = True
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))
