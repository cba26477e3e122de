"""The embeddable status widget: a framable, script-free card; every other page stays unframable."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.test_status import passes, watch

ODD = 'Ünï <b>&"x"'
SHOTS = Path("/work/notes/shots-widget")


@pytest.fixture
def watched(app, fake) -> str:
    fake.script("m-1", content=["a", "b"])
    watch(app, fake, "fake", models=["m-1", "m-2"])
    passes(app, datetime.now(UTC) - timedelta(minutes=3), 1)
    return "fake"


def test_the_widget_is_a_small_card_with_state_uptime_and_models(client, watched):
    response = client.get("/status/fake/widget")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="widget-state"' in html and 'data-state="' in html
    assert 'data-window="24h"' in html and 'data-window="30d"' in html
    assert re.search(r"100\.00% \(\d+ min of data\)", html)  # coverage, as on the status page
    assert re.search(r"\d/2 models up", html)
    assert re.search(r"Checked \d{4}-\d\d-\d\d \d\d:\d\d UTC<", html)  # UTC by default, labelled
    assert 'target="_blank" rel="noopener"' in html
    assert 'href="http://localhost/status/fake"' in html
    assert "<script" not in html and " style=" not in html  # CSP-safe: no JS, no inline style
    assert response.headers["Cache-Control"].startswith("public")
    assert "Set-Cookie" not in response.headers  # nothing of a session in someone else's page


def test_only_the_widget_may_be_framed(client, watched):
    widget = client.get("/status/fake/widget")
    csp = widget.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "'none'" not in csp.split("frame-ancestors")[1]
    assert "X-Frame-Options" not in widget.headers
    assert "script-src 'self' 'nonce-" in csp  # the rest of the policy is the same
    for url in ("/status", "/status/fake", "/status/fake/badge.svg", "/status/nobody/widget"):
        response = client.get(url)
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], url


def test_private_and_unknown_providers_have_no_widget(app, client, relays):
    watch(app, relays("one-api"), "secret-relay", key=False, public=False)
    assert client.get("/status/secret-relay/widget").status_code == 404
    assert client.get("/status/nobody/widget").status_code == 404


def test_zone_and_theme_are_checked(client, watched):
    shanghai = client.get("/status/fake/widget?tz=Asia/Shanghai").get_data(as_text=True)
    assert re.search(r"Checked \d{4}-\d\d-\d\d \d\d:\d\d UTC\+8<", shanghai)
    dark = client.get("/status/fake/widget?theme=dark").get_data(as_text=True)
    assert 'class="widget widget--dark"' in dark
    for query in ("tz=Mars/Base", "tz=" + "A" * 100, "theme=pink", "tz=../../etc/passwd"):
        response = client.get(f"/status/fake/widget?{query}")
        assert response.status_code == 400, query


def test_odd_names_are_escaped_and_reachable(app, client, relays):
    watch(app, relays("one-api"), ODD, key=False)
    response = client.get(f"/status/{quote(ODD)}/widget")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ünï &lt;b&gt;&amp;&#34;x&#34;" in html and "<b>&" not in html


@pytest.fixture
def embedder() -> Iterator[Callable[[str], str]]:
    """Another site on this machine (another port, `localhost`: another origin) whose page frames
    a URL in a 320×120 iframe. A real server: Chromium will not let a page with no address (a
    routed or about:blank one) frame a local one."""
    servers = []

    def serve(url: str) -> str:
        body = (
            "<!doctype html><style>body{margin:16px;background:#888}iframe{border:0}</style>"
            f'<iframe src="{url}" width="320" height="120" title="status"></iframe>'
        ).encode()

        class Page(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_port}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_widget_fits_an_iframe_elsewhere(
    page: Page, live_server, watched, problems, scheme, embedder
):
    """In a 320×120 iframe on another origin's page: drawn, no scrollbars, no CSP complaint."""
    page.emulate_media(color_scheme=scheme)
    page.goto(embedder(f"{live_server}/status/fake/widget"))
    frame = page.frame_locator("iframe")
    expect(frame.get_by_test_id("widget-state")).to_be_visible()
    inner = page.frames[1]
    sizes = inner.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
        " getComputedStyle(document.body).backgroundColor]"
    )
    assert sizes[0] <= 320 and sizes[1] <= 120, sizes
    assert (sizes[2] == "rgb(23, 26, 33)") == (scheme == "dark"), sizes
    link = frame.get_by_test_id("widget-link")
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SHOTS / f"widget-{scheme}.png"), clip={"x": 0, "y": 0, "width": 360, "height": 160}
    )
    assert problems == []
