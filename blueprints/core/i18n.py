"""Which language a request is served in."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request

from blueprints.shared.times import cookie_zone

LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
COOKIE = "lang"


def select_locale() -> str:
    """The language cookie when set, else zh_CN for any zh* browser, else English."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-TW", "zh-HK", "en"])
    return "zh_CN" if best and best.lower().startswith("zh") else "en"


def select_timezone() -> str | None:
    """The viewer's IANA zone (form field or cookie set by our script), else the default (UTC)."""
    for value in (request.form.get("tz"), cookie_zone()):
        if value and len(value) <= 64 and _is_zone(value):
            return value
    return None


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
