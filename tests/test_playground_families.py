"""Playground refusals per relay family: end to end on the fake families, then refusal() alone."""

from __future__ import annotations

import json

import pytest

from blueprints.playground.errors import refusal
from blueprints.providers.service import add_provider
from relay import http
from relay.chat import CHAT
from tests.conftest import login
from tests.test_playground import run

PARAMETERS = "Check the parameters"
REFUSED = "The relay refused this key (401)"


@pytest.fixture
def member(client, make_user):
    make_user("alice")
    login(client, "alice")
    return client


@pytest.fixture
def family(app, relays):
    """Start a fake relay of one family and configure it as the provider "fam"."""

    def start(flavor: str, **options):
        fake = relays(flavor, **options)
        with app.app_context():
            add_provider("fam", fake.base_url)
        return fake

    return start


def form(key: str, model: str) -> dict:
    return {
        "source": "pasted",
        "provider": "fam",
        "key": key,
        "model": [model],
        "role": ["user"],
        "content": ["Say hello"],
        "stream": "1",
        "format": "none",
        "repeat": "1",
    }


def result_of(client, key: str, model: str) -> str:
    """The first column's result fragment of one run."""
    _html, events = run(client, form(key, model))
    return events["c0-result"][0]


def offered(result: str) -> list[str]:
    """The model buttons offered in a result fragment."""
    start = result.index('data-testid="offered-0"')
    end = result.index("</details>", start)
    return [chunk.split('"', 1)[0] for chunk in result[start:end].split('data-model="')[1:]]


# -- end to end: an unknown model offers the models the key can use ------------------------------


@pytest.mark.parametrize(
    ("flavor", "said"),
    [
        ("litellm", "Invalid model name passed in model=no-such-model"),
        ("openrouter", "no-such-model is not a valid model ID"),
        ("deepseek", "Model Not Exist"),
        ("moonshot", "Not found the model no-such-model or Permission denied"),
        ("openai", "The model `no-such-model` does not exist."),
    ],
)
def test_an_unknown_model_on_each_family_offers_the_models_the_key_can_use(
    member, family, flavor, said
):
    fake = family(flavor)
    result = result_of(member, fake.add_token().key, "no-such-model")
    assert "This model is not available to this key on this relay." in result
    assert said in result  # the relay's own words are quoted
    assert PARAMETERS not in result
    names = offered(result)
    assert names and "no-such-model" not in names
    assert fake.requests_to("/v1/models") or fake.requests_to("/api/v1/models")


def test_litellm_unknown_model_offers_exactly_the_proxys_models(member, family):
    fake = family("litellm")
    result = result_of(member, fake.add_token().key, "gpt-5-turbo")
    assert offered(result) == sorted(fake.group_models)
    assert "400: the request is malformed" not in result


def test_a_litellm_key_limited_to_some_models_is_offered_those(member, family):
    fake = family("litellm")
    key = fake.add_token(models=["gpt-4o-mini"]).key
    result = result_of(member, key, "gpt-4o")
    assert "This model is not available to this key" in result
    assert offered(result) == ["gpt-4o-mini"]
    assert REFUSED not in result


def test_openrouter_unknown_model_offers_its_public_model_list(member, family):
    fake = family("openrouter")
    result = result_of(member, fake.add_token().key, "openai/gpt-9")
    assert "openai/gpt-9 is not a valid model ID" in result
    assert "openai/gpt-4o-mini" in offered(result)
    assert fake.requests_to("/api/v1/chat/completions")


# -- end to end: money and keys ------------------------------------------------------------------


def test_deepseek_insufficient_balance_says_the_account_is_used_up(member, family):
    fake = family("deepseek")
    key = fake.add_token(is_available=False).key
    result = result_of(member, key, "deepseek-chat")
    assert "402: the account behind this key has no balance left." in result
    assert "Insufficient Balance" in result and "(HTTP 402)" in result
    assert 'data-testid="offered-0"' not in result and PARAMETERS not in result


def test_a_401_on_a_generic_relay_says_the_key_was_refused_and_links_the_lookup(member, family):
    family("openai")
    result = result_of(member, "sk-" + "x" * 48, "gpt-4o")
    assert REFUSED in result
    assert "the relay does not say which" in result
    assert 'href="/"' in result and 'data-testid="look-up-0"' in result
    assert PARAMETERS not in result and "Check the key and the provider" not in result
    assert "x" * 48 not in result


