"""Times as the viewer reads them: in their zone (the `tz` cookie our script sets), saying which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from flask import request
from flask_babel import get_timezone
from markupsafe import Markup, escape


def cookie_zone() -> str:
    """The `tz` cookie our script sets, decoded: it wrote "Asia%2FShanghai" (encodeURIComponent)
    before it wrote zone names as they are; '' when there is none."""
    return unquote(request.cookies.get("tz") or "")


def zone_name() -> str:
    """The viewer's IANA zone name ('Asia/Shanghai'; 'UTC' when the browser said none)."""
    zone = get_timezone()
    return getattr(zone, "key", None) or str(zone)


def offset_label(at: datetime) -> str:
    """'UTC+8', 'UTC-3:30' or 'UTC': the zone's offset at that moment (summer time included)."""
    delta = at.astimezone(get_timezone()).utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    if not minutes:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def local(at: datetime, *, seconds: bool = False, zone: bool = True) -> str:
    """'2026-12-07 19:16 UTC+8' in the viewer's zone (ISO order: read alike in en and zh)."""
    moment = at.astimezone(get_timezone())
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {offset_label(at)}" if zone else text


def time_tag(at: datetime | None, *, seconds: bool = False, zone: bool = True) -> Markup:
    """<time> with the moment in ISO, the zone's name as its title, local() as its text."""
    if at is None:
        return Markup("—")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        at.isoformat(), zone_name(), escape(local(at, seconds=seconds, zone=zone))
    )


def zone_note() -> str:
    """'Asia/Shanghai, UTC+8': the zone a page's unlabelled times are in, for one note per page."""
    name, offset = zone_name(), offset_label(datetime.now(UTC))
    return name if name == offset else f"{name}, {offset}"
