"""The status page's reach outside it: Atom/RSS feeds and the embeddable widget card."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from . import board, feeds
from .pages import FEEDS, _public, _state_texts, labels, models_text, uptime_text

# ?lang= of a feed (a feed reader sends no cookie and rarely an Accept-Language).
LANGS = {"en": "en", "zh": "zh_CN", "zh-cn": "zh_CN", "zh_cn": "zh_CN", "zh-hans": "zh_CN"}
KINDS = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
THEMES = ("light", "dark")


def _language():
    """force_locale for ?lang=, else the request's own language; 400 for one we do not speak."""
    lang = request.args.get("lang")
    if lang is None:
        return nullcontext()
    if lang.lower() not in LANGS:
        abort(400)
    return force_locale(LANGS[lang.lower()])


def feed(kind: str, name: str | None):
    """/status/feed.atom|rss and /status/<provider>/feed.atom|rss (public providers only)."""
    with _language():
        shown = feeds.providers(name)
        if name is not None and not shown:
            abort(404)
        seconds = int(current_app.config.get("STATUS_FEED_SECONDS", 60))
        lang = request.args.get("lang")
        cache_key = f"feed:{kind}:{name}:{get_locale()}:{lang}:{request.host_url}"
        kept = FEEDS.get(cache_key)
        if kept is None:
            words = labels()
            items = feeds.entries(shown, _state_texts(), words["cause"])
            if name is None:
                title, page = _("Relay status"), url_for("status.index", _external=True)
            else:
                title = _("%(name)s status", name=name)
                page = url_for("status.provider", name=name, _external=True)
            body = feeds.render(kind, items, title=title, page=page, self_url=_self_url(lang))
            kept = (body, items[0].updated if items else None)
            FEEDS.set(cache_key, kept, seconds)
    body, updated = kept
    response = make_response(body)
    response.last_modified = updated
    response.mimetype = KINDS[kind]
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")  # the language cookie picks the words too
    response.add_etag()
    return _public(response, seconds).make_conditional(request)


def _self_url(lang: str | None) -> str:
    """This feed's own URL: canonical (no stray query), keeping ?lang= since it picks the words."""
    args = {"lang": lang} if lang else {}
    return url_for(request.endpoint, **request.view_args, **args, _external=True)


def _zone() -> ZoneInfo:
    """?tz= (an IANA name) or UTC: a widget lives on someone else's page, without our cookie."""
    name = request.args.get("tz", "UTC")
    if len(name) > 64:
        abort(400)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        abort(400)


def zone_label(at: datetime, zone: ZoneInfo) -> str:
    """'2026-12-07 14:39 UTC' or '… UTC+8': the moment in that zone, saying which."""
    moment = at.astimezone(zone)
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    label = "UTC"
    if minutes:
        sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
        label += f"{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")
    return f"{moment:%Y-%m-%d %H:%M} {label}"


def widget(name: str):
    """/status/<provider>/widget: a small card for an iframe elsewhere (no script, no session)."""
    theme = request.args.get("theme")
    if theme is not None and theme not in THEMES:
        abort(400)
    zone = _zone()
    data = board.build(name=name, bars=False, spark=False)
    if not data.cards:
        abort(404)
    card = data.cards[0]
    last = card.health.last_at if card.health is not None else None
    response = make_response(
        render_template(
            "status/widget.html",
            card=card,
            theme=theme,
            labels=labels(),
            uptime_text=uptime_text,
            models=models_text(card),
            checked=zone_label(last, zone) if last else None,
        )
    )
    return _public(response, int(current_app.config["STATUS_CACHE_SECONDS"]))
