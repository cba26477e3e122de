"""Atom and RSS feeds of the status page: incidents opened and resolved, their notes, notices.

Built with feedgen (one entry list, both formats, XML escaping by lxml). Only public providers
appear, exactly as on /status; a notice for every provider appears in every feed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_timedelta
from feedgen.feed import FeedGenerator
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from database import db

from .board import Shown, public_providers
from .models import Incident, IncidentNote, Notice

LIMIT = 50  # entries per feed: the newest changes; a reader keeps what it has seen
# lxml refuses these (XML 1.0 has no place for them); a note may hold one pasted by an admin.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Entry:
    """One feed entry: a stable id, what happened and when, and where to read more."""

    key: str  # "incident-12-opened": the fragment of the entry's id URL
    title: str
    text: str
    published: datetime
    updated: datetime
    link: str


def utc_iso(at: datetime) -> str:
    """'2026-11-02T08:00:00Z': the times written inside an entry's text."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def entries(shown: list[Shown], states: dict, causes: dict) -> list[Entry]:
    """The newest LIMIT entries for these providers (all public ones, or the one), newest first.

    states and causes: the translated words (pages.labels) for incident states and causes.
    """
    names = {p.id: p.name for p in shown}
    ids = list(names)
    found: list[Entry] = []
    if ids:
        found += _incident_entries(ids, names, states, causes)
        found += _note_entries(ids, names, states)
    found += _notice_entries(ids, names, all_providers=len(shown) != 1)
    found.sort(key=lambda e: (e.updated, e.key), reverse=True)
    return found[:LIMIT]


def _what(names: dict[int, str], incident: Incident) -> str:
    name = names[incident.provider_id]
    return f"{name} · {incident.model}" if incident.model else name


def _incident_entries(ids, names, states, causes) -> list[Entry]:
    """An entry when an incident opened and another when it closed (readers flag new entries)."""
    changed = func.coalesce(Incident.ended_at, Incident.started_at)
    query = (
        select(Incident)
        .where(Incident.provider_id.in_(ids))
        .order_by(changed.desc(), Incident.id.desc())
        .limit(LIMIT)
    )
    out = []
    for incident in db.session.scalars(query):
        what = _what(names, incident)
        link = url_for("status.provider", name=names[incident.provider_id], _external=True)
        state = states.get(incident.state, incident.state)
        lines = [
            _("State: %(state)s", state=state),
            _("Cause: %(cause)s", cause=causes.get(incident.cause, incident.cause or "—")),
            _("Started: %(at)s", at=utc_iso(incident.started_at)),
        ]
        if incident.model:
            lines.insert(0, _("Model: %(model)s", model=incident.model))
        opened = _("Incident opened: %(what)s is %(state)s", what=what, state=state)
        out.append(
            Entry(
                f"incident-{incident.id}-opened",
                opened,
                "\n".join(lines),
                incident.started_at,
                incident.started_at,
                link,
            )  # fmt: skip
        )
        if incident.ended_at is not None:
            took = format_timedelta(
                incident.ended_at - incident.started_at, format="short", locale=get_locale()
            )
            ended = _("Ended: %(at)s (after %(span)s)", at=utc_iso(incident.ended_at), span=took)
            out.append(
                Entry(
                    f"incident-{incident.id}-resolved",
                    _("Incident resolved: %(what)s is back up", what=what),
                    "\n".join([*lines, ended]),
                    incident.ended_at,
                    incident.ended_at,
                    link,
                )
            )
    return out


def _note_entries(ids, names, states) -> list[Entry]:
    """An admin's update on an incident, as its own entry."""
    query = (
        select(IncidentNote, Incident)
        .join(Incident, Incident.id == IncidentNote.incident_id)
        .where(Incident.provider_id.in_(ids))
        .order_by(IncidentNote.at.desc(), IncidentNote.id.desc())
        .limit(LIMIT)
    )
    out = []
    for note, incident in db.session.execute(query):
        what = _what(names, incident)
        state = states.get(incident.state, incident.state)
        title = _("Update on the incident of %(what)s (%(state)s)", what=what, state=state)
        started = _("Started: %(at)s", at=utc_iso(incident.started_at))
        link = url_for("status.provider", name=names[incident.provider_id], _external=True)
        out.append(
            Entry(f"note-{note.id}", title, f"{note.body}\n\n{started}", note.at, note.at, link)
        )
    return out


def _notice_entries(ids, names, *, all_providers: bool) -> list[Entry]:
    """Announcements and maintenance windows (ended ones too: a feed is a history)."""
    query = select(Notice).where(or_(Notice.provider_id.in_(ids), Notice.provider_id.is_(None)))
    query = query.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(LIMIT)
    kinds = {"maintenance": _("Maintenance"), "announcement": _("Announcement")}
    page = url_for("status.index", _external=True)
    out = []
    for notice in db.session.scalars(query):
        name = names.get(notice.provider_id) if notice.provider_id is not None else None
        title = f"{kinds.get(notice.kind, notice.kind)}: {notice.title}"
        if name and all_providers:
            title = f"{name} · {title}"
        start = utc_iso(notice.starts_at)
        if notice.ends_at is not None:
            window = _("From %(start)s to %(end)s", start=start, end=utc_iso(notice.ends_at))
        else:
            window = _("From %(start)s until further notice", start=start)
        scope = name or _("Every provider")
        text = "\n\n".join(part for part in (notice.body, window, scope) if part)
        # An edit is not tracked; ending it early is the one change a reader should see.
        ended = notice.ends_at is not None and notice.ends_at <= _now()
        updated = max(notice.created_at, notice.ends_at) if ended else notice.created_at
        link = url_for("status.provider", name=name, _external=True) if name else page
        out.append(Entry(f"notice-{notice.id}", title, text, notice.created_at, updated, link))
    return out


def _now() -> datetime:
    return datetime.now(UTC)


def render(kind: str, entries_: list[Entry], *, title: str, page: str, self_url: str) -> bytes:
    """The feed as Atom ("atom") or RSS 2.0 ("rss") bytes, in the request's language."""
    feed = FeedGenerator()
    feed.id(page)  # the page it follows: one id for the .atom and the .rss alike
    feed.title(_clean(title))
    feed.description(_("Incidents, incident updates and notices from the relay status page."))
    feed.link(href=self_url, rel="self")
    feed.link(href=page, rel="alternate")  # last: feedgen makes the last link RSS's <link>
    feed.language("zh-CN" if get_locale().language == "zh" else "en")  # as <html lang>
    feed.generator("relaydash")
    feed.updated(entries_[0].updated if entries_ else _now().replace(second=0, microsecond=0))
    # One id per event in every feed (all providers' and its provider's): a reader of both
    # sees it once.
    base = url_for("status.index", _external=True)
    for entry in reversed(entries_):  # feedgen prepends: the newest ends up first
        item = feed.add_entry()
        item.id(f"{base}#{entry.key}")
        item.guid(f"{base}#{entry.key}", permalink=False)
        item.title(_clean(entry.title))
        item.content(_clean(entry.text), type="text")
        item.link(href=entry.link, rel="alternate")
        item.published(entry.published)
        item.updated(entry.updated)
    return feed.atom_str(pretty=True) if kind == "atom" else feed.rss_str(pretty=True)


def providers(name: str | None) -> list[Shown]:
    """The public providers a feed covers (empty when `name` is not a public provider)."""
    return [shown for shown, _watch in public_providers(name)]
