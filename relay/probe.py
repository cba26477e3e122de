"""Status probes: one relay check (reachability, model list, light chat, stream) as a ProbeResult.

Budgets: /api/status goes through relay.calls.call, so probes and lookups spend one shared per-IP
count of the relay's /api/* limiter (new-api: 180 per 3 min); a 60 s probe costs 3 of them. While
that budget (or the hold after a relay 429) refuses, the probe is not sent and comes back as
rate_limited with status None (see not_sent). /v1/models and chat are outside the per-IP limited
group (relay-api.md §5): they are never charged. Keys never reach a log line, an error or a result.
Which of these a relay's reachability tier uses depends on its family: see relay.reach.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import requests

from . import guard, http
from .calls import STATUS, call
from .chat import ChatCall, Event, models
from .info import STATUS_CACHE, parse_status

# Every error class a probe result may carry (blueprints.status stores them as they are).
ERROR_CLASSES = (
    "timeout",
    "connect",
    "tls",
    "http_5xx",
    "rate_limited",
    "auth",
    "quota",
    "model_unavailable",
    "empty_response",
    "bad_json",
    "http_4xx",
)
LIGHT_PROMPT = "ping"
# Counting gives a predictable, never-ending answer, so max_tokens is what stops it.
STREAM_PROMPT = "Count from 1 to 100, separated by spaces."
MIN_TPS_CHUNKS = 3  # fewer token chunks than this give no decode rate worth recording

# Substrings of relay error texts, codes and types (relay-api.md §5), compared in lower case.
_QUOTA = ("quota", "额度", "余额", "balance")
_MODEL = (
    "model_not_found",
    "无可用渠道",
    "no available channel",
    "无权使用模型",
    "无权访问模型",
    "no access to model",
)
# OpenAI's "you exceeded your current quota" comes as a 429, but waiting will not cure it.
_QUOTA_429 = ("insufficient_quota", "exceeded your current quota")
_BROKEN = {"reset": "connect", "timeout": "timeout", "stopped": "timeout", "malformed": "bad_json"}


@dataclass(frozen=True)
class ProbeResult:
    """One probe's outcome: ok, degraded (slow, 429, empty 200), the error class and timings."""

    tier: str  # "status" | "models" | "light" | "stream"
    model: str  # "" for status/models
    ok: bool  # answered usefully
    degraded: bool  # answered, but slow, HTTP 429, or a 200 with no content
    status: int | None  # HTTP status, None when no reply
    error: str | None  # one of ERROR_CLASSES; None when fine (also when only slow)
    latency_ms: float | None  # whole request; stream: until [DONE]/end; None when no reply
    ttft_ms: float | None = None  # stream only: first content (or reasoning) token
    tokens_per_s: float | None = None  # stream only: decode rate, None under 3 token chunks
    models: tuple[str, ...] = ()  # models tier: the ids listed


def not_sent(result: ProbeResult) -> bool:
    """True when our own budget (or a hold after a relay 429) kept the probe from being sent."""
    return result.error == "rate_limited" and result.status is None


def probe_status(base_url: str, *, timeout: tuple[float, float], slow_ms: float) -> ProbeResult:
    """GET /api/status (no key; budgeted like lookups): the relay is up and looks like a relay."""
    answer = call(base_url, STATUS, None, timeout=timeout, background=True)
    data = answer.data
    relay_like = isinstance(data, dict) and data.get("success") is True
    if answer.ok and not (relay_like and isinstance(data.get("data"), dict)):
        answer = replace(answer, kind=http.MALFORMED)
    if answer.ok:
        # a free refresh: lookups of this relay then skip their own /api/status call
        STATUS_CACHE.store(base_url, parse_status(data))
    return from_answer("status", answer, base_url, timeout, slow_ms)


def probe_models(
    base_url: str, key: str, *, timeout: tuple[float, float], slow_ms: float
) -> ProbeResult:
    """GET /v1/models with the probe key: the ids it lists; an empty list is a 200 with nothing."""
    answer, ids = models(base_url, key, timeout=timeout)
    result = from_answer("models", answer, base_url, timeout, slow_ms)
    if ids is None:
        return result
    if not ids:
        return replace(result, ok=False, degraded=True, error="empty_response")
    return replace(result, models=tuple(ids))


