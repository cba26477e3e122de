"""The playground in real Chromium: streamed tokens, schema checks, compare, Stop, under our CSP."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SOLUTION = {
    "steps": [
        {"explanation": "Subtract 7 from both sides", "output": "8x = -30"},
        {"explanation": "Divide both sides by 8", "output": "x = -3.75"},
    ],
    "final_answer": "x = -3.75",
}
SLOW = 15  # seconds: a whole slow stream, with room to spare


@pytest.fixture
def playground(page: Page, live_server, make_user, provider, fake, problems) -> Page:
    """Alice logged in through the real form, on the playground, with a pasted key typed in."""
    make_user("alice")
    page.goto(f"{live_server}/login")
    page.get_by_test_id("username").fill("alice")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("logout")).to_be_visible()
    page.goto(f"{live_server}/playground")
    expect(page.get_by_test_id("source-pasted")).to_be_checked()
    page.get_by_test_id("provider").select_option("fake")
    page.get_by_test_id("key").fill(fake.add_token().key)
    page.get_by_test_id("key").dispatch_event("change")  # loads the key's models
    expect(page.get_by_test_id("models-count")).to_be_visible()
    return page


def chunks_of(text: str, size: int = 9) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def answer_and_state(page: Page, index: int = 0) -> tuple[int, str]:
    """Length of a column's answer and the run state's text, read in one go."""
    return page.evaluate(
        "i => [document.querySelector(`[data-testid=answer-${i}]`).textContent.length,"
        " document.querySelector('[data-testid=run-state]').textContent]",
        index,
    )


def ask(page: Page, text: str) -> None:
    page.get_by_test_id("content").last.fill(text)


def test_the_math_reasoning_preset_streams_and_gets_a_final_check(playground: Page, fake, problems):
    """Tokens land one by one while the run streams; the finished answer passes the schema."""
    page = playground
    whole = json.dumps(SOLUTION)
    fake.script("gpt-4o", content=chunks_of(whole), first_delay=0.2, delay=0.15)
    page.get_by_test_id("preset").click()
    expect(page.get_by_test_id("model")).to_have_value("gpt-4o")  # the preset's model
    expect(page.get_by_test_id("format")).to_have_value("json_schema")
    expect(page.get_by_test_id("schema-name")).to_have_value("math_reasoning")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("Streaming")
    seen: list[int] = []
    partial_verdict = False
    deadline = time.monotonic() + SLOW
    while time.monotonic() < deadline:
        length, state = answer_and_state(page)
        if "Streaming" not in state:
            break
        if length and (not seen or length > seen[-1]):
            seen.append(length)
        partial_verdict |= page.locator("[data-testid=verdict-0] [data-final=no]").count() > 0
        page.wait_for_timeout(100)
    assert len(seen) >= 3, seen  # the answer grew while the run was still streaming
    assert partial_verdict  # checked as it streamed, not only at the end
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    # Shown indented once whole (json.dumps(indent=2) spells it as the page does).
    expect(page.get_by_test_id("answer-0")).to_have_text(json.dumps(SOLUTION, indent=2))
    verdict = page.locator("[data-testid=verdict-0] .verdict")
    expect(verdict).to_have_attribute("data-state", "ok")
    expect(verdict).to_have_attribute("data-final", "yes")
    expect(verdict).to_contain_text("✓ Matches the schema")
    expect(page.get_by_test_id("metrics-0")).to_be_visible()
    sent = json.loads(fake.requests_to("/v1/chat/completions")[-1].body)
    assert sent["response_format"]["json_schema"]["name"] == "math_reasoning"
    assert sent["stream"] is True
    # Kept for the next turn: the model's own text, not the indented copy.
    page.get_by_test_id("keep-0").click()
    kept = page.locator("#pg-messages [data-message]").nth(1).get_by_test_id("content")
    expect(kept).to_have_value(whole)
    assert problems == []


def test_compare_streams_two_models_side_by_side_and_diffs_them(playground: Page, fake, problems):
    """Two columns stream their own model's answer; the diff view follows."""
    page = playground
    fake.script("m-a", content=["the ", "quick ", "brown ", "fox"], delay=0.1)
    fake.script("m-b", content=["the ", "slow ", "brown ", "fox"], delay=0.1)
    page.get_by_test_id("model").fill("m-a")
    page.get_by_test_id("add-column").click()
    expect(page.get_by_test_id("model")).to_have_count(2)
    page.get_by_test_id("model").nth(1).fill("m-b")
    ask(page, "Describe a fox")
    page.get_by_test_id("run").click()
    left = page.get_by_test_id("column-0")
    right = page.get_by_test_id("column-1")
    expect(left.locator("h3")).to_have_text("m-a")
    expect(right.locator("h3")).to_have_text("m-b")
    expect(left.get_by_test_id("answer-0")).to_have_text("the quick brown fox", timeout=SLOW * 1000)
    expect(right.get_by_test_id("answer-1")).to_have_text("the slow brown fox", timeout=SLOW * 1000)
    diff = page.get_by_test_id("diff-view")
    expect(diff).to_be_visible()
    expect(diff.locator("del")).to_have_text("quick")
    expect(diff.locator("ins")).to_have_text("slow")
    expect(left.get_by_test_id("metrics-0")).to_be_visible()
    expect(right.get_by_test_id("metrics-1")).to_be_visible()
    models = {json.loads(r.body)["model"] for r in fake.requests_to("/v1/chat/completions")}
    assert models == {"m-a", "m-b"}
    assert problems == []


