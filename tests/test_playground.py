"""The playground end to end: form → run → SSE stream from the real fake relay, on real SQLite."""

from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest

from blueprints.auth.service import create_user
from blueprints.keys.models import TrackedKey
from blueprints.playground.schema import MATH_REASONING
from blueprints.providers.models import Provider
from blueprints.providers.prices import set_prices
from blueprints.providers.service import add_provider
from database import db
from tests.conftest import PASSWORD, login, make_app

SOLUTION = {
    "steps": [
        {"explanation": "Subtract 7 from both sides", "output": "8x = -30"},
        {"explanation": "Divide by 8", "output": "x = -3.75"},
    ],
    "final_answer": "x = -3.75",
}


@pytest.fixture
def member(client, make_user, provider):
    make_user("alice")
    login(client, "alice")
    return client


def chunks_of(text: str, size: int = 9) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def form(fake, *, models=("m-plain",), **extra) -> dict:
    data = {
        "source": "pasted",
        "provider": "fake",
        "key": extra.pop("key", None) or fake.add_token().key,
        "model": list(models),
        "system": "You are terse.",
        "role": ["user"],
        "content": ["Say hello"],
        "stream": "1",
        "format": "none",
        "repeat": "1",
    }
    data.update(extra)
    return data


def run(client, data) -> tuple[str, dict[str, list[str]]]:
    """POST the run, then read its whole stream: (run page html, {event: [data, …]})."""
    page = client.post("/playground/run", data=data)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    url = re.search(r'sse-connect="([^"]+)"', html)[1]
    stream = client.get(url)
    assert stream.status_code == 200
    assert stream.mimetype == "text/event-stream"
    assert stream.headers["Cache-Control"] == "no-store"
    return html, parse_sse(stream.get_data(as_text=True))


def parse_sse(body: str) -> dict[str, list[str]]:
    events: dict[str, list[str]] = {}
    for block in body.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if name:
            events.setdefault(name, []).append("\n".join(data))
    return events


def text(events: dict, name: str) -> str:
    """Joined HTML-escaped text of a token event, unescaped."""
    import html as html_lib  # noqa: PLC0415 - only this helper needs it

    return html_lib.unescape("".join(events.get(name, [])))


def assert_stopped(body: str, fake) -> None:
    """The stream of a stopped m-slow run: some words, "Stopped by you", the relay hung up on."""
    events = parse_sse(body)
    assert 0 < len(events["c0-content"]) < 40
    assert "Stopped by you" in events["c0-result"][0]
    deadline = time.monotonic() + 3
    while not fake.hangups and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.hangups and fake.hangups[0][0] == "m-slow"


# -- access -------------------------------------------------------------------------------------


def test_it_needs_a_login_unless_public(client, tmp_path, fake):
    assert client.get("/playground").status_code == 302
    assert client.post("/playground/run", data={}).status_code in (302, 401)
    (tmp_path / "public").mkdir()
    public = make_app(tmp_path / "public", PLAYGROUND_PUBLIC=True)
    page = public.test_client().get("/playground")
    assert page.status_code == 200 and 'href="/playground"' in page.get_data(as_text=True)
    assert 'href="/playground"' not in client.get("/").get_data(as_text=True)


def test_the_page_offers_providers_tracked_keys_masked_and_the_preset(member, app, fake):
    secret = fake.add_token().key
    with app.app_context():
        provider = db.session.scalar(db.select(Provider))
        user_id = db.session.scalar(db.text("select id from app_user"))
        db.session.add(
            TrackedKey.sealed(secret, user_id=user_id, provider_id=provider.id, label="mine")
        )
        db.session.commit()
    page = member.get("/playground")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "mine" in html and secret[:6] + "…" + secret[-4:] in html
    assert secret not in html
    assert "math_reasoning" in html and 'hx-ext="sse"' not in html


# -- streaming -----------------------------------------------------------------------------------


def test_a_run_says_whether_it_failed_partly_failed_or_finished(member, fake):
    """The outcome event (before done) names what the header shows: a model the relay has no
    channel for fails, beside a working one the run is partly failed."""
    fake.script("m-plain", content=["ok"])
    _html, events = run(member, form(fake, models=("no-such-model",)))
    assert events["outcome"] == ["failed"]
    _html, events = run(member, form(fake, models=("m-plain", "no-such-model")))
    assert events["outcome"] == ["partial"]
    _html, events = run(member, form(fake, models=("m-plain",)))
    assert events["outcome"] == ["ok"]


