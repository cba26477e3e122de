"""relay.families: detection, each family's balance and verdicts, against real fake relays."""

from __future__ import annotations

import time

import pytest

import relay
from relay import budget, http
from relay.families import FAMILIES, detect
from relay.families.dates import iso_seconds
from relay.families.detect import by_address
from relay.families.moonshot import unit_of
from tests.fakerelay import DEEPSEEK, LITELLM, MOONSHOT, OPENAI, OPENROUTER

T = (1.0, 1.0)
USD = 500000


def look(fake, key, kind="auto"):
    return relay.lookup(fake.base_url, key, kind=kind, timeout=T)


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "family"),
    [
        (LITELLM, "litellm"),
        (OPENROUTER, "openrouter"),
        (DEEPSEEK, "deepseek"),
        (MOONSHOT, "moonshot"),
        (OPENAI, "openai"),
        ("new-api-2026", "new-api"),
        ("new-api-2025", "new-api"),
        ("one-api", "one-api"),
    ],
)
def test_it_detects_each_family_without_a_key(relays, flavor, family):
    fake = relays(flavor)
    assert relay.resolve(fake.base_url, timeout=T).name == family
    # the keyless questions never carry a key
    assert all("Authorization" not in r.headers for r in fake.requests)


@pytest.mark.parametrize("flavor", [LITELLM, OPENROUTER, DEEPSEEK, MOONSHOT, OPENAI])
def test_it_names_the_family_of_a_first_lookup(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    balance = look(fake, token.key)
    assert balance.family == flavor
    assert balance.status == "active"


def test_it_caches_a_detection_per_base_url(relays):
    fake = relays(LITELLM)
    assert relay.resolve(fake.base_url, timeout=T).name == "litellm"
    fake.reset()
    assert relay.resolve(fake.base_url, timeout=T).name == "litellm"
    assert fake.requests == []


def test_it_skips_detection_when_the_admin_named_the_family(relays):
    fake = relays(OPENAI)
    token = fake.add_token()
    balance = look(fake, token.key, kind="openai")
    assert balance.family == "openai" and balance.status == "active"
    assert {r.path for r in fake.requests} == {"/v1/models"}


def test_it_detects_nothing_at_a_dead_address_and_asks_again_soon():
    url = dead_url()
    assert relay.resolve(url, timeout=(0.5, 0.5)) is None
    known, name = relay.FAMILY_CACHE.peek(url)
    assert known and name is None


def test_it_does_not_settle_on_a_family_while_our_budget_holds_api_status(relays, monkeypatch):
    fake = relays("new-api-2026")
    monkeypatch.setitem(relay.BUDGETS.limits, budget.GLOBAL, (1, 600.0))
    relay.BUDGETS.spend(fake.url, "/api/status")
    assert detect(fake.url, FAMILIES.values(), timeout=T) is None
    assert relay.FAMILY_CACHE.peek(fake.url) == (False, None)


@pytest.mark.parametrize("fault", ["500", "502_html", "reset", "timeout"])
def test_it_does_not_call_a_briefly_failing_one_api_relay_openai(relays, fault):
    fake = relays("new-api-2026")
    fake.set_fault("/api/status", fault)
    assert detect(fake.url, FAMILIES.values(), timeout=(0.5, 0.5)) is None
    assert relay.FAMILY_CACHE.peek(fake.url) == (False, None)  # decided nothing, cached nothing
    fake.set_fault("/api/status", None)  # the fault passed: the next question gets the truth
    relay.STATUS_CACHE.clear()
    assert detect(fake.url, FAMILIES.values(), timeout=T) == "new-api"


def test_a_first_lookup_during_an_api_status_fault_caches_no_family(relays):
    fake = relays("new-api-2026")
    token = fake.add_token()
    fake.set_fault("/api/status", "500")
    balance = look(fake, token.key)
    assert balance.family is None
    assert relay.FAMILY_CACHE.peek(fake.url) == (False, None)


def test_background_detection_leaves_the_share_kept_for_people(relays, monkeypatch):
    fake = relays("new-api-2026")
    # a global window of 4 calls keeps 1 for people (RESERVE 25 %): background gets 3
    monkeypatch.setitem(relay.BUDGETS.limits, budget.GLOBAL, (4, 600.0))
    for _ in range(3):
        relay.BUDGETS.spend(fake.url, "/api/status", background=True)
    assert detect(fake.url, FAMILIES.values(), timeout=T, background=True) is None
    assert all(r.path != "/api/status" for r in fake.requests)
    # a person may still use the kept share
    assert detect(fake.url, FAMILIES.values(), timeout=T) == "new-api"


def test_it_names_families_by_their_public_host_names():
    families = FAMILIES.values()
    assert by_address("https://api.deepseek.com", families).name == "deepseek"
    assert by_address("https://openrouter.ai/api", families).name == "openrouter"
    assert by_address("https://api.moonshot.cn", families).name == "moonshot"
    assert by_address("https://api.moonshot.ai", families).name == "moonshot"
    assert by_address("https://api.juheai.top", families) is None
    assert by_address("https://deepseek.com.evil.example", families) is None


def test_it_finds_every_family_module():
    assert set(relay.KINDS) == {
        "auto",
        "one-api",
        "new-api",
        "litellm",
        "openrouter",
        "deepseek",
        "moonshot",
        "openai",
    }
    for family in FAMILIES.values():
        assert family.lookup is not None and family.label


# -- LiteLLM -------------------------------------------------------------------------------------


def test_it_reads_a_litellm_budget(relays):
    fake = relays(LITELLM)
    token = fake.add_token(
        max_budget=10.0,
        spend=2.5,
        budget_duration="30d",
        budget_reset_at="2030-01-01T00:00:00Z",
        key_alias="prod",
        expires="2031-06-01T00:00:00Z",
    )
    b = look(fake, token.key)
    assert (b.status, b.unit, b.scope) == ("active", "USD", "token")
    assert (b.total, b.used, b.remaining) == (10.0, 2.5, 7.5)
    assert b.budget == {"duration": "30d", "reset_at": iso_seconds("2030-01-01T00:00:00Z")}
    assert b.token_name == "prod" and b.expiry_stated and b.expires_at > time.time()
    assert b.balance_published and b.models


def test_it_calls_a_litellm_key_without_max_budget_unlimited_with_its_spend(relays):
    fake = relays(LITELLM)
    token = fake.add_token(spend=4.0)
    b = look(fake, token.key)
    assert (b.status, b.unlimited, b.used, b.remaining) == ("active", True, 4.0, None)
    assert b.expiry_stated and b.expires_at is None  # LiteLLM's null expiry means never


def test_it_calls_a_spent_litellm_budget_exhausted(relays):
    fake = relays(LITELLM)
    token = fake.add_token(max_budget=1.0, spend=1.25)
    b = look(fake, token.key)
    assert (b.status, b.remaining) == ("exhausted", -0.25)


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"status": "disabled"}, "disabled", "disabled"),
        ({"status": "expired"}, "expired", "expired"),
    ],
)
def test_it_reads_litellm_refusals(relays, fields, status, reason):
    fake = relays(LITELLM)
    token = fake.add_token(**fields)
    b = look(fake, token.key)
    assert (b.status, b.reason, b.http_status) == (status, reason, 401)