def test_stop_closes_the_stream_and_keeps_the_partial_answer(playground: Page, fake, problems):
    """Stop after a few tokens: nothing more arrives, the result says so, the relay saw us go."""
    page = playground
    fake.script("m-slow", content=[f"w{i} " for i in range(40)], delay=0.25)
    page.get_by_test_id("model").fill("m-slow")
    ask(page, "Count slowly")
    page.get_by_test_id("run").click()
    answer = page.get_by_test_id("answer-0")
    expect(answer).to_contain_text("w2 ", timeout=SLOW * 1000)
    page.get_by_test_id("stop").click()
    cut = page.get_by_test_id("cut-0")
    expect(cut).to_contain_text("Stopped by you", timeout=5000)
    expect(page.get_by_test_id("run-state")).to_contain_text("■ Stopped")
    stopped_at = answer.inner_text()
    page.wait_for_timeout(1000)  # four more chunks' worth of time
    assert answer.inner_text() == stopped_at
    assert "w39" not in stopped_at
    deadline = time.monotonic() + 3
    while not fake.hangups and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.hangups and fake.hangups[0][0] == "m-slow"
    assert fake.hangups[0][1] < 40
    assert problems == []


def test_the_csp_holds_and_a_violation_would_be_caught(playground: Page, fake, problems):
    """A whole run (htmx, its SSE extension, playground.js) breaks no CSP rule; the watch works."""
    page = playground
    fake.script("m-plain", content=["Hel", "lo"], delay=0.05)
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "Say hello")
    page.get_by_test_id("view-code").click()
    expect(page.get_by_test_id("code-view")).to_be_visible()
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("answer-0")).to_have_text("Hello")
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    page.get_by_test_id("raw-0").locator("summary").click()
    expect(page.get_by_test_id("raw-0")).to_contain_text("chat.completion")
    assert problems == []
    # The watch itself: an injected inline script is refused and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.leaked = 1'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.leaked") is None
    assert any(p.startswith("CSP: script-src") for p in problems), problems


