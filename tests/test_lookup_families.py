"""The lookup per relay family: the JSON contract and the card say only what the relay said."""

from __future__ import annotations

import re

import pytest

import relay
from blueprints.lookup.service import LOGS
from blueprints.providers.service import add_provider
from tests.fakerelay import make_logs

HX = {"HX-Request": "true"}
USD = 500000
COPIED = "copied the whole key"
BASE_URL_HINT = "base URL may be wrong"


def api(client, provider, key):
    """The JSON lookup of one key."""
    response = client.post("/api/v1/lookup", json={"provider": provider, "key": key})
    assert response.status_code == 200
    return response.get_json()


def card(client, provider, key, **form):
    """The HTML result card of one key (htmx fragment)."""
    data = {"provider": provider, "key": key, **form}
    return client.post("/lookup", data=data, headers=HX).get_data(as_text=True)


def summary(html):
    """The copy-summary text inside a card."""
    return re.search(r'<textarea id="summary-text"[^>]*>(.*?)</textarea>', html, re.S)[1]


@pytest.fixture
def family(app, relays):
    """Start a fake relay of a family and register it as a provider named after it."""

    def start(flavor, **options):
        fake = relays(flavor, **options)
        with app.app_context():
            add_provider(flavor, fake.base_url)
        return fake

    return start


# -- LiteLLM ---------------------------------------------------------------------------------


def test_a_litellm_key_shows_max_budget_less_spend_and_its_budget_window(client, family):
    """Remaining = max_budget - spend in USD for this key; spend covers the 30d window."""
    fake = family("litellm")
    token = fake.add_token(
        spend=2.5,
        max_budget=10.0,
        budget_duration="30d",
        budget_reset_at="2030-01-01T00:00:00Z",
        key_alias="team-a",
    )
    body = api(client, "litellm", token.key)
    assert body["family"] == "litellm" and body["status"] == "active"
    assert body["relay"] == "unknown"  # no /api/status: `relay` keeps its old meaning
    assert (body["total"], body["used"], body["remaining"]) == (10.0, 2.5, 7.5)
    assert body["unit"] == "USD" and body["scope"] == "token"
    assert body["balance_published"] is True
    assert body["budget"] == {"duration": "30d", "reset_at": "2030-01-01T00:00:00Z"}
    assert body["expires_at"] is None and body["expiry_stated"] is True  # LiteLLM's null: never
    assert body["token_name"] == "team-a" and body["figures_error"] is None
    assert "error" not in body
    html = card(client, "litellm", token.key, tz="Asia/Shanghai")
    assert 'data-testid="remaining">$7.50<' in html
    assert "$2.50 used of $10.00" in html
    assert "Spend covers only the current 30d budget window" in html
    assert "2030-01-01 08:00 (Asia/Shanghai)" in html  # the reset, in the viewer's zone
    assert "This key only" in html and ">Never<" in html
    assert "LiteLLM publishes no per-key request log." in html
    assert 'hx-post="/lookup/log"' not in html  # nothing to load: no call is made
    assert "quota units" not in html  # LiteLLM money is USD, not relay quota
    text = summary(html)
    assert "Remaining: $7.50 of $10.00" in text and "30d" in text and "Expires: never" in text


def test_a_wrong_litellm_key_is_invalid(client, family):
    """With a key database, LiteLLM's 401 auth_error means there is no such key."""
    family("litellm")
    body = api(client, "litellm", "sk-" + "w" * 40)
    assert (body["status"], body["error"]["code"]) == ("invalid", "invalid_key")
    assert body["family"] == "litellm"
    html = card(client, "litellm", "sk-" + "w" * 40)
    assert 'data-status="invalid"' in html and "does not recognise this key" in html
    assert BASE_URL_HINT not in html


