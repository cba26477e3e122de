"""Unit tests of the relay/ package against the real fake relay (nothing mocked)."""

from __future__ import annotations

import json
import socket
import time

import pytest

import relay
from relay import budget, calls, http
from relay.balance import UNLIMITED_SENTINEL
from relay.classify import failure, status_from_denial
from relay.info import NEW_API_2026, RelayInfo
from tests.fakerelay import DEFAULT_GROUP_MODELS, DEFAULT_VERSIONS, FLAVORS, make_logs

T = (1.0, 1.0)
USD = 500000
OA, NA, NA_PLUS = "one-api", "new-api-2025", "new-api-2026"
SUB = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
TOKEN_USAGE = "/api/usage/token/"
MODELS = "/v1/models"
STATUS = "/api/status"
LOG = "/api/log/token"
FAST_FAULTS = ("429", "html", "reset", "malformed", "500")
# keyless paths a first lookup asks beside the one-api chain, to tell the other families apart
DETECT = {"/health/liveliness", "/v1/key", "/user/balance", "/v1/users/me/balance"}


def look(fake, key, base=None):
    """One lookup with the short test timeouts."""
    return relay.lookup(base or fake.url, key, timeout=T)


def dead_url() -> str:
    """A local URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def secret_free(obj, key: str) -> bool:
    """Neither the key nor its bare form shows up in repr() / str()."""
    bare = key.removeprefix("sk-")
    return all(bare not in text for text in (repr(obj), str(obj)))


def paths_of(fake) -> set[str]:
    """The normalised paths the fake has seen since its last reset."""
    return {r.path.rstrip("/") for r in fake.requests}


# -- relay.lookup: key states per flavour ------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_an_active_key(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(name="prod", remain_quota=12 * USD, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.status == "active"
    assert balance.reason is None and balance.http_status is None
    assert balance.unit == "USD" and balance.unlimited is False
    assert (balance.total, balance.used, balance.remaining) == (15.0, 3.0, 12.0)
    assert balance.remaining_usd == 12.0
    assert balance.expires_at is None
    assert balance.models == sorted(DEFAULT_GROUP_MODELS)
    assert balance.info.version == DEFAULT_VERSIONS[flavor]
    assert balance.info.generation == flavor
    assert balance.info.relay == ("one-api" if flavor == OA else "new-api")
    assert balance.info.answered is True
    if flavor == NA_PLUS:
        assert balance.scope == "token" and balance.token_name == "prod"
        assert balance.answered_by == [STATUS, TOKEN_USAGE, MODELS]
    else:
        # no expiry → access_until 0, so the billing pair cannot tell token from account
        assert balance.scope is None and balance.token_name is None
        assert balance.answered_by == [STATUS, SUB, USAGE, MODELS]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_an_exhausted_key(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(remain_quota=0, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.status == "exhausted" and balance.reason == "exhausted"
    if flavor == NA_PLUS:
        # /api/usage/token is read-only auth: spent keys still see their numbers
        assert (balance.total, balance.used, balance.remaining) == (3.0, 3.0, 0.0)
        assert balance.http_status is None
    else:
        assert balance.http_status == 401
        assert (balance.total, balance.used, balance.remaining) == (None, None, None)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_an_expired_key(relays, flavor):
    fake = relays(flavor)
    expired = int(time.time()) - 3600
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD, expired_time=expired)
    balance = look(fake, token.key)
    assert balance.status == "expired" and balance.reason == "expired"
    if flavor == NA_PLUS:
        assert balance.expires_at == expired and balance.scope == "token"
        assert balance.remaining == 12.0
    else:
        assert balance.http_status == 401 and balance.remaining is None


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_a_disabled_key(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(status="disabled")
    balance = look(fake, token.key)
    assert (balance.status, balance.reason, balance.http_status) == ("disabled", "disabled", 401)
    assert balance.remaining is None


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_calls_an_unknown_key_invalid(relays, flavor):
    fake = relays(flavor)
    fake.add_token()
    balance = look(fake, "sk-" + "x" * 48)
    assert (balance.status, balance.reason, balance.http_status) == ("invalid", "invalid_key", 401)
    assert balance.models is None and balance.total is None
    assert balance.info.generation == flavor


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_an_unlimited_key(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(unlimited=True, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.status == "active" and balance.unlimited is True
    assert balance.total is None and balance.remaining is None
    assert balance.used == 3.0
    assert balance.remaining_usd is None


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_a_future_expiry_as_token_scope(relays, flavor):
    fake = relays(flavor)
    expires = int(time.time()) + 86400
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD, expired_time=expires)
    balance = look(fake, token.key)
    assert balance.status == "active"
    assert balance.expires_at == expires and balance.scope == "token"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_reads_states_on_english_and_chinese_relays(relays, flavor, lang):
    fake = relays(flavor, lang=lang)
    keys = {
        "active": fake.add_token().key,
        "disabled": fake.add_token(status="disabled").key,
        "invalid": "sk-" + "q" * 48,
    }
    for state, key in keys.items():
        assert look(fake, key).status == state, (flavor, lang, state)


def test_it_reads_2025_exhausted_text_with_token_name_and_masked_key(relays):
    fake = relays(NA)
    token = fake.add_token(name="backup", remain_quota=0, used_quota=USD, token_id=7)
    raw = http.get(fake.url, SUB, key=token.key, timeout=T)
    masked = f"[sk-{token.key[3:6]}***{token.key[-3:]}]"
    assert raw.kind == http.DENIED and raw.message.startswith(
        "令牌 backup（#7）额度已用尽 " + masked
    )
    balance = look(fake, token.key)
    assert (balance.status, balance.reason, balance.http_status) == ("exhausted", "exhausted", 401)
    assert secret_free(balance, token.key)


def test_it_is_not_fooled_by_a_token_name_in_the_denial_text(relays):
    fake = relays(NA)
    token = fake.add_token(name="expired-backup", remain_quota=0, used_quota=USD)
    assert look(fake, token.key).status == "exhausted"


def test_it_lists_the_token_model_limits_on_2026(fake):
    token = fake.add_token(models=["gpt-4o", "deepseek-chat"])
    balance = look(fake, token.key)
    assert balance.models == ["deepseek-chat", "gpt-4o"]
    assert MODELS not in balance.answered_by
    assert balance.answered_by == [STATUS, TOKEN_USAGE]


@pytest.mark.parametrize("flavor", [OA, NA])
def test_it_lists_the_token_models_from_v1_models(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(models=["gpt-4o", "deepseek-chat"])
    balance = look(fake, token.key)
    assert balance.models == ["deepseek-chat", "gpt-4o"]
    assert balance.answered_by[-1] == MODELS


def test_it_copes_with_an_empty_group_model_list(relays):
    fake = relays(OA, group_models=[])
    token = fake.add_token()
    assert look(fake, token.key).models == []


# -- units -------------------------------------------------------------------------------------


def test_it_converts_2026_cny_display(relays):
    fake = relays(NA_PLUS, display="CNY", usd_exchange_rate=7.3)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.unit == "CNY" and balance.info.display == "CNY"
    assert balance.remaining == pytest.approx(12 * 7.3)
    assert balance.total == pytest.approx(15 * 7.3)
    assert balance.used == pytest.approx(3 * 7.3)
    assert balance.remaining_usd == pytest.approx(12.0)


def test_it_keeps_cny_through_the_billing_fallback(relays):
    fake = relays(NA_PLUS, display="CNY", usd_exchange_rate=7.3)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    fake.set_fault(TOKEN_USAGE, "500")
    balance = look(fake, token.key)
    assert balance.unit == "CNY" and balance.answered_by[:3] == [STATUS, SUB, USAGE]
    assert balance.remaining == pytest.approx(12 * 7.3)
    assert balance.used == pytest.approx(3 * 7.3)


@pytest.mark.parametrize("broken", [False, True])
def test_it_keeps_raw_quota_for_2026_tokens_display(relays, broken):
    fake = relays(NA_PLUS, display="TOKENS")
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    if broken:
        fake.set_fault(TOKEN_USAGE, "malformed")
    balance = look(fake, token.key)
    assert balance.unit == "quota"
    assert (balance.total, balance.used, balance.remaining) == (15 * USD, 3 * USD, 12 * USD)
    assert balance.remaining_usd == 12.0


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_uses_the_relays_quota_per_unit(relays, flavor):
    fake = relays(flavor, quota_per_unit=1000000)
    token = fake.add_token(remain_quota=12 * 1000000, used_quota=3 * 1000000)
    balance = look(fake, token.key)
    assert balance.info.quota_per_unit == 1000000
    assert (balance.total, balance.used, balance.remaining) == (15.0, 3.0, 12.0)


@pytest.mark.parametrize("flavor", [OA, NA])
def test_it_reports_quota_when_currency_display_is_off(relays, flavor):
    fake = relays(flavor, display_in_currency=False)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.unit == "quota"
    assert (balance.total, balance.used, balance.remaining) == (15 * USD, 3 * USD, 12 * USD)
    assert balance.remaining_usd == 12.0


def test_it_does_not_call_a_big_quota_token_unlimited(relays):
    fake = relays(OA, display_in_currency=False)
    token = fake.add_token(remain_quota=300 * USD, used_quota=0)
    balance = look(fake, token.key)
    assert balance.unlimited is False
    assert balance.total == 300 * USD


# -- billing quirks ----------------------------------------------------------------------------


def test_it_treats_the_billing_sentinel_as_unlimited_on_2026_fallback(fake):
    token = fake.add_token(unlimited=True, used_quota=3 * USD)
    fake.set_fault(TOKEN_USAGE, "html")
    balance = look(fake, token.key)
    assert SUB in balance.answered_by
    assert balance.unlimited is True and balance.status == "active"
    assert (balance.total, balance.remaining, balance.used) == (None, None, 3.0)
    assert UNLIMITED_SENTINEL == 100000000


def test_it_rebuilds_one_api_account_mode_remaining(relays):
    fake = relays(OA, token_stat=False)
    token = fake.add_token(user_quota=2 * USD, user_used_quota=5 * USD)
    balance = look(fake, token.key)
    assert balance.notes == ["remaining_only"]
    assert (balance.remaining, balance.used, balance.total) == (2.0, 5.0, 7.0)
    assert balance.status == "active" and balance.scope is None


def test_it_reads_new_api_2025_account_mode_without_scope(relays):
    fake = relays(NA, token_stat=False)
    token = fake.add_token(
        remain_quota=USD, used_quota=0, user_quota=100 * USD, user_used_quota=3 * USD
    )
    balance = look(fake, token.key)
    assert balance.scope is None and balance.notes == []
    assert (balance.total, balance.used, balance.remaining) == (103.0, 3.0, 100.0)


def test_it_keeps_the_subscription_when_usage_fails(relays):
    fake = relays(OA)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    fake.set_fault(USAGE, "db_error")
    balance = look(fake, token.key)
    assert balance.status == "active"
    assert (balance.total, balance.used, balance.remaining) == (15.0, None, None)
    assert SUB in balance.answered_by and USAGE not in balance.answered_by


# -- fallbacks and the status cache ------------------------------------------------------------


@pytest.mark.parametrize("fault", FAST_FAULTS)
def test_it_falls_back_to_billing_on_a_cold_2026_lookup(fake, fault):
    token = fake.add_token(remain_quota=0, used_quota=3 * USD)
    fake.set_fault(TOKEN_USAGE, fault)
    balance = look(fake, token.key)
    assert balance.status == "exhausted"  # the zh 401 text of the billing pair
    assert balance.info.generation == NA_PLUS
    # A reset is retried once at once (a stale keep-alive connection looks the same).
    tries = 2 if fault == "reset" else 1
    assert len(fake.requests_to(SUB)) == 1 and len(fake.requests_to(TOKEN_USAGE)) == tries


def test_it_retries_once_when_a_pooled_connection_was_reset(fake):
    """One reset (e.g. an idle keep-alive the relay closed) costs a retry, not the lookup."""
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    relay.relay_info(fake.url, timeout=T)
    fake.reset()
    fake.set_fault(TOKEN_USAGE, "reset", times=1)
    balance = look(fake, token.key)
    assert balance.status == "active" and balance.scope == "token"
    assert len(fake.requests_to(TOKEN_USAGE)) == 2
    assert fake.requests_to(SUB) == []


@pytest.mark.parametrize("fault", [*FAST_FAULTS, "timeout"])
def test_it_falls_back_to_billing_on_a_warm_2026_lookup(fake, fault):
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    relay.relay_info(fake.url, timeout=T)
    fake.reset()
    fake.set_fault(TOKEN_USAGE, fault)
    balance = look(fake, token.key)
    assert balance.status == "active"
    assert (balance.total, balance.used, balance.remaining) == (15.0, 3.0, 12.0)
    assert balance.answered_by == [STATUS, SUB, USAGE, MODELS]
    assert balance.scope is None and balance.token_name is None
    assert paths_of(fake) == {TOKEN_USAGE.rstrip("/"), MODELS, SUB, USAGE}


def test_it_calls_only_usage_token_and_models_on_a_warm_2026_lookup(fake):
    token = fake.add_token()
    first = look(fake, token.key)
    assert paths_of(fake) == {STATUS, TOKEN_USAGE.rstrip("/"), SUB, USAGE, MODELS, *DETECT}
    fake.reset()
    second = look(fake, token.key)
    assert paths_of(fake) == {TOKEN_USAGE.rstrip("/"), MODELS}
    assert [r.path for r in fake.requests_to(TOKEN_USAGE)] == [TOKEN_USAGE]
    assert second.status == first.status == "active"
    assert second.answered_by == first.answered_by
    assert len(fake.requests_to(STATUS)) == 0


@pytest.mark.parametrize("flavor", [OA, NA])
def test_it_never_calls_usage_token_on_a_warm_one_api_or_2025(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    for _ in range(3):
        assert look(fake, token.key).status == "active"
    assert len(fake.requests_to(TOKEN_USAGE)) == 1  # only the cold, generation-blind round
    assert len(fake.requests_to(STATUS)) == 1
    assert len(fake.requests_to(SUB)) == 3


def test_it_never_sends_the_key_as_a_query_to_v1_models(relays):
    for flavor in FLAVORS:
        fake = relays(flavor)
        token = fake.add_token()
        look(fake, token.key)
        look(fake, token.key)
        models = fake.requests_to(MODELS)
        assert len(models) == 2
        for request in models:
            assert request.query == {}
            assert request.headers["Authorization"] == f"Bearer {token.key}"


def test_it_keeps_the_key_out_of_the_status_call(fake):
    token = fake.add_token()
    look(fake, token.key)
    (status,) = fake.requests_to(STATUS)
    assert "Authorization" not in status.headers and status.query == {}


def test_it_ignores_an_spa_page_on_usage_token(relays):
    fake = relays(OA, html_fallback=True)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    balance = look(fake, token.key)
    assert balance.status == "active" and balance.remaining == 12.0


def test_it_survives_the_relays_own_critical_limit(relays):
    fake = relays(NA_PLUS, critical_limit=(1, 600))
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    assert look(fake, token.key).answered_by[1] == TOKEN_USAGE
    # the relay 429s /api/usage/token: the billing pair answers instead
    second = look(fake, token.key)
    assert second.status == "active" and second.answered_by[1] == SUB
    assert len(fake.requests_to(TOKEN_USAGE)) == 2
    # and now we hold off /api/usage/token ourselves instead of spending more
    third = look(fake, token.key)
    assert third.status == "active" and third.remaining == 12.0
    assert len(fake.requests_to(TOKEN_USAGE)) == 2


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_calls_an_all_429_relay_rate_limited_not_invalid(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.set_fault("*", "429")
    balance = look(fake, token.key)
    assert (balance.status, balance.reason) == ("rate_limited", "relay_rate_limited")
    assert balance.http_status == 429
    assert balance.retry_in is not None and balance.retry_in > 0


def test_it_calls_an_all_429_relay_rate_limited_when_warm(fake):
    token = fake.add_token()
    relay.relay_info(fake.url, timeout=T)
    fake.set_fault("*", "429")
    balance = look(fake, token.key)
    assert balance.status == "rate_limited" and balance.retry_in > 0
    # the /v1/models 429 of round one already held the global group, so the pair of round
    # two is refused by our own budget (see the xfail below)
    assert balance.reason in ("relay_rate_limited", "budget")


def test_it_does_not_let_a_models_429_block_the_billing_pair(relays):
    fake = relays(OA)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    fake.set_fault(MODELS, "429", times=1)
    first = look(fake, token.key)
    assert first.status == "active" and first.models is None
    second = look(fake, token.key)
    assert second.status == "active" and second.remaining == 12.0


def test_it_calls_a_relay_that_times_out_unreachable(fake):
    token = fake.add_token()
    fake.set_fault("*", "timeout")
    balance = look(fake, token.key)
    assert (balance.status, balance.reason) == ("unreachable", "timeout")
    assert balance.info.answered is False and balance.answered_by == []
    assert secret_free(balance, token.key)


def test_it_calls_a_closed_port_unreachable():
    key = "sk-" + "d" * 48
    balance = relay.lookup(dead_url(), key, timeout=T)
    assert (balance.status, balance.reason) == ("unreachable", "unreachable")
    assert balance.http_status is None and balance.info.generation is None
    assert secret_free(balance, key)


def test_it_calls_a_stopped_relay_unreachable(relays):
    fake = relays(OA)
    token = fake.add_token()
    assert look(fake, token.key).status == "active"  # pooled keep-alive connections now exist
    fake.stop()
    balance = look(fake, token.key)
    assert balance.status == "unreachable"
    assert balance.reason in ("unreachable", "reset")
    assert secret_free(balance, token.key)


def test_it_calls_a_resetting_relay_unreachable(fake):
    token = fake.add_token()
    fake.set_fault("*", "reset")
    balance = look(fake, token.key)
    assert (balance.status, balance.reason) == ("unreachable", "reset")
    assert secret_free(balance, token.key)


def test_it_reports_no_balance_endpoint_for_404s(relays):
    fake = relays(OA)
    token = fake.add_token()
    # a pasted "/v1beta" prefix: every path is an unknown /v1… URL → JSON 404
    balance = look(fake, token.key, base=fake.url + "/v1beta")
    assert (balance.status, balance.reason, balance.http_status) == (
        "error",
        "no_balance_endpoint",
        404,
    )
    assert balance.info.answered is False


def test_it_reports_no_balance_endpoint_for_an_spa_catch_all(relays):
    fake = relays(NA, html_fallback=True)
    token = fake.add_token()
    balance = look(fake, token.key, base=fake.url + "/panel")
    assert (balance.status, balance.reason, balance.http_status) == (
        "error",
        "no_balance_endpoint",
        200,
    )


def test_it_reports_malformed_json(fake):
    token = fake.add_token()
    fake.set_fault("*", "malformed")
    balance = look(fake, token.key)
    assert (balance.status, balance.reason, balance.http_status) == ("error", "malformed", 200)
    assert balance.info.answered is False


def test_it_reports_json_nested_past_the_parser_as_malformed():
    """A body of 2,000 open brackets is a broken answer (or an error by its status), never a
    RecursionError out of the lookup."""
    assert http.classify("/v1/models", 200, {}, b"[" * 2000).kind == http.MALFORMED
    assert http.classify("/v1/models", 502, {}, b"[" * 2000).kind == http.SERVER_ERROR


def test_it_reports_relay_errors_with_their_status(relays):
    fake = relays(OA)
    token = fake.add_token()
    for fault, code in (("500", 500), ("503", 503), ("502_html", 502)):
        relay.STATUS_CACHE.clear()
        fake.set_fault("*", fault)
        balance = look(fake, token.key)
        assert (balance.status, balance.reason, balance.http_status) == (
            "error",
            "relay_error",
            code,
        ), fault


def test_it_calls_a_key_active_when_only_the_billing_pair_broke(relays):
    fake = relays(OA)
    token = fake.add_token()
    fake.set_fault(SUB, "db_error")
    balance = look(fake, token.key)
    # /v1/models answered 200 with the key: it works; the figures are what is missing
    assert (balance.status, balance.reason, balance.http_status) == ("active", None, 200)
    assert balance.figures_error == "relay_error"
    assert balance.remaining is None and balance.info.answered is True


def test_it_keeps_the_key_out_of_failed_balances(fake):
    token = fake.add_token()
    for fault in ("reset", "malformed", "500", "502_html", "db_error", "html", "429"):
        relay.STATUS_CACHE.clear()
        fake.set_fault("*", fault)
        assert secret_free(look(fake, token.key), token.key), fault


def test_it_keeps_the_key_out_of_good_balances(relays):
    for flavor in FLAVORS:
        fake = relays(flavor)
        token = fake.add_token(remain_quota=0)
        assert secret_free(look(fake, token.key), token.key)
        assert secret_free(look(fake, token.key + "nope"), token.key)


# -- parallelism -------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_fans_a_cold_lookup_out_in_parallel(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.set_latency(0.3)
    look(fake, token.key)
    arrivals = [r.at for r in fake.requests]
    # status, usage/token, subscription, usage, models, and the other families' keyless checks
    assert len(arrivals) == 5 + len(DETECT)
    # a serial client would space them >= 0.3 s apart
    assert max(arrivals) - min(arrivals) < 0.15


def test_it_fans_a_warm_2026_lookup_out_in_parallel(fake):
    token = fake.add_token()
    relay.relay_info(fake.url, timeout=T)
    fake.reset()
    fake.set_latency(0.3)
    look(fake, token.key)
    arrivals = [r.at for r in fake.requests]
    assert len(arrivals) == 2
    assert max(arrivals) - min(arrivals) < 0.15


def test_it_runs_the_2026_fallback_pair_in_parallel(fake):
    token = fake.add_token()
    relay.relay_info(fake.url, timeout=T)
    fake.reset()
    fake.set_fault(TOKEN_USAGE, "500")
    fake.set_latency(0.3)
    look(fake, token.key)
    pair = [fake.requests_to(SUB)[0].at, fake.requests_to(USAGE)[0].at]
    assert abs(pair[0] - pair[1]) < 0.15
    # the pair is a second round, started only after /api/usage/token answered
    assert min(pair) - fake.requests_to(TOKEN_USAGE)[0].at >= 0.3


# -- 401/403 texts -----------------------------------------------------------------------------

RID = " (request id: 20250221123456789abcdefgh)"


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (401, "该令牌额度已用尽", ("exhausted", "exhausted")),
        (401, "该令牌额度已用尽" + RID, ("exhausted", "exhausted")),
        (401, "令牌 X（#7）额度已用尽 [sk-abc***xyz]", ("exhausted", "exhausted")),
        (401, "令牌 prod（#12）额度已用尽 [sk-abc***xyz]" + RID, ("exhausted", "exhausted")),
        (401, "Token quota exhausted", ("exhausted", "exhausted")),
        (403, "token quota is not enough, token remain quota: 0", ("exhausted", "exhausted")),
        (401, "该令牌已过期", ("expired", "expired")),
        (401, "该令牌已过期" + RID, ("expired", "expired")),
        (401, "Token expired", ("expired", "expired")),
        (401, "该令牌状态不可用", ("disabled", "disabled")),
        (401, "Token status unavailable", ("disabled", "disabled")),
        (401, "token.status_unavailable", ("disabled", "disabled")),
        (401, "无效的令牌" + RID, ("invalid", "invalid_key")),
        (401, "无效的令牌", ("invalid", "invalid_key")),
        (401, "Invalid token", ("invalid", "invalid_key")),
        (401, "Invalid token" + RID, ("invalid", "invalid_key")),
        (401, "未提供令牌", ("invalid", "invalid_key")),
        (401, "No Authorization header", ("invalid", "invalid_key")),
        (401, "", ("refused", "refused")),
        (401, "Authentication failed", ("refused", "refused")),
        (403, "用户已被封禁", ("disabled", "user_banned")),
        (403, "用户已被封禁" + RID, ("disabled", "user_banned")),
        (403, "User has been banned", ("disabled", "user_banned")),
        (
            403,
            "该令牌只能在指定网段使用：10.0.0.0/8，当前 ip：1.2.3.4",
            ("error", "ip_not_allowed"),
        ),
        (403, "您的 IP 不在令牌允许访问的列表中" + RID, ("error", "ip_not_allowed")),
        (
            403,
            "Your IP address is not in the token's allowed access list",
            ("error", "ip_not_allowed"),
        ),
        (403, "该令牌无权访问模型 gpt-4o", ("error", "forbidden")),
        (403, "something else entirely", ("error", "forbidden")),
        (403, "", ("error", "forbidden")),
    ],
)
def test_it_sorts_denial_texts(status, text, expected):
    assert status_from_denial(status, text) == expected


def test_it_sorts_denials_case_insensitively():
    assert status_from_denial(401, "TOKEN EXPIRED") == ("expired", "expired")
    assert status_from_denial(403, "Your Ip Is Not Allowed") == ("error", "ip_not_allowed")
    assert status_from_denial(None, None) == ("refused", "refused")
    assert status_from_denial(401, "INVALID TOKEN") == ("invalid", "invalid_key")


def test_it_calls_a_collapsed_invalid_token_refused():
    # new-api 2026's TokenAuth says "Invalid token" for spent, expired and disabled keys too
    assert status_from_denial(401, "Invalid token", collapsed=True) == ("refused", "refused")
    assert status_from_denial(401, "无效的令牌", collapsed=True) == ("refused", "refused")
    # texts that name the state still name it
    assert status_from_denial(401, "该令牌额度已用尽", collapsed=True) == ("exhausted", "exhausted")


def test_it_prefers_the_most_telling_failure():
    denied = http.Answer(SUB, http.DENIED, 401, message="该令牌已过期")
    limited = http.Answer(USAGE, http.RATE_LIMITED, 429, retry_after=5.0)
    timeout = http.Answer(USAGE, http.TIMEOUT)
    missing = http.Answer(SUB, http.NOT_FOUND, 404)
    assert failure([limited, denied]) == ("expired", "expired", 401, None)
    assert failure([timeout, limited]) == ("rate_limited", "relay_rate_limited", 429, 5.0)
    assert failure([missing, timeout]) == ("unreachable", "timeout", None, None)
    assert failure([missing]) == ("error", "no_balance_endpoint", 404, None)
    assert failure([]) == ("error", "no_answer", None, None)
    budget_answer = http.Answer(SUB, http.RATE_LIMITED, retry_after=9.0, message="budget")
    assert failure([budget_answer]) == ("rate_limited", "budget", None, 9.0)


def test_it_does_not_call_a_400_an_invalid_key():
    body = b'{"error":{"message":"Bad Request","type":"invalid_request_error"}}'
    answer = http.classify(SUB, 400, {"Content-Type": "application/json"}, body)
    assert failure([answer])[0] != "invalid"


# -- http.classify -----------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


def test_it_classifies_raw_replies():
    assert http.classify("/p", 200, JSON, b'{"a":1}').kind == http.OK
    assert http.classify("/p", 200, JSON, b"").kind == http.SERVER_ERROR
    assert http.classify("/p", 200, JSON, b'{"a":').kind == http.MALFORMED
    assert http.classify("/p", 200, {}, b"  <!doctype html>").kind == http.HTML
    assert http.classify("/p", 404, {"Content-Type": "text/html"}, b"x").kind == http.NOT_FOUND
    assert http.classify("/p", 502, {"Content-Type": "text/html"}, b"x").kind == http.SERVER_ERROR
    db = http.classify("/p", 200, JSON, b'{"error":{"message":"database error"}}')
    assert (db.kind, db.message) == (http.SERVER_ERROR, "database error")
    denied = http.classify("/p", 401, JSON, b'{"success":false,"message":"Invalid token"}')
    assert (denied.kind, denied.message, denied.status) == (http.DENIED, "Invalid token", 401)


def test_it_reads_retry_after_on_a_429():
    limited = http.classify("/p", 429, {"Retry-After": "7"}, b"")
    assert (limited.kind, limited.retry_after, limited.status) == (http.RATE_LIMITED, 7.0, 429)
    assert http.classify("/p", 429, {"Retry-After": "soon"}, b"").retry_after is None
    assert http.classify("/p", 429, {}, b"").retry_after is None


# -- budgets -----------------------------------------------------------------------------------


def test_it_slides_a_window():
    window = budget.Window(2, 10.0)
    assert window.wait_time(100.0) == 0.0
    window.calls.extend([100.0, 104.0])
    assert window.wait_time(105.0) == pytest.approx(5.0)
    assert window.wait_time(110.0) == 0.0  # the call at 100 slid out
    assert list(window.calls) == [104.0]
    window.blocked_until = 120.0
    assert window.wait_time(111.0) == pytest.approx(9.0)


def test_it_treats_a_zero_limit_as_unlimited():
    window = budget.Window(0, 10.0)
    window.calls.extend([1.0] * 50)
    assert window.wait_time(2.0) == 0.0


def test_it_groups_paths_like_the_relay_limiters():
    assert budget.group_of("/api/usage/token/") == budget.CRITICAL
    assert budget.group_of("/api/log/token") == budget.CRITICAL
    assert budget.group_of("/api/status") == budget.GLOBAL
    assert budget.group_of(SUB) == budget.GLOBAL
    assert budget.group_of("/dashboard/billing/usage") == budget.GLOBAL
    assert budget.group_of(MODELS) is None
    assert budget.group_of("/v1/chat/completions") is None


def test_it_counts_spends_per_relay_and_group():
    budgets = budget.Budgets({budget.CRITICAL: (2, 600.0), budget.GLOBAL: (1, 600.0)})
    assert budgets.spend("a", TOKEN_USAGE) == 0.0
    assert budgets.wait_time("a", TOKEN_USAGE) == 0.0  # peeking does not spend
    assert budgets.spend("a", LOG) == 0.0
    wait = budgets.spend("a", TOKEN_USAGE)
    assert 590.0 < wait <= 600.0
    assert budgets.wait_time("a", LOG) == pytest.approx(wait, abs=1.0)
    assert budgets.spend("b", TOKEN_USAGE) == 0.0  # another relay has its own window
    assert budgets.spend("a", SUB) == 0.0  # another group too
    assert budgets.spend("a", USAGE) > 0.0
    for _ in range(20):
        assert budgets.spend("a", MODELS) == 0.0  # not limited per IP
    budgets.clear()
    assert budgets.spend("a", TOKEN_USAGE) == 0.0


def test_it_holds_a_group_after_a_429():
    budgets = budget.Budgets()
    assert 4.0 < budgets.hit_limit("a", SUB, 5.0) <= 5.0
    assert budgets.spend("a", USAGE) > 4.0
    assert budgets.spend("a", TOKEN_USAGE) == 0.0  # the critical group is not held
    held = budgets.hit_limit("a", TOKEN_USAGE, None)
    assert budget.COOLDOWN[budget.CRITICAL] - 1 < held <= budget.COOLDOWN[budget.CRITICAL]
    assert budgets.hit_limit("b", SUB, 0.0) == 0.0
    assert budgets.spend("b", SUB) == 0.0
    # a hold never shortens an earlier, longer one
    assert budgets.hit_limit("a", LOG, 1.0) > 200.0


def test_it_stops_calling_once_the_budget_is_spent(fake, monkeypatch):
    monkeypatch.setitem(relay.BUDGETS.limits, budget.CRITICAL, (1, 600.0))
    token = fake.add_token()
    assert calls.call(fake.url, TOKEN_USAGE, token.key, timeout=T).ok
    answer = calls.call(fake.url, TOKEN_USAGE, token.key, timeout=T)
    assert (answer.kind, answer.message, answer.status) == (http.RATE_LIMITED, "budget", None)
    assert answer.retry_after > 0
    assert len(fake.requests_to(TOKEN_USAGE)) == 1


def test_it_holds_off_after_a_relay_429(fake):
    token = fake.add_token()
    fake.set_fault(TOKEN_USAGE, "429", times=1)
    first = calls.call(fake.url, TOKEN_USAGE, token.key, timeout=T)
    assert (first.kind, first.status) == (http.RATE_LIMITED, 429)
    assert budget.COOLDOWN[budget.CRITICAL] - 1 < first.retry_after
    second = calls.call(fake.url, TOKEN_USAGE, token.key, timeout=T)
    assert (second.kind, second.message) == (http.RATE_LIMITED, "budget")
    assert len(fake.requests_to(TOKEN_USAGE)) == 1


def test_it_calls_a_working_key_active_when_the_budget_holds_its_figures(fake, monkeypatch):
    relay.relay_info(fake.url, timeout=T)  # warm: the family is known before the budget shrinks
    relay.BUDGETS.clear()
    monkeypatch.setitem(relay.BUDGETS.limits, budget.CRITICAL, (1, 600.0))
    monkeypatch.setitem(relay.BUDGETS.limits, budget.GLOBAL, (1, 600.0))
    token = fake.add_token()
    assert look(fake, token.key).status == "active"
    assert relay.BUDGETS.spend(fake.url, SUB) == 0.0  # someone else used the global slot
    fake.reset()
    balance = look(fake, token.key)
    # /v1/models proved the key works; our own budget held the figures back, and says until when
    assert (balance.status, balance.figures_error, balance.http_status) == (
        "active",
        "budget",
        None,
    )
    assert balance.retry_in > 0 and balance.remaining is None
    assert paths_of(fake) == {MODELS}  # only the unbudgeted path reached the relay


def test_it_counts_the_status_call_in_the_global_budget(relays, monkeypatch):
    monkeypatch.setitem(relay.BUDGETS.limits, budget.GLOBAL, (2, 600.0))
    fake = relays(OA)
    token = fake.add_token()
    look(fake, token.key)
    global_paths = [r for r in fake.requests if budget.group_of(r.path) == budget.GLOBAL]
    assert len(global_paths) <= 2


# -- logs --------------------------------------------------------------------------------------


def expected_rows(rows):
    """The consume rows of make_logs, newest first."""
    consume = [r for r in rows if r["type"] == 2]
    return sorted(consume, key=lambda r: r["created_at"], reverse=True)


@pytest.mark.parametrize("flavor", [NA, NA_PLUS])
def test_it_reads_the_request_log(relays, flavor):
    fake = relays(flavor)
    logs = make_logs(30, mix_types=True)
    token = fake.add_token(logs=logs)
    info = relay.relay_info(fake.url, timeout=T)
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert result.answer.ok and result.capped is False
    assert (result.unit, result.generation) == ("USD", flavor)
    want = expected_rows(logs)
    assert len(result.rows) == len(want) == 28
    for row, raw in zip(result.rows, want, strict=True):
        other = json.loads(raw["other"])
        assert (row.created_at, row.model, row.quota) == (
            raw["created_at"],
            raw["model_name"],
            raw["quota"],
        )
        assert row.cost == pytest.approx(raw["quota"] / USD)
        assert row.frt_ms == other["frt"]
        assert row.cache_tokens == other["cache_tokens"]
        assert row.model_ratio == other["model_ratio"]
        assert (row.prompt_tokens, row.completion_tokens) == (
            raw["prompt_tokens"],
            raw["completion_tokens"],
        )
        assert row.use_time_s == raw["use_time"] and row.is_stream == raw["is_stream"]
    created = [row.created_at for row in result.rows]
    assert created == sorted(created, reverse=True)
    assert secret_free(result, token.key)


@pytest.mark.parametrize("flavor", [NA, NA_PLUS])
def test_it_sends_the_log_key_as_header_and_query(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(logs=make_logs(3))
    info = relay.relay_info(fake.url, timeout=T)
    assert len(relay.fetch_logs(fake.url, token.key, info, timeout=T).rows) == 3
    (request,) = fake.requests_to(LOG)
    assert request.headers["Authorization"] == f"Bearer {token.key}"
    assert request.query == {"key": [token.key]}


def test_it_marks_a_full_2026_log_window_as_capped(fake):
    token = fake.add_token(logs=make_logs(1005))
    info = relay.relay_info(fake.url, timeout=T)
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert result.capped is True and len(result.rows) == 1000
    assert result.rows[0].created_at == max(r["created_at"] for r in token.logs)


def test_it_does_not_mark_a_short_2026_log_as_capped(fake):
    token = fake.add_token(logs=make_logs(999))
    info = relay.relay_info(fake.url, timeout=T)
    assert relay.fetch_logs(fake.url, token.key, info, timeout=T).capped is False


def test_it_does_not_mark_a_complete_2025_log_as_capped(relays):
    fake = relays(NA)
    token = fake.add_token(logs=make_logs(1005))
    info = relay.relay_info(fake.url, timeout=T)
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert len(result.rows) == 1005
    assert result.capped is False


def test_it_skips_logs_on_one_api(relays):
    fake = relays(OA)
    token = fake.add_token(logs=make_logs(5))
    info = relay.relay_info(fake.url, timeout=T)
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert result.rows is None and result.answer.kind == http.SKIPPED
    assert (result.generation, result.capped) == (OA, False)
    assert fake.requests_to(LOG) == []


def test_it_prices_log_rows_in_cny(relays):
    fake = relays(NA_PLUS, display="CNY", usd_exchange_rate=7.3)
    logs = make_logs(10)
    token = fake.add_token(logs=logs)
    info = relay.relay_info(fake.url, timeout=T)
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert result.unit == "CNY"
    for row in result.rows:
        assert row.cost == pytest.approx(row.quota / USD * 7.3)


def test_it_prices_log_rows_with_the_relays_quota_per_unit(relays):
    fake = relays(NA, quota_per_unit=1000000)
    token = fake.add_token(logs=make_logs(5))
    info = relay.relay_info(fake.url, timeout=T)
    for row in relay.fetch_logs(fake.url, token.key, info, timeout=T).rows:
        assert row.cost == pytest.approx(row.quota / 1000000)


def test_it_reads_an_unknown_key_log(relays):
    na = relays(NA)
    na.add_token(logs=make_logs(3))
    unknown = "sk-" + "u" * 48
    info = relay.relay_info(na.url, timeout=T)
    assert relay.fetch_logs(na.url, unknown, info, timeout=T).rows == []
    plus = relays(NA_PLUS)
    info = relay.relay_info(plus.url, timeout=T)
    result = relay.fetch_logs(plus.url, unknown, info, timeout=T)
    assert result.rows is None
    assert (result.answer.kind, result.answer.status) == (http.DENIED, 401)


def test_it_gives_no_log_rows_on_faults(fake):
    token = fake.add_token(logs=make_logs(3))
    info = relay.relay_info(fake.url, timeout=T)
    kinds = {}
    for fault in ("malformed", "html", "500", "reset", "db_error", "429"):
        fake.set_fault(LOG, fault)
        result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
        assert result.rows is None and not result.answer.ok, fault
        assert secret_free(result, token.key), fault
        kinds[fault] = result.answer.kind
    assert kinds == {
        "malformed": http.MALFORMED,
        "html": http.HTML,
        "500": http.SERVER_ERROR,
        "reset": http.RESET,
        "db_error": http.SERVER_ERROR,
        "429": http.RATE_LIMITED,
    }
    fake.set_fault(LOG, None)
    held = relay.fetch_logs(fake.url, token.key, info, timeout=T)  # the 429 holds us off
    assert (held.answer.kind, held.answer.message, held.rows) == (http.RATE_LIMITED, "budget", None)


def test_it_keeps_the_key_out_of_a_dead_log_answer():
    key = "sk-" + "z" * 48
    info = RelayInfo(generation=NEW_API_2026, answered=True)
    result = relay.fetch_logs(dead_url(), key, info, timeout=T)
    assert result.answer.kind == http.UNREACHABLE and result.rows is None
    assert result.answer.message == ""
    assert secret_free(result, key) and secret_free(result.answer, key)


def test_it_keeps_the_key_out_of_a_timed_out_log_answer(fake):
    token = fake.add_token()
    info = relay.relay_info(fake.url, timeout=T)
    fake.set_fault(LOG, "timeout")
    result = relay.fetch_logs(fake.url, token.key, info, timeout=T)
    assert result.answer.kind == http.TIMEOUT
    assert secret_free(result, token.key)


# -- relay_info / status cache -----------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_fingerprints_each_flavor(relays, flavor):
    fake = relays(flavor)
    info = relay.relay_info(fake.url, timeout=T)
    assert info.generation == flavor and info.answered is True
    assert info.version == DEFAULT_VERSIONS[flavor]
    assert info.quota_per_unit == USD and info.unit == "USD"
    assert info.system_name == ("One API" if flavor == OA else "New API")
    assert relay.relay_info(fake.url, timeout=T) is info
    assert len(fake.requests_to(STATUS)) == 1


def test_it_remembers_a_failed_status_briefly(fake):
    fake.set_fault(STATUS, "500")
    info = relay.relay_info(fake.url, timeout=T)
    assert info.answered is False and info.generation is None and info.relay == "unknown"
    fake.set_fault(STATUS, None)
    assert relay.relay_info(fake.url, timeout=T).answered is False  # cached failure
    assert len(fake.requests_to(STATUS)) == 1
    relay.STATUS_CACHE.clear()
    assert relay.relay_info(fake.url, timeout=T).generation == NA_PLUS


# -- normalise_base_url ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("https://x.com", "https://x.com"),
        ("https://x.com/", "https://x.com"),
        ("https://x.com/v1", "https://x.com"),
        ("https://x.com/v1/", "https://x.com"),
        ("https://x.com/V1", "https://x.com"),
        ("https://x.com/v1/chat/completions", "https://x.com"),
        ("https://x.com/v1/chat/completions/", "https://x.com"),
        ("https://x.com/chat/completions", "https://x.com"),
        ("https://x.com/v1/models", "https://x.com"),
        ("  https://x.com/v1  ", "https://x.com"),
        ("HTTPS://API.Example.COM/v1", "https://api.example.com"),
        ("http://127.0.0.1:3000/v1", "http://127.0.0.1:3000"),
        ("http://[::1]:3000/v1/", "http://[::1]:3000"),
        ("https://x.com/relay", "https://x.com/relay"),
        ("https://x.com/relay/", "https://x.com/relay"),
        ("https://x.com/relay/v1/", "https://x.com/relay"),
        ("https://x.com/Relay/v1", "https://x.com/Relay"),
        ("https://x.com/v1?foo=1#frag", "https://x.com"),
        ("https://x.com/myv1", "https://x.com/myv1"),
    ],
)
def test_it_normalises_base_urls(text, want):
    assert relay.normalise_base_url(text) == want


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("ftp://x.com", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("x.com/v1", "scheme"),
        ("https://", "host"),
        ("https://user:pw@x.com", "host"),
        ("https://user@x.com/v1", "host"),
    ],
)
def test_it_refuses_bad_base_urls(text, code):
    with pytest.raises(relay.BadBaseURL) as caught:
        relay.normalise_base_url(text)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)


# -- provider budgets and routine polls --------------------------------------------------------


def test_it_applies_a_configured_budget_to_both_groups():
    budgets = budget.Budgets()
    budgets.configure("a", 3, 180)
    assert budgets.room("a", SUB) == 3 and budgets.room("a", TOKEN_USAGE) == 3
    assert budgets.reserve("a", (SUB, USAGE)) == 0.0
    # the relay's global limiter also counts /api/usage/token: it spends both windows
    assert budgets.spend("a", TOKEN_USAGE) == 0.0
    assert budgets.room("a", SUB) == 0 and budgets.room("a", TOKEN_USAGE) == 0
    assert budgets.reserve("a", (SUB,)) > 0.0
    assert budgets.room("b", TOKEN_USAGE) == budget.DEFAULT_LIMITS[budget.CRITICAL][0]
    budgets.configure("a", 0, 180)  # 0 = no limit of our own
    assert budgets.room("a", SUB) is None and budgets.reserve("a", (SUB,) * 500) == 0.0


def test_it_reserves_all_or_nothing():
    budgets = budget.Budgets()
    budgets.configure("a", 3, 180)
    assert budgets.reserve("a", (SUB, USAGE)) == 0.0
    assert budgets.reserve("a", (SUB, USAGE)) > 0.0  # two do not fit: none is spent
    assert budgets.room("a", SUB) == 1
    assert budgets.reserve("a", (SUB,) * 4) == float("inf")  # can never fit


def test_it_doubles_the_hold_on_429s_right_after_a_hold():
    budgets = budget.Budgets()
    cooldown = budget.COOLDOWN[budget.GLOBAL]
    assert budgets.hit_limit("a", SUB, None) == pytest.approx(cooldown, abs=1)
    assert budgets.hit_limit("a", SUB, None) == pytest.approx(cooldown, abs=1)  # in flight
    window = budgets._window("a", budget.GLOBAL)
    window.blocked_until = time.monotonic() - 1  # the hold just ended; the relay 429s again
    assert budgets.hit_limit("a", SUB, None) == pytest.approx(2 * cooldown, abs=1)
    assert budgets.held("a", USAGE) == pytest.approx(2 * cooldown, abs=1)
    assert budgets.held("a", TOKEN_USAGE) == 0.0


def test_it_keeps_prepaid_calls_out_of_a_hold(fake):
    token = fake.add_token()
    relay.BUDGETS.hit_limit(fake.url, SUB, 30.0)
    answer = calls.call(fake.url, SUB, token.key, timeout=T, prepaid=True)
    assert (answer.kind, answer.message) == (http.RATE_LIMITED, "budget")
    assert calls.call(fake.url, MODELS, token.key, timeout=T, prepaid=True).ok
    assert not fake.requests_to(SUB)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_it_polls_with_the_billing_pair_only(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    info = relay.poll_info(fake.url, timeout=T)
    balance = relay.poll_balance(fake.url, token.key, info, timeout=T)
    assert (balance.status, balance.remaining, balance.used) == ("active", 12.0, 3.0)
    assert balance.answered_by == [SUB, USAGE]
    assert paths_of(fake) == {STATUS, SUB, USAGE}


def test_it_resolves_an_ambiguous_2026_401_with_usage_token(relays):
    fake = relays(NA_PLUS, lang="en")
    expired = fake.add_token(remain_quota=USD, expired_time=int(time.time()) - 60)
    info = relay.poll_info(fake.url, timeout=T)
    balance = relay.poll_balance(fake.url, expired.key, info, timeout=T)
    assert (balance.status, balance.remaining) == ("expired", 1.0)
    assert balance.answered_by == [TOKEN_USAGE]
    unknown = relay.poll_balance(fake.url, "sk-" + "u" * 48, info, timeout=T)
    assert (unknown.status, unknown.reason) == ("invalid", "invalid_key")


def test_it_marks_a_poll_without_usage_partial(fake):
    token = fake.add_token(remain_quota=12 * USD)
    info = relay.poll_info(fake.url, timeout=T)
    fake.set_fault(USAGE, "500")
    balance = relay.poll_balance(fake.url, token.key, info, timeout=T)
    assert balance.status == "active" and balance.total == 12.0 and balance.remaining is None
    assert "partial" in balance.notes


def test_it_does_not_cache_a_rate_limited_status_read(fake):
    fake.set_fault(STATUS, "429", times=1)
    assert relay.poll_info(fake.url, timeout=T) is None
    assert relay.STATUS_CACHE.peek(fake.url) is None


@pytest.mark.parametrize(
    "body", [b'{"hard_limit_usd": 1e999}', b'{"hard_limit_usd": NaN}', b'{"x": -Infinity}']
)
def test_it_calls_non_finite_numbers_malformed(body):
    """Python's json takes 1e999/NaN/Infinity; a relay answer with them is malformed, not inf."""
    answer = relay.http.classify("/v1/dashboard/billing/subscription", 200, {}, body)
    assert answer.kind == relay.http.MALFORMED


