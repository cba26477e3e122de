"""A small new-api relay on 127.0.0.1 for `flask demo`: balances, request logs, models, chat.

It speaks the same wire format as the test fake (tests/fakerelay.py, flavour new-api-2026) for
the calls relaydash makes, minus the faults, scripts and other families the tests need;
tests/test_demo.py compares the two answer by answer so they cannot drift apart.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

QUOTA_PER_UNIT = 500000  # new-api's default: 500000 quota is 1 USD
USD_RATE = 7.3
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "deepseek-chat"]
# model -> (model ratio, completion ratio), as new-api bills them
PRICING = {
    "gpt-4o-mini": (0.075, 4.0),
    "gpt-4o": (1.25, 4.0),
    "claude-3-5-sonnet": (1.5, 5.0),
    "deepseek-chat": (0.135, 4.0),
}
REPLY = "Hello from the relaydash demo relay. Every figure here is made up."
CHUNK_DELAY = 0.04  # seconds between streamed words, so the playground's stream is visible
WEBHOOK = "/demo/alerts"  # the demo's alert channel posts here (not a relay call)


@dataclass
class DemoToken:
    """One demo key and its numbers (raw quota, as new-api stores them)."""

    key: str
    name: str
    remain_quota: int
    used_quota: int = 0
    expires_at: int = 0  # unix seconds; 0: never
    logs: list[dict] = field(default_factory=list)
    token_id: int = 7


def _ratios(model: str) -> tuple[float, float]:
    for prefix in sorted(PRICING, key=len, reverse=True):
        if model.startswith(prefix):
            return PRICING[prefix]
    return 1.0, 1.0


def log_row(created: int, model: str, prompt: int, completion: int, token: DemoToken) -> dict:
    """A new-api consume log row (type 2) with the quota new-api would bill."""
    ratio, completion_ratio = _ratios(model)
    quota = max(1, int(math.floor((prompt + completion * completion_ratio) * ratio + 0.5)))
    other = {"model_ratio": ratio, "completion_ratio": completion_ratio, "group_ratio": 1}
    return {
        "user_id": 1,
        "created_at": created,
        "type": 2,
        "content": f"模型倍率 {ratio:.2f}，补全倍率 {completion_ratio:.2f}，分组倍率 1.00",
        "username": "demo",
        "token_name": token.name,
        "model_name": model,
        "quota": quota,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "use_time": max(1, completion // 80),
        "is_stream": True,
        "channel": 1,
        "channel_name": "",
        "token_id": token.token_id,
        "group": "default",
        "ip": "",
        "other": json.dumps(other, separators=(",", ":"), sort_keys=True),
        "request_id": "",
    }


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    relay: DemoRelay

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients (probes, stopped streams) hang up mid-answer: not worth a traceback


class DemoRelay:
    """The demo relay: start() binds a free port on 127.0.0.1 and serves in a daemon thread."""

    def __init__(self) -> None:
        self.tokens: dict[str, DemoToken] = {}
        self.start_time = int(time.time())
        self.url = ""
        self.lock = threading.Lock()
        self.chunk_delay = CHUNK_DELAY
        self.alerts: list[dict] = []  # what the demo's alert channel (a webhook here) received
        self._server: _Server | None = None

    def add_token(self, token: DemoToken) -> DemoToken:
        """Serve this key from now on."""
        with self.lock:
            self.tokens[token.key.removeprefix("sk-")] = token
        return token

    def start(self) -> DemoRelay:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.relay = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True, name="demo-relay").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the calls ----------------------------------------------------------------------------

    def answer(self, method: str, path: str, auth: str, body: bytes) -> tuple[int, Any]:
        """(HTTP status, JSON body or a list of SSE events) for one request."""
        path = path.rstrip("/") or "/"
        if (method, path) == ("GET", "/api/status"):
            return 200, {"success": True, "message": "", "data": self._status()}
        if (method, path) == ("POST", WEBHOOK):
            self.alerts.append(json.loads(body or b"{}"))
            return 200, {"ok": True}
        token = self.tokens.get(auth.removeprefix("Bearer ").strip().removeprefix("sk-"))
        if token is None:
            return 401, {"error": {"message": "无效的令牌", "type": "new_api_error", "code": ""}}
        if (method, path) == ("GET", "/api/usage/token"):
            return 200, {"code": True, "message": "ok", "data": self._usage(token)}
        if (method, path) == ("GET", "/api/log/token"):
            rows = [dict(row, id=i + 1) for i, row in enumerate(reversed(token.logs))]
            return 200, {"success": True, "message": "", "data": rows[:1000]}
        if (method, path) == ("GET", "/v1/models"):
            data = [
                {"id": m, "object": "model", "created": 1626777600, "owned_by": "demo"}
                for m in MODELS
            ]
            return 200, {"success": True, "object": "list", "data": data}
        if method == "GET" and path in (
            "/v1/dashboard/billing/subscription",
            "/v1/dashboard/billing/usage",
        ):
            return 200, self._billing(token, path.endswith("usage"))
        if (method, path) == ("POST", "/v1/chat/completions"):
            return self._chat(token, body)
        return 404, {
            "error": {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error"}
        }

    def _status(self) -> dict:
        return {
            "version": "v0.10.9",
            "start_time": self.start_time,
            "system_name": "New API (relaydash demo)",
            "server_address": self.url,
            "quota_per_unit": QUOTA_PER_UNIT,
            "display_in_currency": True,
            "price": USD_RATE,
            "quota_display_type": "USD",
            "usd_exchange_rate": USD_RATE,
            "setup": True,
        }

    @staticmethod
    def _usage(token: DemoToken) -> dict:
        return {
            "object": "token_usage",
            "name": token.name,
            "total_granted": token.remain_quota + token.used_quota,
            "total_used": token.used_quota,
            "total_available": token.remain_quota,
            "unlimited_quota": False,
            "model_limits": {},
            "model_limits_enabled": False,
            "expires_at": token.expires_at,
        }

    @staticmethod
    def _billing(token: DemoToken, usage: bool) -> dict:
        if usage:
            return {"object": "list", "total_usage": token.used_quota / QUOTA_PER_UNIT * 100}
        amount = (token.remain_quota + token.used_quota) / QUOTA_PER_UNIT
        return {
            "object": "billing_subscription",
            "has_payment_method": True,
            "soft_limit_usd": amount,
            "hard_limit_usd": amount,
            "system_hard_limit_usd": amount,
            "access_until": token.expires_at,
        }

    def _chat(self, token: DemoToken, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw or b"")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            error = {"message": "invalid request body", "type": "new_api_error"}
            return 400, {"error": {**error, "code": "invalid_request"}}
        model = str(body.get("model") or "")
        if model not in MODELS:
            message = f"分组 default 下模型 {model} 无可用渠道（distributor）"
            return 503, {"error": {"message": message, "type": "new_api_error", "code": ""}}
        words = [w + " " for w in REPLY.split(" ")[:-1]] + [REPLY.rsplit(" ", 1)[-1]]
        prompt = 3 + sum(
            len(str(m.get("content", ""))) // 4 for m in body["messages"] if isinstance(m, dict)
        )
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        row = log_row(int(time.time()), model, prompt, len(words), token)
        with self.lock:  # billed like a relay: the next balance poll and log read show it
            token.remain_quota -= row["quota"]
            token.used_quota += row["quota"]
            token.logs.append(row)
        ids = {"id": f"chatcmpl-demo{time.time_ns()}", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words).strip()}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return 200, {**ids, "object": "chat.completion", "choices": [choice], "usage": usage}
        chunk = {**ids, "object": "chat.completion.chunk"}
        events = [
            {
                **chunk,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": None,
                    }
                ],
                "usage": None,
            }
        ]
        events += [
            {
                **chunk,
                "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}],
                "usage": None,
            }
            for w in words
        ]
        events.append(
            {
                **chunk,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": None,
            }
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        return 200, events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "relaydash-demo-relay"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines can hold keys: never print them

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        relay: DemoRelay = self.server.relay  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        status, answer = relay.answer(
            self.command, path, self.headers.get("Authorization") or "", body
        )
        self.send_response(status)
        if isinstance(answer, list):
            self._stream(answer)
            return
        data = _dumps(answer)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET

    def _stream(self, events: list[dict]) -> None:
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in [b"data: " + _dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            if self.server.relay.chunk_delay:  # type: ignore[attr-defined]
                time.sleep(self.server.relay.chunk_delay)  # type: ignore[attr-defined]
        self.wfile.write(b"0\r\n\r\n")
