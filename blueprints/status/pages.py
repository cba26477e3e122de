"""Rendering the status pages, the JSON feed and the badges (views stay short)."""

from __future__ import annotations

from datetime import timedelta

from babel.dates import format_timedelta
from babel.lists import format_list
from flask import abort, current_app, g, jsonify, make_response, render_template, request
from flask_babel import get_locale, get_timezone, ngettext
from flask_babel import gettext as _

from blueprints.shared import json_attr, render_htmx
from blueprints.shared.cache import TTLCache
from blueprints.shared.inputs import whole_number
from database import utcnow
from extensions import htmx

from . import board, charts, freshness, grade
from .badge import badge, day_bars, sparkline
from .coverage import FULL, LENGTH

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
FEEDS = TTLCache(max_items=256)  # /status.json and badges, shared by every visitor
RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


def _public(response, seconds: int):
    """Anyone may cache a public status answer briefly (it carries no balances or keys)."""
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response


def _page(response):
    """HTML pages carry the session's CSRF token and come whole or as an htmx partial from one
    URL: never from a shared cache, and never a cached full page for an htmx poll."""
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("HX-Request")
    return response


def index_page():
    """/status: every public provider, trouble first, PAGE_SIZE at a time.

    The board is rendered once per probe pass (or edit) and reused (freshness.py): most
    requests, the htmx polls every 30 s above all, only read the marker and send it.
    """
    page = whole_number(request.args.get("page"), "page", low=1, high=99_999, default=1)

    def render() -> str:
        return render_template("status/_board.html", board=board.build(page=page), **_helpers())

    html = freshness.board_html(page, render)
    if htmx:
        return _page(make_response(html))
    return _page(make_response(render_template("status/index.html", board_html=html)))


def provider_page(name: str):
    """/status/<provider>: charts, day bars, incidents, models."""
    data = board.build(name=name)
    if not data.cards:
        abort(404)
    card = data.cards[0]
    window = request.args.get("range", "24h")
    window = window if window in RANGES else "24h"
    now = data.generated_at
    figures = charts.provider_figures(card, now - RANGES[window], now)
    response = render_htmx(
        "status/provider.html",
        "status/_provider.html",
        board=data,
        card=card,
        window=window,
        ranges=RANGES,
        figures=figures,
        fig=json_attr,
        **_helpers(),
    )
    return _page(response)


def feed():
    """/status.json, cached for STATUS_CACHE_SECONDS."""
    seconds = int(current_app.config["STATUS_CACHE_SECONDS"])
    document = FEEDS.get("status.json")
    if document is None:
        document = board.as_json(board.build(bars=False, spark=False))
        FEEDS.set("status.json", document, seconds)
    response = _public(jsonify(document), seconds)
    response.headers["Access-Control-Allow-Origin"] = "*"  # public data, for scripts elsewhere
    return response


def badge_svg(name: str):
    """/status/<provider>/badge.svg?metric=status|uptime|models&window=24h|7d|30d|90d."""
    metric = request.args.get("metric", "status")
    window = request.args.get("window", "24h")
    if metric not in ("status", "uptime", "models") or window not in RANGES:
        abort(400)
    seconds = int(current_app.config["STATUS_CACHE_SECONDS"])
    cache_key = f"badge:{name}:{metric}:{window}:{_('uptime')}"
    svg = FEEDS.get(cache_key)
    if svg is None:
        data = board.build(name=name)
        if not data.cards:
            abort(404)
        svg = _badge(data.cards[0], metric, window)
        FEEDS.set(cache_key, svg, seconds)
    response = make_response(svg)
    response.mimetype = "image/svg+xml"
    return _public(response, seconds)


def _helpers() -> dict:
    """What the status templates use: SVG builders, labels (translated once), a fast clock."""
    zone = get_timezone()
    return {
        "bars_svg": _bars,
        "spark_svg": sparkline,
        "labels": labels(),
        "uptime_text": uptime_text,
        "name_list": name_list,
        # babel's format_datetime costs ~50 µs; a page lists hundreds of times.
        "when": lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    }


def labels() -> dict:
    """State, banner and cause labels in the request's language."""
    return {
        "state": {
            "up": _("Operational"),
            "degraded": _("Degraded"),
            "down": _("Down"),
            "maintenance": _("Maintenance"),
            "unknown": _("No data yet"),
            "failing": _("Last probe failed"),
        },
        "cause": {
            "timeout": _("timeouts"),
            "connect": _("connection failures"),
            "tls": _("TLS errors"),
            "http_5xx": _("server errors (5xx)"),
            "rate_limited": _("rate limiting (429)"),
            "auth": _("key refused"),
            "quota": _("quota used up"),
            "model_unavailable": _("model unavailable"),
            "empty_response": _("empty answers"),
            "bad_json": _("malformed answers"),
            "http_4xx": _("request errors (4xx)"),
            "slow": _("slow answers"),
        },
    }


