"""relay.probe and relay.reach against fake relays on real sockets: tiers, errors, timings."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import relay
from blueprints.status.models import ERROR_CLASSES as STORED_CLASSES
from relay import http
from relay.chat import CHAT
from relay.families.litellm import LIVELINESS
from relay.probe import (
    ERROR_CLASSES,
    LIGHT_PROMPT,
    ProbeResult,
    error_class,
    not_sent,
    probe_light,
    probe_models,
    probe_status,
    probe_stream,
)
from relay.reach import probe_reach
from relay.reach import uses_key as reach_uses_key
from tests.fakerelay import DEFAULT_GROUP_MODELS, FLAVORS, NA_PLUS, OA, FakeRelay
from tests.test_relay_chat import raw_server

T = (1.0, 1.0)
NEVER_SLOW = 60_000.0
TIERS = ("status", "models", "light", "stream")
KEYED = ("models", "light", "stream")
CHATS = ("light", "stream")
PATHS = {"status": "/api/status", "models": "/v1/models", "light": CHAT, "stream": CHAT}
SLACK_MS = 30.0  # timer jitter allowed below a scripted delay


def probe(
    tier: str,
    url: str,
    key: str = "",
    model: str = "gpt-4o",
    *,
    timeout: tuple[float, float] = T,
    slow_ms: float = NEVER_SLOW,
) -> ProbeResult:
    """Run one tier's probe with one threshold for all (ttft for the stream tier)."""
    if tier == "status":
        return probe_status(url, timeout=timeout, slow_ms=slow_ms)
    if tier == "models":
        return probe_models(url, key, timeout=timeout, slow_ms=slow_ms)
    if tier == "light":
        return probe_light(url, key, model, timeout=timeout, slow_ms=slow_ms)
    return probe_stream(url, key, model, timeout=timeout, ttft_slow_ms=slow_ms)


def failed(result: ProbeResult, error: str, status: int | None) -> bool:
    """A hard failure: not ok, not merely degraded, with this class and HTTP status."""
    assert result.error in ERROR_CLASSES
    got = (result.ok, result.degraded, result.error, result.status)
    return got == (False, False, error, status)


def sent_bodies(fake: FakeRelay) -> list[dict]:
    return [json.loads(r.body) for r in fake.requests_to(CHAT)]


# -- happy paths -------------------------------------------------------------------------------


def test_error_classes_match_the_status_blueprint():
    assert ERROR_CLASSES == STORED_CLASSES


@pytest.mark.parametrize("flavor", FLAVORS)
def test_status_probe_reads_a_relay_and_refreshes_its_info(relays, flavor):
    fake = relays(flavor)
    result = probe("status", fake.url)
    assert (result.ok, result.degraded, result.status, result.error) == (True, False, 200, None)
    assert result.tier == "status" and result.model == "" and result.models == ()
    assert 0 < result.latency_ms < 1000
    assert result.ttft_ms is None and result.tokens_per_s is None
    # the probe's answer spares lookups their own /api/status call
    assert relay.STATUS_CACHE.peek(fake.url).generation == flavor
    assert "Authorization" not in fake.requests_to("/api/status")[0].headers


