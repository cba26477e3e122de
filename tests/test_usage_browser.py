"""Usage charts in real Chromium: Plotly draws under our CSP, and a range switch redraws."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.test_usage import history  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


def test_it_draws_the_charts_and_redraws_on_a_range_switch(page: Page, live_server, history):  # noqa: F811
    """Every chart becomes a Plotly SVG; switching to 7 d swaps the report and redraws it."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/login")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    page.goto(f"{live_server}/usage/{history}?range=30d&tz=UTC")
    for name in ("remaining", "spend", "models", "tokens", "requests"):
        expect(page.locator(f"[data-testid=chart-{name}] svg.main-svg").first).to_be_visible()
    before = page.get_by_test_id("span").inner_text()
    page.locator("[data-range='7d']").click()
    expect(page.get_by_test_id("span")).not_to_have_text(before)
    expect(page.locator("[data-testid=chart-spend] svg.main-svg").first).to_be_visible()
    assert "range=7d" in page.url
    assert problems == []


def _log_in(page: Page, live_server: str, lang: str) -> None:
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    page.goto(f"{live_server}/login")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("logout")).to_be_visible()


def test_chinese_pages_get_plotlys_zh_cn_locale(page: Page, live_server, history):  # noqa: F811
    """zh: the vendored locale loads and the modebar speaks Chinese; en pages never load it."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    _log_in(page, live_server, "zh_CN")
    page.goto(f"{live_server}/usage/{history}?range=7d&tz=UTC")
    chart = page.get_by_test_id("chart-spend")
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    chart.hover()
    expect(chart.locator(".modebar-btn[data-title='重置轴']")).to_have_count(1)
    assert "月" in chart.locator(".xtick text").first.text_content()
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server}])
    page.goto(f"{live_server}/usage/{history}?range=7d&tz=UTC")
    expect(page.locator("[data-testid=chart-spend] svg.main-svg").first).to_be_visible()
    assert page.locator("script[data-testid=plotly-locale]").count() == 0
    page.get_by_test_id("chart-spend").hover()
    expect(
        page.locator("[data-testid=chart-spend] .modebar-btn[data-title='Reset axes']")
    ).to_have_count(1)
    assert problems == []


def test_one_day_of_data_draws_a_point_and_readable_ticks(page: Page, live_server, app):
    """A key tracked for minutes: the reading is a visible marker, ticks are days and hours."""
    from tests.test_usage_sources import make_late_key

    key_id = make_late_key(app, drop=0.5)
    _log_in(page, live_server, "en")
    page.goto(f"{live_server}/usage/{key_id}?range=24h&tz=UTC")
    remaining = page.get_by_test_id("chart-remaining")
    expect(remaining.locator("svg.main-svg").first).to_be_visible()
    assert remaining.locator(".scatterlayer .point").count() >= 1
    for name in ("remaining", "spend", "models", "tokens", "requests"):
        ticks = page.locator(f"[data-testid=chart-{name}] .xtick text").all_text_contents()
        assert ticks and not any("59:59" in t or ".000" in t for t in ticks), (name, ticks)


def test_a_known_zero_day_is_marked_not_blank(page: Page, live_server, app):
    """Logged costs, today at $0: today gets a baseline mark (a gap would get none), no legend."""
    from tests.test_usage_sources import make_late_key

    key_id = make_late_key(app)
    _log_in(page, live_server, "en")
    page.goto(f"{live_server}/usage/{key_id}?range=7d&tz=UTC")
    spend = page.get_by_test_id("chart-spend")
    expect(spend.locator("svg.main-svg").first).to_be_visible()
    expect(spend.locator(".scatterlayer .point")).to_have_count(1)
    assert spend.locator(".legend").count() == 0
    # the models chart has no zero day: no mark there
    assert page.locator("[data-testid=chart-models] .scatterlayer .point").count() == 0