def probe_light(
    base_url: str, key: str, model: str, *, timeout: tuple[float, float], slow_ms: float
) -> ProbeResult:
    """A non-streaming 1-token chat; useful when the reply carries content or reasoning."""
    chat, events = _chat(base_url, key, _request(model, LIGHT_PROMPT, 1, False), timeout)
    failed = _chat_failure("light", model, chat, events, base_url, timeout)
    if failed is not None:
        return failed
    reply = next(e.data for e in events if e.kind == "data")
    latency = _since(chat, events[-1].at)
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not isinstance(choices, list):
        return ProbeResult("light", model, False, False, chat.status, "bad_json", latency)
    if not any(_has_text(c, "message") for c in choices) and not _reasoned(reply):
        return ProbeResult("light", model, False, True, chat.status, "empty_response", latency)
    slow = latency > slow_ms
    return ProbeResult("light", model, True, slow, chat.status, None, latency)


def probe_stream(
    base_url: str,
    key: str,
    model: str,
    *,
    timeout: tuple[float, float],
    ttft_slow_ms: float,
    max_tokens: int = 32,
) -> ProbeResult:
    """A streamed chat with usage: time to first token and decode tokens/s."""
    body = _request(model, STREAM_PROMPT, max_tokens, True)
    chat, events = _chat(base_url, key, body, timeout)
    failed = _chat_failure("stream", model, chat, events, base_url, timeout)
    if failed is not None:
        return failed
    # a clean close without [DONE] still ends the answer; what came before it counts
    latency = _since(chat, events[-1].at)
    token_at = [e.at for e in events if e.kind == "data" and _chunk_has_text(e.data)]
    if not token_at:
        return ProbeResult("stream", model, False, True, chat.status, "empty_response", latency)
    ttft = _since(chat, token_at[0])
    tps = None
    span = token_at[-1] - token_at[0]
    if len(token_at) >= MIN_TPS_CHUNKS and span > 0:
        completion = _completion_tokens(events) or len(token_at)
        # the first token opens the interval: the other completion-1 arrived within it
        tps = (completion - 1) / span
    slow = ttft > ttft_slow_ms
    return ProbeResult("stream", model, True, slow, chat.status, None, latency, ttft, tps)


def error_class(answer: http.Answer) -> str:
    """The error class of a failed Answer (UNREACHABLE is "connect": see _unreachable for tls)."""
    kind, status = answer.kind, answer.status or 0
    text = _said(answer)
    if kind == http.RATE_LIMITED:
        return "quota" if any(m in text for m in _QUOTA_429) else "rate_limited"
    if kind == http.TIMEOUT:
        return "timeout"
    if kind in (http.RESET, http.UNREACHABLE, http.BLOCKED):
        # a reset may come after the headers: the wire broke, not the relay; a private address
        # relaydash may not call (relay.guard) is no connection either
        return "connect"
    if kind == http.HTML:
        return "bad_json"  # an SPA page where the relay's JSON belongs
    if status == 401:
        return "auth"  # relays collapse invalid, expired and exhausted keys into one 401
    if status in (402, 403) and any(m in text for m in _QUOTA):
        return "quota"
    if any(m in text for m in _MODEL):
        return "model_unavailable"
    if status >= 500 or kind == http.SERVER_ERROR:
        return "http_5xx"  # also a 4xx HTML error page (a proxy's), and a 200 {"error": …}
    if status == 403:
        return "auth"
    if status >= 400:
        return "http_4xx"
    return "bad_json"


def from_answer(
    tier: str, answer: http.Answer, base_url: str, timeout: tuple[float, float], slow_ms: float
) -> ProbeResult:
    """The result of a GET probe: fine, slow, or failed by class."""
    latency = answer.elapsed_ms if answer.status is not None else None
    if answer.ok:
        slow = answer.elapsed_ms > slow_ms
        return ProbeResult(tier, "", True, slow, answer.status, None, latency)
    error = _unreachable(base_url, timeout) if _no_reply(answer) else error_class(answer)
    degraded = error in ("rate_limited", "empty_response")
    return ProbeResult(tier, "", False, degraded, answer.status, error, latency)


def _request(model: str, prompt: str, max_tokens: int, stream: bool) -> bytes:
    body: dict = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    body.update(max_tokens=max_tokens, stream=stream)
    if stream:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def _chat(
    base_url: str, key: str, body: bytes, timeout: tuple[float, float]
) -> tuple[ChatCall, list[Event]]:
    """Run one chat call to its end, stopped when it outlasts connect + read timeout in all."""
    chat = ChatCall(base_url, key, body, connect_timeout=timeout[0], read_timeout=timeout[1])
    # the read timeout is per read: keep-alive pings or a trickle would otherwise hold a probe
    # thread for ever
    timer = threading.Timer(timeout[0] + timeout[1], chat.stop)
    timer.daemon = True
    timer.start()
    try:
        return chat, list(chat.events())
    finally:
        timer.cancel()