def test_it_streams_tokens_then_metrics_from_the_usage_chunk(member, fake):
    fake.script(
        "m-plain", content=["Hel", "lo", " there"], first_delay=0.2, delay=0.05, completion_tokens=3
    )
    html, events = run(member, form(fake))
    assert "m-plain" in html and "curl" in html
    assert text(events, "c0-content") == "Hello there"
    assert events["outcome"] == ["ok"]
    result = events["c0-result"][0]
    assert 'data-metric="ttft"' in result
    ttft = float(re.search(r'data-metric="ttft">(\d+) ms', result)[1])
    assert ttft >= 190  # the scripted first-chunk delay, measured on the server
    assert "from the relay" in result and "estimated" not in result
    sent = json.loads(fake.requests_to("/v1/chat/completions")[-1].body)
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}


def test_without_a_usage_chunk_tokens_are_estimated(member, fake):
    fake.script("m-plain", content=["one ", "two ", "three"], usage="never")
    _html, events = run(member, form(fake))
    assert 'data-testid="estimated-0"' in events["c0-result"][0]


def test_the_stream_url_works_once(member, fake):
    fake.script("m-plain", content=["hi"])
    page = member.post("/playground/run", data=form(fake))
    url = re.search(r'sse-connect="([^"]+)"', page.get_data(as_text=True))[1]
    assert member.get(url).status_code == 200
    assert member.get(url).status_code == 204  # EventSource stops retrying on 204


def test_reasoning_is_shown_apart_from_the_answer(member, fake):
    fake.script("m-think", reasoning=["Let me ", "think."], content=["42"])
    _html, events = run(member, form(fake, models=("m-think",)))
    assert text(events, "c0-reasoning") == "Let me think."
    assert text(events, "c0-content") == "42"


def test_a_reset_mid_stream_keeps_the_partial_answer_marked_cut_off(member, fake):
    fake.script("m-plain", content=["alpha ", "beta ", "gamma ", "delta"], end="reset_after:2")
    _html, events = run(member, form(fake))
    assert text(events, "c0-content") == "alpha beta "
    assert 'data-testid="cut-0"' in events["c0-result"][0]


def test_an_error_before_the_stream_explains_and_offers_the_models(member, fake):
    fake.script("m-plain", content=["hi"])
    _html, events = run(member, form(fake, models=("no-such-model",)))
    result = events["c0-result"][0]
    assert 'data-testid="error-0"' in result
    assert "no-such-model" in result  # the relay's own message is quoted
    assert 'data-testid="offered-0"' in result and "m-plain" in result


# -- structured output ---------------------------------------------------------------------------


def preset_form(fake, model: str) -> dict:
    spec = MATH_REASONING["response_format"]["json_schema"]
    return form(
        fake,
        models=(model,),
        system=MATH_REASONING["system"],
        content=[MATH_REASONING["user"]],
        format="json_schema",
        schema_name=spec["name"],
        schema_strict="1",
        schema=json.dumps(spec["schema"]),
    )


def test_the_math_reasoning_preset_streams_and_passes_the_schema(member, fake):
    fake.script("m-json", content=chunks_of(json.dumps(SOLUTION)), delay=0.01)
    _html, events = run(member, preset_form(fake, "m-json"))
    assert json.loads(text(events, "c0-content")) == SOLUTION
    final = events["c0-verdict"][-1]
    assert 'data-state="ok"' in final and 'data-final="yes"' in final
    sent = json.loads(fake.requests_to("/v1/chat/completions")[-1].body)
    assert sent["response_format"] == MATH_REASONING["response_format"]


def test_a_model_that_ignores_the_schema_gets_every_failing_path(member, fake):
    wrong = {"steps": [{"explanation": "x", "output": 1, "extra": True}], "note": "z"}
    fake.script("m-wrong", content=chunks_of(json.dumps(wrong)), delay=0.01)
    _html, events = run(member, preset_form(fake, "m-wrong"))
    final = events["c0-verdict"][-1]
    assert 'data-state="invalid"' in final
    for path in ("$.steps[0].output", "$.steps[0]", "$"):
        assert f"<code>{path}</code>" in final
    assert "missing required" in final and "wrong type" in final and "extra property" in final


