"""Every text the lookup shows about a status, a reason or bad input (zh-CN and en)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from blueprints.shared.texts import KEY_INPUT_ERRORS

from . import limits

INPUT_ERRORS = {
    **KEY_INPUT_ERRORS,
    "too_many_keys": _l("Too many keys: at most %(limit)s at a time."),
    "bad_json": _l("Send a JSON object."),
    "bad_field": _l("A field has the wrong type."),
}

UNIT_LABELS = {"USD": _l("USD"), "CNY": _l("CNY"), "quota": _l("quota units")}

# A reason whose status label would say more than we know.
REASON_LABELS = {"no_key_db": _l("Cannot be checked")}

SCOPE_LABELS = {
    "token": _l("This key only"),
    "account": _l("The whole account"),
    None: _l("Not stated by this relay"),
}


def input_error(code: str, **params) -> str:
    """The message for a refused input."""
    text = str(INPUT_ERRORS.get(code, INPUT_ERRORS["bad_field"]))
    return text % params if params else text


def explain(balance, base_url: str) -> tuple[str, str]:
    """(explanation, hint) for a non-active lookup, from the seed guide's error table."""
    reason, retry_in = balance.reason, balance.retry_in
    if reason == "budget":
        return limits.budget_texts(base_url, limits.BALANCE_READS, retry_in)
    if reason == "refused":
        return _refused(), _refused_hint(retry_in)
    if reason == "exhausted" and balance.scope == "account":
        return (
            _("The account behind this key has no balance left, so the key cannot call the API."),
            _("Top up the account; the key itself is fine."),
        )
    return reason_text(reason, balance.http_status, retry_in)


def reason_text(reason: str | None, http_status: int | None, retry_in: float | None):
    """(explanation, hint) for a reason code alone."""
    texts = {
        "invalid_key": (
            _("The relay does not recognise this key (401)."),
            _("Check that you copied the whole key and picked the right provider."),
        ),
        "expired": (
            _("This key has expired."),
            _("Ask whoever issued it for a new key or a longer validity."),
        ),
        "exhausted": (
            _("This key's quota is used up."),
            _("Top up or buy a new key. A 403 'insufficient quota' from the relay means the same."),
        ),
        "disabled": (
            _("The relay has disabled this key."),
            _("Only the relay's admin or the key's owner can enable it again."),
        ),
        "user_banned": (
            _("The account that owns this key is banned on the relay (403)."),
            _("Contact the relay's support."),
        ),
        "ip_not_allowed": (
            _("This key is restricted to certain IP addresses, and this server is not one (403)."),
            _("Remove the IP restriction in the relay console, or query from an allowed address."),
        ),
        "forbidden": (
            _("The relay refused the request (403)."),
            _("On most relays a 403 means the balance is insufficient: top up and try again."),
        ),
        "no_key_db": (
            _(
                "This LiteLLM proxy has no key database, so it cannot check keys: "
                "only its master key works."
            ),
            _("Use the proxy's master key, or ask its admin to connect a database."),
        ),
        "relay_rate_limited": (
            _("The relay is limiting this server right now (429). Your key is not at fault."),
            limits.try_again(retry_in),
        ),
        "timeout": (
            _("The relay did not answer in time."),
            _("It may be overloaded. Try again in a minute."),
        ),
        "reset": (
            _("The relay dropped the connection."),
            _("This is usually brief. Try again in a minute."),
        ),
        "unreachable": (
            _("The relay could not be reached."),
            _("Check that the relay is online; its address may have changed."),
        ),
        "blocked_address": (
            _(
                "relaydash does not call this provider: its address is on a private or local "
                "network."
            ),
            _("An admin can allow relays on the local network (ALLOW_PRIVATE_PROVIDERS)."),
        ),
        "no_balance_endpoint": (
            _no_api(http_status),
            _(
                "The provider's base URL may be wrong: it should be the site root, "
                "e.g. https://api.juheai.top (clients add /v1 themselves)."
            ),
        ),
        "malformed": (
            _("The relay answered with something that is not valid JSON."),
            _("The relay may be misconfigured or behind a broken proxy. Try again later."),
        ),
        "relay_error": (
            _("The relay reported an error (HTTP %(status)s).", status=http_status or "?"),
            _server_hint(http_status),
        ),
    }
    default = (_("The relay gave no usable answer."), _("Try again later."))
    return texts.get(reason or "", default)


def _no_api(http_status: int | None) -> str:
    """A 404, or a web page where the API should be (a site's catch-all answers 200)."""
    if http_status == 404:
        return _("Nothing at this address answers like an OpenAI-compatible API (404).")
    return _(
        "Nothing at this address answers like an OpenAI-compatible API: it sent a web page "
        "(HTTP %(status)s).",
        status=http_status or "?",
    )


def figures_texts(balance, base_url: str) -> tuple[str, str]:
    """(what, why) for an active key whose figures were not available this time."""
    what = _("The relay accepted this key, but its figures were not available this time.")
    if balance.figures_error == "budget":
        said, when = limits.budget_texts(base_url, limits.BALANCE_READS, balance.retry_in)
        return what, f"{said} {when}"
    why, _hint = reason_text(balance.figures_error, balance.http_status, balance.retry_in)
    return what, why


def _refused() -> str:
    return _(
        "The relay refused this key; it is invalid, used up, expired or disabled "
        "and does not say which."
    )


def _refused_hint(retry_in: float | None) -> str:
    if retry_in:
        return _(
            "The call that tells these apart was held back by the relay's per-IP limit, which "
            "everyone using this relaydash server shares. %(when)s",
            when=limits.try_again(retry_in),
        )
    return _("Whoever issued the key, or the relay's console, can tell which.")


def _server_hint(status: int | None) -> str:
    if status is not None and 400 <= status < 500:
        return _("The relay rejected relaydash's request itself; it may run an unusual version.")
    if status == 503:
        return _("Service temporarily unavailable: upstream maintenance or overload. Try later.")
    if status == 502:
        return _("A gateway in front of the relay failed. Try again shortly.")
    return _("A server-side error, usually upstream and not your fault. Try again later.")
