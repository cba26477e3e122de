"""A relay that echoes the key: relay/ masks it before a page, JSON, stream or log line sees it."""

from __future__ import annotations

import json
import logging
import re

import pytest
import requests

from blueprints.providers.service import add_provider
from relay import http
from relay.chat import ChatCall
from relay.redact import key_parts, redact, redact_data
from tests.conftest import login
from tests.fakerelay import make_logs
from tests.test_playground import form, run

KEY = "sk-" + "EchoEchoEcho" * 4
BARE = KEY.removeprefix("sk-")


@pytest.fixture
def echo(relays):
    """A new-api 2026 relay whose error texts quote the key (as sent, and without sk-)."""
    return relays("new-api-2026", echo_key=True)


def clean(*texts: str) -> bool:
    """True when no text holds the key, even without its sk- prefix."""
    return all(BARE not in text for text in texts)


# -- the masking itself --------------------------------------------------------------------------


def test_it_masks_the_key_sent_and_anything_key_shaped():
    hidden = key_parts(KEY, "short", None)
    assert hidden == (BARE,)  # a few letters are no key: masking them would garble the text
    said = f"bad key {KEY}, token {BARE}, other sk-{'o' * 20}, risk-assessment stays"
    assert redact(said, hidden) == "bad key sk-***, token ***, other sk-***, risk-assessment stays"
    data = {"error": {"message": f"no {KEY}", BARE: [f"x{BARE}y", 3, None]}}
    assert redact_data(data, hidden) == {
        "error": {"message": "no sk-***", "***": ["x***y", 3, None]}
    }


def test_the_fake_relay_echoes_the_key_when_asked(echo):
    """The knob works: without relay/'s masking the key would be in the reply."""
    reply = requests.get(echo.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 401 and KEY in reply.text and f"token {BARE}" in reply.text


def test_answers_carry_no_echoed_key(echo, relays):
    """Message and data of every Answer are masked, the key sent in a header or in ?key=."""
    answer = http.get(echo.url, "/v1/models", key=KEY)
    assert answer.kind == http.DENIED and "sk-***" in answer.message
    assert clean(answer.message, json.dumps(answer.data))
    answer = http.get(echo.url, "/api/usage/token", key=KEY)
    assert clean(answer.message, json.dumps(answer.data))
    old = relays("new-api-2025")  # its log read takes ?key=; rows that quote the key
    old.add_token(KEY, logs=make_logs(2, token_name=KEY))
    answer = http.get(old.url, "/api/log/token", params={"key": KEY})
    assert [row["token_name"] for row in answer.data["data"]] == ["sk-***"] * 2


def test_a_key_spelt_in_json_escapes_is_masked_too():
    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    body = ('{"error": {"message": "bad key ' + escaped + '"}}').encode()
    answer = http.classify("/v1/models", 401, {}, body, hidden=key_parts(KEY))
    assert answer.message == "bad key sk-***"


def chat_body(model: str, *, stream: bool = False) -> bytes:
    messages = [{"role": "user", "content": "x"}]
    return json.dumps({"model": model, "messages": messages, "stream": stream}).encode()


def test_chat_errors_and_stream_lines_carry_no_echoed_key(echo):
    token = echo.add_token(KEY)
    echo.script("m-cut", content=["a", "b"], end="error_after:1")
    events = list(ChatCall(echo.url, KEY, chat_body("m-cut", stream=True)).events())
    error = next(e for e in events if e.kind == "error")
    assert "sk-***" in error.answer.message
    assert clean(*(e.raw for e in events), *(json.dumps(e.data) for e in events))
    assert clean(error.answer.message, json.dumps(error.answer.data))
    # refused before any stream: a model the key may not use
    token.models = ["m-cut"]
    events = list(ChatCall(echo.url, KEY, chat_body("m-other")).events())
    assert events[-1].kind == "error" and "sk-***" in events[-1].answer.message
    assert clean(events[-1].answer.message, json.dumps(events[-1].answer.data))


# -- everything people and scripts see -----------------------------------------------------------


def test_lookups_show_no_echoed_key(app, client, echo, relays, caplog):
    """Lookup page, fragment, request log, API JSON, batch (HTML and NDJSON), and the log lines."""
    caplog.set_level(logging.DEBUG)
    old = relays("new-api-2025", echo_key=True)  # its log read takes ?key=
    spent = "sk-" + "SpentSpent12" * 4
    named = "sk-" + "NamedNamed34" * 4
    echo.add_token(spent, remain_quota=0, used_quota=10)
    echo.add_token(named, name=named)  # a token named after its key: the name is relay text too
    old.add_token(KEY, logs=make_logs(3, token_name=KEY))
    with app.app_context():
        add_provider("echo", echo.url)
        add_provider("old", old.url)
    seen = []
    for provider, key in (("echo", KEY), ("echo", spent), ("echo", named), ("old", KEY)):
        form_data = {"provider": provider, "key": key, "tz": "UTC"}
        replies = [
            client.post("/lookup", data=form_data),
            client.post("/lookup", data=form_data, headers={"HX-Request": "true"}),
            client.post("/lookup/log", data=form_data, headers={"HX-Request": "true"}),
            client.post("/api/v1/lookup", json={"provider": provider, "key": key}),
            client.post("/api/v1/lookup/batch", json={"provider": provider, "keys": [key]}),
            client.post("/batch", data={"provider": provider, "keys": key}),
            client.post(
                "/batch",
                data={"provider": provider, "keys": key},
                headers={"Accept": "application/x-ndjson"},
            ),
        ]
        for reply in replies:
            assert reply.status_code < 500
            text = reply.get_data(as_text=True)
            assert key.removeprefix("sk-") not in text, (reply.request.path, provider)
            seen.append(text)
    assert any("sk-***" in text for text in seen)  # the token name, masked
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for key in (KEY, spent, named):
        assert key.removeprefix("sk-") not in logged


def test_the_playground_shows_no_echoed_key(client, make_user, provider, fake, relays, caplog, app):
    """A refused run quotes the relay's text with the key masked; so do the model list and Raw."""
    caplog.set_level(logging.DEBUG)
    echo = relays("new-api-2026", echo_key=True)
    with app.app_context():
        add_provider("echo", echo.url)
    make_user("alice")
    login(client, "alice")
    echo.add_token(KEY, models=["m-ok", "m-cut"])
    echo.script("m-ok", content=["hi"])
    echo.script("m-cut", content=["a"], end="error_after:1")
    seen = []
    for model in ("m-none", "m-cut"):
        html, events = run(client, form(echo, key=KEY, provider="echo", models=(model,)))
        seen += [html, *(data for values in events.values() for data in values)]
    refused = next(text for text in seen if 'data-testid="error-0"' in text)
    assert re.search(r"sk-\*\*\*", refused), refused  # the relay's own words, key masked
    models = client.post(
        "/playground/models", data=form(echo, key="sk-" + "Z" * 40, provider="echo")
    )
    seen.append(models.get_data(as_text=True))
    assert "sk-***" in seen[-1]
    assert clean(*seen) and "Z" * 40 not in seen[-1]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert clean(logged)