def test_it_calls_an_unknown_litellm_key_invalid(relays):
    fake = relays(LITELLM)
    b = look(fake, "sk-nosuchkey12345")
    assert (b.status, b.reason, b.http_status) == ("invalid", "invalid_key", 401)


def test_it_says_a_litellm_proxy_without_a_database_cannot_check_keys(relays):
    fake = relays(LITELLM, litellm_db=False, master_key="sk-master-1234")
    wrong = look(fake, "sk-nosuchkey12345")
    assert (wrong.status, wrong.reason) == ("error", "no_key_db")
    master = look(fake, "sk-master-1234")
    assert (master.status, master.balance_published) == ("active", False)
    assert master.remaining is None and master.models


# -- OpenRouter ----------------------------------------------------------------------------------


def test_it_reads_an_openrouter_key_limit(relays):
    fake = relays(OPENROUTER)
    token = fake.add_token(limit=20.0, usage=5.0, limit_reset="monthly")
    b = look(fake, token.key)
    assert (b.status, b.unit, b.scope) == ("active", "USD", "token")
    assert (b.total, b.used, b.remaining) == (20.0, 5.0, 15.0)
    assert b.budget == {"duration": "monthly", "reset_at": None}
    assert b.account is None  # ordinary keys may not read the account's credits


