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