def test_it_clamps_an_absurd_retry_after():
    """Retry-After: inf (or 1e12) must not block a relay until the process restarts."""
    for value in ("inf", "1e12", "nan"):
        answer = relay.http.classify("/api/status", 429, {"Retry-After": value}, b"")
        assert answer.retry_after is None or answer.retry_after <= relay.http.MAX_RETRY_AFTER


def test_it_ignores_an_expiry_in_milliseconds():
    """access_until 99999999999999 (ms by mistake, year 5138+) is not a date we can show."""
    info = relay.RelayInfo(generation="one-api", answered=True)
    sub = relay.http.Answer(
        "/v1/dashboard/billing/subscription",
        relay.http.OK,
        200,
        {"hard_limit_usd": 10, "access_until": 99999999999999 * 1000},
    )
    usage = relay.http.Answer("/v1/dashboard/billing/usage", relay.http.OK, 200, {"total_usage": 0})
    balance = relay.balance.from_billing(info, sub, usage)
    assert balance.status == "active" and balance.expires_at is None


def test_it_does_not_cache_a_rate_limited_status_on_a_lookup(fake):
    """A 429 on /api/status says nothing about the relay: the next lookup asks again."""
    token = fake.add_token()
    fake.set_fault("/api/status", "429", times=1)
    look(fake, token.key)
    assert relay.STATUS_CACHE.peek(fake.url) is None
    relay.BUDGETS.clear()  # the 429 put a hold on the group; lift it as time would
    assert look(fake, token.key).info.generation == NA_PLUS
    assert relay.STATUS_CACHE.peek(fake.url) is not None


def test_a_relay_429_in_a_lookup_outranks_a_sibling_our_budget_held():
    """One call heard the relay's 429, a sibling was then held by our (shared) budget: the
    lookup says the relay limits us, in whatever order the answers came."""
    held = http.Answer("/api/usage/token/", http.RATE_LIMITED, retry_after=300.0, message="budget")
    said = http.Answer(
        "/v1/dashboard/billing/subscription", http.RATE_LIMITED, 429, retry_after=60.0
    )
    for answers in ([held, said], [said, held]):
        assert failure(answers) == ("rate_limited", "relay_rate_limited", 429, 60.0)
    assert failure([held]) == ("rate_limited", "budget", None, 300.0)