def test_a_blocked_litellm_key_is_disabled(client, family):
    """'Key is blocked' in LiteLLM's 401 is the disabled state, never "invalid"."""
    fake = family("litellm")
    token = fake.add_token(status="disabled")
    body = api(client, "litellm", token.key)
    assert (body["status"], body["error"]["code"]) == ("disabled", "disabled")
    html = card(client, "litellm", token.key)
    assert 'data-status="disabled"' in html and "disabled this key" in html
    assert COPIED not in html


def test_a_litellm_proxy_without_a_key_database_cannot_check_keys(client, family):
    """'No connected db.' says the proxy cannot check keys; only the master key works."""
    fake = family("litellm", litellm_db=False, master_key="sk-master-0123456789abcdef")
    body = api(client, "litellm", "sk-" + "n" * 40)
    assert body["status"] == "error" and body["error"]["code"] == "no_key_db"
    html = card(client, "litellm", "sk-" + "n" * 40)
    assert 'data-reason="no_key_db"' in html and "result--neutral" in html
    assert "has no key database, so it cannot check keys" in html
    assert "Cannot be checked" in html
    assert "Invalid key" not in html and COPIED not in html and BASE_URL_HINT not in html
    master = api(client, "litellm", fake.master_key)
    assert master["status"] == "active" and master["balance_published"] is False
    assert master["remaining"] is None and master["models"]


# -- any OpenAI-compatible relay -------------------------------------------------------------


def test_a_working_key_on_a_relay_without_balances_is_active_with_its_models(client, family):
    """/v1/models answered 200: active, no balance published, null amounts, the models listed."""
    fake = family("openai", group_models=["llama-3.1-8b", "qwen2.5-7b"])
    token = fake.add_token()
    body = api(client, "openai", token.key)
    assert body["family"] == "openai" and body["status"] == "active"
    assert body["balance_published"] is False
    assert body["total"] is body["used"] is body["remaining"] is None
    assert body["models"] == ["llama-3.1-8b", "qwen2.5-7b"]
    assert body["expiry_stated"] is False and "error" not in body
    html = card(client, "openai", token.key)
    assert "result--neutral" in html and 'data-status="active"' in html
    assert "This relay (OpenAI-compatible) publishes no balance for keys." in html
    assert 'data-testid="explanation"' not in html and BASE_URL_HINT not in html
    assert 'data-testid="remaining"' not in html
    assert "<code>qwen2.5-7b</code>" in html and 'data-testid="models" open' in html
    assert "OpenAI-compatible publishes no per-key request log." in html


def test_a_wrong_key_on_a_relay_without_balances_is_refused_not_invalid(client, family):
    """A bare 401 from /v1/models does not say why: refused, never "check the whole key"."""
    family("openai")
    key = "sk-" + "r" * 40
    body = api(client, "openai", key)
    assert (body["status"], body["error"]["code"]) == ("refused", "refused")
    assert body["balance_published"] is False and "retry_in" not in body
    assert "does not say which" in body["error"]["message"]
    html = card(client, "openai", key)
    assert 'data-status="refused"' in html and ">Refused<" in html
    assert "invalid, used up, expired or disabled and does not say which" in html
    assert "publishes no balance for keys" in html
    assert "Invalid key" not in html and COPIED not in html and BASE_URL_HINT not in html


def test_expiry_that_no_relay_stated_reads_not_stated_never_never(app, client, family):
    """Unknown expiry is "not stated" on the card and in the copied summary, in en and zh."""
    fake = family("openai")
    token = fake.add_token()
    html = card(client, "openai", token.key)
    assert 'data-testid="expires">Not stated by this relay<' in html
    assert "Expires: not stated by this relay" in summary(html)
    assert "Never" not in html and "never" not in summary(html)
    client.set_cookie("lang", "zh_CN")
    chinese = card(client, "openai", token.key)
    assert 'data-testid="expires">该中转站未说明<' in chinese
    assert "永不" not in chinese


