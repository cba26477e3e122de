"""The lookup in real Chromium (Playwright, /usr/bin/chromium): what a person sees and clicks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.fakerelay import make_logs

pytestmark = pytest.mark.browser
USD = 500000


@pytest.fixture
def watched(page: Page) -> list[str]:
    """Console errors and CSP violations seen by the page (there should be none)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_it_shows_the_balance_after_typing_a_key(page: Page, live_server, provider, fake, watched):
    """Type a key, press Look up, see the balance card and then the request log."""
    token = fake.add_token(
        remain_quota=12 * USD,
        used_quota=3 * USD,
        logs=make_logs(30, start=int(time.time()) - 86400),
    )
    page.goto(live_server + "/")
    page.get_by_test_id("key").fill(token.key)
    page.get_by_test_id("lookup").click()
    expect(page.get_by_test_id("remaining")).to_have_text("$12.00")
    expect(page.get_by_test_id("result")).to_have_attribute("data-status", "active")
    expect(page.get_by_test_id("cny")).to_contain_text("≈ ¥42.00")
    # The key never shows up in the page, the URL or the history entry.
    assert token.key not in page.content()
    assert token.key not in page.url
    # The request log loads lazily under the card, and sorting works in place.
    expect(page.get_by_test_id("log-table")).to_be_visible()
    expect(page.get_by_test_id("page")).to_contain_text("1")
    page.locator("[data-sort=cost]").click()
    expect(page.locator("[data-sort=cost]")).to_have_class("sort sort--desc")
    assert watched == []


def test_the_request_log_keeps_its_date_range_while_sorting_and_paging(
    page: Page, live_server, provider, fake, watched
):
    """Pick a day, Show these days: the sums shrink; sorting and paging keep the range."""
    # Hourly rows from 72 h to 13 h ago: the day before yesterday (local) is wholly inside.
    token = fake.add_token(logs=make_logs(60, start=int(time.time()) - 3 * 86400, step=3600))
    page.goto(live_server + "/")
    page.get_by_test_id("key").fill(token.key)
    page.get_by_test_id("lookup").click()
    expect(page.get_by_test_id("log-table")).to_be_visible()
    day = page.evaluate("() => new Date(Date.now() - 2 * 86400000).toLocaleDateString('sv')")
    page.get_by_test_id("log-from").fill(day)
    page.get_by_test_id("log-to").fill(day)
    page.get_by_test_id("log-apply").click()
    expect(page.get_by_test_id("log-range-note")).to_contain_text(day)
    expect(page.locator(".log__head p")).to_contain_text("24 requests")
    page.locator("[data-sort=cost]").click()
    expect(page.locator("[data-sort=cost]")).to_have_class("sort sort--desc")
    expect(page.locator(".log__head p")).to_contain_text("24 requests")
    expect(page.get_by_test_id("log-from")).to_have_value(day)
    page.get_by_test_id("log-all").click()
    expect(page.locator(".log__head p")).to_contain_text("60 requests")
    assert watched == []


def test_it_explains_an_invalid_key(page: Page, live_server, provider, watched):
    """A key the relay does not know shows the explanation, not a crash."""
    page.goto(live_server + "/")
    page.get_by_test_id("key").fill("sk-" + "q" * 48)
    page.get_by_test_id("lookup").click()
    expect(page.get_by_test_id("result")).to_have_attribute("data-status", "invalid")
    expect(page.get_by_test_id("explanation")).to_contain_text("does not recognise this key")
    assert watched == []


def test_it_switches_between_chinese_and_english(page: Page, live_server, provider, watched):
    """The header switch changes the language, and the choice sticks across pages."""
    page.goto(live_server + "/")
    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("lookup")).to_have_text("查询")
    page.goto(live_server + "/batch")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Check many keys at once")
    assert watched == []


def test_it_fills_the_batch_table_as_results_arrive(
    page: Page, live_server, provider, fake, watched
):
    """Paste keys; every row fills in, then the CSV link appears."""
    keys = [fake.add_token(remain_quota=(i + 1) * USD, used_quota=0).key for i in range(4)]
    keys.append("sk-" + "z" * 48)
    page.goto(live_server + "/batch")
    page.get_by_test_id("keys").fill("\n".join(keys) + "\n" + keys[0])
    page.get_by_test_id("batch-run").click()
    expect(page.get_by_test_id("batch-csv")).to_be_visible()
    rows = page.locator("[data-testid=batch-table] tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator("tr[data-status=active]")).to_have_count(4)
    expect(page.locator("tr[data-status=invalid]")).to_have_count(1)
    assert not any(key in page.content() for key in keys)
    with page.expect_download() as download:
        page.get_by_test_id("batch-csv").click()
    sheet = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(sheet) == 6 and sheet[0].startswith("key,status")
    assert not any(key in "".join(sheet) for key in keys)
    assert watched == []