@pytest.mark.parametrize("flavor", FLAVORS)
def test_models_probe_lists_the_ids(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    result = probe("models", fake.url, token.key)
    assert (result.ok, result.degraded, result.status, result.error) == (True, False, 200, None)
    assert result.models == tuple(sorted(DEFAULT_GROUP_MODELS))
    assert 0 < result.latency_ms < 1000
    assert fake.requests_to("/v1/models")[0].headers["Authorization"] == f"Bearer {token.key}"


@pytest.mark.parametrize("flavor", FLAVORS)
def test_light_probe_is_one_token_without_stream(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    result = probe("light", fake.url, token.key, "gpt-4o-mini")
    assert (result.ok, result.degraded, result.status, result.error) == (True, False, 200, None)
    assert result.model == "gpt-4o-mini" and 0 < result.latency_ms < 1000
    assert result.ttft_ms is None and result.tokens_per_s is None
    (body,) = sent_bodies(fake)
    assert body["max_tokens"] == 1 and body["stream"] is False
    assert body["messages"] == [{"role": "user", "content": LIGHT_PROMPT}]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_light_probe_counts_reasoning_as_an_answer(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.script("thinker", content=[], reasoning=["hmm"])
    assert probe("light", fake.url, token.key, "thinker").ok


@pytest.mark.parametrize(("reasoning_tokens", "ok"), [(1, True), (0, False)])
def test_light_probe_counts_hidden_reasoning_as_an_answer(reasoning_tokens, ok):
    # o-series models spend a 1-token budget on reasoning they do not show
    message = {"role": "assistant", "content": ""}
    usage = {"completion_tokens": 1, "completion_tokens_details": {"reasoning_tokens": 0}}
    usage["completion_tokens_details"]["reasoning_tokens"] = reasoning_tokens
    reply = {"choices": [{"index": 0, "message": message, "finish_reason": "length"}]}
    with json_server(json.dumps({**reply, "usage": usage}).encode()) as url:
        result = probe("light", url, "sk-test", "o3")
    assert (result.ok, result.error) == (ok, None if ok else "empty_response")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_stream_probe_times_first_token_and_decode_rate(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    # role chunk after 0.3 s, then 6 content chunks 0.05 s apart; usage says 12 tokens
    fake.script("m", content=["a"] * 6, first_delay=0.3, delay=0.05, completion_tokens=12)
    result = probe("stream", fake.url, token.key, "m")
    assert (result.ok, result.degraded, result.status, result.error) == (True, False, 200, None)
    assert result.ttft_ms >= 350 - SLACK_MS  # the first content chunk, not the role chunk
    assert result.latency_ms >= result.ttft_ms + 250 - SLACK_MS
    # 11 tokens after the first over the ~0.25 s between first and last: from the usage chunk
    assert 11 / 0.40 <= result.tokens_per_s <= 11 / (0.25 - SLACK_MS / 1000)
    (body,) = sent_bodies(fake)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 32


def test_stream_probe_without_usage_counts_chunks(fake):
    token = fake.add_token()
    fake.script("m", content=["a"] * 6, delay=0.05, usage="never", completion_tokens=12)
    result = probe("stream", fake.url, token.key, "m")
    assert result.ok and 5 / 0.40 <= result.tokens_per_s <= 5 / (0.25 - SLACK_MS / 1000)


def test_stream_probe_gives_no_rate_under_three_chunks(fake):
    token = fake.add_token()
    fake.script("two", content=["a", "b"], delay=0.02)
    fake.script("three", content=["a", "b", "c"], delay=0.02)
    assert probe("stream", fake.url, token.key, "two").tokens_per_s is None
    assert probe("stream", fake.url, token.key, "three").tokens_per_s is not None


def test_stream_probe_counts_reasoning_tokens_first(fake):
    token = fake.add_token()
    fake.script("thinker", content=[], reasoning=["r"] * 4, first_delay=0.1, delay=0.05)
    result = probe("stream", fake.url, token.key, "thinker")
    assert result.ok and result.error is None
    assert 150 - SLACK_MS <= result.ttft_ms < 1000 and result.tokens_per_s is not None


def test_stream_end_without_done_still_counts(fake):
    token = fake.add_token()
    fake.script("eof", content=["a", "b", "c"], end="eof")
    result = probe("stream", fake.url, token.key, "eof")
    assert result.ok and not result.degraded and result.ttft_ms is not None


# -- degraded: slow, 429, empty ----------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_slow_answer_is_degraded_not_failed(fake, tier):
    token = fake.add_token()
    fake.set_latency(0.3, PATHS[tier])
    result = probe(tier, fake.url, token.key, slow_ms=200)
    assert (result.ok, result.degraded, result.error, result.status) == (True, True, None, 200)
    assert result.latency_ms >= 300 - SLACK_MS
    assert not probe(tier, fake.url, token.key, slow_ms=1000).degraded


def test_stream_slowness_is_first_token_time(fake):
    token = fake.add_token()
    # a quick first token and a long tail: not slow by TTFT
    fake.script("tail", content=["a"] * 4, delay=0.1)
    result = probe("stream", fake.url, token.key, "tail", slow_ms=250)
    assert result.latency_ms > 250 and not result.degraded
    fake.script("late", content=["a"] * 2, first_delay=0.3)
    result = probe("stream", fake.url, token.key, "late", slow_ms=250)
    assert result.ok and result.degraded and result.error is None


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("fault", ["429", "429_json"])
def test_429_is_rate_limited_and_degraded(fake, tier, fault):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], fault, times=1)
    result = probe(tier, fake.url, token.key)
    assert (result.ok, result.degraded, result.error, result.status) == (
        False,
        True,
        "rate_limited",
        429,
    )
    assert result.latency_ms is not None and not not_sent(result)


def test_status_probe_shares_the_lookup_budget_and_leaves_people_their_share(fake):
    relay.BUDGETS.configure(fake.url, 4, 180)  # background callers may fill 3 of the 4
    relay.BUDGETS.spend(fake.url, "/api/status")  # a lookup took one
    assert probe("status", fake.url).ok and probe("status", fake.url).ok
    held = probe("status", fake.url)
    assert not_sent(held) and held.degraded and held.latency_ms is None
    assert len(fake.requests_to("/api/status")) == 2
    assert relay.BUDGETS.room(fake.url, "/api/status") == 1  # still there for a person


def test_status_probe_respects_the_hold_after_a_429(fake):
    fake.set_fault("/api/status", "429", times=1)
    assert probe("status", fake.url).status == 429
    assert not_sent(probe("status", fake.url))
    assert len(fake.requests_to("/api/status")) == 1


def test_keyed_probes_spend_no_budget(fake):
    token = fake.add_token()
    relay.BUDGETS.configure(fake.url, 1, 180)
    for tier in KEYED:
        assert probe(tier, fake.url, token.key).ok
    assert relay.BUDGETS.room(fake.url, "/api/status") == 1


@pytest.mark.parametrize("tier", CHATS)
@pytest.mark.parametrize("content", [[], [""]])
def test_200_without_content_is_empty_response(fake, tier, content):
    token = fake.add_token()
    fake.script("hollow", content=content)
    result = probe(tier, fake.url, token.key, "hollow")
    assert (result.ok, result.degraded, result.error, result.status) == (
        False,
        True,
        "empty_response",
        200,
    )
    assert result.latency_ms is not None and result.ttft_ms is None


def test_empty_model_list_is_empty_response(fake):
    token = fake.add_token(models=[])
    result = probe("models", fake.url, token.key)
    assert (result.ok, result.degraded, result.error, result.models) == (
        False,
        True,
        "empty_response",
        (),
    )


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize(("fault", "status"), [("503", 503), ("500", 500), ("502_html", 502)])
def test_server_errors_are_http_5xx(fake, tier, fault, status):
    token = fake.add_token()
    fake.set_fault("*", fault)
    result = probe(tier, fake.url, token.key)
    assert failed(result, "http_5xx", status) and result.latency_ms is not None


@pytest.mark.parametrize("tier", TIERS)
def test_connection_refused_is_connect(fake, tier):
    token = fake.add_token()
    fake.stop()
    result = probe(tier, fake.url, token.key)
    assert failed(result, "connect", None) and result.latency_ms is None


@pytest.mark.parametrize("tier", TIERS)
def test_reset_before_any_answer_is_connect(fake, tier):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], "reset")
    assert failed(probe(tier, fake.url, token.key), "connect", None)


