"""Status feeds: Atom and RSS of incidents, incident notes and notices, parsed by feedparser."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 (our own feed, parsed to check its shape)
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

import feedparser
import pytest
from sqlalchemy import select

from blueprints.status import add_note, publish_notice
from blueprints.status.models import Incident
from database import db
from tests.test_status import passes, watch

ATOM = "{http://www.w3.org/2005/Atom}"
ODD = 'Über <b>&"relay"'  # escaped everywhere, and non-ASCII in the URL


def outage(app, fake, start: datetime) -> None:
    """Up, down (two 503s), then up again: one incident opened and resolved."""
    passes(app, start, 1)
    fake.set_fault("*", "503")
    passes(app, start + timedelta(minutes=1), 2)
    fake.set_fault("*", None)
    passes(app, start + timedelta(minutes=3), 2)


@pytest.fixture
def history(app, fake, relays):
    """A public provider with an outage, a note and notices; a private one with its own outage."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    watch(app, fake, "fake", key=False)
    hidden = relays("one-api")
    secret_id = watch(app, hidden, "secret-relay", key=False, public=False)
    hidden.set_fault("*", "503")  # the private one is down the whole time: its own incident
    outage(app, fake, start)
    with app.app_context():
        incidents = db.session.scalars(select(Incident).order_by(Incident.id)).all()
        assert {i.provider_id for i in incidents} == {1, secret_id}
        public = next(i for i in incidents if i.provider_id == 1)
        add_note(public, "Upstream <b>fixed</b> & confirmed\x01")
        publish_notice(None, kind="maintenance", title="DB upgrade", body="Short", hours=2)
        publish_notice(secret_id, kind="announcement", title="SECRET-NOTICE", body="", hours=None)
        return {"incident": public.id}


def parse(client, url: str, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return response, feedparser.parse(response.data)


def test_the_atom_feed_is_valid_and_lists_opened_resolved_notes_and_notices(client, history):
    response, feed = parse(client, "/status/feed.atom")
    assert response.mimetype == "application/atom+xml"
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    keys = [e.id.rsplit("#", 1)[1] for e in feed.entries]
    n = history["incident"]
    assert {f"incident-{n}-opened", f"incident-{n}-resolved"} <= set(keys)
    assert any(k.startswith("note-") for k in keys) and any(k.startswith("notice-") for k in keys)
    assert len(set(keys)) == len(keys)  # ids are unique
    # Newest first, and the feed's updated is its newest entry's.
    updated = [e.updated_parsed for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.feed.updated_parsed == updated[0]
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == "http://localhost/status/feed.atom"
    assert links["alternate"] == "http://localhost/status"
    opened = next(e for e in feed.entries if e.id.endswith(f"incident-{n}-opened"))
    assert opened.title == "Incident opened: fake is down"
    assert opened.link == "http://localhost/status/fake"
    text = opened.content[0].value
    assert "Cause: server errors (5xx)" in text
    assert "Started: 20" in text and "Z" in text  # UTC ISO
    resolved = next(e for e in feed.entries if e.id.endswith(f"incident-{n}-resolved"))
    assert "Ended: " in resolved.content[0].value
    note = next(e for e in feed.entries if "#note-" in e.id)
    # Escaped by the XML writer: the text comes back exactly (less the control character).
    assert note.content[0].value.startswith("Upstream <b>fixed</b> & confirmed\n")
    notice = next(e for e in feed.entries if "#notice-" in e.id)
    assert notice.title == "Maintenance: DB upgrade"
    assert "Every provider" in notice.content[0].value


def test_private_providers_and_their_notices_stay_out(client, history):
    for url in ("/status/feed.atom", "/status/feed.rss"):
        body = client.get(url).get_data(as_text=True)
        assert "secret-relay" not in body and "SECRET-NOTICE" not in body
    assert client.get("/status/secret-relay/feed.atom").status_code == 404
    assert client.get("/status/nobody/feed.rss").status_code == 404


def test_the_atom_document_has_every_required_element(client, history):
    """RFC 4287 §4.1.1/4.1.2: a feed and each entry have id, title and updated; an author or
    content/alternate link so an entry stands alone."""
    root = ET.fromstring(client.get("/status/feed.atom").data)  # noqa: S314
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{name}") or "").strip(), name
    entries = root.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert entry.find(f"{ATOM}content") is not None
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))  # RFC 3339, with its offset