def test_the_admins_family_choice_is_honoured(app, client, relays):
    """A new-api relay an admin set to "openai" is asked /v1/models only, and says so."""
    fake = relays("new-api-2026")
    with app.app_context():
        add_provider("plain", fake.url, kind="openai")
    token = fake.add_token(remain_quota=12 * USD)
    body = api(client, "plain", token.key)
    assert body["family"] == "openai" and body["status"] == "active"
    assert body["balance_published"] is False and body["remaining"] is None
    assert fake.requests_to("/api/usage/token/") == [] and fake.requests_to("/api/status") == []


# -- OpenRouter ------------------------------------------------------------------------------


def test_an_openrouter_key_shows_its_limit_usage_and_the_account_credits(client, family):
    """/v1/key: this key's limit and usage (USD); /v1/credits: the account, when allowed."""
    fake = family("openrouter", credits_allowed=True, total_credits=25.0, total_usage=5.5)
    token = fake.add_token(limit=10.0, usage=4.0, limit_reset="monthly")
    body = api(client, "openrouter", token.key)
    assert body["family"] == "openrouter" and body["status"] == "active"
    assert (body["total"], body["used"], body["remaining"]) == (10.0, 4.0, 6.0)
    assert body["scope"] == "token" and body["unit"] == "USD"
    assert body["budget"] == {"duration": "monthly", "reset_at": None}
    assert body["account"] == {"total": 25.0, "used": 5.5, "remaining": 19.5, "unit": "USD"}
    html = card(client, "openrouter", token.key)
    assert 'data-testid="remaining">$6.00<' in html
    assert "The key&#39;s limit resets every month" in html
    assert "$19.50 left of $25.00 (used $5.50)" in html and "The whole account" in html
    assert "Account credits: $19.50 left of $25.00" in summary(html)


def test_an_openrouter_key_without_credit_rights_shows_its_own_figures_only(client, family):
    """/v1/credits refused for an ordinary key: the key's figures, no account block."""
    fake = family("openrouter")
    token = fake.add_token(limit=None, usage=1.25)
    body = api(client, "openrouter", token.key)
    assert body["unlimited"] is True and body["used"] == 1.25 and body["account"] is None
    html = card(client, "openrouter", token.key)
    assert 'data-testid="account"' not in html and "$1.25 used so far" in html


# -- DeepSeek and Moonshot -------------------------------------------------------------------


def test_deepseek_lists_every_currency_of_the_whole_account(client, family):
    """balance_infos (strings) in each currency, account scope; is_available false → used up."""
    fake = family("deepseek")
    token = fake.add_token(
        balance_infos=[
            {
                "currency": "CNY",
                "total_balance": "110.00",
                "granted_balance": "10.00",
                "topped_up_balance": "100.00",
            },
            {
                "currency": "USD",
                "total_balance": "5.00",
                "granted_balance": "0.00",
                "topped_up_balance": "5.00",
            },
        ],
        is_available=False,
    )
    body = api(client, "deepseek", token.key)
    assert body["family"] == "deepseek" and body["status"] == "exhausted"
    assert body["scope"] == "account" and body["unit"] == "CNY" and body["remaining"] == 110.0
    assert [row["currency"] for row in body["balances"]] == ["CNY", "USD"]
    usd = {"currency": "USD", "total": 5.0, "granted": 0.0, "topped_up": 5.0}
    assert body["balances"][1] == usd
    html = card(client, "deepseek", token.key)
    assert 'data-status="exhausted"' in html and ">Used up<" in html
    assert 'data-currency="CNY"' in html and 'data-currency="USD"' in html
    assert "¥110.00" in html and "$5.00" in html
    assert 'data-testid="scope">The whole account<' in html
    assert "The account behind this key has no balance left" in html