@pytest.mark.parametrize("tier", TIERS)
def test_body_cut_after_the_headers_is_connect(fake, tier):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], "reset_mid")
    result = probe(tier, fake.url, token.key)
    # relay.http reads a GET's body inside requests: its status is lost with the body
    status = 200 if tier in CHATS else None
    assert failed(result, "connect", status) and (result.latency_ms is None) == (status is None)


@pytest.mark.parametrize("tier", TIERS)
def test_tls_handshake_failure_is_tls(fake, tier):
    token = fake.add_token()
    # TLS spoken to a plain HTTP port: TCP connects, the handshake fails
    result = probe(tier, fake.url.replace("http://", "https://"), token.key)
    assert failed(result, "tls", None)


@pytest.mark.parametrize("tier", TIERS)
def test_untrusted_certificate_is_tls(tls_cert, tier):
    with tls_server(tls_cert) as url:
        assert failed(probe(tier, url, "sk-test"), "tls", None)


STATUS_REPLY = b'{"success":true,"data":{"version":"v0.6.10","quota_per_unit":500000}}'


@pytest.mark.parametrize("tier", ("status", "models", "light"))
def test_https_body_cut_short_is_connect_not_tls(tls_cert, monkeypatch, tier):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_cert[0]))  # trusted, as requests sees it
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(STATUS_REPLY)
    with tls_server(tls_cert, head) as url:
        result = probe(tier, url, "sk-test")  # the body never comes
    assert result.error == "connect"
    with tls_server(tls_cert, head + STATUS_REPLY) as url:
        assert probe("status", url).ok  # the certificate itself is fine