def test_keeping_an_answer_adds_it_to_the_conversation(playground: Page, fake, problems):
    """The kept answer becomes an assistant message, followed by an empty user turn."""
    page = playground
    fake.script("m-plain", content=["Forty", "-two"], delay=0.05)
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "The answer?")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    rows = page.locator("#pg-messages [data-message]")
    expect(rows).to_have_count(1)
    page.get_by_test_id("keep-0").click()
    expect(rows).to_have_count(3)
    expect(rows.nth(1).get_by_test_id("role")).to_have_value("assistant")
    expect(rows.nth(1).get_by_test_id("content")).to_have_value("Forty-two")
    expect(rows.nth(2).get_by_test_id("role")).to_have_value("user")
    expect(rows.nth(2).get_by_test_id("content")).to_have_value("")
    expect(page.get_by_test_id("keep-0")).to_be_disabled()
    # The next run sends the whole conversation.
    ask(page, "And doubled?")
    first_run = page.locator("[data-run]").get_attribute("data-run")
    page.get_by_test_id("run").click()
    # The old run view says Finished too: wait for the new one first.
    expect(page.locator("[data-run]")).not_to_have_attribute("data-run", first_run)
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    sent = json.loads(fake.requests_to("/v1/chat/completions")[-1].body)["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("user", "The answer?"),
        ("assistant", "Forty-two"),
        ("user", "And doubled?"),
    ]
    assert problems == []


def test_the_playground_speaks_chinese(playground: Page, fake, problems):
    """Switching to 中文 translates the page and what the stream renders."""
    page = playground
    fake.script("m-plain", content=["你好"], delay=0.05)
    page.get_by_test_id("lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("试验场")
    expect(page.get_by_test_id("run")).to_contain_text("运行")
    page.get_by_test_id("key").fill(fake.add_token().key)
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "问好")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("answer-0")).to_have_text("你好")
    expect(page.get_by_test_id("run-state")).to_contain_text("已完成")
    expect(page.get_by_test_id("metrics-0")).to_contain_text("首个 token")
    assert problems == []


def test_hidden_controls_are_hidden(playground: Page, fake, problems):
    """The schema editor shows only for json_schema; Stop goes away once the run is over."""
    page = playground
    fake.script("m-plain", content=["ok"])
    expect(page.get_by_test_id("format")).to_have_value("none")
    expect(page.get_by_test_id("schema")).to_be_hidden()
    page.get_by_test_id("format").select_option("json_schema")
    expect(page.get_by_test_id("schema")).to_be_visible()
    page.get_by_test_id("format").select_option("none")
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "Say ok")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    expect(page.get_by_test_id("stop")).to_be_hidden()
    assert problems == []


def test_a_failed_run_is_headed_as_failed(playground: Page, fake, problems):
    """A model the relay has no channel for: the header says ✗ Failed, never ✓ Finished."""
    page = playground
    page.get_by_test_id("model").fill("no-such-model")
    ask(page, "Say ok")
    page.get_by_test_id("run").click()
    state = page.get_by_test_id("run-state")
    expect(state).to_contain_text("✗ Failed")
    expect(state).to_have_attribute("data-outcome", "failed")
    assert problems == []


def test_the_streaming_answer_is_in_view_at_1366x900_without_scrolling(
    playground: Page, fake, problems
):
    """Conversation and answer in the main column, every setting beside them: no scrolling."""
    page = playground
    page.set_viewport_size({"width": 1366, "height": 900})
    fake.script("m-slow", content=[f"w{i} " for i in range(60)], delay=0.2)
    page.get_by_test_id("model").fill("m-slow")
    ask(page, "Count slowly")
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_test_id("run").click()
    answer = page.get_by_test_id("answer-0")
    expect(answer).to_contain_text("w2 ", timeout=SLOW * 1000)
    expect(page.get_by_test_id("run-state")).to_contain_text("Streaming")  # still mid-stream
    expect(answer).to_be_in_viewport()
    box = answer.bounding_box()
    assert box is not None and box["y"] + 3 * 16 < 900, box  # room for its first lines
    assert page.evaluate("window.scrollY") == 0
    # The settings sit in a side panel to the right of the answer, parameters open.
    side = page.get_by_test_id("settings").bounding_box()
    assert side is not None and side["x"] >= box["x"] + box["width"], (side, box)
    expect(page.get_by_test_id("param-temperature")).to_be_visible()
    expect(page.get_by_test_id("more-settings-toggle")).to_be_hidden()
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("■ Stopped")
    assert problems == []


