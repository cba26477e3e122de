"""The status pages in real Chromium: day bars, self-refresh through htmx, badges, charts, CSP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.test_status import passes, watch

pytestmark = pytest.mark.browser

POLL_MS = 31_000  # just past the board's `every 30s`


def earlier(minutes: int) -> datetime:
    """A few minutes ago, but never yesterday (today's bar must hold the probes)."""
    now = datetime.now(UTC)
    return max(now - timedelta(minutes=minutes), now.replace(hour=0, minute=0, second=0))


@pytest.fixture
def watched(app, fake) -> str:
    """'fake' monitored and public, probed once a few minutes ago (healthy): its name."""
    watch(app, fake, key=False)
    passes(app, earlier(3), 1)
    return "fake"


def board_requests(page: Page) -> list[dict[str, str]]:
    """The headers of every request the page makes for /status itself, as they happen."""
    seen: list[dict[str, str]] = []

    def note(request) -> None:
        if request.url.split("?")[0].endswith("/status"):
            seen.append(request.headers)

    page.on("request", note)
    return seen


def session_cookie(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "session")


def test_the_status_page_shows_the_card_bars_and_uptime(page: Page, live_server, watched, problems):
    """One card: the state pill, 90 day-bars (today green, no-data days grey), uptime per window."""
    page.goto(f"{live_server}/status")
    card = page.get_by_test_id(f"provider-{watched}")
    expect(card).to_be_visible()
    expect(card.locator(".pill").first).to_have_attribute("data-state", "up")
    expect(page.get_by_test_id("banner")).to_have_text("All systems operational")
    rects = card.get_by_test_id("bars").locator("rect")
    expect(rects).to_have_count(90)
    colors = rects.evaluate_all("rs => rs.map(r => r.dataset.color)")
    assert colors[-1] == "green"
    assert set(colors[:-1]) == {"grey"}
    assert card.get_by_test_id("bars").bounding_box()["width"] > 100  # drawn, not collapsed
    hover = rects.last.locator("title").text_content()
    assert hover.startswith(f"{datetime.now(UTC).date().isoformat()}: 100.00% up"), hover
    # Minutes of probes: 100 % of them, and each window says how little it holds (not a bare 100).
    for window in ("24h", "7d", "30d", "90d"):
        expect(card.locator(f"dd[data-window='{window}']")).to_have_text(
            re.compile(r"^100\.00% \(\d+ min of data\)$")
        )
    assert problems == []


def test_the_board_refreshes_itself_through_htmx_without_a_reload(
    page: Page, live_server, app, fake, watched, problems
):
    """30 s later (a fast-forwarded clock) htmx swaps in a new board that shows the outage."""
    page.clock.install()
    page.goto(f"{live_server}/status")
    board = page.get_by_test_id("status-board")
    card = page.get_by_test_id(f"provider-{watched}")
    expect(card.locator(".pill").first).to_have_attribute("data-state", "up")
    expect(card.get_by_test_id("incident")).to_have_count(0)
    generated = board.get_attribute("data-generated")
    page.evaluate("() => { window.sameDocument = true; }")  # a reload would forget it
    polls = board_requests(page)
    fake.set_fault("*", "503")
    passes(app, earlier(2), 2)  # two failures in a row: down
    page.clock.fast_forward(POLL_MS)
    expect(card.locator(".pill").first).to_have_attribute("data-state", "down")
    expect(page.get_by_test_id("banner")).to_have_text("Major outage")
    expect(card.get_by_test_id("incident")).to_have_count(1)
    assert board.get_attribute("data-generated") > generated  # ISO times in UTC sort
    assert page.evaluate("() => window.sameDocument") is True
    assert [p.get("hx-request") for p in polls] == ["true"]
    expect(page.locator("#status-board")).to_have_count(1)  # outerHTML: replaced, not nested
    expect(page.locator("header.top")).to_have_count(1)  # the partial, not a whole page
    assert problems == []


def test_a_poll_soon_after_a_visit_swaps_in_the_board_not_a_cached_page(
    page: Page, live_server, watched
):
    """Back on the tab within 15 s of a visit: the refresh must still be the bare board."""
    page.goto(f"{live_server}/status")  # the first visit sets the tz cookie
    for _attempt in range(10):  # the session cookie is re-signed each second; keep it steady
        before = session_cookie(page)
        page.goto(f"{live_server}/status")
        if session_cookie(page) == before:
            break
    else:
        pytest.fail("the session cookie changed on every visit")
    expect(page.locator("header.top")).to_have_count(1)
    page.evaluate(
        "() => new Promise(done => {"
        " document.body.addEventListener('htmx:afterSettle', done, {once: true});"
        " document.dispatchEvent(new Event('visibilitychange')); })"
    )
    expect(page.get_by_test_id("status-board")).to_have_count(1)
    expect(page.locator("header.top")).to_have_count(1)


def test_a_hidden_tab_does_not_poll_and_catches_up_when_shown(
    page: Page, live_server, watched, problems
):
    """While hidden, 30 s pass with no request; showing the tab refreshes the board once."""
    page.add_init_script(
        "window.fakeHidden = false;"
        "Object.defineProperty(Document.prototype, 'hidden', {get: () => window.fakeHidden});"
        "Object.defineProperty(Document.prototype, 'visibilityState',"
        " {get: () => (window.fakeHidden ? 'hidden' : 'visible')});"
    )
    page.clock.install()
    page.goto(f"{live_server}/status")
    board = page.get_by_test_id("status-board")
    expect(board).to_be_visible()
    # Nothing changed meanwhile, so the new board carries the same data: watch the element.
    page.evaluate("() => { window.oldBoard = document.getElementById('status-board'); }")
    polls = board_requests(page)
    page.evaluate(
        "() => { window.fakeHidden = true; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.clock.fast_forward(POLL_MS)
    page.clock.fast_forward(POLL_MS)
    page.wait_for_timeout(500)  # room for a request that should not come
    assert polls == []
    page.evaluate(
        "() => { window.fakeHidden = false;"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.wait_for_function("() => document.getElementById('status-board') !== window.oldBoard")
    assert len(polls) == 1, polls
    assert problems == []


def test_the_badge_renders_on_the_provider_page_and_alone(
    page: Page, live_server, watched, problems
):
    """The page's <img> badge decodes to a real image; badge.svg is served as image/svg+xml."""
    page.goto(f"{live_server}/status/{watched}")
    badge = page.get_by_test_id("badge")
    expect(badge).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=badge]');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert badge.evaluate("i => i.naturalHeight") == 20
    for query in ("", "?metric=uptime&window=30d"):
        url = f"{live_server}/status/{watched}/badge.svg{query}"
        response = page.request.get(url)
        assert response.status == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        size = page.evaluate(
            "async url => { const i = new Image(); i.src = url; await i.decode();"
            " return [i.naturalWidth, i.naturalHeight]; }",
            url,
        )
        assert size[0] > 40 and size[1] == 20, size
    status = page.request.get(f"{live_server}/status/{watched}/badge.svg").text()
    assert f'aria-label="{watched}: up"' in status
    assert problems == []


def test_the_provider_page_draws_its_charts_under_the_csp(
    page: Page, live_server, app, watched, problems
):
    """Latency and uptime become Plotly SVGs with no console error or CSP violation."""
    passes(app, earlier(2), 2)
    page.goto(f"{live_server}/status/{watched}")
    for name in ("latency", "uptime"):
        expect(page.locator(f"[data-testid=chart-{name}] svg.main-svg").first).to_be_visible()
    page.get_by_test_id("range-7d").click()
    expect(page.get_by_test_id("range-7d")).to_have_class("button is-on")
    for name in ("latency", "uptime"):
        expect(page.locator(f"[data-testid=chart-{name}] svg.main-svg").first).to_be_visible()
    assert "range=7d" in page.url
    # In Chinese: Plotly's zh-CN locale and our day ticks ("12月7日", not Plotly's "十二 7").
    page.context.add_cookies([{"name": "lang", "value": "zh_CN", "url": live_server}])
    page.goto(f"{live_server}/status/{watched}")
    ticks = page.locator("[data-testid=chart-uptime] .xtick text")
    expect(ticks.first).to_have_text(re.compile(r"^\d{1,2}月\d{1,2}日$"))
    assert not any("十二" in t or "十一" in t for t in ticks.all_text_contents())
    assert problems == []