def test_refused_https_is_connect_not_tls(fake):
    fake.stop()
    assert probe("status", fake.url.replace("http://", "https://")).error == "connect"


@pytest.mark.parametrize("tier", TIERS)
def test_no_answer_in_time_is_timeout(fake, tier):
    token = fake.add_token()
    fake.set_latency(1.0, PATHS[tier])
    result = probe(tier, fake.url, token.key, timeout=(1.0, 0.3))
    assert failed(result, "timeout", None) and result.latency_ms is None


def test_stream_stalling_mid_way_is_timeout(fake):
    token = fake.add_token()
    fake.script("stall", content=["a", "b", "c"], delay=0.6)
    result = probe("stream", fake.url, token.key, "stall", timeout=(1.0, 0.3))
    assert failed(result, "timeout", 200) and result.latency_ms >= 300 - SLACK_MS


def test_stream_longer_than_both_timeouts_is_stopped(fake):
    token = fake.add_token()
    # every chunk comes within the read timeout, but the whole answer takes ~2 s
    fake.script("trickle", content=["a"] * 10, delay=0.2)
    result = probe("stream", fake.url, token.key, "trickle", timeout=(0.2, 0.3))
    assert failed(result, "timeout", 200)
    assert 500 - SLACK_MS <= result.latency_ms < 1500


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("tier", KEYED)
def test_unknown_key_is_auth(relays, flavor, tier):
    fake = relays(flavor)
    fake.add_token()
    assert failed(probe(tier, fake.url, "sk-" + "x" * 48), "auth", 401)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("tier", CHATS)
def test_exhausted_key_is_auth(relays, flavor, tier):
    fake = relays(flavor)
    token = fake.add_token(remain_quota=0)  # relays say 401 for an exhausted key
    assert failed(probe(tier, fake.url, token.key), "auth", 401)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("tier", CHATS)
def test_model_without_channel_is_model_unavailable(relays, flavor, tier):
    fake = relays(flavor)
    token = fake.add_token()
    assert failed(probe(tier, fake.url, token.key, "no-such-model"), "model_unavailable", 503)


@pytest.mark.parametrize(("flavor", "lang"), [(OA, "zh"), (NA_PLUS, "zh"), (NA_PLUS, "en")])
@pytest.mark.parametrize("tier", CHATS)
def test_model_not_allowed_for_key_is_model_unavailable(relays, flavor, lang, tier):
    fake = relays(flavor, lang=lang)
    token = fake.add_token(models=["gpt-4o-mini"])
    assert failed(probe(tier, fake.url, token.key, "gpt-4o"), "model_unavailable", 403)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("tier", CHATS)
