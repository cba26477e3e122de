"""A fake one-api / new-api relay on a real socket, following shared/reference/relay-api.md.

It can also be another relay family (LiteLLM, OpenRouter, DeepSeek, Moonshot, a bare
OpenAI-compatible gateway) per shared/reference/relay-families.md; see tests/fakefamilies.py.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import secrets
import select
import socket
import string
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OA, NA, NA_PLUS = "one-api", "new-api-2025", "new-api-2026"
FLAVORS = (OA, NA, NA_PLUS)
LITELLM, OPENROUTER, DEEPSEEK, MOONSHOT, OPENAI = (
    "litellm",
    "openrouter",
    "deepseek",
    "moonshot",
    "openai",
)
FAMILY_FLAVORS = (LITELLM, OPENROUTER, DEEPSEEK, MOONSHOT, OPENAI)
NOT_FOUND_STYLES = ("fastapi", "text", "html")
FAULTS = (
    "timeout",
    "reset",
    "reset_mid",
    "malformed",
    "429",
    "429_json",
    "html",
    "500",
    "503",
    "502_html",
    "db_error",
    "flaky_502",  # every other call (the 2nd, 4th, …) gets nginx's 502 page; the rest pass
)
DEFAULT_VERSIONS = {OA: "v0.6.10", NA: "v0.6.6", NA_PLUS: "v0.10.9"}
DEFAULT_GROUP_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "claude-3-5-sonnet-20241022",
    "deepseek-chat",
    "text-embedding-3-small",
]
REPLY_CHUNKS = ("Hello", " from", " fake", " relay")
USAGE_MODES = ("asked", "never", "always")
UPSTREAM_ERROR = {"error": {"message": "upstream error", "type": "upstream_error"}}
WATCH_INTERVAL = 0.02  # how often a scripted stream looks for a hung-up client while it waits
UNLIMITED_AMOUNT = 100000000
MODEL_CREATED = 1626777600
MAX_RECENT_ITEMS = 1000

# model -> (model_ratio, completion_ratio); matched by exact name, then by prefix.
PRICING: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.075, 4.0),
    "gpt-4o": (1.25, 4.0),
    "gpt-4.1": (1.0, 4.0),
    "claude-3-5-sonnet": (1.5, 5.0),
    "deepseek-chat": (0.135, 4.0),
    "text-embedding-3-small": (0.01, 1.0),
}

_MESSAGES = {
    "zh": {
        "not_provided": "未提供令牌",
        "invalid": "无效的令牌",
        "expired": "该令牌已过期",
        "exhausted": "该令牌额度已用尽",
        "disabled": "该令牌状态不可用",
    },
    "en": {
        "not_provided": "Token not provided",
        "invalid": "Invalid token",
        "expired": "Token expired",
        "exhausted": "Token quota exhausted",
        "disabled": "Token status unavailable",
    },
}

_ALNUM = string.ascii_letters + string.digits
_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_MODEL_PERMISSION = {
    "id": "modelperm-LwHkVFn8AcMItP432fKKDIKJ",
    "object": "model_permission",
    "created": MODEL_CREATED,
    "allow_create_engine": True,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}


@dataclass
class Token:
    """One relay key plus the owning user's account numbers."""

    key: str
    name: str = "Default Token"
    remain_quota: int = 500000 * 10
    used_quota: int = 0
    unlimited: bool = False
    expired_time: int = -1
    status: str = "enabled"
    models: list[str] | None = None
    logs: list[dict] = field(default_factory=list)
    token_id: int = 7
    user_quota: int = 500000 * 100
    user_used_quota: int = 500000 * 3
    # LiteLLM /key/info (status "disabled" -> blocked, "expired" -> expired)
    spend: float = 0.0
    max_budget: float | None = None
    budget_duration: str | None = None
    budget_reset_at: str | None = None  # ISO
    key_alias: str | None = None
    expires: str | None = None  # ISO
    # OpenRouter /api/v1/key
    limit: float | None = None
    usage: float = 0.0
    limit_reset: str | None = None
    is_free_tier: bool = False
    expires_at_iso: str | None = None
    # DeepSeek /user/balance (None -> one CNY entry)
    balance_infos: list[dict] | None = None
    is_available: bool = True
    # Moonshot /v1/users/me/balance
    available_balance: float = 49.58894
    voucher_balance: float = 46.58893
    cash_balance: float = 3.00001


