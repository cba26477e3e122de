"""The status board's words and numbers: the headline grade, coverage, reasons, charts, reuse."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from blueprints.status import board, grade, publish_notice
from blueprints.status.grade import overall
from blueprints.status.pages import uptime_text
from tests.test_status import passes, watch


def banner(client, path: str = "/status") -> tuple[str, str]:
    """(grade, text) of the page's banner."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'data-grade="(\w+)">(.*?)</div>', page, re.S)
    assert found, page[:500]
    return found.group(1), found.group(2)


def earlier(minutes: int) -> datetime:
    """A few minutes ago, but never yesterday (today's bar must hold the probes)."""
    now = datetime.now(UTC)
    return max(now - timedelta(minutes=minutes), now.replace(hour=0, minute=0, second=0))


# -- the headline grade ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({"a": "up", "b": "up"}, ("up", [])),
        ({"a": "up", "b": "degraded", "c": "degraded"}, ("degraded", ["b", "c"])),
        ({"a": "up", "b": "down", "c": "degraded"}, ("partial", ["b"])),
        ({"a": "down", "b": "down"}, ("down", ["a", "b"])),
        ({"a": "down", "b": "maintenance"}, ("down", ["a"])),  # all that is watched is down
        ({"a": "down", "b": "unknown"}, ("partial", ["a"])),  # no data is not down
        ({"a": "up", "b": "maintenance"}, ("maintenance", ["b"])),
        ({"a": "up", "b": "unknown"}, ("up", [])),
        ({"a": "unknown"}, ("unknown", [])),
        ({}, ("unknown", [])),
    ],
)
def test_the_grade_follows_kuma_and_statuspage(states, expected):
    assert overall(states) == expected


def test_one_provider_of_seven_down_is_a_partial_outage_named(app, client, relays):
    fakes = {f"relay-{i}": relays("one-api") for i in range(7)}
    for name, relay_ in fakes.items():
        watch(app, relay_, name, key=False)
    fakes["relay-3"].set_fault("*", "503")
    passes(app, earlier(3), 2)
    assert banner(client) == ("partial", "Partial outage: relay-3")
    for name in ("relay-0", "relay-1", "relay-2", "relay-4"):
        fakes[name].set_fault("*", "503")
    passes(app, earlier(1), 2)
    assert banner(client) == (
        "partial",
        "Partial outage: relay-0, relay-1, relay-2, and 2 more",
    )
    for relay_ in fakes.values():
        relay_.set_fault("*", "503")
    passes(app, earlier(0), 2)
    assert banner(client) == ("down", "Major outage")
    assert client.get("/status.json").get_json()["overall"] == "down"


def test_names_in_the_banner_are_escaped(app, client, relays):
    bad, good = relays("one-api"), relays("one-api")
    watch(app, bad, "<b>x</b>&co", key=False)
    watch(app, good, "fine", key=False)
    bad.set_fault("*", "503")
    passes(app, earlier(2), 2)
    grade_, text = banner(client)
    assert grade_ == "partial" and "<b>" not in text
    assert html.unescape(text) == "Partial outage: <b>x</b>&co"


def test_only_degraded_names_the_degraded_and_says_why_beside_a_green_day(app, client, relays):
    """A model answering empty degrades the provider while its own probes (the bar) stay green."""
    shaky, fine = relays("one-api"), relays("one-api")
    shaky.script("m-empty", content=[])
    watch(app, shaky, "shaky", models=["m-empty"])
    watch(app, fine, "fine", key=False)
    passes(app, earlier(3), 3)
    assert banner(client) == ("degraded", "Degraded: shaky")
    page = client.get("/status").get_data(as_text=True)
    card = page[page.index('data-testid="provider-shaky"') :]
    card = card[: card.index("</section>")]
    assert 'data-state="degraded"' in card
    assert re.findall(r'data-color="(\w+)"', card)[-1] == "green"  # today: the provider's own
    why = re.search(r'data-testid="reasons">(.*?)</ul>', card, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", why)).strip() == (
        "m-empty: Degraded · empty answers"
    )


def test_a_model_after_one_failed_probe_is_not_no_data_yet(app, client, fake):
    fake.script("m-1", content=[])
    watch(app, fake, models=["m-1"])  # down_after = 2: one bad probe changes no state
    passes(app, earlier(1), 1)
    page = client.get("/status").get_data(as_text=True)
    table = page[page.index('data-testid="models-fake"') :]
    row = table[: table.index("</tr>", table.index("<tbody>"))]
    assert "Last probe failed" in row and "No data yet" not in row
    assert 'title="empty answers"' in row
    for label in ("Model", "State", "TTFT p50", "tok/s p50", "Last check"):
        assert f'data-label="{label}"' in row  # the phone layout labels every cell


# -- coverage ----------------------------------------------------------------------------------