def test_user_out_of_quota_is_quota(relays, flavor, tier):
    fake = relays(flavor)
    token = fake.add_token(user_quota=0)
    assert failed(probe(tier, fake.url, token.key), "quota", 403)


@pytest.mark.parametrize("tier", TIERS)
def test_malformed_json_is_bad_json(fake, tier):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], "malformed")
    assert failed(probe(tier, fake.url, token.key), "bad_json", 200)


@pytest.mark.parametrize("tier", ("status", "models"))
def test_html_page_where_json_belongs_is_bad_json(fake, tier):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], "html")
    assert failed(probe(tier, fake.url, token.key), "bad_json", 200)


def test_status_that_does_not_look_like_a_relay_is_bad_json(fake):
    fake.set_fault("/api/status", "db_error")
    assert failed(probe("status", fake.url), "http_5xx", 200)
    fake.set_fault("/api/status", None)
    with json_server(b'{"success":true,"data":"not an object"}') as url:
        assert failed(probe("status", url), "bad_json", 200)
    with json_server(b'{"success":false,"message":"x","data":{}}') as url:
        assert failed(probe("status", url), "bad_json", 200)
    assert relay.STATUS_CACHE.peek(url) is None


def test_stream_garbled_mid_way_is_bad_json(fake):
    token = fake.add_token()
    fake.script("garbled", content=["a", "b", "c"], end="garbage_after:2")
    assert failed(probe("stream", fake.url, token.key, "garbled"), "bad_json", 200)


def test_stream_reset_mid_way_is_connect(fake):
    token = fake.add_token()
    fake.script("cut", content=["a", "b", "c"], end="reset_after:2")
    result = probe("stream", fake.url, token.key, "cut")
    assert failed(result, "connect", 200) and result.latency_ms is not None


def test_stream_error_event_mid_way_is_http_5xx(fake):
    token = fake.add_token()
    fake.script("err", content=["a", "b", "c"], end="error_after:2")
    assert failed(probe("stream", fake.url, token.key, "err"), "http_5xx", 200)


@pytest.mark.parametrize("tier", TIERS)
def test_flaky_relay_alternates_ok_and_http_5xx(fake, tier):
    token = fake.add_token()
    fake.set_fault(PATHS[tier], "flaky_502")
    results = [probe(tier, fake.url, token.key) for _ in range(4)]
    assert [r.ok for r in results] == [True, False, True, False]
    assert [r.error for r in results] == [None, "http_5xx", None, "http_5xx"]
    assert [r.status for r in results] == [200, 502, 200, 502]


@pytest.mark.parametrize(
    ("status", "body", "kind", "error"),
    [
        (402, {"error": {"message": "Insufficient balance"}}, "", "quota"),
        (403, {"error": {"message": "Permission denied"}}, "", "auth"),
        (404, {"error": {"message": "gone", "code": "model_not_found"}}, "", "model_unavailable"),
        (404, {"message": "Invalid URL (GET /v1/x)", "code": ""}, "", "http_4xx"),
        (400, {"error": {"message": "bad request", "code": "invalid_request"}}, "", "http_4xx"),
        (200, {"error": {"message": "分组 default 下模型 x 无可用渠道"}}, "", "model_unavailable"),
        (403, None, "text/html", "http_5xx"),
        (502, None, "text/plain", "http_5xx"),
        (400, None, "text/plain", "http_4xx"),
    ],
)
def test_error_class_table(status, body, kind, error):
    raw = json.dumps(body).encode() if body is not None else b"<html>blocked</html>"
    if kind == "text/plain":
        raw = b"Bad Gateway"
    headers = {"Content-Type": kind or "application/json"}
    assert error_class(http.classify("/x", status, headers, raw)) == error


