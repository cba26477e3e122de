"""Tests for the fake relay's other families (LiteLLM, OpenRouter, DeepSeek, Moonshot, OpenAI)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.fakerelay import (
    DEEPSEEK,
    FAMILY_FLAVORS,
    LITELLM,
    MOONSHOT,
    OPENAI,
    OPENROUTER,
    FakeRelay,
    Token,
)

MESSAGES = [{"role": "user", "content": "hi"}]
# what one-api / new-api have and none of the families do
RELAY_API_PATHS = (
    "/api/status",
    "/api/usage/token",
    "/api/log/token",
    "/v1/dashboard/billing/subscription",
    "/v1/dashboard/billing/usage",
)
FASTAPI_404 = {"detail": "Not Found"}


@pytest.fixture
def relay_factory() -> Iterator[Callable[..., FakeRelay]]:
    """Start fake relays on demand and stop them all afterwards."""
    started: list[FakeRelay] = []

    def make(flavor: str, **kwargs: object) -> FakeRelay:
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


def bearer(token: Token | str) -> dict[str, str]:
    key = token.key if isinstance(token, Token) else token
    return {"Authorization": f"Bearer {key}"}


def chat(http, relay, key, model, **extra) -> requests.Response:
    payload = {"model": model, "messages": MESSAGES, **extra}
    url = f"{relay.base_url}/v1/chat/completions"
    return http.post(url, json=payload, headers=bearer(key), timeout=5)


def assert_fastapi_404(resp: requests.Response) -> None:
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == FASTAPI_404


# -- all families -----------------------------------------------------------------------------


def test_flavor_constants_name_the_five_families():
    assert (LITELLM, OPENROUTER, DEEPSEEK, MOONSHOT, OPENAI) == (
        "litellm",
        "openrouter",
        "deepseek",
        "moonshot",
        "openai",
    )
    assert FAMILY_FLAVORS == (LITELLM, OPENROUTER, DEEPSEEK, MOONSHOT, OPENAI)
    with pytest.raises(ValueError, match="not_found_style"):
        FakeRelay(LITELLM, not_found_style="xml")


@pytest.mark.parametrize("flavor", FAMILY_FLAVORS)
def test_base_url_is_the_site_root_except_openrouter_api(relay_factory, flavor):
    relay = relay_factory(flavor)
    if flavor == OPENROUTER:
        assert relay.base_url == relay.url + "/api"
    else:
        assert relay.base_url == relay.url
    assert relay_factory("new-api-2026").base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("flavor", FAMILY_FLAVORS)
@pytest.mark.parametrize("path", RELAY_API_PATHS)
def test_families_have_no_relay_api_routes(relay_factory, http, flavor, path):
    relay = relay_factory(flavor)
    token = relay.add_token()
    resp = http.get(f"{relay.base_url}{path}", headers=bearer(token), timeout=2)
    assert resp.status_code == 404
    if flavor in (LITELLM, OPENAI):
        assert resp.json() == FASTAPI_404
    elif flavor == OPENROUTER:
        assert resp.json() == {"error": {"message": "Not Found", "code": 404}}
    elif flavor == DEEPSEEK:
        assert resp.content == b""
    else:
        assert resp.json()["error"] == "url.not_found"


@pytest.mark.parametrize("flavor", FAMILY_FLAVORS)
def test_stream_with_include_usage_on_every_family(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token()
    model = relay.group_models[0]
    payload = {
        "model": model,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = f"{relay.base_url}/v1/chat/completions"
    with http.post(url, json=payload, headers=bearer(token), stream=True, timeout=5) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        lines = [line for line in resp.iter_lines(decode_unicode=True) if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello from fake relay"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["model"] == model for c in chunks)


def test_scripted_models_are_listed_and_answer_on_a_family(relay_factory, http):
    relay = relay_factory(DEEPSEEK)
    token = relay.add_token()
    relay.script("my-model", content=["a", "b"], reasoning=["r"])
    models = http.get(f"{relay.url}/v1/models", headers=bearer(token)).json()
    assert [m["id"] for m in models["data"]] == ["deepseek-chat", "deepseek-reasoner", "my-model"]
    resp = chat(http, relay, token, "my-model")
    message = resp.json()["choices"][0]["message"]
    # DeepSeek writes reasoning_content only (new-api's extra "reasoning" copy is new-api's own)
    assert message == {"role": "assistant", "content": "ab", "reasoning_content": "r"}


@pytest.mark.parametrize("flavor", FAMILY_FLAVORS)
def test_keys_match_exactly_without_one_api_leniency(relay_factory, http, flavor):
    relay = relay_factory(flavor)
    token = relay.add_token("sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL")
    model = relay.group_models[0]
    assert chat(http, relay, token, model).status_code == 200
    assert chat(http, relay, token.key.removeprefix("sk-"), model).status_code == 401
    assert chat(http, relay, token.key + "-3", model).status_code == 401


def test_faults_latency_and_recording_apply_to_family_routes(relay_factory, http):
    relay = relay_factory(LITELLM, fault_sleep=1.0)
    token = relay.add_token()
    url = f"{relay.url}/key/info"
    relay.set_fault("/key/info", "500")
    resp = http.get(url, headers=bearer(token), timeout=2)
    assert resp.status_code == 500
    relay.set_fault("/key/info", "reset", times=1)
    with pytest.raises(requests.ConnectionError):
        http.get(url, headers=bearer(token), timeout=2)
    assert http.get(url, headers=bearer(token), timeout=2).status_code == 200
    relay.set_fault("*", "timeout", times=1)
    with pytest.raises(requests.Timeout):
        http.get(f"{relay.url}/health/liveliness", timeout=0.5)
    relay.set_fault("/v1/models", "502_html")
    assert http.get(f"{relay.url}/v1/models", headers=bearer(token)).status_code == 502
    relay.set_latency(0.3, "/key/info")
    began = time.monotonic()
    assert http.get(url, headers=bearer(token), timeout=2).status_code == 200
    assert time.monotonic() - began >= 0.3
    recorded = relay.requests_to("/key/info/")
    assert len(recorded) == 4
    assert recorded[-1].headers["Authorization"] == f"Bearer {token.key}"


def test_faults_apply_under_openrouter_api_prefix(relay_factory, http):
    relay = relay_factory(OPENROUTER)
    token = relay.add_token()
    relay.set_fault("/api/v1/key", "429", times=1)
    url = f"{relay.base_url}/v1/key"
    assert http.get(url, headers=bearer(token)).status_code == 429
    assert http.get(url, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("flavor", "path"),
    [
        (LITELLM, "/key/info"),
        (OPENROUTER, "/api/v1/key"),
        (DEEPSEEK, "/user/balance"),
        (MOONSHOT, "/v1/users/me/balance"),
    ],
)
def test_per_ip_limits_cover_balance_routes_not_models(relay_factory, http, flavor, path):
    relay = relay_factory(flavor, global_limit=(5, 60), critical_limit=(2, 60))
    token = relay.add_token()
    codes = [http.get(f"{relay.url}{path}", headers=bearer(token)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    models = f"{relay.base_url}/v1/models"
    assert {http.get(models, headers=bearer(token)).status_code for _ in range(6)} == {200}


# -- LiteLLM --------------------------------------------------------------------------------


def test_litellm_liveliness_needs_no_key(relay_factory, http):
    relay = relay_factory(LITELLM, litellm_db=False)
    resp = http.get(f"{relay.url}/health/liveliness")
    assert resp.status_code == 200
    assert resp.json() == "I'm alive!"


def test_litellm_key_info_shape(relay_factory, http):
    relay = relay_factory(LITELLM)
    token = relay.add_token(
        "sk-litellm-1234",
        spend=12.5,
        max_budget=50.0,
        budget_duration="30d",
        budget_reset_at="2030-02-01T00:00:00+00:00",
        key_alias="team-a",
        expires="2030-01-01T00:00:00+00:00",
        models=["gpt-4o"],
    )
    plain = relay.add_token()
    resp = http.get(f"{relay.url}/key/info", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {
        "key": "sk-litellm-1234",
        "info": {
            "key_alias": "team-a",
            "spend": 12.5,
            "max_budget": 50.0,
            "budget_duration": "30d",
            "budget_reset_at": "2030-02-01T00:00:00+00:00",
            "models": ["gpt-4o"],
            "blocked": None,
            "expires": "2030-01-01T00:00:00+00:00",
            "tpm_limit": None,
            "rpm_limit": None,
            "metadata": {},
        },
    }
    info = http.get(f"{relay.url}/key/info", headers=bearer(plain)).json()["info"]
    assert info["spend"] == 0.0 and info["max_budget"] is None and info["models"] == []
    assert info["expires"] is None and info["key_alias"] is None


def test_litellm_models_answer_on_both_paths(relay_factory, http):
    relay = relay_factory(LITELLM, group_models=["gpt-4o", "claude-3-5-sonnet"])
    token = relay.add_token()
    for path in ("/v1/models", "/models"):
        resp = http.get(f"{relay.url}{path}", headers=bearer(token))
        assert resp.json() == {
            "object": "list",
            "data": [
                {"id": "gpt-4o", "object": "model", "created": 1677610602, "owned_by": "openai"},
                {
                    "id": "claude-3-5-sonnet",
                    "object": "model",
                    "created": 1677610602,
                    "owned_by": "openai",
                },
            ],
        }
    limited = relay.add_token(models=["gpt-4o"])
    data = http.get(f"{relay.url}/v1/models", headers=bearer(limited)).json()["data"]
    assert [m["id"] for m in data] == ["gpt-4o"]


@pytest.mark.parametrize("path", ["/key/info", "/v1/models"])
def test_litellm_wrong_blocked_and_expired_keys_are_401(relay_factory, http, path):
    relay = relay_factory(LITELLM)
    blocked = relay.add_token(status="disabled")
    expired = relay.add_token(status="expired")
    lapsed = relay.add_token(expires="2020-01-01T00:00:00+00:00")
    url = f"{relay.url}{path}"
    resp = http.get(url, headers=bearer("sk-wrong-key-xyz1"))
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["message"].startswith(
        "Authentication Error, Invalid proxy server token passed. "
        "Received API Key = sk-...xyz1, Key Hash (Token) ="
    )
    assert (err["type"], err["param"], err["code"]) == ("auth_error", "None", "401")
    resp = http.get(url, headers=bearer(blocked))
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["message"] == (
        "Authentication Error, Key is blocked. Update via /key/unblock if you're admin."
    )
    assert err["type"] == "auth_error"
    for token in (expired, lapsed):
        resp = http.get(url, headers=bearer(token))
        assert resp.status_code == 401
        err = resp.json()["error"]
        assert err["type"] == "expired_key"
        assert err["message"].startswith("Authentication Error - Expired Key. Key Expiry time ")
    resp = http.get(url)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "auth_error"


def test_litellm_without_db(relay_factory, http):
    relay = relay_factory(LITELLM, litellm_db=False, master_key="sk-master-1")
    token = relay.add_token()
    no_db = {
        "error": {
            "message": "No connected db.",
            "type": "no_db_connection",
            "param": "None",
            "code": "400",
        }
    }
    resp = http.get(f"{relay.url}/v1/models", headers=bearer("sk-wrong"))
    assert resp.status_code == 400 and resp.json() == no_db
    resp = http.get(f"{relay.url}/key/info", headers=bearer(token))
    assert resp.status_code == 400 and resp.json() == no_db
    resp = http.get(f"{relay.url}/key/info", headers=bearer("sk-master-1"))
    assert resp.status_code == 500
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == "Internal Server Error"
    resp = http.get(f"{relay.url}/v1/models", headers=bearer("sk-master-1"))
    assert resp.status_code == 200 and resp.json()["object"] == "list"
    assert chat(http, relay, "sk-master-1", "gpt-4o").status_code == 200
    assert chat(http, relay, token, "gpt-4o").json() == no_db


def test_litellm_master_key_with_db_reads_its_own_info(relay_factory, http):
    relay = relay_factory(LITELLM, master_key="sk-master-1")
    resp = http.get(f"{relay.url}/key/info", headers=bearer("sk-master-1"))
    assert resp.status_code == 200
    assert resp.json()["key"] == "sk-master-1" and resp.json()["info"]["max_budget"] is None


def test_litellm_chat_errors(relay_factory, http):
    relay = relay_factory(LITELLM)
    token = relay.add_token()
    broke = relay.add_token(spend=10.5, max_budget=10.0)
    limited = relay.add_token(models=["gpt-4o"])
    resp = chat(http, relay, token, "nope-model")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert "Invalid model name passed in model=nope-model" in err["message"]
    assert err == {
        "message": "{'error': '/chat/completions: Invalid model name passed in "
        "model=nope-model. Call `/v1/models` to view available models for your key.'}",
        "type": "None",
        "param": "None",
        "code": "400",
    }
    resp = chat(http, relay, broke, "gpt-4o")
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "message": "Budget has been exceeded! Current cost: 10.5, Max budget: 10.0",
            "type": "budget_exceeded",
            "param": "None",
            "code": "400",
        }
    }
    resp = chat(http, relay, limited, "gpt-4.1")
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "key_model_access_denied"
    resp = http.post(
        f"{relay.url}/chat/completions", json={"model": "gpt-4o"}, headers=bearer(token)
    )
    assert resp.status_code == 400
    resp = http.post(
        f"{relay.url}/chat/completions",
        json={"model": "gpt-4o", "messages": MESSAGES},
        headers=bearer(token),
    )
    assert resp.json()["choices"][0]["message"]["content"] == "Hello from fake relay"


def test_litellm_charge_adds_to_spend(relay_factory, http):
    relay = relay_factory(LITELLM, charge=True)
    token = relay.add_token()
    assert chat(http, relay, token, "gpt-4o").status_code == 200
    info = http.get(f"{relay.url}/key/info", headers=bearer(token)).json()["info"]
    assert info["spend"] > 0 and info["spend"] == token.spend


@pytest.mark.parametrize("flavor", [LITELLM, OPENAI])
@pytest.mark.parametrize(
    ("style", "ctype", "body"),
    [
        ("fastapi", "application/json", '{"detail":"Not Found"}'),
        ("text", "text/plain; charset=utf-8", "404 page not found"),
        ("html", "text/html; charset=utf-8", "<h1>404 Not Found</h1>"),
    ],
)
def test_not_found_styles(relay_factory, http, flavor, style, ctype, body):
    relay = relay_factory(flavor, not_found_style=style)
    token = relay.add_token()
    for path in ("/api/status", "/v1/dashboard/billing/usage", "/user/balance", "/nope"):
        resp = http.get(f"{relay.url}{path}", headers=bearer(token))
        assert resp.status_code == 404
        assert resp.headers["Content-Type"] == ctype
        assert body in resp.text


# -- OpenRouter -----------------------------------------------------------------------------


def test_openrouter_key_shape(relay_factory, http):
    relay = relay_factory(OPENROUTER)
    capped = relay.add_token(
        "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",
        limit=10.0,
        usage=2.5,
        limit_reset="monthly",
        expires_at_iso="2030-01-01T00:00:00Z",
    )
    free = relay.add_token("sk-or-v1-free0000000000000000000000000abc", is_free_tier=True)
    resp = http.get(f"{relay.base_url}/v1/key", headers=bearer(capped))
    assert resp.status_code == 200
    assert resp.json() == {
        "data": {
            "label": "sk-or-v1-0e6...c96",
            "limit": 10,
            "usage": 2.5,
            "limit_remaining": 7.5,
            "limit_reset": "monthly",
            "is_free_tier": False,
            "usage_daily": 2.5,
            "usage_weekly": 2.5,
            "usage_monthly": 2.5,
            "expires_at": "2030-01-01T00:00:00Z",
            "rate_limit": {"requests": -1, "interval": "10s"},
        }
    }
    data = http.get(f"{relay.base_url}/v1/key", headers=bearer(free)).json()["data"]
    assert data["limit"] is None and data["limit_remaining"] is None
    assert data["is_free_tier"] is True and data["usage"] == 0 and data["expires_at"] is None


def test_openrouter_credits_allowed_and_forbidden(relay_factory, http):
    closed = relay_factory(OPENROUTER)
    token = closed.add_token()
    resp = http.get(f"{closed.base_url}/v1/credits", headers=bearer(token))
    assert resp.status_code == 403
    assert resp.json() == {
        "error": {"message": "Only management keys can fetch credits", "code": 403}
    }
    opened = relay_factory(OPENROUTER, credits_allowed=True, total_credits=30.0, total_usage=7.25)
    token = opened.add_token()
    resp = http.get(f"{opened.base_url}/v1/credits", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {"data": {"total_credits": 30, "total_usage": 7.25}}
    default = relay_factory(OPENROUTER, credits_allowed=True)
    token = default.add_token()
    body = http.get(f"{default.base_url}/v1/credits", headers=bearer(token)).json()
    assert body == {"data": {"total_credits": 25, "total_usage": 5.5}}
    assert http.get(f"{default.base_url}/v1/credits", headers=bearer("x")).status_code == 401


@pytest.mark.parametrize("path", ["/v1/key", "/v1/credits"])
def test_openrouter_wrong_and_disabled_keys(relay_factory, http, path):
    relay = relay_factory(OPENROUTER, credits_allowed=True)
    disabled = relay.add_token(status="disabled")
    resp = http.get(f"{relay.base_url}{path}", headers=bearer("sk-or-v1-wrong"))
    assert resp.status_code == 401
    assert resp.json() == {"error": {"message": "User not found.", "code": 401}}
    resp = http.get(f"{relay.base_url}{path}", headers=bearer(disabled))
    assert resp.status_code == 401
    assert resp.json() == {"error": {"message": "Key is disabled", "code": 401}}


def test_openrouter_models_shape(relay_factory, http):
    relay = relay_factory(OPENROUTER)
    resp = http.get(f"{relay.base_url}/v1/models")
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["data"]
    first = body["data"][0]
    assert first["id"] == "openai/gpt-4o" and first["name"] == "OpenAI: gpt-4o"
    assert "object" not in first
    assert {"id", "name", "created", "context_length", "pricing"} <= set(first)
    assert [m["id"] for m in body["data"]] == list(relay.group_models)


def test_openrouter_chat_errors(relay_factory, http):
    relay = relay_factory(OPENROUTER)
    token = relay.add_token()
    spent = relay.add_token(limit=1.0, usage=1.0)
    resp = chat(http, relay, token, "openai/nope")
    assert resp.status_code == 400
    assert resp.json() == {"error": {"message": "openai/nope is not a valid model ID", "code": 400}}
    resp = chat(http, relay, spent, "openai/gpt-4o")
    assert resp.status_code == 402
    assert resp.json() == {"error": {"message": "Key limit exceeded", "code": 402}}
    assert chat(http, relay, "sk-or-v1-wrong", "openai/gpt-4o").status_code == 401
    assert chat(http, relay, token, "openai/gpt-4o").status_code == 200
    assert len(relay.requests_to("/api/v1/chat/completions")) == 4


def test_openrouter_404_outside_and_inside_api(relay_factory, http):
    relay = relay_factory(OPENROUTER)
    token = relay.add_token()
    resp = http.get(f"{relay.url}/v1/models", headers=bearer(token))
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "This page could not be found" in resp.text
    resp = http.get(f"{relay.base_url}/v1/nope", headers=bearer(token))
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "Not Found", "code": 404}}


# -- DeepSeek -------------------------------------------------------------------------------


def test_deepseek_balance_strings_and_is_available(relay_factory, http):
    relay = relay_factory(DEEPSEEK)
    token = relay.add_token()
    infos = [
        {
            "currency": "CNY",
            "total_balance": "0.00",
            "granted_balance": "0.00",
            "topped_up_balance": "0.00",
        },
        {
            "currency": "USD",
            "total_balance": "3.50",
            "granted_balance": "0.50",
            "topped_up_balance": "3.00",
        },
    ]
    empty = relay.add_token(balance_infos=infos, is_available=False)
    resp = http.get(f"{relay.url}/user/balance", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {
        "is_available": True,
        "balance_infos": [
            {
                "currency": "CNY",
                "total_balance": "110.00",
                "granted_balance": "10.00",
                "topped_up_balance": "100.00",
            }
        ],
    }
    body = http.get(f"{relay.url}/user/balance", headers=bearer(empty)).json()
    assert body == {"is_available": False, "balance_infos": infos}


@pytest.mark.parametrize("path", ["/user/balance", "/v1/models", "/models"])
def test_deepseek_wrong_key(relay_factory, http, path):
    relay = relay_factory(DEEPSEEK)
    disabled = relay.add_token(status="disabled")
    for key in ("sk-wrongwrongabcd", disabled.key):
        resp = http.get(f"{relay.url}{path}", headers=bearer(key))
        assert resp.status_code == 401
        assert resp.json() == {
            "error": {
                "message": f"Authentication Fails, Your api key: ****{key[-4:]} is invalid",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_request_error",
            }
        }


def test_deepseek_models_and_404(relay_factory, http):
    relay = relay_factory(DEEPSEEK)
    token = relay.add_token()
    for path in ("/v1/models", "/models"):
        assert http.get(f"{relay.url}{path}", headers=bearer(token)).json() == {
            "object": "list",
            "data": [
                {"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"},
                {"id": "deepseek-reasoner", "object": "model", "owned_by": "deepseek"},
            ],
        }
    resp = http.get(f"{relay.url}/v1/nope", headers=bearer(token))
    assert resp.status_code == 404 and resp.content == b""


def test_deepseek_chat_errors(relay_factory, http):
    relay = relay_factory(DEEPSEEK)
    token = relay.add_token()
    empty = relay.add_token(is_available=False)
    resp = chat(http, relay, token, "gpt-4o")
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "message": "Model Not Exist",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }
    resp = chat(http, relay, empty, "deepseek-chat")
    assert resp.status_code == 402
    assert resp.json() == {
        "error": {
            "message": "Insufficient Balance",
            "type": "unknown_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }
    resp = http.post(
        f"{relay.url}/chat/completions",
        json={"model": "deepseek-reasoner", "messages": MESSAGES},
        headers=bearer(token),
    )
    assert resp.status_code == 200


# -- Moonshot -------------------------------------------------------------------------------


def test_moonshot_balance(relay_factory, http):
    relay = relay_factory(MOONSHOT)
    token = relay.add_token()
    arrears = relay.add_token(available_balance=0.0, voucher_balance=1.5, cash_balance=-1.5)
    resp = http.get(f"{relay.url}/v1/users/me/balance", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.json() == {
        "code": 0,
        "data": {
            "available_balance": 49.58894,
            "voucher_balance": 46.58893,
            "cash_balance": 3.00001,
        },
        "scode": "0x0",
        "status": True,
    }
    data = http.get(f"{relay.url}/v1/users/me/balance", headers=bearer(arrears)).json()["data"]
    assert data == {"available_balance": 0, "voucher_balance": 1.5, "cash_balance": -1.5}


@pytest.mark.parametrize("path", ["/v1/users/me/balance", "/v1/models"])
def test_moonshot_wrong_key(relay_factory, http, path):
    relay = relay_factory(MOONSHOT)
    resp = http.get(f"{relay.url}{path}", headers=bearer("sk-nope"))
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}
    }


def test_moonshot_chat_errors(relay_factory, http):
    relay = relay_factory(MOONSHOT)
    token = relay.add_token()
    broke = relay.add_token(available_balance=-0.5)
    resp = chat(http, relay, token, "gpt-4o")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "message": "Not found the model gpt-4o or Permission denied",
            "type": "resource_not_found_error",
        }
    }
    resp = chat(http, relay, broke, "moonshot-v1-8k")
    assert resp.status_code == 429
    err = resp.json()["error"]
    assert err["type"] == "exceeded_current_quota_error"
    assert err["message"].startswith("Your account ")
    assert err["message"].endswith(" is suspended, please check your plan and billing details")
    models = http.get(f"{relay.url}/v1/models", headers=bearer(token)).json()
    assert models["object"] == "list" and models["data"][0]["id"] == "moonshot-v1-8k"
    assert chat(http, relay, token, "moonshot-v1-8k").status_code == 200


# -- generic OpenAI-compatible ----------------------------------------------------------------


def test_openai_generic_models_and_errors(relay_factory, http):
    relay = relay_factory(OPENAI, group_models=["Qwen/Qwen2.5-7B-Instruct"])
    token = relay.add_token()
    resp = http.get(f"{relay.url}/v1/models", headers=bearer(token))
    assert resp.json() == {
        "object": "list",
        "data": [
            {
                "id": "Qwen/Qwen2.5-7B-Instruct",
                "object": "model",
                "created": 1626777600,
                "owned_by": "custom",
            }
        ],
    }
    wrong = {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    resp = http.get(f"{relay.url}/v1/models", headers=bearer("sk-nope"))
    assert resp.status_code == 401 and resp.json() == wrong
    resp = chat(http, relay, "sk-nope", "Qwen/Qwen2.5-7B-Instruct")
    assert resp.status_code == 401 and resp.json() == wrong
    resp = chat(http, relay, token, "gpt-4o")
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "message": "The model `gpt-4o` does not exist.",
            "type": "NotFoundError",
            "param": None,
            "code": 404,
        }
    }
    assert chat(http, relay, token, "Qwen/Qwen2.5-7B-Instruct").status_code == 200
    for path in ("/key/info", "/user/balance", "/models", "/v1/users/me/balance"):
        assert_fastapi_404(http.get(f"{relay.url}{path}", headers=bearer(token)))