def test_it_adds_openrouter_account_credits_when_allowed(relays):
    fake = relays(OPENROUTER, credits_allowed=True, total_credits=25.0, total_usage=5.5)
    token = fake.add_token(usage=1.0)
    b = look(fake, token.key)
    assert b.unlimited and b.used == 1.0
    assert b.account == {"total": 25.0, "used": 5.5, "remaining": 19.5, "unit": "USD"}


def test_it_calls_an_unknown_openrouter_key_invalid(relays):
    fake = relays(OPENROUTER)
    b = look(fake, "sk-or-v1-nosuchkey")
    assert (b.status, b.reason) == ("invalid", "invalid_key")


# -- DeepSeek and Moonshot -----------------------------------------------------------------------


def test_it_reads_every_deepseek_currency(relays):
    fake = relays(DEEPSEEK)
    infos = [
        {
            "currency": "USD",
            "total_balance": "3.50",
            "granted_balance": "0.00",
            "topped_up_balance": "3.50",
        },
        {
            "currency": "CNY",
            "total_balance": "110.00",
            "granted_balance": "10.00",
            "topped_up_balance": "100.00",
        },
    ]
    token = fake.add_token(balance_infos=infos)
    b = look(fake, token.key)
    assert (b.status, b.unit, b.remaining, b.scope) == ("active", "CNY", 110.0, "account")
    assert [row["currency"] for row in b.balances] == ["USD", "CNY"]
    assert b.balances[0]["total"] == 3.5 and b.total is None and b.used is None
    assert "deepseek-chat" in b.models
    assert b.remaining_usd is None  # CNY is not USD of quota


def test_it_calls_an_unavailable_deepseek_account_exhausted(relays):
    fake = relays(DEEPSEEK)
    token = fake.add_token(is_available=False)
    assert look(fake, token.key).status == "exhausted"


def test_it_calls_an_unknown_deepseek_key_invalid(relays):
    fake = relays(DEEPSEEK)
    assert look(fake, "sk-nosuchkey12345").status == "invalid"


def test_it_reads_a_moonshot_balance(relays):
    fake = relays(MOONSHOT)
    token = fake.add_token(
        available_balance=49.58894, voucher_balance=46.58893, cash_balance=3.00001
    )
    b = look(fake, token.key)
    assert (b.status, b.unit, b.remaining, b.scope) == ("active", "CNY", 49.58894, "account")
    assert b.balances[0]["topped_up"] == 3.00001


def test_it_calls_a_moonshot_account_at_zero_exhausted(relays):
    fake = relays(MOONSHOT)
    token = fake.add_token(available_balance=0.0, cash_balance=-1.5)
    assert look(fake, token.key).status == "exhausted"
    assert look(fake, "sk-nosuchkey12345").status == "invalid"


def test_it_uses_usd_on_moonshot_ai_and_cny_on_moonshot_cn():
    assert unit_of("https://api.moonshot.ai") == "USD"
    assert unit_of("https://api.moonshot.cn") == "CNY"


# -- generic OpenAI-compatible -------------------------------------------------------------------


def test_it_calls_a_working_key_on_a_no_balance_relay_active_with_models(relays):
    fake = relays(OPENAI)
    token = fake.add_token()
    b = look(fake, token.key)
    assert (b.status, b.balance_published, b.reason) == ("active", False, None)
    assert b.remaining is None and b.used is None and b.total is None
    assert b.models and b.family == "openai"


def test_it_calls_a_refused_key_on_a_no_balance_relay_refused_not_invalid(relays):
    fake = relays(OPENAI)
    b = look(fake, "sk-nosuchkey12345")
    assert (b.status, b.reason, b.http_status) == ("refused", "refused", 401)


@pytest.mark.parametrize("style", ["fastapi", "text", "html"])
def test_it_gives_the_base_url_hint_only_when_nothing_answers_like_the_api(relays, style):
    fake = relays(OPENAI, not_found_style=style)
    token = fake.add_token()
    b = relay.lookup(fake.url + "/wrong", token.key, timeout=T)
    assert (b.status, b.reason) == ("error", "no_balance_endpoint")


# -- new-api 2026: never "invalid" without evidence ----------------------------------------------


