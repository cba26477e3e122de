"""Tests for the fake relay itself, so other tests can trust it."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.fakerelay import (
    DEFAULT_GROUP_MODELS,
    FLAVORS,
    UPSTREAM_ERROR,
    FakeRelay,
    Token,
    make_logs,
)

RID = re.compile(r" \(request id: [0-9a-z]{26}\)$")


@pytest.fixture
def relay_factory() -> Iterator[Callable[..., FakeRelay]]:
    """Start fake relays on demand and stop them all afterwards."""
    started: list[FakeRelay] = []

    def make(flavor: str = "new-api-2026", **kwargs: object) -> FakeRelay:
        relay = FakeRelay(flavor, **kwargs).start()  # type: ignore[arg-type]
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def bearer(token: Token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.key}"}


def sse_events(resp: requests.Response) -> list[str]:
    return [line[6:] for line in resp.iter_lines(decode_unicode=True) if line.startswith("data: ")]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_status_fingerprint(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    body = http.get(f"{relay.url}/api/status", timeout=2).json()
    data = body["data"]
    assert body["success"] is True
    assert data["quota_per_unit"] == 500000
    assert data["display_in_currency"] is True
    if flavor == "one-api":
        assert data["version"] == "v0.6.10"
        assert "chat_link" in data
        assert "setup" not in data and "quota_display_type" not in data
    elif flavor == "new-api-2025":
        assert data["version"] == "v0.6.6"
        assert data["setup"] is True and data["enable_data_export"] is True
        assert "quota_display_type" not in data
    else:
        assert data["version"] == "v0.10.9"
        assert data["setup"] is True
        assert data["quota_display_type"] == "USD"
        assert data["usd_exchange_rate"] == 7.3


def test_billing_pair_amounts(relay_factory, http):
    relay = relay_factory()
    expiry = int(time.time()) + 3600
    token = relay.add_token(remain_quota=4_500_000, used_quota=500_000, expired_time=expiry)
    unlimited = relay.add_token(unlimited=True, used_quota=250_000)
    sub = http.get(f"{relay.url}/v1/dashboard/billing/subscription", headers=bearer(token))
    assert sub.status_code == 200
    assert sub.json() == {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": 10,
        "hard_limit_usd": 10,
        "system_hard_limit_usd": 10,
        "access_until": expiry,
    }
    usage = http.get(
        f"{relay.url}/dashboard/billing/usage?start_date=2025-01-01&end_date=2025-01-02",
        headers=bearer(token),
    )
    assert usage.json() == {"object": "list", "total_usage": 100}
    sub = http.get(f"{relay.url}/v1/dashboard/billing/subscription", headers=bearer(unlimited))
    assert sub.json()["hard_limit_usd"] == 100000000
    assert sub.json()["access_until"] == 0
    usage = http.get(f"{relay.url}/v1/dashboard/billing/usage", headers=bearer(unlimited))
    assert usage.json()["total_usage"] == 50


@pytest.mark.parametrize(
    ("flavor", "kwargs", "hard", "total_usage"),
    [
        ("new-api-2026", {"display": "CNY"}, 73, 730),
        ("new-api-2026", {"display": "TOKENS"}, 5_000_000, 50_000_000),
        ("new-api-2026", {"display": "CUSTOM"}, 10, 100),
        ("one-api", {"display_in_currency": False}, 5_000_000, 50_000_000),
        ("new-api-2025", {}, 10, 100),
        # one-api's user mode reports only the remaining user quota
        ("one-api", {"token_stat": False}, 100, 300),
        ("new-api-2025", {"token_stat": False}, 103, 300),
    ],
)
def test_billing_units_and_modes(relay_factory, http, flavor, kwargs, hard, total_usage):
    relay = relay_factory(flavor, **kwargs)
    token = relay.add_token(remain_quota=4_500_000, used_quota=500_000)
    sub = http.get(f"{relay.url}/v1/dashboard/billing/subscription", headers=bearer(token))
    usage = http.get(f"{relay.url}/v1/dashboard/billing/usage", headers=bearer(token))
    assert sub.json()["hard_limit_usd"] == pytest.approx(hard)
    assert usage.json()["total_usage"] == pytest.approx(total_usage)


@pytest.mark.parametrize(
    ("flavor", "lang", "fields", "text"),
    [
        ("one-api", "zh", None, "无效的令牌"),
        ("new-api-2025", "zh", {"expired_time": 1000}, "该令牌已过期"),
        ("new-api-2025", "zh", {"status": "disabled"}, "该令牌状态不可用"),
        ("one-api", "zh", {"remain_quota": 0}, "该令牌额度已用尽"),
        ("new-api-2025", "en", {"status": "expired"}, "Token expired"),
        ("new-api-2026", "en", {"remain_quota": 0}, "Invalid token"),
        ("new-api-2026", "zh", "missing", "未提供令牌"),
    ],
)
def test_token_auth_401(relay_factory, http, flavor, lang, fields, text):
    relay = relay_factory(flavor, lang=lang)
    headers = {"Authorization": "Bearer sk-" + "x" * 48}
    if fields == "missing":
        headers = {}
    elif fields is not None:
        headers = bearer(relay.add_token(**fields))
    resp = http.get(f"{relay.url}/v1/dashboard/billing/subscription", headers=headers)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert RID.sub("", error["message"]) == text
    assert error["type"] == ("one_api_error" if flavor == "one-api" else "new_api_error")
    assert ("code" in error) == (flavor == "new-api-2026")


def test_exhausted_text_new_api(relay_factory, http):
    relay = relay_factory("new-api-2025")
    token = relay.add_token(name="prod", remain_quota=-5, token_id=42)
    resp = http.get(f"{relay.url}/v1/dashboard/billing/usage", headers=bearer(token))
    assert resp.status_code == 401
    message = resp.json()["error"]["message"]
    assert message.startswith("令牌 prod（#42）额度已用尽 [sk-")
    assert token.key[3:] not in message


@pytest.mark.parametrize("flavor", ["one-api", "new-api-2025"])
def test_usage_token_missing_on_old_flavors(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token()
    resp = http.get(f"{relay.url}/api/usage/token/", headers=bearer(token))
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Invalid URL (GET /api/usage/token/)"


def test_usage_token_readonly_auth(relay_factory, http):
    relay = relay_factory()
    expired = relay.add_token(name="old", expired_time=1000, used_quota=7, models=["gpt-4o"])
    exhausted = relay.add_token(remain_quota=0, used_quota=9)
    disabled = relay.add_token(status="disabled")
    resp = http.get(f"{relay.url}/api/usage/token/", headers=bearer(expired))
    assert resp.status_code == 200
    assert resp.json() == {
        "code": True,
        "message": "ok",
        "data": {
            "object": "token_usage",
            "name": "old",
            "total_granted": 5_000_007,
            "total_used": 7,
            "total_available": 5_000_000,
            "unlimited_quota": False,
            "model_limits": {"gpt-4o": True},
            "model_limits_enabled": True,
            "expires_at": 1000,
        },
    }
    resp = http.get(f"{relay.url}/api/usage/token", headers=bearer(exhausted))
    assert resp.json()["data"]["total_available"] == 0
    cases = [
        ({}, "No Authorization header"),
        ({"Authorization": "sk-abc"}, "Invalid Bearer token"),
        ({"Authorization": "Bearer sk-nope"}, "Invalid token"),
        (bearer(disabled), "该令牌状态不可用"),
    ]
    for headers, message in cases:
        resp = http.get(f"{relay.url}/api/usage/token", headers=headers)
        assert resp.status_code == 401
        assert resp.json() == {"success": False, "message": message}


def test_log_token_new_api_2025_key_query(relay_factory, http):
    relay = relay_factory("new-api-2025")
    logs = make_logs(6)
    for i, row in enumerate(logs):
        row["id"] = 1020 + i
    logs[0]["other"] = json.dumps({"model_ratio": 1, "admin_info": {"use_channel": ["4"]}})
    logs[0]["channel_name"] = "azure-east"
    token = relay.add_token(logs=logs)
    resp = http.get(f"{relay.url}/api/log/token", params={"key": token.key})
    body = resp.json()
    assert body["success"] is True
    assert [row["id"] for row in body["data"]] == [1020, 1021, 1022, 1023, 0, 1]
    assert json.loads(body["data"][0]["other"]) == {"model_ratio": 1}
    assert all(row["channel_name"] == "" for row in body["data"])
    assert "request_id" not in body["data"][0]
    unknown = http.get(f"{relay.url}/api/log/token", params={"key": "sk-unknown"})
    assert unknown.json() == {"success": True, "message": "", "data": []}


def test_log_token_new_api_2026_header_and_limit(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token(logs=make_logs(1100, seed=3))
    only_query = http.get(f"{relay.url}/api/log/token", params={"key": token.key})
    assert only_query.status_code == 401
    assert only_query.json()["message"] == "No Authorization header"
    resp = http.get(f"{relay.url}/api/log/token", params={"key": token.key}, headers=bearer(token))
    rows = resp.json()["data"]
    assert len(rows) == 1000
    assert [row["id"] for row in rows[:3]] == [1, 2, 3]
    assert rows[0]["created_at"] == max(row["created_at"] for row in token.logs)
    assert rows[0]["created_at"] > rows[-1]["created_at"]
    assert rows[0]["token_id"] == token.token_id
    assert "ip" in rows[0] and len(rows[0]["request_id"]) == 26
    other = json.loads(rows[0]["other"])
    assert other["model_price"] == -1 and "frt" in other


def test_make_logs_deterministic_and_quota_formula():
    first, second = make_logs(20, start=1_700_000_000), make_logs(20, start=1_700_000_000)
    assert first == second
    assert all(row["type"] == 2 for row in first)
    for row in first:
        other = json.loads(row["other"])
        raw = (
            row["prompt_tokens"]
            - other["cache_tokens"]
            + other["cache_tokens"] * other["cache_ratio"]
            + row["completion_tokens"] * other["completion_ratio"]
        ) * (other["model_ratio"] * other["group_ratio"])
        assert abs(row["quota"] - raw) <= 0.5 + 1e-9
    mixed = make_logs(9, mix_types=True)
    assert sorted({row["type"] for row in mixed}) == [1, 2, 4]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_models_shapes(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token()
    body = http.get(f"{relay.url}/v1/models", headers=bearer(token)).json()
    ids = [item["id"] for item in body["data"]]
    assert "gpt-4o-mini" in ids and len(ids) == 6
    item = body["data"][0]
    if flavor == "one-api":
        assert body["object"] == "list" and "success" not in body
        assert item["permission"][0]["object"] == "model_permission"
    elif flavor == "new-api-2025":
        assert body["success"] is True and "object" not in body
        assert item["root"] == item["id"]
    else:
        assert body["success"] is True and body["object"] == "list"
        assert item["supported_endpoint_types"] == ["openai"] and "permission" not in item
    limited = relay.add_token(models=["gpt-4o"])
    body = http.get(f"{relay.url}/v1/models", headers=bearer(limited)).json()
    assert [item["id"] for item in body["data"]] == ["gpt-4o"]


def test_models_key_query_gives_gemini_list(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token(models=["gpt-4o"])
    resp = http.get(f"{relay.url}/v1/models", params={"key": token.key}, headers=bearer(token))
    assert resp.json()["models"][0]["name"] == "models/gpt-4o"
    assert "data" not in resp.json()
    resp = http.get(f"{relay.url}/v1/models", headers={"x-goog-api-key": token.key})
    assert "models" in resp.json()


def test_unknown_paths_and_html_fallback(relay_factory, http):
    plain = relay_factory("new-api-2025")
    spa = relay_factory("new-api-2025", html_fallback=True)
    token = spa.add_token()
    resp = http.get(f"{spa.url}/api/usage/token", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<div id="root"></div>' in resp.text
    resp = http.get(f"{plain.url}/v1/nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "message": "Invalid URL (GET /v1/nope)",
            "type": "invalid_request_error",
            "code": "",
        }
    }
    assert http.get(f"{plain.url}/console/token").headers["Content-Type"].startswith("text/html")


def test_rate_limits_give_empty_429(relay_factory, http):
    relay = relay_factory(critical_limit=(2, 60), global_limit=(5, 60))
    token = relay.add_token()
    codes = [
        http.get(f"{relay.url}/api/usage/token", headers=bearer(token)).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    resp = http.get(f"{relay.url}/api/log/token", headers=bearer(token))
    assert resp.status_code == 429
    assert resp.content == b"" and resp.headers["Content-Length"] == "0"
    # the critical limit does not touch /api/status, but the global one does
    codes = [http.get(f"{relay.url}/api/status").status_code for _ in range(3)]
    assert codes == [200, 429, 429]
    relay.reset()
    assert http.get(f"{relay.url}/api/usage/token", headers=bearer(token)).status_code == 200
    assert len(relay.requests_to("/api/usage/token/")) == 1


def test_faults(relay_factory, http):
    relay = relay_factory(fault_sleep=1.0)
    url = f"{relay.url}/api/status"
    relay.set_fault("/api/status", "reset", times=1)
    with pytest.raises(requests.ConnectionError):
        http.get(url, timeout=2)
    assert http.get(url, timeout=2).status_code == 200
    relay.set_fault("/api/status/", "malformed")
    resp = http.get(url, timeout=2)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    relay.set_fault("/api/status", "timeout", times=1)
    with pytest.raises(requests.Timeout):
        http.get(url, timeout=0.5)
    relay.set_fault("/api/status", "reset_mid")
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        http.get(url, timeout=2)
    expected = {"429": 429, "500": 500, "503": 503, "502_html": 502, "db_error": 200, "html": 200}
    for fault, status in expected.items():
        relay.set_fault("/api/status", fault)
        assert http.get(url, timeout=2).status_code == status
    assert http.get(url, timeout=2).text.startswith("<!doctype html>")
    relay.set_fault("/api/status", "db_error")
    assert http.get(url, timeout=2).json()["error"]["type"] == "upstream_error"
    relay.set_fault("/api/status", None)
    assert http.get(url, timeout=2).json()["success"] is True


def test_latency(relay_factory, http):
    relay = relay_factory()
    relay.set_latency(0.3, "/api/status")
    began = time.monotonic()
    http.get(f"{relay.url}/api/status", timeout=2)
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    http.get(f"{relay.url}/v1/nope", timeout=2)
    assert time.monotonic() - began < 0.3


def test_hold(relay_factory):
    relay = relay_factory()
    gate = relay.hold("/api/status", after=1)
    url = f"{relay.url}/api/status"
    assert requests.get(url, timeout=2).status_code == 200  # the first goes through
    answers: list[int] = []
    waiting = threading.Thread(
        target=lambda: answers.append(requests.get(url, timeout=10).status_code)
    )
    waiting.start()
    deadline = time.monotonic() + 10
    while len(relay.requests_to("/api/status")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(relay.requests_to("/api/status")) == 2 and not answers  # recorded, held
    gate.set()
    waiting.join(10)
    assert answers == [200]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_stream_with_include_usage(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token()
    payload = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hello there"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = f"{relay.url}/v1/chat/completions"
    with http.post(url, json=payload, headers=bearer(token), stream=True, timeout=2) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert resp.headers["X-Accel-Buffering"] == "no"
        events = sse_events(resp)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello from fake relay"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["usage"] is None for c in chunks[:-1])
    payload.pop("stream_options")
    with http.post(url, json=payload, headers=bearer(token), stream=True, timeout=2) as resp:
        chunks = [json.loads(event) for event in sse_events(resp)[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all(("usage" in c) == (flavor != "one-api") for c in chunks)


def test_chat_errors_and_non_stream(relay_factory, http):
    relay = relay_factory("new-api-2026", charge=True)
    token = relay.add_token(models=["gpt-4o"])
    broke = relay.add_token(user_quota=0)
    url = f"{relay.url}/v1/chat/completions"
    messages = [{"role": "user", "content": "hi"}]
    resp = http.post(url, json={"model": "gpt-4o", "messages": messages}, headers=bearer(token))
    assert resp.json()["choices"][0]["message"]["content"] == "Hello from fake relay"
    assert token.used_quota > 0 and len(token.logs) == 1
    resp = http.post(url, json={"model": "gpt-4.1", "messages": messages}, headers=bearer(token))
    assert resp.status_code == 403
    assert RID.sub("", resp.json()["error"]["message"]) == "该令牌无权访问模型 gpt-4.1"
    resp = http.post(url, json={"model": "nope", "messages": messages}, headers=bearer(broke))
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "model_not_found"
    resp = http.post(url, json={"model": "gpt-4o", "messages": messages}, headers=bearer(broke))
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "insufficient_user_quota"
    assert [r.method for r in relay.requests_to("/v1/chat/completions")] == ["POST"] * 4


def post_chat(http, relay, token, model, *, stream=True, timeout=5.0, **extra):
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    payload.update(extra)
    url = f"{relay.url}/v1/chat/completions"
    return http.post(url, json=payload, headers=bearer(token), stream=stream, timeout=timeout)


def sse_lines(resp: requests.Response) -> list[str]:
    return [line for line in resp.iter_lines(decode_unicode=True) if line]


def test_script_rejects_unknown_modes(relay_factory):
    relay = relay_factory()
    with pytest.raises(ValueError, match="usage"):
        relay.script("m", content=["a"], usage="sometimes")
    for end in ("cut", "reset_after:", "error_after:x", "eof:1"):
        with pytest.raises(ValueError, match="end"):
            relay.script("m", content=["a"], end=end)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_script_stream_wire(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token()
    relay.script("m", content=["x", "y"], reasoning=["r"], ping=True, prompt_tokens=5)
    with post_chat(http, relay, token, "m", stream_options={"include_usage": True}) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        lines = sse_lines(resp)
    assert lines[0] == ": PING" and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[1:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    both = flavor != "one-api"
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "r", "reasoning": "r"} if both else {"reasoning_content": "r"},
        {"content": "x"},
        {"content": "y"},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "completion_tokens_details": {"reasoning_tokens": 1},
    }


def test_script_ends_and_finish(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token()
    relay.script("plain", content=["a", "b"], finish=None, usage="never", completion_tokens=9)
    with post_chat(http, relay, token, "plain") as resp:
        lines = sse_lines(resp)
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert lines[-1] == "data: [DONE]" and len(chunks) == 3
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    relay.script("err", content=["a", "b", "c"], end="error_after:2")
    with post_chat(http, relay, token, "err") as resp:
        lines = sse_lines(resp)
    assert lines[-2:] == [
        f"data: {json.dumps(UPSTREAM_ERROR, separators=(',', ':'))}",
        "data: [DONE]",
    ]
    assert len(lines) == 5  # role, a, b, error, [DONE]
    relay.script("eof", content=["a"], end="eof")
    with post_chat(http, relay, token, "eof") as resp:
        lines = sse_lines(resp)
    assert "data: [DONE]" not in lines and len(lines) == 3  # role, a, finish
    http.close()  # the eof stream's connection was closed by the relay: never reuse it
    relay.script("rst", content=["a", "b", "c"], end="reset_after:1")
    rst = post_chat(http, relay, token, "rst")
    with rst, pytest.raises(requests.exceptions.ChunkedEncodingError):
        sse_lines(rst)
    assert relay.hangups == []  # the fake ended those streams itself


def test_script_timing_and_non_stream(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token(models=["timed"])
    relay.script("timed", content=["a", "b"], reasoning=["r"], first_delay=0.2, delay=0.1)
    began = time.monotonic()
    with post_chat(http, relay, token, "timed") as resp:
        headers_at = time.monotonic()
        lines = sse_lines(resp)
    assert headers_at - began < 0.15  # headers at once; the delays come after them
    # role after 0.2 s, then r, a, b, finish, [DONE] 0.1 s apart
    assert time.monotonic() - began >= 0.2 + 5 * 0.1 - 0.05
    assert len(lines) == 6
    began = time.monotonic()
    reply = post_chat(http, relay, token, "timed", stream=False).json()
    assert time.monotonic() - began >= 0.7 - 0.05  # the whole generation, then the answer
    assert reply["choices"][0]["message"] == {
        "role": "assistant",
        "content": "ab",
        "reasoning_content": "r",
        "reasoning": "r",
    }
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"]["total_tokens"] == 11 + 3


def test_scripted_models_listed_and_allowed(relay_factory, http):
    relay = relay_factory("one-api")
    relay.script("gpt-4o", content=["scripted"])  # a group model can be scripted too
    relay.script("extra", content=["e"])
    open_token = relay.add_token()
    narrow = relay.add_token(models=["gpt-4o"])
    ids = [
        m["id"]
        for m in http.get(f"{relay.url}/v1/models", headers=bearer(open_token)).json()["data"]
    ]
    assert ids == [*DEFAULT_GROUP_MODELS, "extra"]
    ids = [
        m["id"] for m in http.get(f"{relay.url}/v1/models", headers=bearer(narrow)).json()["data"]
    ]
    assert ids == ["gpt-4o"]
    reply = post_chat(http, relay, open_token, "extra", stream=False).json()
    assert reply["choices"][0]["message"]["content"] == "e"
    assert post_chat(http, relay, narrow, "extra", stream=False).status_code == 403
    reply = post_chat(http, relay, narrow, "gpt-4o", stream=False).json()
    assert reply["choices"][0]["message"]["content"] == "scripted"


def test_hangups_recorded_promptly(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token()
    relay.script("slow", content=["a"] * 5, delay=1.0)
    body = json.dumps({"model": "slow", "messages": [], "stream": True}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token.key}"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    host, port = relay.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        seen = b""
        while b"data: " not in seen:  # the role chunk; "a" is 1 s away
            seen += sock.recv(65536)
    gone_at = time.monotonic()  # the client went away mid-wait
    while not relay.hangups and time.monotonic() - gone_at < 0.5:
        time.sleep(0.01)
    assert relay.hangups == [("slow", 1)]
    assert time.monotonic() - gone_at < 0.5  # seen while waiting, not at the next write
    # a non-stream answer that is still being "generated" notices too
    relay.script("slow_reply", content=["a"], first_delay=2.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_chat(http, relay, token, "slow_reply", stream=False, timeout=0.2)
    deadline = time.monotonic() + 1.0
    while len(relay.hangups) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert relay.hangups[1:] == [("slow_reply", 0)]


def test_429_json_fault(relay_factory, http):
    relay = relay_factory()
    relay.set_fault("/v1/chat/completions", "429_json")
    resp = http.post(f"{relay.url}/v1/chat/completions", json={}, timeout=2)
    assert resp.status_code == 429
    assert resp.json()["error"]["message"].startswith("您已达到请求数限制")


def test_flaky_502_fails_every_other_call(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token()
    relay.set_fault("/api/status", "flaky_502")
    url = f"{relay.url}/api/status"
    statuses = [http.get(url, timeout=2).status_code for _ in range(5)]
    assert statuses == [200, 502, 200, 502, 200]
    relay.set_fault("/api/status", "flaky_502")
    assert http.get(url, timeout=2).status_code == 200  # a fresh fault starts with a good call
    assert http.get(url, timeout=2).text.startswith("<html>")
    # on "*" the count is shared by every path; times counts good and bad calls alike
    relay.set_fault("*", "flaky_502", times=3)
    got = [
        http.get(f"{relay.url}/v1/models", headers=bearer(token), timeout=2).status_code,
        post_chat(http, relay, token, "gpt-4o", stream=False).status_code,
        http.get(f"{relay.url}/v1/models", headers=bearer(token), timeout=2).status_code,
        http.get(f"{relay.url}/v1/models", headers=bearer(token), timeout=2).status_code,
    ]
    assert got == [200, 502, 200, 200]


def test_script_garbage_after(relay_factory, http):
    relay = relay_factory()
    token = relay.add_token()
    relay.script("garbled", content=["a", "b", "c"], end="garbage_after:2")
    with post_chat(http, relay, token, "garbled") as resp:
        lines = sse_lines(resp)
    assert len(lines) == 4  # role, a, b, then the cut line; no [DONE]
    assert [json.loads(line[6:])["choices"][0]["delta"] for line in lines[1:3]] == [
        {"content": "a"},
        {"content": "b"},
    ]
    with pytest.raises(ValueError):
        json.loads(lines[3][6:])
    with pytest.raises(ValueError, match="end"):
        relay.script("m", content=["a"], end="garbage_after:")


@pytest.mark.parametrize("content", [[], [""]])
def test_script_without_content_answers_200_with_nothing(relay_factory, http, content):
    relay = relay_factory()
    token = relay.add_token()
    relay.script("hollow", content=content)
    reply = post_chat(http, relay, token, "hollow", stream=False)
    assert reply.status_code == 200
    assert reply.json()["choices"][0]["message"] == {"role": "assistant", "content": ""}
    with post_chat(http, relay, token, "hollow", stream_options={"include_usage": True}) as resp:
        assert resp.status_code == 200
        chunks = [json.loads(line[6:]) for line in sse_lines(resp)[:-1]]
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert not any(texts) and chunks[-1]["usage"]["completion_tokens"] == len(content)