def test_a_bad_schema_is_refused_and_nothing_is_sent(member, fake):
    data = preset_form(fake, "m-json")
    data["schema"] = json.dumps({"type": "objekt"})
    answer = member.post("/playground/run", data=data)
    assert answer.status_code == 400
    assert 'data-testid="schema-problems"' in answer.get_data(as_text=True)
    assert fake.requests_to("/v1/chat/completions") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", "9"),
        ("temperature", "nan"),
        ("max_tokens", "x"),
        ("max_tokens", "0"),
        ("repeat", "11"),
        ("schema", "{not json"),
        ("schema", '{"type": "number", "maximum": 1e999}'),
        ("format", "xml"),
        ("role", "system"),
    ],
)
def test_bad_parameters_get_a_clear_400(member, fake, field, value):
    data = preset_form(fake, "m-json") if field == "schema" else form(fake)
    data[field] = value
    answer = member.post("/playground/run", data=data)
    assert answer.status_code == 400 and 'data-testid="refused"' in answer.get_data(as_text=True)
    assert fake.requests_to("/v1/chat/completions") == []


# -- compare, repeat, stop -------------------------------------------------------------------------


def test_compare_runs_columns_in_parallel_and_diffs_them(member, fake):
    fake.script("m-a", content=["the quick ", "brown fox"], first_delay=0.8)
    fake.script("m-b", content=["the slow ", "brown fox"], first_delay=0.8)
    html, events = run(member, form(fake, models=("m-a", "m-b")))
    calls = fake.requests_to("/v1/chat/completions")
    # In parallel: the second call reached the relay while the first was still in its 0.8 s wait.
    assert abs(calls[1].at - calls[0].at) < 0.8
    assert 'data-testid="column-1"' in html
    assert text(events, "c0-content") == "the quick brown fox"
    assert text(events, "c1-content") == "the slow brown fox"
    assert "<del>" in events["diff"][0] and "<ins>" in events["diff"][0]


def test_repeat_runs_n_times_with_p50_and_p95(member, fake):
    fake.script("m-plain", content=["a", "b", "c", "d"], delay=0.01)
    _html, events = run(member, form(fake, repeat="3"))
    assert len(events["c0-repeat"]) == 3
    assert "p50" in events["c0-result"][0] and "p95" in events["c0-result"][0]
    assert len(fake.requests_to("/v1/chat/completions")) == 3


def test_stop_closes_the_upstream_connection(member, fake):
    fake.script("m-slow", content=[f"w{i} " for i in range(40)], delay=0.25)
    page = member.post("/playground/run", data=form(fake, models=("m-slow",)))
    html = page.get_data(as_text=True)
    url = re.search(r'sse-connect="([^"]+)"', html)[1]
    run_id = re.search(r'data-run="([^"]+)"', html)[1]
    body: list[str] = []
    reader = threading.Thread(target=lambda: body.append(member.get(url).get_data(as_text=True)))
    reader.start()
    time.sleep(0.8)
    assert member.post(f"/playground/runs/{run_id}/stop").status_code == 204
    reader.join(5)
    assert not reader.is_alive()
    assert_stopped(body[0], fake)


# -- keys, prices, privacy -----------------------------------------------------------------------


def test_the_key_select_never_preselects_a_dead_key(member, app, fake):
    """A disabled key tracked first and a working one second: the working one comes first (the
    select preselects it); the disabled one is still offered, saying so."""
    with app.app_context():
        provider = db.session.scalar(db.select(Provider))
        user_id = db.session.scalar(db.text("select id from app_user"))
        for label, status in (("old-dead", "disabled"), ("fresh", "active")):
            db.session.add(
                TrackedKey.sealed(
                    fake.add_token().key,
                    user_id=user_id,
                    provider_id=provider.id,
                    label=label,
                    status=status,
                )
            )
        db.session.commit()
    html = member.get("/playground").get_data(as_text=True)
    select = html.split('data-testid="key-id"')[1].split("</select>")[0]
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    assert options[0].startswith("fresh") and options[1].startswith("old-dead")
    assert options[1].endswith("— Disabled") and "—" not in options[0]


def test_a_tracked_key_is_decrypted_on_the_server_only(member, app, fake):
    secret = fake.add_token().key
    fake.script("m-plain", content=["ok"])
    with app.app_context():
        provider = db.session.scalar(db.select(Provider))
        user_id = db.session.scalar(db.text("select id from app_user"))
        key = TrackedKey.sealed(secret, user_id=user_id, provider_id=provider.id, label="t")
        db.session.add(key)
        db.session.commit()
        key_id = key.id
    data = form(fake, source="tracked", key_id=str(key_id), key="")
    html, events = run(member, data)
    assert secret not in html and secret not in "".join(sum(events.values(), []))
    assert (
        fake.requests_to("/v1/chat/completions")[-1].headers["Authorization"] == f"Bearer {secret}"
    )