def _badge(card: board.Card, metric: str, window: str) -> str:
    name = card.provider.name
    if metric == "status":
        return badge(name, _state_text(card.state), card.state)
    if metric == "models":
        up, total = models_up(card)
        color = "green" if up == total else "red" if not up else "yellow"
        color = color if total else "unknown"
        return badge(name, models_text(card) or _("no models"), color)
    value = card.uptime.get(window)
    if value is None:
        return badge(f"{name} {_('uptime')} {window}", _("no data"), "unknown")
    color = "green" if value >= 0.999 else "yellow" if value >= 0.95 else "red"
    text = uptime_text(value, card.coverage.get(window), window)
    return badge(f"{name} {_('uptime')} {window}", text, color)


def models_up(card: board.Card) -> tuple[int, int]:
    """(models up, models probed) of a card: a model not probed yet counts as not up."""
    up = sum(1 for m in card.models if m.state == "up")
    return up, len(card.monitor.models)


def models_text(card: board.Card) -> str | None:
    """'3/4 models up', or None when the provider has no probe models."""
    up, total = models_up(card)
    if not total:
        return None
    return ngettext("%(up)d/%(num)d model up", "%(up)d/%(num)d models up", total, up=up)


def uptime_text(value: float | None, covered: float | None, window: str) -> str | None:
    """'99.95%', or '100.00% (40 min of data)' when probes cover less of the window."""
    if value is None:
        return None
    text = f"{value * 100:.2f}%"
    if covered is None or covered >= FULL:
        return text
    span = format_timedelta(
        _floored(LENGTH[window] * covered), threshold=2, format="short", locale=get_locale()
    )
    return _("%(uptime)s (%(span)s of data)", uptime=text, span=span)


def _floored(span: timedelta) -> timedelta:
    """Down to the unit it is shown in (babel would round 23 h 40 min of a 24h window up to 24)."""
    units = ((2 * MINUTE, timedelta(seconds=1)), (2 * HOUR, MINUTE), (timedelta(days=2), HOUR))
    for below, unit in units:
        if span < below:
            return span // unit * unit
    return span // timedelta(days=1) * timedelta(days=1)


def name_list(names: list[str]) -> str:
    """'a, b and c' or 'a, b, c and 4 more' in the page's language (escaped by the template)."""
    shown = names[: grade.SHOWN]
    if len(names) > grade.SHOWN:
        rest = len(names) - grade.SHOWN
        shown = [*shown, ngettext("%(num)d more", "%(num)d more", rest)]
    return format_list(shown, locale=get_locale())


def _state_text(state: str) -> str:
    return _state_texts().get(state, _("unknown"))


def _state_texts() -> dict[str, str]:
    """Lower-case state words, translated once per request (the bars ask 150 times a page)."""
    if "status_states" not in g:
        g.status_states = {
            "up": _("up"),
            "degraded": _("degraded"),
            "down": _("down"),
            "maintenance": _("maintenance"),
        }
    return g.status_states


def _bars(card: board.Card) -> str:
    """The day bars with hover text (uptime, checks, incidents) in the page's language."""
    # Templates translated once, formatted per bar: 500 providers make 45,000 titles.
    no_data = _("%(day)s: no data")
    measured = _("%(day)s: %(uptime)s up, %(n)s checks")
    incident_text = _("incident: %(what)s %(state)s (%(cause)s)")
    last = card_today(card)
    provider = _("provider")
    # Each incident's line once, not once per day it spans (gettext per bar added up to 15 ms).
    spans = [
        (
            i.started_at.date(),
            i.ended_at.date() if i.ended_at else last,
            "\n"
            + incident_text
            % {"what": i.model or provider, "state": _state_text(i.state), "cause": i.cause or ""},
        )
        for i in card.incidents
    ]
    titles = []
    for bar in card.bars:
        day = bar.day.isoformat()
        if bar.uptime is None:
            title = no_data % {"day": day}
        else:
            title = measured % {"day": day, "uptime": f"{bar.uptime * 100:.2f}%", "n": bar.total}
        for start, end, line in spans:
            if start <= bar.day <= end:
                title += line
        titles.append(title)
    return day_bars(card.bars, titles)


def card_today(card: board.Card):
    """The last bar's day (today in UTC)."""
    return card.bars[-1].day if card.bars else utcnow().date()
