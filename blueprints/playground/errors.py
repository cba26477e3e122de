"""What a refused run or a broken stream means, in the seed guide's words (zh-CN and en)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from blueprints.shared.texts import KEY_INPUT_ERRORS
from relay import http
from relay.classify import status_from_denial

from .build import BadRun

FORM_ERRORS = {
    "no_model": _l("Choose a model (or type its name)."),
    "bad_model": _l("A model name is too long."),
    "too_many_columns": _l("Compare at most %(limit)s models at once."),
    "bad_messages": _l("The conversation could not be read. Reload the page and try again."),
    "no_message": _l("Write a user message first."),
    "bad_stop": _l("At most %(limit)s stop sequences, one per line, each up to 200 characters."),
    "bad_format": _l("Unknown response format."),
    "bad_schema_name": _l("The schema name must be 1-64 letters, digits, _ or -."),
    "schema_not_json": _l("The schema is not valid JSON. Nothing was sent."),
    "bad_schema": _l("The schema is not a valid JSON Schema. Nothing was sent."),
    "bad_repeat": _l("Repeat must be a whole number from 1 to %(limit)s."),
    **KEY_INPUT_ERRORS,
    "unknown_key": _l("Choose one of your tracked keys."),
    "undecryptable": _l("This tracked key cannot be decrypted (the encryption keys changed)."),
    "too_many_runs": _l("You have too many runs open. Wait for one to finish or stop it."),
}

BROKEN = {
    "reset": _l("The relay dropped the connection mid-answer: the answer is cut off."),
    "timeout": _l("The relay went silent mid-answer: the answer is cut off."),
    "eof": _l("The stream ended without [DONE]: the answer is cut off."),
    "malformed": _l("The relay sent something that is not JSON mid-stream: the answer is cut off."),
    "stopped": _l("Stopped by you: the answer is cut off."),
    "no_finish": _l("The stream ended without a finish reason: the answer may be cut off."),
    "stream_error": _l("The relay reported an error mid-stream: the answer is cut off."),
}

# What the relays say when a model is not offered to this key (lower case, per family).
_MODEL_MISSING = (
    "无权使用模型",  # one-api, new-api
    "无权访问模型",
    "无可用渠道",
    "no available channel",
    "model_not_found",  # OpenAI, new-api
    "invalid model name passed in model=",  # LiteLLM, unknown model (400)
    "not allowed to access model",  # LiteLLM, a key limited to some models (401)
    "is not a valid model id",  # OpenRouter (400)
    "model not exist",  # DeepSeek (400)
    "not found the model",  # Moonshot (404 resource_not_found_error)
)
_MODEL_MISSING_CODES = ("model_not_found", "key_model_access_denied")
# OpenAI and the servers that copy it (vLLM, LocalAI): "The model `m` does not exist…" (404).
_NO_SUCH_MODEL = re.compile(r"\bmodel\b.{0,200}?\bdoes not exist", re.IGNORECASE | re.DOTALL)
# Quota errors that arrive as 429 but are no rate limit: waiting does not help.
_OUT_OF_QUOTA = ("exceeded_current_quota_error", "insufficient_quota")


def form_error(error: BadRun) -> str:
    """The message for a run refused before sending."""
    text = str(FORM_ERRORS.get(error.code, FORM_ERRORS["bad_messages"]))
    params = {k: v for k, v in error.params.items() if k != "problems"}
    return text % params if params else text


@dataclass(frozen=True)
class Refusal:
    """A relay's refusal explained: its own message, what it means, what to do."""

    status: int | None
    relay_message: str
    meaning: str
    hint: str
    model_missing: bool
    look_up: bool = False  # the key itself was refused: the lookup page can tell more


def refusal(answer: http.Answer) -> Refusal:
    """Explain an error the relay gave before the stream started (per relay family)."""
    # relay.http has already masked the key, should the relay have echoed it
    status, message = answer.status, answer.message or ""
    kind, code = _error_fields(answer.data)
    if _model_missing(message, kind, code):
        meaning = _("This model is not available to this key on this relay.")
        hint = _("Pick one of the models the key can use (listed below).")
        return Refusal(status, message, meaning, hint, True)
    said = _relay_state(status, message.lower(), kind, code)
    if said is not None:
        return Refusal(status, message, *said, False)
    said = _key_state(status, message)
    if said is not None:
        return Refusal(status, message, *said, False, look_up=True)
    return Refusal(status, message, *_explain(answer.kind, status), False)


