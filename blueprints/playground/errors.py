"""What a refused run or a broken stream means, in the seed guide's words (zh-CN and en)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from relay import http

from .build import BadRun

FORM_ERRORS = {
    "no_model": _l("Choose a model (or type its name)."),
    "bad_model": _l("A model name is too long."),
    "too_many_columns": _l("Compare at most %(limit)s models at once."),
    "bad_messages": _l("The conversation could not be read. Reload the page and try again."),
    "no_message": _l("Write a user message first."),
    "bad_number": _l("%(field)s must be a number."),
    "out_of_range": _l("%(field)s must be between %(low)s and %(high)s."),
    "bad_stop": _l("At most %(limit)s stop sequences, one per line, each up to 200 characters."),
    "bad_format": _l("Unknown response format."),
    "bad_schema_name": _l("The schema name must be 1-64 letters, digits, _ or -."),
    "schema_not_json": _l("The schema is not valid JSON. Nothing was sent."),
    "bad_schema": _l("The schema is not a valid JSON Schema. Nothing was sent."),
    "bad_repeat": _l("Repeat must be a whole number from 1 to %(limit)s."),
    "missing_key": _l("Paste a key first."),
    "bad_key": _l(
        "That does not look like a relay key (for example sk- followed by letters and digits)."
    ),
    "missing_provider": _l("Choose a provider."),
    "unknown_provider": _l("There is no such provider. Choose one from the list."),
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

# Text the relays use when a model is not offered to this key (one-api, new-api, OpenAI).
_MODEL_MISSING = (
    "无权使用模型",
    "无权访问模型",
    "无可用渠道",
    "No available channel",
    "model_not_found",
)


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


def refusal(answer: http.Answer) -> Refusal:
    """Explain an error the relay gave before the stream started (seed guide error table)."""
    status, message = answer.status, answer.message or ""
    missing = any(marker in message for marker in _MODEL_MISSING)
    if isinstance(answer.data, dict):
        code = (
            (answer.data.get("error") or {}) if isinstance(answer.data.get("error"), dict) else {}
        )
        missing = missing or code.get("code") == "model_not_found"
    if missing:
        meaning = _("This model is not available to this key on this relay.")
        hint = _("Pick one of the models the key can use (listed below).")
    else:
        meaning, hint = _explain(answer.kind, status)
    return Refusal(status, message, meaning, hint, missing)


def _explain(kind: str, status: int | None) -> tuple[str, str]:
    table = {
        400: (
            _("400: the request is malformed or a parameter is invalid."),
            _("Check the parameters and the schema; some models reject some parameters."),
        ),
        401: (
            _("401: the key is wrong, expired or used up."),
            _("Check the key and the provider."),
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