def test_moonshot_shows_the_available_balance_of_the_account(client, family):
    """available_balance in CNY (not on .ai), account scope, voucher and cash beside it."""
    fake = family("moonshot")
    token = fake.add_token(
        available_balance=49.58894, voucher_balance=46.58893, cash_balance=3.00001
    )
    body = api(client, "moonshot", token.key)
    assert body["family"] == "moonshot" and body["status"] == "active"
    assert (body["unit"], body["remaining"], body["scope"]) == ("CNY", 49.58894, "account")
    html = card(client, "moonshot", token.key)
    assert 'data-testid="remaining">¥49.59<' in html
    assert 'data-testid="scope">The whole account<' in html
    assert "¥46.59" in html and "¥3.00" in html  # voucher and cash
    assert "Moonshot (Kimi) publishes no per-key request log." in html


# -- new-api 2026 under relaydash's own budget -----------------------------------------------


@pytest.fixture
def tight(monkeypatch):
    """A critical budget (/api/usage/token, /api/log/token) of one call per 20 minutes."""
    monkeypatch.setitem(relay.BUDGETS.limits, relay.budget.CRITICAL, (1, 1200.0))


def test_an_exhausted_new_api_2026_key_is_refused_not_invalid_once_the_budget_is_spent(
    app, client, relays, tight
):
    """Its TokenAuth says "Invalid token" for spent keys too: without /api/usage/token, refused."""
    fake = relays("new-api-2026", lang="en")
    with app.app_context():
        add_provider("np", fake.url)
    spender = fake.add_token()
    spent = fake.add_token(remain_quota=0, used_quota=5 * USD)
    assert api(client, "np", spender.key)["status"] == "active"  # spends the critical call
    body = api(client, "np", spent.key)
    assert (body["status"], body["error"]["code"]) == ("refused", "refused")
    assert body["retry_in"] > 60 and body["family"] == "new-api"
    assert COPIED not in body["error"]["message"]
    batch = client.post("/api/v1/lookup/batch", json={"provider": "np", "keys": [spent.key]})
    assert batch.get_json()["results"][0]["status"] == "refused"
    html = card(client, "np", spent.key, tz="Asia/Shanghai")
    assert 'data-status="refused"' in html and ">Refused<" in html
    assert "Invalid key" not in html and COPIED not in html
    assert re.search(r"Try again in \d+ s, at [0-9: -]+ \(Asia/Shanghai\)\.", html)
    assert "shares" in html  # whose limit the held call was under


def test_a_refused_key_is_asked_again_not_served_from_memory(app, client, relays, tight):
    """'refused' is not cached: once the budget returns, the next lookup can tell."""
    fake = relays("new-api-2026", lang="en")
    with app.app_context():
        add_provider("np", fake.url)
    api(client, "np", fake.add_token().key)
    spent = fake.add_token(remain_quota=0, used_quota=5 * USD)
    assert api(client, "np", spent.key)["status"] == "refused"
    relay.BUDGETS.clear()
    assert api(client, "np", spent.key)["status"] == "exhausted"


def test_the_budget_text_says_what_is_limited_whose_limit_it_is_and_when_it_returns(
    app, client, relays, tight
):
    """Held balance reads: the relay's per-IP limit in numbers, shared, and the clock time."""
    fake = relays("new-api-2026")
    with app.app_context():
        add_provider("np", fake.url, budget=(4, 180))
    api(client, "np", fake.add_token().key)  # /api/status and the reads fill both windows
    token = fake.add_token()
    body = api(client, "np", token.key)
    # /v1/models still answered: the key works, only its figures wait for the budget.
    assert body["status"] == "active" and body["figures_error"] == "budget"
    assert body["retry_in"] > 0 and body["remaining"] is None
    html = card(client, "np", token.key, tz="Asia/Shanghai")
    assert 'data-testid="figures-error"' in html and "result--active" in html
    assert "figures were not available this time" in html
    assert "Balance reads of this relay are limited to 1 per 20 minutes" in html
    assert "everyone using this relaydash server shares one IP address" in html
    assert "background checks back off first" in html
    assert re.search(r"Try again in \d+ s, at [0-9: -]+ \(Asia/Shanghai\)\.", html)
    fake.set_fault("/v1/models", "500")
    other = fake.add_token()
    held = api(client, "np", other.key)
    assert (held["status"], held["error"]["code"]) == ("rate_limited", "budget")
    assert "limited to 1 per 20 minutes" in held["error"]["message"]
    assert "(UTC)" in held["error"]["message"]  # no zone given: the default, labelled
    assert COPIED not in held["error"]["message"]