@pytest.mark.parametrize("tier", CHATS)
def test_openai_quota_429_is_quota_not_rate_limit(tier):
    body = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}}
    with json_server(json.dumps(body).encode(), b"429 Too Many Requests") as url:
        assert failed(probe(tier, url, "sk-test"), "quota", 429)


# -- secrets -----------------------------------------------------------------------------------


def test_keys_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    token = fake.add_token()
    fake.script("hollow", content=[])
    results = [probe(tier, fake.url, token.key) for tier in TIERS]
    results += [probe(tier, fake.url, token.key, "hollow") for tier in CHATS]
    fake.set_fault("*", "503")
    results += [probe(tier, fake.url, token.key) for tier in TIERS]
    fake.stop()
    results += [probe(tier, fake.url, token.key) for tier in TIERS]
    assert caplog.records  # urllib3 and relay.chat did log at DEBUG
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    bare = token.key.removeprefix("sk-")
    assert bare not in logged and bare not in repr(results)


# -- reachability per family (relay.reach) -----------------------------------------------------

# flavor of the fake -> (family, a probe key given, the path reachability asks, key sent)
REACH = {
    "one-api": ("one-api", False, "/api/status", False),
    "new-api-2025": ("new-api", False, "/api/status", False),
    "new-api-2026": ("new-api", True, "/api/status", False),  # a key changes nothing here
    "litellm": ("litellm", True, "/health/liveliness", False),
    "openai": ("openai", True, "/v1/models", True),
    "deepseek": ("deepseek", False, "/", False),  # no keyless path, no key: the base URL
}


def reach(url: str, family: str | None, key: str | None = None, **options) -> ProbeResult:
    options.setdefault("timeout", T)
    options.setdefault("slow_ms", NEVER_SLOW)
    return probe_reach(url, relay.FAMILIES[family] if family else None, key, **options)


@pytest.mark.parametrize("flavor", REACH)
def test_reachability_asks_each_family_what_it_has(relays, flavor):
    fake = relays(flavor)
    family, keyed, path, key_sent = REACH[flavor]
    token = fake.add_token()
    result = reach(fake.url, family, token.key if keyed else None)
    assert (result.tier, result.ok, result.degraded, result.error) == ("status", True, False, None)
    asked = [r for r in fake.requests if r.path == path]
    assert len(fake.requests) == 1 and len(asked) == 1
    assert ("Authorization" in asked[0].headers) is key_sent
    # only a family without a keyless path spends the probe key (when there is one)
    assert reach_uses_key(relay.FAMILIES[family]) is (path not in ("/api/status", LIVELINESS))


@pytest.mark.parametrize(
    ("flavor", "family", "status"),
    [
        ("litellm", "new-api", 404),  # FastAPI's {"detail":"Not Found"}
        ("new-api-2026", "litellm", 200),  # new-api's web page for any unknown path
        ("openai", None, 404),
    ],
)
def test_a_path_the_relay_lacks_is_up_not_a_failure(relays, flavor, family, status):
    fake = relays(flavor)
    result = reach(fake.url, family)  # e.g. an admin picked the wrong family
    assert (result.ok, result.degraded, result.status, result.error) == (True, False, status, None)


def test_a_404_from_v1_models_is_up_too():
    with json_server(b'{"detail":"Not Found"}', b"404 Not Found") as url:
        result = reach(url, "openai", "sk-test")
    assert (result.ok, result.status, result.error) == (True, 404, None)


@pytest.mark.parametrize(
    "status", [b"200 OK", b"301 Moved Permanently", b"401 Unauthorized", b"404 Not Found"]
)
def test_any_http_answer_from_the_base_url_is_up(status):
    with json_server(b'{"detail":"whatever"}', status) as url:
        result = reach(url, None)
    assert (result.ok, result.degraded, result.error) == (True, False, None)
    assert result.status == int(status[:3]) and result.latency_ms is not None


