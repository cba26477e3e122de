"""Which webhook URLs we agree to call: https, official bot hosts, no private addresses (SSRF)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import current_app

from blueprints.shared.errors import Refusal
from relay import guard

from . import apprise_send

# Each bot kind: its official hosts, the path it posts to, and where the bot's token sits.
BOTS = {
    "wecom": (("qyapi.weixin.qq.com",), "/cgi-bin/webhook/send", "key"),
    "dingtalk": (("oapi.dingtalk.com",), "/robot/send", "access_token"),
    "feishu": (("open.feishu.cn", "open.larksuite.com"), "/open-apis/bot/v2/hook/", None),
}


class UnsafeURL(Refusal):
    """A URL we refuse to call; `code` names the reason."""


def check(kind: str, url: str, *, resolve: bool = True) -> str:
    """The cleaned URL, or UnsafeURL. Config ALERTS_ALLOW_* loosens the rules (tests, LANs)."""
    url = (url or "").strip()
    if kind == "apprise":
        try:
            return apprise_send.check(url, allow_private=private_allowed(), resolve=resolve)
        except apprise_send.Refused as refused:
            raise UnsafeURL(refused.code) from refused
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL("bad_url") from error
    if not parts.hostname or len(url) > 2000 or any(c.isspace() for c in url):
        raise UnsafeURL("bad_url")
    if parts.scheme != "https" and not (parts.scheme == "http" and _allowed("HTTP")):
        raise UnsafeURL("insecure_url" if parts.scheme == "http" else "bad_url")
    if parts.username or parts.password:
        raise UnsafeURL("bad_url")
    official = kind in BOTS and parts.hostname.lower() in BOTS[kind][0]
    if kind in BOTS:
        _check_bot(kind, parts, official)
    if resolve and not official:
        check_address(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def check_address(host: str, port: int) -> None:
    """Refuse hosts that do not resolve, or resolve to any address relay.guard calls private."""
    if private_allowed():
        return
    try:
        guard.addresses(host, port, allow_private=False)
    except guard.Blocked as refused:
        raise UnsafeURL(refused.code) from refused


def private_allowed() -> bool:
    """ALERTS_ALLOW_PRIVATE, read when a channel is saved and at each new connection."""
    return _allowed("PRIVATE")


def hint(url: str, kind: str = "webhook") -> str:
    """Host and the last 4 characters, enough to recognise a URL without revealing its token."""
    if kind == "apprise":
        return apprise_send.hint(url)
    parts = urlsplit(url)
    return f"{(parts.hostname or '')[:60]} …{url[-4:]}"


def _check_bot(kind: str, parts, official: bool) -> None:
    _hosts, path, token_param = BOTS[kind]
    if not official and not _allowed("ANY_HOST"):
        raise UnsafeURL("wrong_host")
    if token_param is None:
        token = parts.path[len(path) :] if parts.path.startswith(path) else ""
        if not token or "/" in token:
            raise UnsafeURL("no_token")
        return
    if parts.path != path or not parse_qs(parts.query).get(token_param, [""])[0]:
        raise UnsafeURL("no_token")


def _allowed(name: str) -> bool:
    return bool(current_app.config.get(f"ALERTS_ALLOW_{name}", False))