class Headers(dict):
    """A dict of request headers with case-insensitive lookup (keys keep the sent case)."""

    def _find(self, key: object) -> object:
        if isinstance(key, str) and not dict.__contains__(self, key):
            for k in self:
                if k.lower() == key.lower():
                    return k
        return key

    def __getitem__(self, key: object) -> str:
        return dict.__getitem__(self, self._find(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._find(key))

    def get(self, key: object, default: Any = None) -> Any:
        return dict.get(self, self._find(key), default)


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float
    body: bytes = b""
    client: str = ""


@dataclass(frozen=True)
class Script:
    """A scripted chat reply for one model (see FakeRelay.script)."""

    content: tuple[str, ...]
    reasoning: tuple[str, ...] = ()
    first_delay: float = 0.0
    delay: float = 0.0
    usage: str = "asked"
    end: str = "done"
    finish: str | None = "stop"
    ping: bool = False
    prompt_tokens: int = 11
    completion_tokens: int | None = None

    @property
    def cut_after(self) -> int | None:
        """N of "reset_after:N" / "error_after:N" / "garbage_after:N", else None."""
        return int(self.end.split(":")[1]) if ":" in self.end else None


@dataclass
class _Resp:
    """A response to write: a plain body, SSE events when `events` is set, or scripted steps."""

    status: int
    body: bytes = b""
    ctype: str | None = "application/json; charset=utf-8"
    events: Iterable[bytes] | None = None
    # scripted: (seconds to wait first, SSE event) pairs, then how the stream ends
    steps: list[tuple[float, bytes]] | None = None
    cut: str = "done"  # "done" | "eof" (no [DONE], clean close) | "reset" (TCP RST)
    cut_wait: float = 0.0  # seconds before the "eof" / "reset" cut
    wait: float = 0.0  # scripted non-stream: seconds before the headers
    model: str = ""  # for FakeRelay.hangups


def _num(x: float | int) -> float | int:
    """Render integral floats as ints, like Go's float64 JSON encoding does."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e21:
        return int(x)
    return x


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _json(status: int, obj: Any) -> _Resp:
    return _Resp(status, _dumps(obj).encode())


def _chat_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ALNUM) for _ in range(29))


def _chunk(
    ids: tuple[str, int, str],
    delta: dict,
    finish_reason: str | None = None,
    *,
    first: bool = False,
    null_usage: bool = True,
) -> bytes:
    """One `data: {chat.completion.chunk}` SSE event; ids = (chat id, created, model)."""
    chat_id, created, model = ids
    obj: dict[str, Any] = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    if first:
        obj["system_fingerprint"] = None
    obj["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    if null_usage:
        obj["usage"] = None
    return f"data: {_dumps(obj)}\n\n".encode()


def _usage_chunk(ids: tuple[str, int, str], usage: dict) -> bytes:
    chat_id, created, model = ids
    obj = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }
    return f"data: {_dumps(obj)}\n\n".encode()


def _go_round(x: float) -> int:
    """Round half away from zero (Go's math.Round) for non-negative values."""
    return int(math.floor(x + 0.5))


def _norm(path: str) -> str:
    """Route key for a path: trailing slashes do not matter."""
    return path.rstrip("/") or "/"


def _ratios(model: str) -> tuple[float, float]:
    if model in PRICING:
        return PRICING[model]
    for prefix in sorted(PRICING, key=len, reverse=True):
        if model.startswith(prefix):
            return PRICING[prefix]
    return 1.0, 1.0


def _owner(model: str) -> str:
    for prefix, owner in (
        (("gpt", "o1", "o3", "o4", "text-embedding", "dall-e", "whisper", "tts"), "openai"),
        (("claude",), "anthropic"),
        (("deepseek",), "deepseek"),
        (("gemini",), "google"),
    ):
        if model.startswith(prefix):
            return owner
    return "custom"


def _request_id(rng: random.Random | None = None, at: float | None = None) -> str:
    """A 26-char id like new-api's: time digits plus random letters."""
    at = time.time() if at is None else at
    pick = rng.choice if rng else secrets.choice
    digits = "".join(pick(string.digits) for _ in range(4))
    tail = "".join(pick(string.ascii_lowercase + string.digits) for _ in range(8))
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(at)) + digits + tail


def random_key() -> str:
    """A random valid key: "sk-" + 48 alphanumerics."""
    return "sk-" + "".join(secrets.choice(_ALNUM) for _ in range(48))


def _other(mr: float, cr: float, gr: float, cached: int, cache_ratio: float, frt: int) -> str:
    other = {
        "cache_ratio": _num(cache_ratio),
        "cache_tokens": cached,
        "completion_ratio": _num(cr),
        "frt": frt,
        "group_ratio": _num(gr),
        "model_price": -1,
        "model_ratio": _num(mr),
    }
    return json.dumps(other, separators=(",", ":"), sort_keys=True)


def _consume_row(
    i: int,
    created: int,
    model: str,
    prompt: int,
    completion: int,
    cached: int,
    is_stream: bool,
    frt: int,
    token_name: str,
    rng: random.Random | None = None,
) -> dict:
    mr, cr = _ratios(model)
    gr = 1.0
    cache_ratio = 0.5 if cached else 1.0
    quota = (prompt - cached + cached * cache_ratio + completion * cr) * mr * gr
    return {
        "id": i,
        "user_id": 1,
        "created_at": created,
        "type": 2,
        "content": f"模型倍率 {mr:.2f}，补全倍率 {cr:.2f}，分组倍率 {gr:.2f}",
        "username": "alice",
        "token_name": token_name,
        "model_name": model,
        "quota": max(1, _go_round(quota)),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "use_time": max(1, frt // 1000 + completion // 80),
        "is_stream": is_stream,
        "channel": 4,
        "channel_name": "",
        "token_id": 7,
        "group": "default",
        "ip": "",
        "other": _other(mr, cr, gr, cached, cache_ratio, frt),
        "request_id": _request_id(rng, created),
    }


def make_logs(
    n: int,
    *,
    models: tuple[str, ...] | list[str] = ("gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet"),
    start: int | None = None,
    step: int = 600,
    token_name: str = "Default Token",  # noqa: S107 - a token name, not a secret
    seed: int = 1,
    mix_types: bool = False,
) -> list[dict]:
    """Realistic new-api consume logs, oldest first, ids 1..n; deterministic given seed, start."""
    rng = random.Random(seed)
    if start is None:
        start = (int(time.time()) // step) * step - n * step
    rows = []
    for i in range(n):
        prompt = rng.randint(20, 4000)
        cached = rng.choice((0, 0, 0, prompt // 2))
        row = _consume_row(
            i + 1,
            start + i * step,
            rng.choice(list(models)),
            prompt,
            rng.randint(5, 1200),
            cached,
            rng.random() < 0.6,
            rng.randint(200, 2500),
            token_name,
            rng,
        )
        row["channel"] = rng.choice((1, 2, 4))
        rows.append(row)
    if mix_types and n >= 3:
        # a top-up and a system row, as user log listings contain them too
        for idx, typ, content in (
            (n // 3, 1, "通过兑换码充值 $10.000000 额度"),
            (2 * n // 3, 4, "管理员将用户额度从 $0.000000 修改为 $10.000000"),
        ):
            rows[idx].update(
                type=typ,
                content=content,
                model_name="",
                quota=5000000 if typ == 1 else 0,
                prompt_tokens=0,
                completion_tokens=0,
                use_time=0,
                is_stream=False,
                channel=0,
                other="",
            )
    return rows


def _sent_key(req: Recorded) -> str:
    """The key a request carried: the Bearer header, else new-api 2025's ?key=."""
    header = (req.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
    return header or (req.query.get("key") or [""])[0]


def _quote_key(text: str, key: str) -> str:
    return f"{text} (key {key}, token {key.removeprefix('sk-')})"


def _with_key(body: Any, key: str) -> Any:
    """An error body whose texts quote the key ({"error": …}, {"message"}, {"detail"})."""
    if not isinstance(body, dict) or not key:
        return body
    body = json.loads(json.dumps(body))
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        err["message"] = _quote_key(err["message"], key)
    elif isinstance(err, str):
        body["error"] = _quote_key(err, key)
    for name in ("message", "detail"):
        if isinstance(body.get(name), str):
            body[name] = _quote_key(body[name], key)
    return body


def _echoed(resp: _Resp, key: str) -> _Resp:
    """A JSON or plain-text error reply that quotes the key (echo_key); others as they are."""
    if resp.status < 400 or not key or resp.events is not None or resp.steps is not None:
        return resp
    ctype = (resp.ctype or "").lower()
    if "json" in ctype:
        try:
            body = json.loads(resp.body)
        except ValueError:
            return resp
        return _Resp(resp.status, _dumps(_with_key(body, key)).encode(), resp.ctype)
    if ctype.startswith("text/plain"):
        return _Resp(resp.status, _quote_key(resp.body.decode(), key).encode(), resp.ctype)
    return resp


def _spa(title: str) -> bytes:
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width,initial-scale=1"/>'
        f"<title>{title}</title>"
        '<script type="module" crossorigin src="/assets/index-Bf3kQ9xZ.js"></script>'
        "</head><body><noscript>You need to enable JavaScript to run this app.</noscript>"
        '<div id="root"></div></body></html>'
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a batch fans out 20+ connections at once, and
    # dropped SYNs would turn into connect timeouts that no real relay (backlog 4096) causes.
    request_queue_size = 256
    relay: FakeRelay

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients hang up mid-answer on purpose (timeouts, resets); stay quiet
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakerelay"
    timeout = 30  # idle keep-alive connections end on their own
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # never write request lines (they can hold keys) to stderr
        pass

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes; avoid Nagle + delayed-ACK stalls
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.relay._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.relay._track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        relay = self.server.relay
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        req = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=Headers(self.headers.items()),
            at=time.monotonic(),
            body=body,
            client=self.client_address[0],
        )
        relay._record(req)
        relay._wait_if_held(req.path)
        relay._sleep(relay._latency_for(req.path))
        fault = relay._take_fault(req.path)
        if fault == "timeout":
            relay._sleep(relay.fault_sleep)
        elif fault == "reset":
            self._reset()
            return
        resp = relay._fault_response(fault) if fault not in (None, "timeout", "reset_mid") else None
        if resp is None:
            try:
                resp = relay._handle(req)
            except Exception as exc:  # report bugs in the fake as a 500
                relay.errors.append(exc)
                resp = _json(500, {"error": {"message": repr(exc), "type": "fake_relay_bug"}})
        if relay.echo_key:
            resp = _echoed(resp, _sent_key(req))
        self._send(resp, mid_reset=fault == "reset_mid")

    def _send(self, resp: _Resp, *, mid_reset: bool = False) -> None:
        if resp.steps is not None:
            self._send_steps(resp, mid_reset=mid_reset)
            return
        if resp.wait and self._watch(resp.wait):
            self.server.relay._hangup(resp.model, 0)
            self.close_connection = True
            return
        self.send_response(resp.status)
        if resp.events is not None:
            self._sse_headers()
            events = list(resp.events) if mid_reset else resp.events
            if mid_reset:
                events = events[: max(1, len(events) // 2)]
            for i, event in enumerate(events):
                if i and self.server.relay.chunk_delay:
                    self.server.relay._sleep(self.server.relay.chunk_delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            if mid_reset:
                self._reset()
                return
            self.wfile.write(b"0\r\n\r\n")
            return
        if resp.ctype:
            self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if mid_reset:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self._reset()
            return
        self.wfile.write(resp.body)

    def _sse_headers(self) -> None:
        for name, value in (
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Connection", "keep-alive"),
            ("X-Accel-Buffering", "no"),
            ("Transfer-Encoding", "chunked"),
        ):
            self.send_header(name, value)
        self.end_headers()

    def _send_steps(self, resp: _Resp, *, mid_reset: bool) -> None:
        """A scripted stream: wait, write, repeat; stop at the first sign of a hung-up client."""
        relay = self.server.relay
        steps, cut = resp.steps or [], resp.cut
        if mid_reset:
            steps, cut = steps[: max(1, len(steps) // 2)], "reset"
        self.send_response(resp.status)
        self._sse_headers()
        for sent, (wait, event) in enumerate(steps):
            if relay._stopping.is_set():
                self.close_connection = True
                return
            gone = self._watch(wait)
            if not gone:
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                except OSError:
                    gone = True
            if gone:
                relay._hangup(resp.model, sent)
                self.close_connection = True
                return
        if cut != "done" and self._watch(resp.cut_wait):
            relay._hangup(resp.model, len(steps))
            self.close_connection = True
            return
        if cut == "reset":
            self._reset()
            return
        self.wfile.write(b"0\r\n\r\n")
        if cut == "eof":
            self.close_connection = True

    def _watch(self, seconds: float) -> bool:
        """Wait `seconds` while watching the socket; True as soon as the client has hung up."""
        relay = self.server.relay
        end = time.monotonic() + seconds
        while not relay._stopping.is_set():
            if self._client_gone():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self.connection], [], [], min(left, WATCH_INTERVAL))
            if readable and not self._client_gone():
                # the client sent bytes but is still there: do not spin on them
                relay._sleep(min(left, WATCH_INTERVAL))
        return False

    def _client_gone(self) -> bool:
        """True when the peer closed (EOF or RST) without reading the rest."""
        try:
            if not select.select([self.connection], [], [], 0)[0]:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def _reset(self) -> None:
        """Drop the connection with a TCP RST instead of a FIN."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        # the rfile holds a reference to the socket; close it so close() is real
        self.rfile.close()
        self.connection.close()


class FakeRelay:
    """A threaded fake relay server speaking one of the FLAVORS or FAMILY_FLAVORS."""

    def __init__(
        self,
        flavor: str = NA_PLUS,
        *,
        display: str = "USD",
        quota_per_unit: float = 500000,
        usd_exchange_rate: float = 7.3,
        display_in_currency: bool = True,
        token_stat: bool = True,
        html_fallback: bool = False,
        lang: str = "zh",
        group_models: list[str] | None = None,
        global_limit: tuple[int, int] | None = None,
        critical_limit: tuple[int, int] | None = None,
        version: str | None = None,
        chunk_delay: float = 0.0,
        fault_sleep: float = 3.0,
        charge: bool = False,
        litellm_db: bool = True,
        master_key: str | None = None,
        credits_allowed: bool = False,
        total_credits: float = 25.0,
        total_usage: float = 5.5,
        not_found_style: str = "fastapi",
        echo_key: bool = False,
    ) -> None:
        if flavor not in FLAVORS + FAMILY_FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}")
        if not_found_style not in NOT_FOUND_STYLES:
            raise ValueError(f"unknown not_found_style {not_found_style!r}")
        if display not in ("USD", "CNY", "TOKENS", "CUSTOM"):
            raise ValueError(f"unknown display {display!r}")
        self.flavor = flavor
        self.display = display
        self.quota_per_unit = quota_per_unit
        self.usd_exchange_rate = usd_exchange_rate
        self.display_in_currency = display_in_currency
        self.token_stat = token_stat
        self.html_fallback = html_fallback
        self.lang = "en" if lang.startswith("en") else "zh"
        self.group_models = list(DEFAULT_GROUP_MODELS if group_models is None else group_models)
        self.global_limit = global_limit
        self.critical_limit = critical_limit
        self.version = version or DEFAULT_VERSIONS.get(flavor, "")
        self.chunk_delay = chunk_delay
        self.fault_sleep = fault_sleep
        self.charge = charge  # when True, chat completions bill the key and add a log row
        self.start_time = int(time.time())
        self.url = ""
        self.tokens: list[Token] = []
        self._by_key: dict[str, Token] = {}  # bare key -> token, so 5,000 tokens stay fast
        self.requests: list[Recorded] = []
        self.errors: list[BaseException] = []  # exceptions raised inside the fake's handlers
        # (model, events sent) of each scripted stream whose client went away before its end
        self.hangups: list[tuple[str, int]] = []
        self._scripts: dict[str, Script] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: dict[str, list[Any]] = {}  # path -> [fault, remaining times or None]
        self._latency: dict[str | None, float] = {}
        self._holds: dict[str, tuple[int, threading.Event]] = {}  # path -> (let through, gate)
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._conns: set[socket.socket] = set()
        self._next_log_id = 100000
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # relay families (tests/fakefamilies.py)
        self.litellm_db = litellm_db
        self.master_key = master_key  # LiteLLM: works on /v1/models and chat even without a DB
        self.credits_allowed = credits_allowed  # OpenRouter /api/v1/credits for this relay's keys
        self.total_credits = total_credits
        self.total_usage = total_usage
        self.not_found_style = not_found_style  # LiteLLM / OpenAI 404 bodies
        # error texts quote the key as sent and its secret part, like careless relays do
        self.echo_key = echo_key
        self._family: Any = None
        if flavor in FAMILY_FLAVORS:
            from tests.fakefamilies import make_family  # imports this module: import it late

            self._family = make_family(self)
            if group_models is None:
                self.group_models = list(self._family.default_models)

    @property
    def base_url(self) -> str:
        """What an admin configures as the provider's base URL (OpenRouter's lives under /api)."""
        return self.url + "/api" if self.flavor == OPENROUTER else self.url

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeRelay:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.relay = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        self._stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes handler threads blocked on recv
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------

    def add_token(self, key: str | None = None, **fields: Any) -> Token:
        """Register a key (random if None); token_id defaults to 7, 8, 9... per added token."""
        with self._lock:
            fields.setdefault("token_id", 7 + len(self.tokens))
            token = Token(key=key or random_key(), **fields)
            self.tokens.append(token)
            self._by_key[token.key.removeprefix("sk-")] = token
        return token

    def add_tokens(self, keys: Iterable[str], **fields: Any) -> list[Token]:
        """Register many keys at once with the same fields (benches track thousands)."""
        return [self.add_token(key, **fields) for key in keys]

    def set_latency(self, seconds: float, path: str | None = None) -> None:
        """Delay answers on one path, or on every path when path is None."""
        with self._lock:
            self._latency[None if path is None else _norm(path)] = seconds

    def hold(self, path: str, *, after: int = 0) -> threading.Event:
        """Keep requests on a path waiting, all but its first `after`, until the Event is set.

        Requests are recorded on arrival, so `requests_to(path)` shows when one is waiting.
        """
        gate = threading.Event()
        with self._lock:
            self._holds[_norm(path)] = (after, gate)
        return gate

    def set_fault(self, path: str, fault: str | None, *, times: int | None = None) -> None:
        """Inject a fault on a path ("*" = every path); None clears; times limits it to N uses."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        key = path if path == "*" else _norm(path)
        with self._lock:
            if fault is None:
                self._faults.pop(key, None)
            else:
                self._faults[key] = [fault, times, 0]  # the last: calls taken so far

    def script(
        self,
        model: str,
        *,
        content: list[str],
        reasoning: Iterable[str] = (),
        first_delay: float = 0.0,
        delay: float = 0.0,
        usage: str = "asked",
        end: str = "done",
        finish: str | None = "stop",
        ping: bool = False,
        prompt_tokens: int = 11,
        completion_tokens: int | None = None,
    ) -> None:
        """Script a model's chat reply: chunks, timing, usage chunk, and how the stream ends.

        usage: "asked" (only with stream_options.include_usage), "never", "always".
        end: "done", "eof" (no [DONE]), "reset_after:N" / "error_after:N" /
        "garbage_after:N" (N content chunks, then an RST / an error event / a broken data line).
        """
        if usage not in USAGE_MODES:
            raise ValueError(f"unknown usage {usage!r}; expected one of {USAGE_MODES}")
        kind, _, count = end.partition(":")
        cuts = kind in ("reset_after", "error_after", "garbage_after") and count.isdigit()
        if end not in ("done", "eof") and not cuts:
            raise ValueError(f"unknown end {end!r}")
        script = Script(
            tuple(content),
            tuple(reasoning),
            first_delay,
            delay,
            usage,
            end,
            finish,
            ping,
            prompt_tokens,
            completion_tokens,
        )
        with self._lock:
            self._scripts[model] = script

    def reset(self) -> None:
        """Clear faults, latencies, holds, recorded requests, rate-limit counters (keep tokens)."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self._holds.clear()
            self._hits.clear()
            self.requests.clear()
            self.errors.clear()

    def requests_to(self, path: str) -> list[Recorded]:
        """Recorded requests whose path matches (trailing slash ignored)."""
        key = _norm(path)
        with self._lock:
            return [r for r in self.requests if _norm(r.path) == key]

    # -- internals used by the handler -------------------------------------------------------

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _hangup(self, model: str, sent: int) -> None:
        with self._lock:
            self.hangups.append((model, sent))

    def _record(self, req: Recorded) -> None:
        with self._lock:
            self.requests.append(req)

    def _sleep(self, seconds: float) -> None:
        # an Event wait so stop() does not wait for slow answers
        if seconds > 0:
            self._stopping.wait(seconds)

    def _wait_if_held(self, path: str) -> None:
        key = _norm(path)
        with self._lock:
            after, gate = self._holds.get(key, (0, None))
            held = gate is not None and sum(_norm(r.path) == key for r in self.requests) > after
        while held and not gate.wait(0.05) and not self._stopping.is_set():
            pass

    def _latency_for(self, path: str) -> float:
        with self._lock:
            return self._latency.get(_norm(path), self._latency.get(None, 0.0))

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            key = _norm(path)
            if key not in self._faults:
                key = "*"
            entry = self._faults.get(key)
            if entry is None:
                return None
            fault, times = entry[0], entry[1]
            entry[2] += 1
            if times is not None:
                if times <= 1:
                    del self._faults[key]
                else:
                    entry[1] = times - 1
            if fault == "flaky_502":
                return "502_html" if entry[2] % 2 == 0 else None
            return fault

    def _fault_response(self, fault: str) -> _Resp:
        err_type = "one_api_error" if self.flavor == OA else "new_api_error"
        if fault == "malformed":
            return _Resp(200, b'{"success":true,"data":{"name":')
        if fault == "429":
            return _Resp(429, ctype=None)
        if fault == "429_json":
            msg = "您已达到请求数限制：1分钟内最多请求60次"
            return _json(429, {"error": {"message": msg, "type": err_type}})
        if fault == "html":
            return self._spa()
        if fault in ("500", "503"):
            msg = "internal server error" if fault == "500" else "service unavailable"
            return _json(int(fault), {"error": {"message": msg, "type": err_type}})
        if fault == "502_html":
            return _Resp(502, _NGINX_502.encode(), "text/html")
        # db_error: the billing handlers answer HTTP 200 with an error body
        return _json(200, {"error": {"message": "database error", "type": "upstream_error"}})

    def _allow(self, scope: str, ip: str, limit: tuple[int, int] | None) -> bool:
        """Sliding-window per-IP limit; rejected requests do not count (like new-api)."""
        if limit is None:
            return True
        num, window = limit
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault((scope, ip), deque())
            while hits and now - hits[0] >= window:
                hits.popleft()
            if len(hits) >= num:
                return False
            hits.append(now)
            return True

    def _routes(self) -> dict[tuple[str, str], tuple[Callable[[Recorded], _Resp], bool]]:
        """(method, path) -> (handler, critical rate limit)."""
        if self._family is not None:
            return self._family.routes()
        routes: dict[tuple[str, str], tuple[Callable[[Recorded], _Resp], bool]] = {
            ("GET", "/api/status"): (self._status, False),
            ("POST", "/v1/chat/completions"): (self._chat, False),
            ("GET", "/v1/models"): (self._models, False),
        }
        for prefix in ("/v1", ""):
            routes["GET", f"{prefix}/dashboard/billing/subscription"] = (self._subscription, False)
            routes["GET", f"{prefix}/dashboard/billing/usage"] = (self._usage, False)
        if self.flavor == NA:
            routes["GET", "/api/log/token"] = (self._log_by_key, False)
        if self.flavor == NA_PLUS:
            routes["GET", "/api/log/token"] = (self._log_by_token, True)
            routes["GET", "/api/usage/token"] = (self._token_usage, True)
            routes["GET", "/v1/credits"] = (self._credits, False)
        return routes

    def _handle(self, req: Recorded) -> _Resp:
        path = _norm(req.path)
        route = self._routes().get((req.method, path))
        if route is None:
            return self._not_found(req)
        handler, critical = route
        if self._family is not None:
            # a family's balance / key routes are its /api/* and /api/usage/token alike
            limited = critical
        else:
            limited = path.startswith(("/api/", "/v1/dashboard/", "/dashboard/"))
        if limited and not self._allow("global", req.client, self.global_limit):
            return _Resp(429, ctype=None)
        if critical and not self._allow("critical", req.client, self.critical_limit):
            return _Resp(429, ctype=None)
        return handler(req)

    # -- shared bits -------------------------------------------------------------------------

    def _spa(self) -> _Resp:
        title = "One API" if self.flavor == OA else "New API"
        return _Resp(200, _spa(title), "text/html; charset=utf-8")

    def _not_found(self, req: Recorded) -> _Resp:
        if self._family is not None:
            return self._family.not_found(req)
        if req.path.startswith(("/api", "/v1")) and not self.html_fallback:
            msg = f"Invalid URL ({req.method} {req.path})"
            return _json(
                404, {"error": {"message": msg, "type": "invalid_request_error", "code": ""}}
            )
        return self._spa()

    def _relay_error(self, status: int, message: str, code: str | None = None) -> _Resp:
        err: dict[str, Any] = {
            "message": f"{message} (request id: {_request_id()})",
            "type": "one_api_error" if self.flavor == OA else "new_api_error",
        }
        if self.flavor == NA_PLUS:
            err["code"] = code or ""
        elif code is not None:
            err["code"] = code
        return _json(status, {"error": err})

    def _find(self, key: str) -> Token | None:
        with self._lock:
            token = self._by_key.get(key)
            if token is not None and token.key.removeprefix("sk-") == key:
                return token
            for token in self.tokens:  # tokens appended or re-keyed by hand
                if token.key.removeprefix("sk-") == key:
                    return token
        return None

    @staticmethod
    def _state(token: Token) -> str:
        """enabled | disabled | expired | exhausted, in ValidateUserToken's order."""
        if token.status in ("exhausted", "expired"):
            return token.status
        if token.status != "enabled":
            return "disabled"
        if token.expired_time != -1 and token.expired_time < time.time():
            return "expired"
        if not token.unlimited and token.remain_quota <= 0:
            return "exhausted"
        return "enabled"

    def _auth_message(self, reason: str, token: Token | None = None) -> str:
        if self.flavor == NA_PLUS and self.lang == "en":
            return "Invalid token"  # recent TokenAuth collapses every failure
        if reason == "exhausted" and token is not None and self.flavor != OA and self.lang == "zh":
            raw = token.key.removeprefix("sk-")
            masked = f"sk-{raw[:3]}***{raw[-3:]}"
            return f"令牌 {token.name}（#{token.token_id}）额度已用尽 [{masked}]"
        return _MESSAGES[self.lang][reason]

    def _token_auth(self, req: Recorded, *, model_route: bool = False) -> Token | _Resp:
        """The relay's TokenAuth: 401 for missing, unknown, expired, exhausted, disabled keys."""
        key = req.headers.get("Authorization") or ""
        for prefix in ("Bearer ", "bearer "):
            key = key.removeprefix(prefix)
        if not key and self.flavor == NA_PLUS and model_route:
            key = (
                req.headers.get("x-api-key")
                or req.headers.get("x-goog-api-key")
                or (req.query.get("key") or [""])[0]
            )
        key = key.strip().removeprefix("sk-").split("-")[0]
        if not key:
            return self._relay_error(401, self._auth_message("not_provided"))
        token = self._find(key)
        if token is None:
            return self._relay_error(401, self._auth_message("invalid"))
        state = self._state(token)
        if state != "enabled":
            return self._relay_error(401, self._auth_message(state, token))
        return token

    def _readonly_auth(self, req: Recorded) -> Token | _Resp:
        """new-api's TokenAuthReadOnly: Bearer header only; expired/exhausted keys pass."""
        header = req.headers.get("Authorization") or ""
        if not header:
            return self._fail(401, "No Authorization header")
        if not header.startswith("Bearer "):
            return self._fail(401, "Invalid Bearer token")
        token = self._find(header.removeprefix("Bearer ").strip().removeprefix("sk-"))
        if token is None:
            return self._fail(401, "Invalid token")
        if self._state(token) == "disabled":
            return self._fail(401, _MESSAGES[self.lang]["disabled"])
        return token

    @staticmethod
    def _fail(status: int, message: str) -> _Resp:
        return _json(status, {"success": False, "message": message})

    def _amount(self, raw: int | float) -> float | int:
        """Convert raw quota to the unit the billing endpoints report."""
        if self.flavor == NA_PLUS:
            if self.display == "TOKENS":
                return _num(raw)
            value = raw / self.quota_per_unit
            if self.display == "CNY":
                value *= self.usd_exchange_rate
            return _num(value)
        return _num(raw / self.quota_per_unit) if self.display_in_currency else _num(raw)

    # -- endpoints ---------------------------------------------------------------------------

    def _status(self, req: Recorded) -> _Resp:
        data: dict[str, Any] = {
            "version": self.version,
            "start_time": self.start_time,
            "email_verification": False,
            "github_oauth": False,
            "github_client_id": "",
            "system_name": "One API" if self.flavor == OA else "New API",
            "logo": "",
            "footer_html": "",
            "wechat_qrcode": "",
            "wechat_login": False,
            "server_address": self.url,
            "turnstile_check": False,
            "turnstile_site_key": "",
            "top_up_link": "",
            "quota_per_unit": _num(float(self.quota_per_unit)),
            "display_in_currency": self.display_in_currency,
        }
        if self.flavor == OA:
            data["chat_link"] = ""
        else:
            data.update(
                price=_num(float(self.usd_exchange_rate)),
                stripe_unit_price=8.0,
                min_topup=1,
                docs_link="",
                enable_batch_update=False,
                enable_drawing=False,
                enable_task=False,
                enable_data_export=True,
                data_export_default_time="hour",
                default_collapse_sidebar=False,
                enable_online_topup=False,
                mj_notify_enabled=False,
                chats=[
                    {"Cherry Studio": "cherrystudio://providers/api-keys?v=1&data={cherryConfig}"}
                ],
                demo_site_enabled=False,
                self_use_mode_enabled=False,
                setup=True,
            )
        if self.flavor == NA_PLUS:
            data.update(
                quota_display_type=self.display,
                usd_exchange_rate=_num(float(self.usd_exchange_rate)),
                custom_currency_symbol="¤",
                custom_currency_exchange_rate=1,
                checkin_enabled=False,
                uptime_kuma_enabled=False,
                api_info=[],
            )
        return _json(200, {"success": True, "message": "", "data": data})

    def _subscription(self, req: Recorded) -> _Resp:
        token = self._token_auth(req)
        if isinstance(token, _Resp):
            return token
        if self.token_stat:
            quota = token.remain_quota + token.used_quota
            access_until = max(token.expired_time, 0)
        else:
            # one-api only reads used_quota when reading the remaining quota failed (a bug)
            quota = token.user_quota + (0 if self.flavor == OA else token.user_used_quota)
            access_until = 0
        amount = self._amount(quota)
        if self.token_stat and token.unlimited:
            amount = UNLIMITED_AMOUNT
        body = {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": amount,
            "hard_limit_usd": amount,
            "system_hard_limit_usd": amount,
            "access_until": access_until,
        }
        return _json(200, body)

    def _usage(self, req: Recorded) -> _Resp:
        token = self._token_auth(req)
        if isinstance(token, _Resp):
            return token
        used = token.used_quota if self.token_stat else token.user_used_quota
        return _json(200, {"object": "list", "total_usage": _num(self._amount(used) * 100)})

    def _credits(self, req: Recorded) -> _Resp:
        token = self._token_auth(req)
        if isinstance(token, _Resp):
            return token
        remaining = token.remain_quota if self.token_stat else token.user_quota
        return _json(200, {"data": {"total_usage": self._amount(remaining)}})

    def _token_usage(self, req: Recorded) -> _Resp:
        token = self._readonly_auth(req)
        if isinstance(token, _Resp):
            return token
        data = {
            "object": "token_usage",
            "name": token.name,
            "total_granted": token.remain_quota + token.used_quota,
            "total_used": token.used_quota,
            "total_available": token.remain_quota,
            "unlimited_quota": token.unlimited,
            "model_limits": dict.fromkeys(token.models or [], True),
            "model_limits_enabled": token.models is not None,
            "expires_at": max(token.expired_time, 0),
        }
        return _json(200, {"code": True, "message": "ok", "data": data})

    def _rows(self, token: Token) -> list[dict]:
        """The token's log rows sorted by id, giving id-less rows the next relay-wide id."""
        with self._lock:
            for row in token.logs:
                if "id" not in row:
                    self._next_log_id += 1
                    row["id"] = self._next_log_id
            rows = [dict(row) for row in token.logs]
        rows.sort(key=lambda r: r["id"])
        for row in rows:
            row["token_id"] = token.token_id
            row["channel_name"] = ""
            other = row.get("other")
            if isinstance(other, str):
                try:
                    other = json.loads(other) if other else None
                except ValueError:
                    other = None
            if isinstance(other, dict):
                other = {k: v for k, v in other.items() if k != "admin_info"}
            else:
                other = None  # Go's StrToMap gives nil, which re-encodes as "null"
            # Go re-encodes the map, so keys come back sorted
            row["other"] = json.dumps(
                other, ensure_ascii=False, separators=(",", ":"), sort_keys=True
            )
        return rows

    def _log_by_key(self, req: Recorded) -> _Resp:
        key = (req.query.get("key") or [""])[0].removeprefix("sk-")
        token = self._find(key) if key else None
        rows = self._rows(token) if token else []
        for row in rows:
            row["id"] %= 1024
            row.pop("ip", None)
            row.pop("request_id", None)
        return _json(200, {"success": True, "message": "", "data": rows})

    def _log_by_token(self, req: Recorded) -> _Resp:
        token = self._readonly_auth(req)
        if isinstance(token, _Resp):
            return token
        rows = self._rows(token)[::-1][:MAX_RECENT_ITEMS]
        for i, row in enumerate(rows):
            row["id"] = i + 1
            row.setdefault("ip", "")
            row.setdefault("request_id", "")
        return _json(200, {"success": True, "message": "", "data": rows})

    def _models(self, req: Recorded) -> _Resp:
        token = self._token_auth(req, model_route=True)
        if isinstance(token, _Resp):
            return token
        if token.models is not None:
            ids = list(token.models)
        else:
            with self._lock:
                scripted = [m for m in self._scripts if m not in self.group_models]
            ids = [*self.group_models, *scripted]
        if self.flavor == NA_PLUS:
            if req.headers.get("x-goog-api-key") or "key" in req.query:
                models = [
                    {
                        "name": f"models/{m}",
                        "version": "",
                        "displayName": m,
                        "description": "",
                        "inputTokenLimit": 0,
                        "outputTokenLimit": 0,
                        "supportedGenerationMethods": ["generateContent"],
                    }
                    for m in ids
                ]
                return _json(200, {"models": models, "nextPageToken": ""})
            if req.headers.get("x-api-key") and req.headers.get("anthropic-version"):
                data = [
                    {
                        "id": m,
                        "type": "model",
                        "display_name": m,
                        "created_at": "2021-07-20T10:40:00Z",
                    }
                    for m in ids
                ]
                first, last = (ids[0], ids[-1]) if ids else ("", "")
                body = {"data": data, "first_id": first, "has_more": False, "last_id": last}
                return _json(200, body)
            data = [
                {
                    "id": m,
                    "object": "model",
                    "created": MODEL_CREATED,
                    "owned_by": _owner(m),
                    "supported_endpoint_types": ["openai"],
                }
                for m in ids
            ]
            return _json(200, {"success": True, "object": "list", "data": data})
        items = [
            {
                "id": m,
                "object": "model",
                "created": MODEL_CREATED,
                "owned_by": _owner(m),
                "permission": [dict(_MODEL_PERMISSION)],
                "root": m,
                "parent": None,
            }
            for m in ids
        ]
        if self.flavor == OA:
            return _json(200, {"object": "list", "data": items})
        return _json(200, {"success": True, "data": items})

    @staticmethod
    def _chat_body(req: Recorded) -> dict | None:
        """The chat request's JSON object, or None when it is not one with a messages list."""
        try:
            body = json.loads(req.body or b"")
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return None
        return body

    def _chat(self, req: Recorded) -> _Resp:
        token = self._token_auth(req)
        if isinstance(token, _Resp):
            return token
        body = self._chat_body(req)
        if body is None:
            code = "invalid_text_request" if self.flavor != NA_PLUS else "invalid_request"
            return self._relay_error(400, "invalid request body", code)
        model = str(body.get("model") or "")
        if token.models is not None and model not in token.models:
            if self.flavor == OA:
                msg = f"该令牌无权使用模型：{model}"
            elif self.flavor == NA_PLUS and self.lang == "en":
                msg = f"This token has no access to model {model}"
            else:
                msg = f"该令牌无权访问模型 {model}"
            return self._relay_error(403, msg)
        with self._lock:
            script = self._scripts.get(model)
        if token.models is None and model not in self.group_models and script is None:
            if self.flavor != NA_PLUS:
                return self._relay_error(503, f"当前分组 default 下对于模型 {model} 无可用渠道")
            if self.lang == "en":
                msg = f"No available channel for model {model} under group default (distributor)"
            else:
                msg = f"分组 default 下模型 {model} 无可用渠道（distributor）"
            return self._relay_error(503, msg, "model_not_found")
        if token.user_quota <= 0:
            if self.flavor == NA_PLUS:
                msg = f"用户额度不足, 剩余额度: {token.user_quota}"
            else:
                msg = "user quota is not enough"
            return self._relay_error(403, msg, "insufficient_user_quota")
        return self._complete(token, body, model)

    def _complete(self, token: Token, body: dict, model: str) -> _Resp:
        """A successful chat answer (scripted or canned, stream or not) once checks passed."""
        with self._lock:
            script = self._scripts.get(model)
        if script is not None:
            return self._scripted(token, body, model, script)

        chunks = list(REPLY_CHUNKS)
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if isinstance(max_tokens, int) and 0 < max_tokens < len(chunks):
            chunks, finish = chunks[:max_tokens], "length"
        text = "".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
        prompt_tokens = max(1, len(text) // 4) + 3 * len(body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(chunks),
            "total_tokens": prompt_tokens + len(chunks),
        }
        stream = bool(body.get("stream"))
        if self.charge:
            self._bill(token, model, prompt_tokens, len(chunks), stream)
        chat_id = _chat_id()
        created = int(time.time())
        if not stream:
            reply = {
                "id": chat_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(chunks)},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
            }
            return _json(200, reply)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        final_usage = usage if include_usage else None
        return _Resp(200, events=self._sse(chat_id, created, model, chunks, finish, final_usage))

    def _sse(
        self,
        chat_id: str,
        created: int,
        model: str,
        chunks: list[str],
        finish: str,
        usage: dict | None,
    ) -> Iterator[bytes]:
        """Yield SSE events; new-api always writes "usage":null, one-api passes through."""
        ids = (chat_id, created, model)
        null_usage = self.flavor != OA or usage is not None
        yield _chunk(ids, {"role": "assistant", "content": ""}, first=True, null_usage=null_usage)
        for piece in chunks:
            yield _chunk(ids, {"content": piece}, null_usage=null_usage)
        yield _chunk(ids, {}, finish, null_usage=null_usage)
        if usage is not None:
            yield _usage_chunk(ids, usage)
        yield b"data: [DONE]\n\n"

    def _scripted(self, token: Token, body: dict, model: str, script: Script) -> _Resp:
        """A scripted model's reply: timed stream steps, or (stream:false) one chat.completion."""
        completion = script.completion_tokens
        if completion is None:
            completion = len(script.content) + len(script.reasoning)
        usage: dict[str, Any] = {
            "prompt_tokens": script.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": script.prompt_tokens + completion,
        }
        if script.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(script.reasoning)}
        stream = bool(body.get("stream"))
        if self.charge:
            self._bill(token, model, script.prompt_tokens, completion, stream)
        asked = bool((body.get("stream_options") or {}).get("include_usage"))
        send_usage = script.usage == "always" or (script.usage == "asked" and asked)
        ids = (_chat_id(), int(time.time()), model)
        steps, cut = self._script_steps(ids, script, usage if send_usage else None, token.key)
        if stream:
            return _Resp(200, steps=steps, cut=cut, cut_wait=script.delay, model=model)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(script.content)}
        if script.reasoning:
            message["reasoning_content"] = "".join(script.reasoning)
            if self.flavor in (NA, NA_PLUS):
                message["reasoning"] = message["reasoning_content"]
        reply = {
            "id": ids[0],
            "object": "chat.completion",
            "created": ids[1],
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": script.finish}],
            "usage": usage,
        }
        resp = _json(200, reply)
        # a non-stream answer comes when the whole generation is done
        resp.wait, resp.model = sum(wait for wait, _ in steps), model
        return resp

    def _script_steps(
        self, ids: tuple[str, int, str], script: Script, usage: dict | None, key: str = ""
    ) -> tuple[list[tuple[float, bytes]], str]:
        """The scripted stream as (wait, event) steps, and how it ends."""
        null_usage = self.flavor != OA or usage is not None
        role = {"role": "assistant", "content": ""}
        events = [_chunk(ids, role, first=True, null_usage=null_usage)]
        for piece in script.reasoning:
            delta = {"reasoning_content": piece}
            if self.flavor in (NA, NA_PLUS):
                delta["reasoning"] = piece  # new-api's SetReasoningContent sets both
            events.append(_chunk(ids, delta, null_usage=null_usage))
        cut_after = script.cut_after
        for piece in script.content[:cut_after]:
            events.append(_chunk(ids, {"content": piece}, null_usage=null_usage))
        cut = "done"
        if script.end.startswith("reset_after"):
            cut = "reset"
        elif script.end.startswith("error_after"):
            error = _with_key(UPSTREAM_ERROR, key) if self.echo_key else UPSTREAM_ERROR
            events += [f"data: {_dumps(error)}\n\n".encode(), b"data: [DONE]\n\n"]
        elif script.end.startswith("garbage_after"):
            # a data line cut inside its JSON (a proxy mangling the stream), then a clean close
            events.append(b'data: {"id":"chatcmpl-x","choices":[{"delta":{"content":\n\n')
            cut = "eof"
        else:
            if script.finish is not None:
                events.append(_chunk(ids, {}, script.finish, null_usage=null_usage))
            if usage is not None:
                events.append(_usage_chunk(ids, usage))
            if script.end == "eof":
                cut = "eof"
            else:
                events.append(b"data: [DONE]\n\n")
        waits = [script.first_delay] + [script.delay] * (len(events) - 1)
        steps = list(zip(waits, events, strict=True))
        if script.ping:
            steps.insert(0, (0.0, b": PING\n\n"))
        return steps, cut

    def _bill(self, token: Token, model: str, prompt: int, completion: int, stream: bool) -> None:
        now = int(time.time())
        row = _consume_row(0, now, model, prompt, completion, 0, stream, 300, token.name)
        del row["id"]  # _rows() gives it the next relay-wide id
        with self._lock:
            if not token.unlimited:
                token.remain_quota -= row["quota"]
            token.used_quota += row["quota"]
            token.user_quota -= row["quota"]
            token.user_used_quota += row["quota"]
            token.logs.append(row)
        if self._family is not None:
            self._family.charged(token, row["quota"] / self.quota_per_unit)