def test_uptime_says_how_little_of_the_window_probes_cover(app, client, fake):
    watch(app, fake, key=False)
    start = earlier(40)
    passes(app, start, 2, step=datetime.now(UTC) - start - timedelta(seconds=5))
    page = client.get("/status").get_data(as_text=True)
    minutes = (datetime.now(UTC) - start.replace(second=0, microsecond=0)) // timedelta(minutes=1)
    for window in ("24h", "7d", "30d", "90d"):
        text = re.search(rf'data-window="{window}">(.*?)</dd>', page).group(1)
        assert text in {f"100.00% ({m} min of data)" for m in (minutes, minutes + 1)}, text
    feed = client.get("/status.json").get_json()["providers"][0]
    assert feed["uptime"]["30d"] == 1.0
    assert 0 < feed["coverage"]["30d"] * 30 * 24 * 60 <= minutes + 1
    badge = client.get("/status/fake/badge.svg?metric=uptime&window=30d").get_data(as_text=True)
    assert "min of data)" in badge


# -- charts ------------------------------------------------------------------------------------


def figures(client, path: str) -> dict[str, dict]:
    page = client.get(path).get_data(as_text=True)
    found = re.findall(r'data-figure="([^"]*)" data-testid="chart-(\w+)"', page)
    return {name: json.loads(html.unescape(figure)) for figure, name in found}


def test_one_point_gets_a_marker_and_the_whole_range_on_its_axis(app, client, fake):
    watch(app, fake, key=False)
    passes(app, earlier(1), 1)
    latency = figures(client, "/status/fake?range=24h")["latency"]
    p50 = latency["data"][0]
    assert len(p50["y"]) == 1 and p50["marker"]["size"] == [7]
    low, high = (datetime.fromisoformat(t) for t in latency["layout"]["xaxis"]["range"])
    assert timedelta(hours=23, minutes=59) < high - low <= timedelta(hours=24)
    assert "<sub>Times in UTC.</sub>" in latency["layout"]["title"]["text"]


def test_a_day_down_throughout_is_a_full_red_bar(app, client, fake):
    fake.set_fault("*", "503")
    watch(app, fake, key=False)
    passes(app, earlier(2), 2)
    uptime = figures(client, "/status/fake")["uptime"]
    up, down = uptime["data"]
    assert up["y"] == [0.0] and down["y"] == [100.0] and uptime["layout"]["barmode"] == "stack"
    assert up["width"] == down["width"] > 12 * 3600 * 1000  # most of a day wide, not a hairline
    low, high = uptime["layout"]["xaxis"]["range"]
    span = datetime.fromisoformat(high) - datetime.fromisoformat(low)
    assert span >= timedelta(days=7)  # one day is not stretched over the whole axis


# -- the board is rendered once per probe pass ---------------------------------------------------


def test_the_board_is_reused_until_a_probe_or_an_edit_changes_it(app, client, fake, monkeypatch):
    watch(app, fake, key=False)
    passes(app, earlier(2), 1)
    built = []
    real = board.build
    monkeypatch.setattr(board, "build", lambda *a, **k: built.append(1) or real(*a, **k))
    first = client.get("/status").get_data(as_text=True)
    again = client.get("/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert len(built) == 1 and again in first  # the poll gets the same board, not rebuilt
    fake.set_fault("*", "503")
    passes(app, earlier(1), 2)
    assert 'data-state="down"' in client.get("/status").get_data(as_text=True)
    assert len(built) == 2
    with app.app_context():
        publish_notice(None, kind="announcement", title="Planned work", body="", hours=None)
    assert "Planned work" in client.get("/status").get_data(as_text=True)
    assert len(built) == 3
    assert client.get("/status?page=1", headers={"Accept-Language": "zh-CN"}).status_code == 200


def test_reasons_come_from_the_open_incident(app):
    class Row:
        def __init__(self, model, state, last_error):
            self.model, self.state, self.last_error = model, state, last_error

    own = Row("", "up", None)
    models = [Row("a", "down", None), Row("b", "up", None), Row("c", "unknown", "timeout")]
    got = grade.reasons(own, models, {"a": "http_5xx"})
    assert got == [grade.Reason("a", "down", "http_5xx"), grade.Reason("c", "unknown", "timeout")]


def test_the_span_of_data_is_rounded_down_never_up_to_the_window(app):
    with app.test_request_context("/status"):
        assert uptime_text(1.0, 1.0, "24h") == "100.00%"
        assert uptime_text(0.5, None, "7d") == "50.00%"
        assert uptime_text(1.0, (23 * 60 + 40) / 1440, "24h") == "100.00% (23 hr of data)"
        assert uptime_text(1.0, 40 / (30 * 1440), "30d") == "100.00% (40 min of data)"
        assert uptime_text(0.9995, 50 / 90, "90d") == "99.95% (7 wks of data)"
        assert uptime_text(None, None, "30d") is None