@pytest.fixture
def spent_critical(monkeypatch):
    """A critical (/api/usage/token) budget of one call, already spent by someone else."""
    monkeypatch.setitem(relay.BUDGETS.limits, budget.CRITICAL, (1, 1200.0))

    def spend(fake):
        relay.relay_info(fake.url, timeout=T)
        assert relay.BUDGETS.spend(fake.url, "/api/usage/token") == 0.0

    return spend


@pytest.mark.parametrize(
    "fields",
    [
        {"remain_quota": 0, "used_quota": 3 * USD},
        {"expired_time": 1},
        {"status": "disabled"},
    ],
)
def test_it_never_calls_a_refused_2026_key_invalid_while_the_budget_is_spent(
    relays, spent_critical, fields
):
    fake = relays("new-api-2026", lang="en")  # TokenAuth says "Invalid token" for all of them
    token = fake.add_token(**fields)
    spent_critical(fake)
    b = look(fake, token.key)
    assert (b.status, b.reason) == ("refused", "refused")
    assert b.retry_in and b.retry_in > 0  # when the call that can tell returns
    assert fake.requests_to("/v1/dashboard/billing/subscription") == []  # same TokenAuth: skipped


def test_it_tells_the_2026_states_apart_when_the_budget_allows(relays):
    fake = relays("new-api-2026", lang="en")
    spent = fake.add_token(remain_quota=0, used_quota=3 * USD)
    disabled = fake.add_token(status="disabled")
    assert look(fake, spent.key).status == "exhausted"
    assert look(fake, disabled.key).status == "disabled"
    assert look(fake, "sk-nosuchkeyatall123").status == "invalid"


def test_it_still_calls_an_unknown_one_api_key_invalid(relays):
    fake = relays("one-api")
    b = look(fake, "sk-nosuchkeyatall123")
    assert (b.status, b.reason) == ("invalid", "invalid_key")


def test_it_polls_a_refused_2026_key_as_refused_with_a_retry(relays, spent_critical):
    fake = relays("new-api-2026", lang="en")
    token = fake.add_token(remain_quota=0, used_quota=3 * USD)
    spent_critical(fake)
    info = relay.poll_info(fake.url, T)
    family = FAMILIES["new-api"]
    b = relay.check(family, fake.url, token.key, info, timeout=T)
    assert (b.status, b.reason, b.family) == ("refused", "refused", "new-api")
    assert b.retry_in > 0


# -- the budget serves people first --------------------------------------------------------------


def test_it_keeps_a_share_of_each_window_for_people():
    budgets = budget.Budgets({budget.CRITICAL: (18, 1200.0), budget.GLOBAL: (150, 180.0)})
    path = "/api/usage/token"
    background = 0
    while budgets.spend("a", path, background=True) == 0.0:
        background += 1
    assert background == 9  # the poller stops at half of the critical window
    assert budgets.room("a", path) == 9 and budgets.room("a", path, background=True) == 0
    people = 0
    while budgets.spend("a", path) == 0.0:
        people += 1
    assert people == 9
    assert budgets.limit_of("a", path) == (18, 1200.0)
    assert budgets.limit_of("a", "/v1/models") is None


def test_it_charges_background_calls_against_the_reserved_share(relays, monkeypatch):
    fake = relays("new-api-2026")
    token = fake.add_token()
    monkeypatch.setitem(relay.BUDGETS.limits, budget.CRITICAL, (2, 1200.0))
    first = relay.calls.call(fake.url, "/api/usage/token/", token.key, timeout=T, background=True)
    held = relay.calls.call(fake.url, "/api/usage/token/", token.key, timeout=T, background=True)
    assert first.ok and (held.kind, held.message) == (http.RATE_LIMITED, "budget")
    person = relay.calls.call(fake.url, "/api/usage/token/", token.key, timeout=T)
    assert person.ok


# -- odd values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-01T00:00:00Z", 1893456000),
        ("2030-01-01T08:00:00+08:00", 1893456000),
        ("2030-01-01T00:00:00", 1893456000),
        ("99999-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00Z", None),
        ("not a date", None),
        ("２０３０-01-01", None),
        ("", None),
        (None, None),
        (1893456000, None),
        ("9" * 100, None),
    ],
)
def test_it_reads_iso_dates_safely(text, expected):
    assert iso_seconds(text) == expected