# -- the request log -------------------------------------------------------------------------


def test_a_second_view_of_the_same_keys_log_does_not_reach_the_relay(client, provider, fake):
    """The log is kept for minutes under an HMAC of the key: a repeat view costs no call."""
    token = fake.add_token(logs=make_logs(12))
    form = {"provider": "fake", "key": token.key}
    first = client.post("/lookup/log", data=form, headers=HX).get_data(as_text=True)
    second = client.post("/lookup/log", data=form, headers=HX).get_data(as_text=True)
    assert "12 requests" in first and "12 requests" in second
    assert len(fake.requests_to("/api/log/token")) == 1
    names = list(LOGS._items)
    assert len(names) == 1 and re.fullmatch(r"[0-9a-f]{64}", names[0])
    assert token.key not in names[0]


def test_a_held_log_read_says_what_whose_and_when(client, provider, fake, tight):
    """The log read held back by the critical budget: request-log reads, shared, and when."""
    token = fake.add_token(logs=make_logs(3))
    card(client, "fake", token.key)  # the lookup spends the one critical call
    form = {"provider": "fake", "key": token.key, "tz": "Asia/Shanghai"}
    html = client.post("/lookup/log", data=form, headers=HX).get_data(as_text=True)
    assert "Request-log reads of this relay are limited to 1 per 20 minutes" in html
    assert "everyone using this relaydash server shares one IP address" in html
    assert re.search(r"Try again in \d+ s, at [0-9: -]+ \(Asia/Shanghai\)\.", html)


def test_a_family_without_a_request_log_is_named_and_not_asked(client, family):
    """LiteLLM has no per-key log: the log view names it and calls nothing."""
    fake = family("litellm")
    token = fake.add_token(max_budget=5.0)
    form = {"provider": "litellm", "key": token.key}
    html = client.post("/lookup/log", data=form, headers=HX).get_data(as_text=True)
    assert "LiteLLM publishes no per-key request log." in html
    assert fake.requests_to("/api/log/token") == []


# -- contract --------------------------------------------------------------------------------


def test_the_openapi_document_describes_families_and_refusals(client):
    """refused, family, balance_published, expiry_stated and the reasons are documented."""
    result = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Result"]
    props = result["properties"]
    assert "refused" in props["status"]["enum"]
    assert {"litellm", "openrouter", "deepseek", "moonshot", "openai", None} <= set(
        props["family"]["enum"]
    )
    for name in ("balance_published", "expiry_stated", "balances", "budget", "account"):
        assert name in props
    assert "figures_error" in props and "retry_in" in props
    assert "no_key_db" in props["error"]["description"]
    assert "refused" in props["error"]["description"]
    assert props["relay"]["enum"] == ["one-api", "new-api", "unknown"]


def test_the_batch_csv_tells_never_from_not_stated(client, provider, fake, family):
    """A key that never expires says never; a relay that did not say leaves the cell empty."""
    token = fake.add_token()
    other = family("openai").add_token()
    for name, key, expected in (("fake", token.key, "never"), ("openai", other.key, "")):
        page = client.post("/batch", data={"provider": name, "keys": key}).get_data(as_text=True)
        sealed = page.split('name="table" value="')[1].split('"')[0]
        sheet = (
            client.post("/batch.csv", data={"table": sealed}).get_data(as_text=True).splitlines()
        )
        assert sheet[1].split(",")[6] == expected
