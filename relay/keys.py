"""Relay keys as pasted: cleaning, checking the shape, splitting a batch, masking for display."""

from __future__ import annotations

import re

# Relay keys are sk- plus letters/digits (new-api: 48); forks vary, so stay lenient but sane.
# Also the API document's pattern (ECMA-262 and Python read it alike).
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{15,199}$"
_KEY = re.compile(KEY_PATTERN)
_SPLIT = re.compile(r"[\s,;，；、]+")


class BadKey(ValueError):
    """The text holds no usable key; `code` says why (missing_key, bad_key)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def clean_key(text: str | None) -> str:
    """One pasted key, stripped of whitespace and a 'Bearer ' prefix; BadKey if not a key."""
    key = (text or "").strip()
    if key.lower().startswith("bearer "):
        key = key[7:].strip()
    if not key:
        raise BadKey("missing_key")
    if not _KEY.match(key):
        raise BadKey("bad_key")
    return key


def split_keys(text: str | None) -> tuple[list[str], int]:
    """Keys from a pasted blob (split on whitespace, commas, semicolons), deduplicated.

    Returns (keys, how many pieces were not keys); BadKey when there is no key at all.
    """
    keys: list[str] = []
    skipped = 0
    for piece in _SPLIT.split(text or ""):
        if not piece:
            continue
        if _KEY.match(piece):
            if piece not in keys:
                keys.append(piece)
        else:
            skipped += 1
    if not keys:
        raise BadKey("missing_key")
    return keys, skipped


def mask(key: str) -> str:
    """sk-abc…wxyz: enough to tell keys apart, never enough to use one."""
    if key.startswith("sk-") and len(key) >= 14:
        return f"{key[:6]}…{key[-4:]}"
    return f"{key[:3]}…{key[-4:]}" if len(key) >= 12 else "…"