def test_someone_elses_tracked_key_is_refused(member, app, fake, make_user):
    make_user("bob")
    with app.app_context():
        provider = db.session.scalar(db.select(Provider))
        bob = db.session.scalar(db.text("select id from app_user where username = 'bob'"))
        key = TrackedKey.sealed(
            fake.add_token().key, user_id=bob, provider_id=provider.id, label="b"
        )
        db.session.add(key)
        db.session.commit()
        key_id = key.id
    answer = member.post("/playground/run", data=form(fake, source="tracked", key_id=str(key_id)))
    assert answer.status_code == 400


def test_a_price_table_gives_a_cost_estimate(member, app, fake):
    fake.script("m-plain", content=["a", "b", "c"], prompt_tokens=1000, completion_tokens=500)
    with app.app_context():
        set_prices(db.session.scalar(db.select(Provider)), {"m-plain": (2.0, 8.0)})
    _html, events = run(member, form(fake))
    cost = re.search(r'data-metric="cost">([0-9.]+)', events["c0-result"][0])[1]
    assert float(cost) == pytest.approx(1000 * 2 / 1e6 + 500 * 8 / 1e6)


def test_no_prompt_answer_or_key_reaches_a_log_line(member, fake, caplog):
    caplog.set_level(logging.DEBUG)
    key = fake.add_token().key
    fake.script("m-plain", content=["SECRET-ANSWER-", "TEXT"])
    run(member, form(fake, key=key, content=["SECRET-PROMPT-TEXT"]))
    fake.script("m-bad", content=["x"], end="reset_after:0")
    run(member, form(fake, key=key, models=("m-bad",), content=["SECRET-PROMPT-TEXT"]))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("SECRET-PROMPT-TEXT", "SECRET-ANSWER-", key):
        assert secret not in logged


def test_view_code_sends_nothing_and_matches_the_run_body(member, fake):
    fake.script("m-plain", content=["hi"])
    data = form(fake, temperature="0.3", stop="END\nSTOP")
    code = member.post("/playground/code", data=data)
    assert code.status_code == 200 and fake.requests_to("/v1/chat/completions") == []
    curl = re.search(r'data-testid="code-curl">(.*?)</pre>', code.get_data(as_text=True), re.S)[1]
    run(member, data)
    sent = json.loads(fake.requests_to("/v1/chat/completions")[-1].body)
    import html as html_lib  # noqa: PLC0415

    literal = re.search(r"--data-binary '(.*)'", html_lib.unescape(curl), re.S)[1]
    literal = literal.replace("'\"'\"'", "'")
    assert json.loads(literal) == sent


def test_model_list_is_loaded_and_cached(member, fake):
    fake.script("m-plain", content=["hi"])
    data = form(fake)
    first = member.post("/playground/models", data=data)
    assert first.status_code == 200 and "m-plain" in first.get_data(as_text=True)
    calls = len(fake.requests_to("/v1/models"))
    member.post("/playground/models", data=data)
    assert len(fake.requests_to("/v1/models")) == calls


def test_a_long_prompt_fits_with_csrf_on(tmp_path, fake):
    """70 KB is under the playground's 1 MiB, though over the app's 64 KiB: the app-wide CSRF
    check reads the form before any blueprint hook, so the limit is raised before it runs."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True)
    with app.app_context():
        add_provider("fake", fake.url + "/v1")
        create_user("alice", PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form_login = {"username": "alice", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form_login).status_code == 303
    fake.script("m-plain", content=["hi"])
    long = form(fake, content=["x" * 70_000], csrf_token=token)
    assert client.post("/playground/code", data=long).status_code == 200
    assert client.post("/playground/run", data=long).status_code == 200
    huge = form(fake, content=["x" * (1024 * 1024 + 1)], csrf_token=token)
    assert client.post("/playground/run", data=huge).status_code == 413
    # A guest (the playground is for members here) keeps the app-wide limit.
    guest = app.test_client().post("/playground/run", data={"content": "x" * 70_000})
    assert guest.status_code == 413