def test_a_litellm_key_over_budget_says_its_budget_is_spent(member, family):
    fake = family("litellm")
    key = fake.add_token(spend=5.0, max_budget=5.0).key
    result = result_of(member, key, "gpt-4o")
    assert "This key&#39;s budget on the LiteLLM proxy is spent." in result
    assert PARAMETERS not in result


def test_an_openrouter_key_at_its_limit_says_the_key_limit_is_reached(member, family):
    fake = family("openrouter")
    key = fake.add_token(limit=1.0, usage=1.0).key
    result = result_of(member, key, "openai/gpt-4o")
    assert "This key has reached its spending limit (OpenRouter)." in result


def test_a_suspended_moonshot_account_is_not_called_a_rate_limit(member, family):
    fake = family("moonshot")
    key = fake.add_token(available_balance=0.0).key
    result = result_of(member, key, "moonshot-v1-8k")
    assert "out of balance or suspended: this is not a rate limit" in result
    assert "429: rate limited" not in result and "(HTTP 429)" in result


def test_a_litellm_proxy_without_a_key_database_says_it_cannot_check_keys(member, family):
    fake = family("litellm", litellm_db=False, master_key="sk-master1234")
    result = result_of(member, fake.add_token().key, "gpt-4o")
    assert "has no key database, so it cannot check keys" in result
    assert PARAMETERS not in result and REFUSED not in result


def test_a_blocked_litellm_key_is_called_disabled(member, family):
    fake = family("litellm")
    key = fake.add_token(status="disabled").key
    result = result_of(member, key, "gpt-4o")
    assert "The relay says this key is disabled (401)." in result
    assert 'data-testid="look-up-0"' in result


# -- refusal() for each family's words -----------------------------------------------------------


def said(status: int, body: dict) -> http.Answer:
    """The Answer a chat call makes of this reply (a 429 keeps its body, as in relay.chat)."""
    raw = json.dumps(body).encode()
    answer = http.classify(CHAT, status, {"Content-Type": "application/json"}, raw)
    if answer.kind == http.RATE_LIMITED:
        answer = http.Answer(CHAT, answer.kind, status, body, http.error_message(body))
    return answer


def explain(app, status: int, body: dict):
    with app.test_request_context():
        return refusal(said(status, body))


def litellm(status: int, message: str, kind: str = "None") -> dict:
    return {"error": {"message": message, "type": kind, "param": "None", "code": str(status)}}


MODEL_MISSING = {
    "new-api": (403, {"error": {"message": "该令牌无权使用模型：gpt-9", "type": "new_api_error"}}),
    "one-api": (
        503,
        {
            "error": {
                "message": "当前分组 default 下对于模型 gpt-9 无可用渠道",
                "type": "one_api_error",
            }
        },
    ),
    "new-api code": (
        400,
        {"error": {"message": "model gpt-9 not found", "type": "x", "code": "model_not_found"}},
    ),
    "litellm": (
        400,
        litellm(
            400,
            "{'error': '/chat/completions: Invalid model name passed in model=gpt-9. "
            "Call `/v1/models` to view available models for your key.'}",
        ),
    ),
    "litellm restricted key": (
        401,
        litellm(
            401,
            "Authentication Error, API Key not allowed to access model. This token can only "
            "access models=['gpt-4o']. Tried to access gpt-9",
            "key_model_access_denied",
        ),
    ),
    "openrouter": (400, {"error": {"message": "gpt-9 is not a valid model ID", "code": 400}}),
    "deepseek": (
        400,
        {"error": {"message": "Model Not Exist", "type": "invalid_request_error", "param": None}},
    ),
    "moonshot": (
        404,
        {
            "error": {
                "message": "Not found the model gpt-9 or Permission denied",
                "type": "resource_not_found_error",
            }
        },
    ),
    "openai": (
        404,
        {
            "error": {
                "message": "The model `gpt-3.5-turbo-9` does not exist or you do not have access.",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
        },
    ),
    "vllm": (
        404,
        {
            "error": {
                "message": "The model `gpt-9` does not exist.",
                "type": "NotFoundError",
                "code": 404,
            }
        },
    ),
}


@pytest.mark.parametrize("relay_name", sorted(MODEL_MISSING))
def test_refusal_recognises_a_missing_model_in_each_familys_words(app, relay_name):
    status, body = MODEL_MISSING[relay_name]
    explained = explain(app, status, body)
    assert explained.model_missing
    assert explained.meaning == "This model is not available to this key on this relay."
    assert explained.relay_message == http.error_message(body)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            401,
            litellm(401, "Authentication Error, Invalid proxy server token passed.", "auth_error"),
        ),
        (401, {"error": {"message": "User not found.", "code": 401}}),
        (401, {"error": {"message": "Authentication Fails, Your api key: ****abcd is invalid"}}),
        (
            401,
            {
                "error": {
                    "message": "Invalid Authentication",
                    "type": "invalid_authentication_error",
                }
            },
        ),
        (401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}),
        (401, {"error": {"message": "无效的令牌", "type": "new_api_error"}}),
        (401, {}),
    ],
)
def test_any_unexplained_401_says_the_relay_refused_the_key(app, status, body):
    explained = explain(app, status, body)
    assert explained.meaning.startswith(REFUSED)
    assert "does not say which" in explained.meaning
    assert explained.look_up and not explained.model_missing
    assert PARAMETERS not in explained.hint and "Look the key up" in explained.hint


