"""Times in the viewer's zone, saying which: the `tz` cookie as our script writes it (and as it
wrote it before, percent-encoded), and the labels pages put on their times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_babel import refresh

from blueprints.core.i18n import select_timezone
from blueprints.shared.times import local, offset_label, time_tag
from tests.conftest import login


@pytest.mark.parametrize(
    "cookie,zone",
    [
        ("Asia/Shanghai", "Asia/Shanghai"),
        ("Asia%2FShanghai", "Asia/Shanghai"),  # encodeURIComponent, as app.js wrote it
        ("America%2FArgentina%2FBuenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Mars%2FOlympus", None),
        ("%ZZ", None),
        ("", None),
    ],
)
def test_the_zone_cookie_is_read_encoded_or_not(app, cookie, zone):
    with app.test_request_context("/", headers={"Cookie": f"tz={cookie}"}):
        assert select_timezone() == zone


def test_a_time_says_its_zone_and_offset(app):
    """19:16 in Shanghai for 11:16 UTC, labelled UTC+8; half-hour zones and UTC too."""
    moment = datetime(2026, 12, 7, 11, 16, 5, tzinfo=UTC)
    for cookie, text in [
        ("Asia/Shanghai", "2026-12-07 19:16 UTC+8"),
        ("Asia/Kolkata", "2026-12-07 16:46 UTC+5:30"),
        ("America/St_Johns", "2026-12-07 07:46 UTC-3:30"),
        ("Nope/Nowhere", "2026-12-07 11:16 UTC"),
    ]:
        with app.test_request_context("/", headers={"Cookie": f"tz={cookie}"}):
            refresh()
            assert local(moment) == text
            assert offset_label(moment) == text.split(" ")[-1]
            tag = str(time_tag(moment, seconds=True))
            assert tag.startswith('<time datetime="2026-12-07T11:16:05+00:00" title="')
            assert ":05 UTC" in tag
    with app.test_request_context("/"):
        assert str(time_tag(None)) == "—"


def test_the_admin_users_page_shows_times_in_the_cookies_zone(app, client, make_user):
    """Created and last login in Asia/Shanghai, labelled, not UTC in US short dates."""
    make_user("root", admin=True)
    client.set_cookie("tz", "Asia%2FShanghai")
    login(client, "root")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "UTC+8" in page and 'title="Asia/Shanghai"' in page
    assert " PM<" not in page and " AM<" not in page


def test_the_status_page_says_which_zone_its_times_are_in(app, client):
    """One note per status page: the viewer's zone and its offset (UTC when none is known)."""
    client.set_cookie("tz", "Asia%2FShanghai")
    page = client.get("/status").get_data(as_text=True)
    assert "Times in Asia/Shanghai, UTC+8." in page
    client.delete_cookie("tz")
    assert "Times in UTC." in client.get("/status").get_data(as_text=True)


def test_the_usage_pages_group_days_in_the_cookies_zone(app, client, make_user):
    """/usage reads the same cookie, encoded or not: its zone picker stands on Asia/Shanghai."""
    make_user("alice")
    login(client, "alice")
    for cookie in ("Asia%2FShanghai", "Asia/Shanghai"):
        client.set_cookie("tz", cookie)
        page = client.get("/usage").get_data(as_text=True)
        assert '<option value="Asia/Shanghai" selected>' in page, cookie
        assert '<option value="UTC" selected>' not in page