def test_the_rss_feed_is_valid_with_the_same_entries(client, history):
    response, feed = parse(client, "/status/feed.rss")
    assert response.mimetype == "application/rss+xml"
    assert feed.bozo == 0 and feed.version == "rss20"
    atom = feedparser.parse(client.get("/status/feed.atom").data)
    assert [e.id for e in feed.entries] == [e.id for e in atom.entries]  # guid = Atom id
    assert all(e.title and e.link and e.published_parsed for e in feed.entries)
    assert feed.feed.link == "http://localhost/status"


def test_ids_are_stable_between_requests_and_formats(client, history):
    first = [e.id for e in parse(client, "/status/feed.atom")[1].entries]
    from blueprints.status.pages import FEEDS

    FEEDS.clear()  # rendered afresh, not the cached copy
    second = [e.id for e in parse(client, "/status/feed.atom")[1].entries]
    assert first == second


def test_a_provider_feed_has_its_own_entries_and_global_notices(app, client, history, relays):
    other = relays("one-api")
    watch(app, other, ODD, key=False)
    _r, feed = parse(client, f"/status/{quote(ODD)}/feed.atom")
    assert feed.bozo == 0
    assert feed.feed.title == f"{ODD} status"
    assert [e.title for e in feed.entries] == ["Maintenance: DB upgrade"]  # global notice only
    links = {link.rel: link.href for link in feed.feed.links}
    assert unquote(links["alternate"]) == f"http://localhost/status/{ODD}"
    assert unquote(links["self"]) == f"http://localhost/status/{ODD}/feed.atom"
    assert client.get(links["alternate"]).status_code == 200  # the link leads to its page
    _r, fake_feed = parse(client, "/status/fake/feed.rss")
    assert fake_feed.bozo == 0 and any("Incident opened" in e.title for e in fake_feed.entries)
    # The same event has the same id in the provider's feed and in everyone's.
    everyone = {e.id for e in parse(client, "/status/feed.atom")[1].entries}
    assert {e.id for e in fake_feed.entries} <= everyone


def test_an_unchanged_feed_is_byte_for_byte_the_same(client, history):
    """A running (not yet ended) notice does not bump `updated` on every request: ETags hold."""
    from blueprints.status.pages import FEEDS

    first = client.get("/status/feed.atom")
    FEEDS.clear()
    second = client.get("/status/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304


def test_the_feed_speaks_the_readers_language(client, history):
    _r, zh = parse(client, "/status/feed.atom?lang=zh")
    _r, by_header = parse(client, "/status/feed.atom", **{"Accept-Language": "zh-CN"})
    _r, en = parse(client, "/status/feed.atom?lang=en")
    assert zh.feed.language == "zh-CN" and by_header.feed.language == "zh-CN"
    assert en.feed.language == "en"
    assert zh.feed.title != en.feed.title or zh.entries[0].title != en.entries[0].title
    # ?lang= stays in the self link (it picks the words); nothing else does.
    links = {link.rel: link.href for link in zh.feed.links}
    assert links["self"] == "http://localhost/status/feed.atom?lang=zh"
    assert client.get("/status/feed.atom?lang=xx").status_code == 400


def test_cache_headers_etag_and_rate_limit(app, client, history):
    response = client.get("/status/feed.atom")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    etag = response.headers["ETag"]
    again = client.get("/status/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert "Accept-Language" in response.headers["Vary"]
    since = client.get(
        "/status/feed.atom", headers={"If-Modified-Since": response.headers["Last-Modified"]}
    )
    assert since.status_code == 304


def test_feeds_are_rate_limited_like_the_status_page(tmp_path, fake):
    from tests.conftest import make_app

    limited = make_app(tmp_path, STATUS_RATE_LIMIT="2/minute", RATELIMIT_ENABLED=True)
    watch(limited, fake, key=False)
    client = limited.test_client()
    codes = [client.get("/status/fake/feed.atom").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_status_pages_link_to_their_feeds(client, history):
    html = client.get("/status").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/status/feed.atom"' in html and 'href="/status/feed.rss"' in html
    assert 'data-testid="subscribe"' in html
    page = client.get("/status/fake").get_data(as_text=True)
    assert 'href="/status/fake/feed.atom"' in page and 'data-testid="subscribe"' in page


def test_an_empty_feed_is_still_valid(client, fake, app):
    watch(app, fake, key=False)
    _r, feed = parse(client, "/status/feed.atom")
    assert feed.bozo == 0 and feed.entries == [] and feed.feed.updated_parsed
