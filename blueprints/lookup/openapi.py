"""The OpenAPI 3.1 document for the lookup API."""

from __future__ import annotations

from flask import current_app

from relay import FAMILIES
from relay.keys import KEY_PATTERN

FAMILY_NAMES = list(FAMILIES)

STATUSES = [
    "active",
    "exhausted",
    "expired",
    "disabled",
    "invalid",
    "refused",
    "rate_limited",
    "unreachable",
    "error",
]

_NUMBER = {"type": ["number", "null"]}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_STATUS_TEXT = (
    "active: the key works (any authenticated 200 proves it). exhausted / expired / disabled: "
    "the relay said so. invalid: the relay said no such key exists. refused: the relay refused "
    "the key and did not say why (invalid, used up, expired or disabled); retry_in is set when a "
    "later call can tell. rate_limited / unreachable / error: nothing about the key is known."
)
_REASONS = (
    "error.code: the status, or a reason such as invalid_key, refused, budget (relaydash held "
    "the call back to stay under the relay's per-IP limit), relay_rate_limited, no_key_db (a "
    "LiteLLM proxy without a key database cannot check keys; not a verdict on the key), "
    "no_balance_endpoint (nothing at the address answers like an OpenAI-compatible API), "
    "timeout, reset, unreachable, blocked_address (relaydash does not call private or local "
    "addresses unless its admin allows them), malformed, relay_error, ip_not_allowed, forbidden."
)
_AMOUNT_ROW = {
    "type": "object",
    "properties": {
        "currency": {"type": "string"},
        "total": _NUMBER,
        "granted": _NUMBER,
        "topped_up": _NUMBER,
    },
}
_RESULT = {
    "type": "object",
    "required": [
        "provider",
        "relay",
        "family",
        "status",
        "unit",
        "balance_published",
        "unlimited",
        "total",
        "used",
        "remaining",
        "expires_at",
        "expiry_stated",
    ],
    "properties": {
        "key": {"type": "string", "description": "Masked key (batch only), e.g. sk-abc…wxyz"},
        "provider": {"type": "string"},
        "relay": {
            "enum": ["one-api", "new-api", "unknown"],
            "description": "What /api/status said, as before: other families have none and "
            "are 'unknown' here; see family.",
        },
        "relay_version": {"type": ["string", "null"]},
        "family": {
            "enum": [*FAMILY_NAMES, None],
            "description": "The relay family that answered; null when unknown (nothing answered).",
        },
        "status": {"enum": STATUSES, "description": _STATUS_TEXT},
        "unit": {"enum": ["USD", "CNY", "quota", None]},
        "balance_published": {
            "type": "boolean",
            "description": "false: this relay has no balance call for keys, so the amounts are "
            "null however the key stands (the models list still says it works).",
        },
        "unlimited": {"type": "boolean"},
        "total": {**_NUMBER, "description": "null when unlimited or unknown"},
        "used": {
            **_NUMBER,
            "description": "null when unknown; LiteLLM: spend in the current budget window",
        },
        "remaining": {**_NUMBER, "description": "null when unlimited or unknown"},
        "balances": {
            "type": "array",
            "items": _AMOUNT_ROW,
            "description": "Every currency the relay lists (DeepSeek, Moonshot), account scope; "
            "empty when it gives one figure",
        },
        "budget": {
            "type": ["object", "null"],
            "properties": {
                "duration": {"type": "string", "description": "e.g. 30d, daily, monthly"},
                "reset_at": {"type": ["string", "null"], "format": "date-time"},
            },
            "description": "The spending window the figures cover (LiteLLM budget_duration, "
            "OpenRouter limit_reset), or null",
        },
        "account": {
            "type": ["object", "null"],
            "properties": {
                "total": _NUMBER,
                "used": _NUMBER,
                "remaining": _NUMBER,
                "unit": {"type": "string"},
            },
            "description": "The whole account's credits beside the key's figures (OpenRouter, "
            "when the key may read them), or null",
        },
        "expires_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "null: never expires when expiry_stated, else not stated",
        },
        "expiry_stated": {
            "type": "boolean",
            "description": "true when the relay said when (or that never) the key expires",
        },
        "token_name": {"type": ["string", "null"]},
        "scope": {"enum": ["token", "account", None]},
        "models": {"type": ["array", "null"], "items": {"type": "string"}},
        "answered_by": {"type": "array", "items": {"type": "string"}},
        "checked_at": {"type": "string", "format": "date-time"},
        "figures_error": {
            "type": ["string", "null"],
            "description": "Why an active key has no figures this time (a reason code, e.g. "
            "budget, relay_error); null otherwise",
        },
        "retry_in": {
            "type": "integer",
            "description": "Seconds until a call that was held back or refused can be made "
            "(rate_limited, refused, figures_error budget)",
        },
        "error": {**_ERROR["properties"]["error"], "description": _REASONS},
    },
}


def _errors(*codes: int) -> dict:
    text = {
        400: "Malformed body, a field of the wrong type, no key, or JSON nested too deeply",
        404: "unknown_provider",
        413: "Too large",
        429: "Rate limited",
    }
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(code): {"description": text[code], "content": content} for code in codes}


def spec() -> dict:
    """The whole document (built per call: it is small)."""
    provider = {
        "type": "string",
        "minLength": 1,
        "description": "A provider's name as the lookup page lists it (404 when there is none).",
        "example": "聚合AI",
    }
    key = {
        "type": "string",
        "pattern": KEY_PATTERN,
        "description": "The relay key (surrounding spaces and a 'Bearer ' prefix are removed).",
        "example": "sk-" + "x" * 48,
    }
    key_body = {
        "type": "object",
        "required": ["provider", "key"],
        "properties": {"provider": provider, "key": key},
    }
    batch_body = {
        "type": "object",
        "required": ["provider", "keys"],
        "properties": {
            "provider": provider,
            "keys": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "maxItems": int(current_app.config["BATCH_MAX_KEYS"]),
                "contains": key,
                "description": "Keys; an item may hold several (split on spaces, commas and "
                "semicolons). Pieces that are not keys are counted in `skipped`; at least one "
                "must be a key.",
            },
        },
    }
    batch_reply = {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
            "skipped": {"type": "integer"},
        },
    }

    def operation(summary: str, body: dict, reply: dict) -> dict:
        return {
            "post": {
                "summary": summary,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "200": {
                        "description": "Looked up (see status). Cache-Control: no-store.",
                        "content": {"application/json": {"schema": reply}},
                    },
                    **_errors(400, 404, 413, 429),
                },
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "relaydash lookup API",
            "version": "1",
            "description": "Balance and validity of relay keys (one-api, new-api, LiteLLM, "
            "OpenRouter, DeepSeek, Moonshot and any OpenAI-compatible relay). "
            "Keys are used in memory only.",
        },
        "paths": {
            "/api/v1/lookup": operation(
                "Look up one key", key_body, {"$ref": "#/components/schemas/Result"}
            ),
            "/api/v1/lookup/batch": operation("Look up many keys", batch_body, batch_reply),
        },
        "components": {"schemas": {"Result": _RESULT, "Error": _ERROR}},
    }