@pytest.mark.parametrize(
    ("message", "state"),
    [
        (
            "Authentication Error, Key is blocked. Update via /key/unblock if you're admin.",
            "disabled",
        ),
        ("Authentication Error - Expired Key. Key Expiry time 2020-01-01", "expired"),
        ("Key is disabled", "disabled"),
        ("Key expired", "expired"),
        ("该令牌额度已用尽 TokenStatusExhausted[sk-abc***xyz]", "quota is used up"),
        ("该令牌状态不可用", "disabled"),
    ],
)
def test_a_401_that_names_the_keys_state_says_that_state(app, message, state):
    explained = explain(app, 401, {"error": {"message": message}})
    assert state in explained.meaning and "(401)" in explained.meaning
    assert explained.look_up


def test_litellm_budget_exceeded_says_the_keys_budget_is_spent(app):
    message = "Budget has been exceeded! Current cost: 5.0, Max budget: 5.0"
    for status in (400, 429):
        explained = explain(app, status, litellm(status, message, "budget_exceeded"))
        assert explained.meaning == "This key's budget on the LiteLLM proxy is spent."
        assert not explained.model_missing and not explained.look_up


def test_deepseek_402_says_the_account_balance_is_used_up(app):
    body = {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None}}
    explained = explain(app, 402, body)
    assert explained.meaning == "402: the account behind this key has no balance left."
    assert "Top up" in explained.hint


def test_openrouter_402_key_limit_says_the_key_limit_is_reached(app):
    explained = explain(app, 402, {"error": {"message": "Key limit exceeded", "code": 402}})
    assert explained.meaning == "This key has reached its spending limit (OpenRouter)."


@pytest.mark.parametrize(
    "body",
    [
        {
            "error": {
                "message": "Your account c123 is suspended, "
                "please check your plan and billing details",
                "type": "exceeded_current_quota_error",
            }
        },
        {"error": {"message": "Your account is suspended", "type": "x"}},
        {"error": {"message": "You exceeded your current quota.", "code": "insufficient_quota"}},
    ],
)
def test_a_429_for_an_empty_account_is_not_called_a_rate_limit(app, body):
    explained = explain(app, 429, body)
    assert "this is not a rate limit" in explained.meaning
    assert explained.hint == "Top up the account; waiting will not help."


def test_an_ordinary_429_is_still_a_rate_limit(app):
    explained = explain(app, 429, {"error": {"message": "Too many requests"}})
    assert explained.meaning == "429: rate limited by the relay."


def test_litellm_no_connected_db_says_the_proxy_cannot_check_keys(app):
    explained = explain(app, 400, litellm(400, "No connected db.", "no_db_connection"))
    assert "has no key database, so it cannot check keys: only its master key works" in (
        explained.meaning
    )
    assert PARAMETERS not in explained.hint and not explained.look_up


def test_a_real_bad_request_still_asks_to_check_the_parameters(app):
    explained = explain(app, 400, {"error": {"message": "temperature must be <= 2"}})
    assert explained.meaning.startswith("400: the request is malformed")
    assert explained.hint.startswith(PARAMETERS)


def test_a_key_echoed_in_the_relays_message_is_masked(app):
    key = "sk-" + "a1B2" * 12
    explained = explain(app, 401, {"error": {"message": f"Incorrect API key provided: {key}"}})
    assert key not in explained.relay_message and "sk-***" in explained.relay_message
