"""What admins write for the status page: announcements, maintenance windows, incident notes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from database import db, utcnow

from .models import Incident, IncidentNote, Notice
from .settings import SettingsError

KINDS = ("announcement", "maintenance")
MAX_HOURS = 24 * 90


def recent_incidents(
    provider_id: int, limit: int = 20
) -> tuple[list[Incident], dict[int, list[IncidentNote]]]:
    """The provider's latest incidents, newest first, and their notes by incident id."""
    incidents = list(
        db.session.scalars(
            select(Incident)
            .where(Incident.provider_id == provider_id)
            .order_by(Incident.started_at.desc())
            .limit(limit)
        )
    )
    notes: dict[int, list[IncidentNote]] = {}
    if incidents:
        query = select(IncidentNote).where(IncidentNote.incident_id.in_([i.id for i in incidents]))
        for note in db.session.scalars(query.order_by(IncidentNote.at)):
            notes.setdefault(note.incident_id, []).append(note)
    return incidents, notes


def publish_notice(
    provider_id: int | None, *, kind: str, title: str, body: str, hours: int | None
) -> Notice:
    """A notice from now on, for `hours` (None: until ended); provider_id None: every provider."""
    if not title or len(title) > 200 or kind not in KINDS:
        raise SettingsError("bad_notice")
    if hours is not None and not 0 < hours <= MAX_HOURS:
        raise SettingsError("bad_notice")
    starts = utcnow()
    notice = Notice(
        provider_id=provider_id,
        kind=kind,
        title=title,
        body=body[:4000],
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours) if hours else None,
    )
    db.session.add(notice)
    db.session.commit()
    return notice


def end_notice(notice_id: int) -> Notice:
    """End a notice now (it stays in the database, off the page); 404 when there is none."""
    notice = db.get_or_404(Notice, notice_id)
    notice.ends_at = utcnow()
    db.session.commit()
    return notice


def find_incident(incident_id: int) -> Incident:
    """The incident, or 404."""
    return db.get_or_404(Incident, incident_id)


def add_note(incident: Incident, body: str) -> IncidentNote:
    """An update on an incident, shown on the status page (1 to 2000 characters)."""
    if not 0 < len(body) <= 2000:
        raise SettingsError("bad_note")
    note = IncidentNote(incident_id=incident.id, body=body, at=utcnow())
    db.session.add(note)
    db.session.commit()
    return note