@pytest.mark.parametrize("status", [b"500 Internal Server Error", b"502 Bad Gateway"])
def test_a_5xx_from_the_base_url_is_down(status):
    with json_server(b'{"error":"upstream"}', status) as url:
        assert failed(reach(url, None), "http_5xx", int(status[:3]))


def test_a_429_from_the_base_url_is_degraded_not_down():
    with json_server(b"{}", b"429 Too Many Requests") as url:
        result = reach(url, None)
    assert (result.ok, result.degraded, result.error, result.status) == (
        False,
        True,
        "rate_limited",
        429,
    )
    assert not not_sent(result)  # the relay said it: the reading counts


@pytest.mark.parametrize("family", ["litellm", "openai", None])
@pytest.mark.parametrize(("fault", "error"), [("500", "http_5xx"), ("timeout", "timeout")])
def test_outages_fail_reachability_on_every_family(relays, family, fault, error):
    fake = relays(family or "openai", fault_sleep=1.0)
    token = fake.add_token()
    fake.set_fault("*", fault)
    result = reach(fake.url, family, token.key, timeout=(1.0, 0.3) if fault == "timeout" else T)
    assert failed(result, error, 500 if fault == "500" else None)


@pytest.mark.parametrize("family", ["litellm", "openai", None])
def test_a_stopped_relay_fails_reachability_as_connect(relays, family):
    fake = relays(family or "openai")
    token = fake.add_token()
    fake.stop()
    assert failed(reach(fake.url, family, token.key), "connect", None)


@pytest.mark.parametrize("family", ["litellm", None])
def test_a_tls_failure_fails_reachability_as_tls(tls_cert, family):
    with tls_server(tls_cert) as url:
        assert failed(reach(url, family), "tls", None)


def test_a_body_cut_short_at_the_base_url_is_connect(tls_cert, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_cert[0]))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
    with tls_server(tls_cert, head + b"Content-Length: 100\r\n\r\n<html>") as url:
        assert failed(reach(url, None), "connect", None)


def test_reachability_on_one_api_keeps_its_budget_and_status_cache(fake):
    relay.BUDGETS.configure(fake.url, 4, 180)  # background callers may fill 3
    results = [reach(fake.url, "new-api") for _ in range(4)]
    assert [r.ok for r in results] == [True, True, True, False] and not_sent(results[-1])
    assert relay.STATUS_CACHE.peek(fake.url).generation == NA_PLUS


def test_reachability_elsewhere_spends_no_budget(relays):
    fake = relays("litellm")
    relay.BUDGETS.configure(fake.url, 1, 180)
    assert all(reach(fake.url, "litellm").ok for _ in range(3))
    assert all(reach(fake.url, None).ok for _ in range(3))
    assert relay.BUDGETS.room(fake.url, "/api/status") == 1


def test_an_empty_or_refusing_model_list_fails_keyed_reachability(relays):
    fake = relays("openai", group_models=[])
    assert reach(fake.url, "openai", fake.add_token().key).error == "empty_response"
    assert failed(reach(fake.url, "openai", "sk-unknown"), "auth", 401)


# -- helpers -----------------------------------------------------------------------------------


@contextmanager
def json_server(body: bytes, status: bytes = b"200 OK") -> Iterator[str]:
    """A one-request HTTP server answering this JSON body."""
    head = b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n" % status
    head += b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    with raw_server([(0.0, head + body)]) as url:
        yield url


@pytest.fixture
def tls_cert(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (trusted by nobody unless a test says so)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relaydash test")])
    now = datetime.datetime.now(datetime.UTC)
    ip = ipaddress.IPv4Address("127.0.0.1")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def tls_server(cert: tuple[Path, Path], reply: bytes = b"") -> Iterator[str]:
    """An HTTPS listener: each connection handshakes, gets `reply` to its request, and closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    request = b""
                    while reply and b"\r\n\r\n" not in request:
                        request += tls.recv(65536) or b"\r\n\r\n"
                    tls.sendall(reply)
            except OSError:  # a client refusing the certificate, or our own handshake check
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(5)
        listener.close()
