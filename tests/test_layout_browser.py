"""The header on a 390 px phone, logged in as an admin, in both languages: no page scrolls
sideways, every link is behind the Menu button, and the wide header is back at 1366 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page: Page, live_server: str, lang: str) -> None:
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server}])
    page.goto(live_server + "/login")
    page.get_by_test_id("username").fill("root")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("logout")).to_be_visible()


@pytest.mark.parametrize("lang,admin_label", [("en", "Admin"), ("zh_CN", "管理")])
def test_a_phone_gets_a_menu_and_no_page_scrolls_sideways(
    page: Page, live_server, make_user, lang, admin_label
):
    make_user("root", admin=True)
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, live_server, lang)
    for path in (
        "/",
        "/batch",
        "/status",
        "/keys",
        "/usage",
        "/alerts",
        "/admin/providers",
        "/api",
    ):
        page.goto(live_server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    menu = page.get_by_test_id("menu")
    expect(menu).to_be_visible()
    link = menu.get_by_role("link", name=admin_label)
    expect(link).to_be_hidden()
    menu.locator("summary").click()
    expect(link).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    link.click()
    expect(page).to_have_url(live_server + "/admin/providers")
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(menu).to_be_hidden()
    expect(page.locator("nav.nav").get_by_role("link", name=admin_label)).to_be_visible()