def test_view_code_opens_beside_the_run_and_copy_buttons_copy(playground: Page, fake, problems):
    """View code leaves the answer in place; Copy puts a snippet or the answer on the clipboard."""
    page = playground
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    fake.script("m-plain", content=["Forty", "-two"], delay=0.05)
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "The answer?")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("✓ Finished")
    page.get_by_test_id("view-code").click()
    drawer = page.get_by_test_id("code-drawer")
    expect(drawer.get_by_test_id("code-view")).to_be_visible()
    expect(page.get_by_test_id("answer-0")).to_have_text("Forty-two")  # the run is still there
    expect(page.get_by_test_id("answer-0")).to_be_visible()
    curl = drawer.get_by_test_id("code-curl")
    expect(curl).to_contain_text("m-plain")
    drawer.get_by_test_id("copy-curl").click()
    expect(drawer.get_by_test_id("copy-curl")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == curl.text_content()
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()
    page.get_by_test_id("view-code").click()
    expect(drawer).to_be_visible()
    drawer.get_by_test_id("close-code").click()
    expect(drawer).to_be_hidden()
    page.get_by_test_id("copy-answer-0").click()
    expect(page.get_by_test_id("copy-answer-0")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "Forty-two"
    assert problems == []


def _beside(page: Page, box_id: str) -> None:
    """The checkbox or radio is small and on the same line as its label's words."""
    box = page.get_by_test_id(box_id).bounding_box()
    label = page.get_by_test_id(box_id).locator("xpath=..").bounding_box()
    assert box is not None and label is not None
    assert box["width"] < 30, (box_id, box)
    assert label["height"] < 2 * box["height"] + 12, (box_id, box, label)  # one line, not two
    assert label["x"] <= box["x"] < label["x"] + 10, (box_id, box, label)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_phone_folds_the_settings_and_never_scrolls_sideways(
    playground: Page, fake, problems, lang
):
    """390 px: parameters fold away, radios sit beside their words, nothing is wider."""
    page = playground
    fake.script("m-plain", content=['{"a": [1, 2]}'], delay=0.05)
    if lang == "zh":
        page.get_by_test_id("lang-zh").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.get_by_test_id("key").fill(fake.add_token().key)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("param-temperature")).to_be_hidden()
    page.get_by_test_id("more-settings-toggle").click()
    expect(page.get_by_test_id("param-temperature")).to_be_visible()
    _beside(page, "source-pasted")
    _beside(page, "stream")
    page.get_by_test_id("model").fill("m-plain")
    ask(page, "JSON please")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("run-state")).to_contain_text("✓" if lang == "en" else "已完成")
    expect(page.get_by_test_id("answer-0")).to_have_text('{\n  "a": [\n    1,\n    2\n  ]\n}')
    expect(page.get_by_test_id("answer-0")).to_be_in_viewport()  # brought into view
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("view-code").click()
    expect(page.get_by_test_id("code-view")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert problems == []


def test_the_monitor_page_puts_its_checkboxes_beside_their_labels(
    page: Page, live_server, make_user, provider
):
    """The same rule fixes the admin Monitor form (its checkboxes were centred above the words)."""
    make_user("root", admin=True)
    page.goto(f"{live_server}/login")
    page.get_by_test_id("username").fill("root")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("login").click()
    page.goto(f"{live_server}/admin/providers")
    page.get_by_test_id("monitor").first.click()
    _beside(page, "enabled")
    _beside(page, "public")
