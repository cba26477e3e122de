"""What the alerts pages say (Flask-Babel): channel kinds, events, states, refusals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "webhook": _l("JSON webhook"),
    "wecom": _l("WeCom bot"),
    "dingtalk": _l("DingTalk bot"),
    "feishu": _l("Feishu bot"),
    "apprise": _l("Apprise URL"),
}

# What each channel type's address and secret look like (shown as the inputs' placeholders).
PLACEHOLDERS = {
    "webhook": (
        "https://example.com/hooks/relaydash",
        _l("HMAC key (signs the body)"),
    ),
    "wecom": (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        _l("leave empty: WeCom bots are not signed"),
    ),
    "dingtalk": (
        "https://oapi.dingtalk.com/robot/send?access_token=…",
        _l("SEC… (加签)"),
    ),
    "feishu": ("https://open.feishu.cn/open-apis/bot/v2/hook/…", _l("key from 签名校验")),
    "apprise": (
        "ntfys://ntfy.sh/your-topic",
        _l("leave empty: the Apprise URL carries its secrets"),
    ),
}

# The Apprise schemes the add form names as examples (SCHEMES in apprise_send has them all).
APPRISE_EXAMPLES = (
    "dingtalk://",
    "wecombot://",
    "feishu://",
    "lark://",
    "tgram://",
    "mailtos://",
    "bark://",
    "pushplus://",
    "schan://",
    "ntfys://",
    "gotifys://",
    "slack://",
    "discord://",
    "matrixs://",
    "json://",
)

EVENT_LABELS = {
    "low_balance": _l("Low balance"),
    "expiring": _l("Expires soon"),
    "status": _l("Key stopped working"),
    "recovered": _l("Recovered"),
    "test": _l("Test"),
}

STATE_LABELS = {"pending": _l("Waiting"), "sent": _l("Sent"), "failed": _l("Failed")}
# Reuses the badge colours the key statuses already have.
STATE_BADGES = {"pending": "exhausted", "sent": "active", "failed": "invalid"}

ERRORS = {
    "bad_kind": _l("Choose a channel type."),
    "bad_name": _l("Give the channel a name (at most 80 characters)."),
    "bad_url": _l("Enter the whole webhook address, starting with https://."),
    "insecure_url": _l("The address must start with https://."),
    "wrong_host": _l("That is not this bot's official address. Copy the webhook from the bot."),
    "no_token": _l("The address has no bot token in it. Copy the whole webhook address."),
    "unresolvable": _l("That host name cannot be found."),
    "private_address": _l(
        "That address is private or local. Webhooks may only go to public hosts."
    ),
    "no_secret": _l("WeCom bots have no signing secret. Leave the secret empty."),
    "long_secret": _l("The secret is too long."),
    "apprise_secret": _l("An Apprise URL carries its own secrets. Leave the secret empty."),
    "unknown_scheme": _l(
        "Apprise does not know that kind of URL. Start it with a scheme such as tgram:// or ntfys://."
    ),
    "unsupported_scheme": _l(
        "relaydash sends Apprise notifications only to web services and e-mail. Choose another one."
    ),
    "bad_apprise_url": _l(
        "Apprise cannot read that URL. Compare it with the service's page in the Apprise docs."
    ),
}


def ui_text() -> dict:
    """Template context for the alerts pages."""
    return {
        "kind_labels": KIND_LABELS,
        "placeholders": PLACEHOLDERS,
        "apprise_examples": APPRISE_EXAMPLES,
        "event_labels": EVENT_LABELS,
        "state_labels": STATE_LABELS,
        "state_badges": STATE_BADGES,
    }