def _chat_failure(
    tier: str,
    model: str,
    chat: ChatCall,
    events: list[Event],
    base_url: str,
    timeout: tuple[float, float],
) -> ProbeResult | None:
    """The failed result of a chat probe (first error or break), or None when it ended well."""
    for event in events:
        if event.kind == "error" and event.answer is not None:
            answer = event.answer
            latency = _since(chat, event.at) if chat.status is not None else None
            if _no_reply(answer):
                error = _unreachable(base_url, timeout)
            elif answer.status == 200 and answer.kind == http.SERVER_ERROR and answer.data is None:
                error = "empty_response"  # a 200 with an empty body
            else:
                error = error_class(answer)
            degraded = error in ("rate_limited", "empty_response")
            return ProbeResult(tier, model, False, degraded, chat.status, error, latency)
        if event.kind == "broken" and not (tier == "stream" and event.reason == "eof"):
            # a non-stream body cut short ("eof") is a broken wire like a reset
            error = _BROKEN.get(event.reason or "", "connect")
            latency = _since(chat, event.at) if chat.status is not None else None
            return ProbeResult(tier, model, False, False, chat.status, error, latency)
    return None


def _no_reply(answer: http.Answer) -> bool:
    return answer.status is None and answer.kind == http.UNREACHABLE


def _unreachable(base_url: str, timeout: tuple[float, float]) -> str:
    """The class of a request that got no reply: "tls" when a bare TLS handshake fails too."""
    # relay.http and relay.chat fold requests' SSLError into UNREACHABLE (with a body cut short
    # and other breaks); one handshake of our own, only after a failure, tells them apart.
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        return "connect"
    # the CA bundle requests verifies with (its environment override, else certifi's)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    bundle = bundle or requests.certs.where()
    try:
        folder = os.path.isdir(bundle)
        context = ssl.create_default_context(
            cafile=None if folder else bundle, capath=bundle if folder else None
        )
        port = parts.port or 443
        # to an address relay.guard allows, like every other call
        address = guard.addresses(parts.hostname, port, allow_private=guard.PROVIDERS())[0]
        with (
            socket.create_connection((address[0], port), timeout=timeout[0]) as sock,
            context.wrap_socket(sock, server_hostname=parts.hostname),
        ):
            return "connect"  # the handshake works: the request failed for another reason
    except ssl.SSLError:  # a bad certificate, or no TLS spoken at all
        return "tls"
    except (OSError, ValueError):
        return "connect"


def _since(chat: ChatCall, at: float) -> float:
    return (at - chat.sent_at) * 1000 if chat.sent_at is not None else 0.0


def _said(answer: http.Answer) -> str:
    """The relay's message, error code and type in lower case, for marker checks."""
    parts = [answer.message]
    err = answer.data.get("error") if isinstance(answer.data, dict) else None
    if isinstance(err, dict):
        parts += [str(err.get("code") or ""), str(err.get("type") or "")]
    return " ".join(parts).lower()


def _has_text(choice: object, field: str) -> bool:
    """True when choice[field] (a message or a delta) carries content or reasoning text."""
    part = choice.get(field) if isinstance(choice, dict) else None
    if not isinstance(part, dict):
        return False
    return any(
        isinstance(part.get(k), str) and part[k]
        for k in ("content", "reasoning_content", "reasoning")
    )


def _reasoned(reply: dict) -> bool:
    """True when usage counts reasoning tokens (o-series models hide the reasoning text)."""
    usage = reply.get("usage")
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    tokens = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return isinstance(tokens, int) and tokens > 0


def _chunk_has_text(data: dict | None) -> bool:
    """True when a stream chunk (or a relay's non-stream reply to it) carries tokens."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return False
    return any(_has_text(c, "delta") or _has_text(c, "message") for c in choices)


def _completion_tokens(events: list[Event]) -> int | None:
    """completion_tokens of the stream's usage chunk (the last one that has it)."""
    for event in reversed(events):
        usage = event.data.get("usage") if isinstance(event.data, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            return tokens
    return None
