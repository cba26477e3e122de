"""The OpenAPI 3.1 document for the lookup API."""

from __future__ import annotations

STATUSES = [
    "active",
    "exhausted",
    "expired",
    "disabled",
    "invalid",
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
_RESULT = {
    "type": "object",
    "required": ["provider", "relay", "status", "unit", "unlimited", "total", "used", "remaining"],
    "properties": {
        "key": {"type": "string", "description": "Masked key (batch only), e.g. sk-abc…wxyz"},
        "provider": {"type": "string"},
        "relay": {"enum": ["one-api", "new-api", "unknown"]},
        "relay_version": {"type": ["string", "null"]},
        "status": {"enum": STATUSES},
        "unit": {"enum": ["USD", "CNY", "quota", None]},
        "unlimited": {"type": "boolean"},
        "total": {**_NUMBER, "description": "null when unlimited or unknown"},
        "used": _NUMBER,
        "remaining": {**_NUMBER, "description": "null when unlimited or unknown"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "token_name": {"type": ["string", "null"]},
        "scope": {"enum": ["token", "account", None]},
        "models": {"type": ["array", "null"], "items": {"type": "string"}},
        "answered_by": {"type": "array", "items": {"type": "string"}},
        "checked_at": {"type": "string", "format": "date-time"},
        "retry_in": {"type": "integer", "description": "Seconds, when rate limited"},
        "error": _ERROR["properties"]["error"],
    },
}


def _errors(*codes: int) -> dict:
    text = {
        400: "Malformed body",
        404: "unknown_provider",
        413: "Too large",
        429: "Rate limited",
    }
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(code): {"description": text[code], "content": content} for code in codes}


def spec() -> dict:
    """The whole document (built per call: it is small)."""
    key_body = {
        "type": "object",
        "required": ["provider", "key"],
        "properties": {
            "provider": {"type": "string", "example": "聚合AI"},
            "key": {"type": "string", "example": "sk-…"},
        },
    }
    batch_body = {
        "type": "object",
        "required": ["provider", "keys"],
        "properties": {
            "provider": {"type": "string"},
            "keys": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
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
            "description": "Balance of one-api / new-api relay keys. Keys are used in memory only.",
        },
        "paths": {
            "/api/v1/lookup": operation(
                "Look up one key", key_body, {"$ref": "#/components/schemas/Result"}
            ),
            "/api/v1/lookup/batch": operation("Look up many keys", batch_body, batch_reply),
        },
        "components": {"schemas": {"Result": _RESULT, "Error": _ERROR}},
    }
