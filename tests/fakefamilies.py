"""Relay families for tests/fakerelay.py, per shared/reference/relay-families.md.

One class per family: its routes, how it checks keys, and its error and 404 bodies. The chat success
path (streams, scripts, usage) is FakeRelay's own; faults, latency, recording and per-IP limits come
from FakeRelay's dispatcher, as for the one-api / new-api flavors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.fakerelay import (
    DEEPSEEK,
    DEFAULT_GROUP_MODELS,
    LITELLM,
    MODEL_CREATED,
    MOONSHOT,
    OPENAI,
    OPENROUTER,
    Recorded,
    Token,
    _json,
    _num,
    _owner,
    _ratios,
    _Resp,
)

if TYPE_CHECKING:
    from tests.fakerelay import FakeRelay

Route = tuple[Callable[[Recorded], _Resp], bool]  # (handler, critical rate limit)

DEFAULT_BALANCE_INFO = {
    "currency": "CNY",
    "total_balance": "110.00",
    "granted_balance": "10.00",
    "topped_up_balance": "100.00",
}
LITELLM_CREATED = 1677610602
_VENDORS = {"openai": "OpenAI", "anthropic": "Anthropic", "deepseek": "DeepSeek"}
_HTML_404 = (
    "<html>\n<head><title>404 Not Found</title></head>\n<body>\n"
    "<center><h1>404 Not Found</h1></center>\n</body>\n</html>\n"
)
_NEXT_404 = (
    '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>'
    "<title>404: This page could not be found.</title>"
    '<script src="/_next/static/chunks/webpack-3f1c2a.js" async=""></script></head>'
    '<body><div style="font-family:system-ui;height:100vh;text-align:center">'
    '<h1 class="next-error-h1">404</h1><h2>This page could not be found.</h2></div>'
    '<script id="__NEXT_DATA__" type="application/json">{"page":"/_not-found"}</script>'
    "</body></html>"
)


def _past(iso: str | None) -> bool:
    """True when an ISO timestamp lies in the past (naive = UTC); bad or empty -> False."""
    if not iso:
        return False
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at < datetime.now(UTC)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Family:
    """What every family shares: Bearer keys matched exactly, chat on FakeRelay's machinery."""

    default_models: tuple[str, ...] | list[str] = DEFAULT_GROUP_MODELS
    chat_paths: tuple[str, ...] = ("/v1/chat/completions",)

    def __init__(self, relay: FakeRelay) -> None:
        self.relay = relay

    # -- routing -----------------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], Route]:
        routes: dict[tuple[str, str], Route] = {
            ("POST", path): (self.chat, False) for path in self.chat_paths
        }
        routes.update(self.extra_routes())
        return routes

    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {}

    def not_found(self, req: Recorded) -> _Resp:
        return styled_not_found(self.relay.not_found_style)

    # -- keys --------------------------------------------------------------------------------

    @staticmethod
    def key(req: Recorded) -> str:
        header = (req.headers.get("Authorization") or "").strip()
        if header[:7].lower() == "bearer ":
            header = header[7:]
        return header.strip()

    def lookup(self, key: str) -> Token | None:
        """The token whose key is exactly `key` (no one-api "sk-" / "-channel" leniency)."""
        token = self.relay._find(key.removeprefix("sk-")) if key else None
        return token if token is not None and token.key == key else None

    def auth(self, req: Recorded) -> Token | _Resp:
        """Default: any key that is missing, unknown or not "enabled" gets invalid_key()."""
        key = self.key(req)
        token = self.lookup(key)
        if token is None or token.status != "enabled":
            return self.invalid_key(key)
        return token

    def invalid_key(self, key: str) -> _Resp:
        raise NotImplementedError

    # -- models and chat ---------------------------------------------------------------------

    def available(self, token: Token | None) -> list[str]:
        """The token's models when it has some, else the group's plus scripted ones."""
        if token is not None and token.models:
            return list(token.models)
        with self.relay._lock:
            scripted = [m for m in self.relay._scripts if m not in self.relay.group_models]
        return [*self.relay.group_models, *scripted]

    def chat(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        body = self.relay._chat_body(req)
        if body is None:
            return self.bad_body()
        model = str(body.get("model") or "")
        refused = self.refuse(token, model)
        if refused is not None:
            return refused
        return self.relay._complete(token, body, model)

    def refuse(self, token: Token, model: str) -> _Resp | None:
        """The family's reason not to answer this chat (unknown model, no money), else None."""
        if model not in self.available(token):
            return self.unknown_model(model)
        return None

    def unknown_model(self, model: str) -> _Resp:
        raise NotImplementedError

    def bad_body(self) -> _Resp:
        raise NotImplementedError

    def charged(self, token: Token, usd: float) -> None:
        """A billed chat (FakeRelay(charge=True)) cost `usd`; move the family's figures."""


def styled_not_found(style: str) -> _Resp:
    """A 404 as FastAPI, a Go mux (plain text) or a web server (HTML) writes it."""
    if style == "text":
        return _Resp(404, b"404 page not found", "text/plain; charset=utf-8")
    if style == "html":
        return _Resp(404, _HTML_404.encode(), "text/html; charset=utf-8")
    return _Resp(404, b'{"detail":"Not Found"}', "application/json")


# -- LiteLLM proxy ---------------------------------------------------------------------------


class LiteLLM(Family):
    chat_paths = ("/v1/chat/completions", "/chat/completions")

    def __init__(self, relay: FakeRelay) -> None:
        super().__init__(relay)
        self.master = Token(key=relay.master_key or "", token_id=0)

    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/health/liveliness"): (self.liveliness, False),
            ("GET", "/key/info"): (self.key_info, True),
            ("GET", "/v1/models"): (self.models, False),
            ("GET", "/models"): (self.models, False),
        }

    @staticmethod
    def error(status: int, message: str, kind: str = "None") -> _Resp:
        err = {"message": message, "type": kind, "param": "None", "code": str(status)}
        return _json(status, {"error": err})

    def auth(self, req: Recorded) -> Token | _Resp:
        key = self.key(req)
        if self.relay.master_key and key == self.relay.master_key:
            return self.lookup(key) or self.master
        if not key:
            return self.error(401, "Authentication Error, No api key passed in.", "auth_error")
        if not self.relay.litellm_db:
            return self.error(400, "No connected db.", "no_db_connection")
        token = self.lookup(key)
        if token is None:
            return self.invalid_key(key)
        if token.status not in ("enabled", "expired"):
            msg = "Authentication Error, Key is blocked. Update via /key/unblock if you're admin."
            return self.error(401, msg, "auth_error")
        if token.status == "expired" or _past(token.expires):
            now = datetime.now(UTC).isoformat()
            msg = (
                "Authentication Error - Expired Key. "
                f"Key Expiry time {token.expires} and current time {now}"
            )
            return self.error(401, msg, "expired_key")
        return token

    def invalid_key(self, key: str) -> _Resp:
        msg = (
            "Authentication Error, Invalid proxy server token passed. "
            f"Received API Key = sk-...{key[-4:]}, Key Hash (Token) ={_sha(key)}. "
            "Unable to find token in cache or `LiteLLM_VerificationTokenTable`"
        )
        return self.error(401, msg, "auth_error")

    def liveliness(self, req: Recorded) -> _Resp:
        return _json(200, "I'm alive!")

    def key_info(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        if not self.relay.litellm_db:  # only the master key gets here without a DB
            return _Resp(500, b"Internal Server Error", "text/plain; charset=utf-8")
        info = {
            "key_alias": token.key_alias,
            "spend": float(token.spend),
            "max_budget": token.max_budget,
            "budget_duration": token.budget_duration,
            "budget_reset_at": token.budget_reset_at,
            "models": list(token.models or []),
            "blocked": None,  # blocked keys never get this far
            "expires": token.expires,
            "tpm_limit": None,
            "rpm_limit": None,
            "metadata": {},
        }
        return _json(200, {"key": self.key(req), "info": info})

    def models(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        data = [
            {"id": m, "object": "model", "created": LITELLM_CREATED, "owned_by": "openai"}
            for m in self.available(token)
        ]
        return _json(200, {"object": "list", "data": data})

    def refuse(self, token: Token, model: str) -> _Resp | None:
        if token.max_budget is not None and token.spend >= token.max_budget:
            msg = (
                f"Budget has been exceeded! Current cost: {token.spend}, "
                f"Max budget: {token.max_budget}"
            )
            return self.error(400, msg, "budget_exceeded")
        if token.models and model not in token.models:
            msg = (
                "Authentication Error, API Key not allowed to access model. "
                f"This token can only access models={list(token.models)}. Tried to access {model}"
            )
            return self.error(401, msg, "key_model_access_denied")
        return super().refuse(token, model)

    def unknown_model(self, model: str) -> _Resp:
        inner = (
            f"/chat/completions: Invalid model name passed in model={model}. "
            "Call `/v1/models` to view available models for your key."
        )
        return self.error(400, repr({"error": inner}))

    def bad_body(self) -> _Resp:
        return self.error(400, "Invalid request body: 'messages' is a required property")

    def charged(self, token: Token, usd: float) -> None:
        with self.relay._lock:
            token.spend += usd


# -- OpenRouter ------------------------------------------------------------------------------


class OpenRouter(Family):
    default_models = (
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-sonnet",
        "deepseek/deepseek-chat",
    )
    chat_paths = ("/api/v1/chat/completions",)

    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/api/v1/key"): (self.key_route, True),
            ("GET", "/api/v1/credits"): (self.credits, True),
            ("GET", "/api/v1/models"): (self.models, False),
        }

    @staticmethod
    def error(status: int, message: str) -> _Resp:
        return _json(status, {"error": {"message": message, "code": status}})

    def not_found(self, req: Recorded) -> _Resp:
        if req.path == "/api" or req.path.startswith("/api/"):
            return self.error(404, "Not Found")
        return _Resp(404, _NEXT_404.encode(), "text/html; charset=utf-8")

    def auth(self, req: Recorded) -> Token | _Resp:
        key = self.key(req)
        if not key:
            return self.error(401, "No auth credentials found")
        token = self.lookup(key)
        if token is None:
            return self.invalid_key(key)
        if token.status == "expired" or _past(token.expires_at_iso):
            return self.error(401, "Key expired")
        if token.status != "enabled":
            return self.error(401, "Key is disabled")
        return token

    def invalid_key(self, key: str) -> _Resp:
        return self.error(401, "User not found.")

    def key_route(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        remaining = None if token.limit is None else _num(round(token.limit - token.usage, 12))
        usage = _num(float(token.usage))
        data = {
            "label": f"{token.key[:12]}...{token.key[-3:]}",
            "limit": None if token.limit is None else _num(float(token.limit)),
            "usage": usage,
            "limit_remaining": remaining,
            "limit_reset": token.limit_reset,
            "is_free_tier": token.is_free_tier,
            "usage_daily": usage,
            "usage_weekly": usage,
            "usage_monthly": usage,
            "expires_at": token.expires_at_iso,
            "rate_limit": {"requests": -1, "interval": "10s"},
        }
        return _json(200, {"data": data})

    def credits(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        if not self.relay.credits_allowed:
            return self.error(403, "Only management keys can fetch credits")
        data = {
            "total_credits": _num(float(self.relay.total_credits)),
            "total_usage": _num(float(self.relay.total_usage)),
        }
        return _json(200, {"data": data})

    def models(self, req: Recorded) -> _Resp:
        """OpenRouter's model list is public: no key needed, no "object" fields."""
        data = []
        for m in self.available(None):
            vendor, _, name = m.rpartition("/")
            vendor = vendor or _owner(name)
            mr, cr = _ratios(name)
            data.append(
                {
                    "id": m,
                    "canonical_slug": m,
                    "name": f"{_VENDORS.get(vendor, vendor.title())}: {name}",
                    "created": MODEL_CREATED,
                    "description": "",
                    "context_length": 128000,
                    "architecture": {
                        "modality": "text->text",
                        "input_modalities": ["text"],
                        "output_modalities": ["text"],
                        "tokenizer": "Other",
                        "instruct_type": None,
                    },
                    "pricing": {
                        "prompt": f"{mr * 2e-6:.10f}".rstrip("0"),
                        "completion": f"{mr * cr * 2e-6:.10f}".rstrip("0"),
                        "request": "0",
                        "image": "0",
                    },
                    "top_provider": {
                        "context_length": 128000,
                        "max_completion_tokens": 16384,
                        "is_moderated": False,
                    },
                    "per_request_limits": None,
                    "supported_parameters": ["max_tokens", "stream", "temperature"],
                }
            )
        return _json(200, {"data": data})

    def refuse(self, token: Token, model: str) -> _Resp | None:
        refused = super().refuse(token, model)
        if refused is None and token.limit is not None and token.usage >= token.limit:
            return self.error(402, "Key limit exceeded")
        return refused

    def unknown_model(self, model: str) -> _Resp:
        return self.error(400, f"{model} is not a valid model ID")

    def bad_body(self) -> _Resp:
        return self.error(400, 'Input required: specify "prompt" or "messages"')

    def charged(self, token: Token, usd: float) -> None:
        with self.relay._lock:
            token.usage += usd


# -- DeepSeek --------------------------------------------------------------------------------


class DeepSeek(Family):
    default_models = ("deepseek-chat", "deepseek-reasoner")
    chat_paths = ("/v1/chat/completions", "/chat/completions")

    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/user/balance"): (self.balance, True),
            ("GET", "/v1/models"): (self.models, False),
            ("GET", "/models"): (self.models, False),
        }

    @staticmethod
    def error(status: int, message: str, kind: str = "invalid_request_error") -> _Resp:
        err = {"message": message, "type": kind, "param": None, "code": "invalid_request_error"}
        return _json(status, {"error": err})

    def not_found(self, req: Recorded) -> _Resp:
        return _Resp(404, ctype=None)

    def invalid_key(self, key: str) -> _Resp:
        msg = f"Authentication Fails, Your api key: ****{key[-4:]} is invalid"
        return self.error(401, msg, "authentication_error")

    def balance(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        infos = token.balance_infos if token.balance_infos is not None else [DEFAULT_BALANCE_INFO]
        body = {"is_available": token.is_available, "balance_infos": [dict(i) for i in infos]}
        return _json(200, body)

    def models(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        data = [{"id": m, "object": "model", "owned_by": "deepseek"} for m in self.available(token)]
        return _json(200, {"object": "list", "data": data})

    def refuse(self, token: Token, model: str) -> _Resp | None:
        refused = super().refuse(token, model)
        if refused is None and not token.is_available:
            return self.error(402, "Insufficient Balance", "unknown_error")
        return refused

    def unknown_model(self, model: str) -> _Resp:
        return self.error(400, "Model Not Exist")

    def bad_body(self) -> _Resp:
        return self.error(400, "Failed to deserialize the JSON body into the target type")


# -- Moonshot (Kimi) -------------------------------------------------------------------------


class Moonshot(Family):
    default_models = ("moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k", "kimi-latest")

    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/v1/users/me/balance"): (self.balance, True),
            ("GET", "/v1/models"): (self.models, False),
        }

    @staticmethod
    def error(status: int, message: str, kind: str) -> _Resp:
        return _json(status, {"error": {"message": message, "type": kind}})

    def not_found(self, req: Recorded) -> _Resp:
        body = {
            "code": 5,
            "error": "url.not_found",
            "message": "没找到对象",
            "method": req.method,
            "scode": "0x5",
            "status": False,
        }
        return _json(404, body)

    def invalid_key(self, key: str) -> _Resp:
        return self.error(401, "Invalid Authentication", "invalid_authentication_error")

    def balance(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        data = {
            "available_balance": _num(float(token.available_balance)),
            "voucher_balance": _num(float(token.voucher_balance)),
            "cash_balance": _num(float(token.cash_balance)),
        }
        return _json(200, {"code": 0, "data": data, "scode": "0x0", "status": True})

    def models(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        data = [
            {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "moonshot"}
            for m in self.available(token)
        ]
        return _json(200, {"object": "list", "data": data})

    def refuse(self, token: Token, model: str) -> _Resp | None:
        if token.available_balance <= 0:
            account = "c" + _sha(token.key)[:19]
            msg = f"Your account {account} is suspended, please check your plan and billing details"
            return self.error(429, msg, "exceeded_current_quota_error")
        return super().refuse(token, model)

    def unknown_model(self, model: str) -> _Resp:
        msg = f"Not found the model {model} or Permission denied"
        return self.error(404, msg, "resource_not_found_error")

    def bad_body(self) -> _Resp:
        msg = "Invalid request: messages must not be empty"
        return self.error(400, msg, "invalid_request_error")

    def charged(self, token: Token, usd: float) -> None:
        with self.relay._lock:
            from_voucher = min(usd, max(token.voucher_balance, 0.0))
            token.voucher_balance -= from_voucher
            token.cash_balance -= usd - from_voucher
            token.available_balance -= usd


# -- any other OpenAI-compatible gateway (vLLM and the like) ---------------------------------


class OpenAICompatible(Family):
    def extra_routes(self) -> dict[tuple[str, str], Route]:
        return {("GET", "/v1/models"): (self.models, False)}

    def invalid_key(self, key: str) -> _Resp:
        err: dict[str, Any] = {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        return _json(401, {"error": err})

    def models(self, req: Recorded) -> _Resp:
        token = self.auth(req)
        if isinstance(token, _Resp):
            return token
        data = [
            {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": _owner(m)}
            for m in self.available(token)
        ]
        return _json(200, {"object": "list", "data": data})

    def unknown_model(self, model: str) -> _Resp:
        err = {
            "message": f"The model `{model}` does not exist.",
            "type": "NotFoundError",
            "param": None,
            "code": 404,
        }
        return _json(404, {"error": err})

    def bad_body(self) -> _Resp:
        err = {
            "message": "messages: Field required",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
        return _json(400, {"error": err})


FAMILIES: dict[str, type[Family]] = {
    LITELLM: LiteLLM,
    OPENROUTER: OpenRouter,
    DEEPSEEK: DeepSeek,
    MOONSHOT: Moonshot,
    OPENAI: OpenAICompatible,
}


def make_family(relay: FakeRelay) -> Family:
    return FAMILIES[relay.flavor](relay)