def _error_fields(data) -> tuple[str, str]:
    """(type, code) of an {"error": {…}} body, as strings ("" when absent)."""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "", ""
    kind, code = err.get("type"), err.get("code")
    return (
        kind if isinstance(kind, str) else "",
        str(code) if isinstance(code, str | int) else "",
    )


def _model_missing(message: str, kind: str, code: str) -> bool:
    text = message.lower()
    return (
        any(marker in text for marker in _MODEL_MISSING)
        or bool(_NO_SUCH_MODEL.search(message))
        or code in _MODEL_MISSING_CODES
        or kind in _MODEL_MISSING_CODES
    )


def _relay_state(status: int | None, text: str, kind: str, code: str) -> tuple[str, str] | None:
    """No key database, a spent budget, limit or balance, in each family's words; else None."""
    if "no connected db" in text or kind == "no_db_connection":
        # LiteLLM without a database answers every key but its master key with this 400.
        return _(
            "This LiteLLM proxy has no key database, so it cannot check keys: "
            "only its master key works."
        ), _("Use the proxy's master key, or ask its admin to connect a database.")
    if kind == "budget_exceeded" or "budget has been exceeded" in text:
        return _("This key's budget on the LiteLLM proxy is spent."), _(
            "It comes back when the key's budget period resets, if it has one; "
            "otherwise ask the proxy's admin to raise it."
        )
    if "key limit exceeded" in text:
        return _("This key has reached its spending limit (OpenRouter)."), _(
            "Raise the key's limit in the OpenRouter settings, or wait for its reset if it has one."
        )
    if kind in _OUT_OF_QUOTA or code in _OUT_OF_QUOTA or (status == 429 and "suspended" in text):
        return _(
            "The account behind this key is out of balance or suspended: this is not a rate limit."
        ), _("Top up the account; waiting will not help.")
    if status == 402:
        return _("402: the account behind this key has no balance left."), _(
            "Top up the account, then try again."
        )
    return None


def _key_state(status: int | None, message: str) -> tuple[str, str] | None:
    """A 401/403 about the key: what the relay said of it, or that it would not say."""
    if status not in (401, 403):
        return None
    state = "disabled" if "blocked" in message.lower() else None
    state = state or status_from_denial(status, message, collapsed=True)[0]
    if state == "exhausted":
        return _("The relay says this key's quota is used up (%(status)s).", status=status), _(
            "Top up the key or its account, or use another key."
        )
    if state == "expired":
        return _("The relay says this key has expired (%(status)s).", status=status), _(
            "Use another key, or ask the relay's admin to extend this one."
        )
    if state == "disabled":
        return _("The relay says this key is disabled (%(status)s).", status=status), _(
            "Use another key, or ask the relay's admin to enable this one."
        )
    if status == 401:
        return _(
            "The relay refused this key (401): it is invalid, used up, expired or disabled, "
            "and the relay does not say which."
        ), _("Look the key up to see what the relay says about it.")
    return None  # a 403 that is not about the key's state: the table below


def _explain(kind: str, status: int | None) -> tuple[str, str]:
    table = {
        400: (
            _("400: the request is malformed or a parameter is invalid."),
            _("Check the parameters and the schema; some models reject some parameters."),
        ),
        403: (
            _("403: usually insufficient balance, or the key may not use this model."),
            _("Top up, or pick another model."),
        ),
        404: (
            _("404: the endpoint does not exist at this address."),
            _("The provider's base URL may be wrong (it should be the site root)."),
        ),
        413: (_("413: the request is too large."), _("Shorten the conversation or the schema.")),
        429: (_("429: rate limited by the relay."), _("Wait a little and try again.")),
        500: (_("500: a server-side error, usually upstream."), _("Try again later.")),
        503: (
            _("503: upstream maintenance or overload."),
            _("Try again later, or pick another model."),
        ),
    }
    if status in table:
        return table[status]
    if kind == http.TIMEOUT:
        return _("The relay did not answer in time."), _("It may be overloaded. Try again.")
    if kind == http.BLOCKED:
        return _(
            "relaydash does not call this provider: its address is on a private or local network."
        ), _("An admin can allow relays on the local network (ALLOW_PRIVATE_PROVIDERS).")
    if kind in (http.UNREACHABLE, http.RESET):
        return _("The relay could not be reached."), _("Check that the relay is online.")
    if kind in (http.HTML, http.MALFORMED):
        return _("The relay answered with something that is not the API."), _(
            "The provider's base URL may be wrong."
        )
    if status is not None and status >= 500:
        return _("%(status)s: a server-side error, usually upstream.", status=status), _(
            "Try again later."
        )
    return _("The relay refused the request."), _("Try again later.")
