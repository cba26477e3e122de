"""Channels of kind "apprise": any Apprise URL we can guard, checked and sent (SSRF-safe).

Apprise plugins open their own connections (requests.post, smtplib), so relay.guard's pinned
session cannot be handed to them. Instead, while one of our sends runs, every host name the
sending thread resolves through socket.getaddrinfo (which requests/urllib3 and smtplib both use
at connect time) is checked by relay.guard: the connection can only use the addresses checked
there, so a DNS answer that changes between the save-time check and sending (rebinding) still
reaches nothing private. Outside our sends the wrapper is a plain pass-through.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import apprise
from apprise import NotifyFormat
from apprise.manager_plugins import NotificationManager

from relay import guard

# Only services whose network traffic goes through requests/urllib3 or smtplib, which resolve
# via socket.getaddrinfo (so the check below sees every address). Others (syslog, MQTT, XMPP,
# IRC, desktop notifications...) connect in ways the check would not see, or act on this host.
SCHEMES = frozenset(
    {
        # generic web hooks
        "json", "jsons", "form", "forms", "xml", "xmls",
        # Chinese services (Apprise's wecom:// is PushPlus; WeCom group bots are wecombot://)
        "dingtalk", "wecombot", "feishu", "lark", "pushplus", "schan", "bark", "barks",
        "pushdeer", "pushdeers", "wxpusher", "qq",
        # global services
        "tgram", "ntfy", "ntfys", "gotify", "gotifys", "slack", "discord", "matrix", "matrixs",
        "mmost", "mmosts", "pover", "gchat", "rocket", "rockets",
        # e-mail: smtplib connects with socket.create_connection, so the check sees it too
        "mailto", "mailtos",
    }
)  # fmt: skip
SEND_TIMEOUT = (3.0, 5.0)  # connect, read: the same as the hand-written channels
_URLISH = re.compile(r"\w+://\S+")
_SENDING: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("alerts_apprise_guard")


class Refused(ValueError):
    """An Apprise URL we will not store or call; `code` names the reason."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class _Guard:
    """The rule for one send, and why a connection was refused (if one was)."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self.refused: str | None = None


def parse(url: str):
    """The Apprise plugin for `url`, or Refused (unknown or unsupported scheme, bad URL)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme or scheme not in _registry():
        raise Refused("unknown_scheme")
    if scheme not in SCHEMES:
        raise Refused("unsupported_scheme")
    plugin = apprise.Apprise.instantiate(url, asset=_ASSET)
    if plugin is None:
        raise Refused("bad_apprise_url")
    return plugin


def check(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """The cleaned URL, or Refused; with `resolve`, a host the user named must be public."""
    url = (url or "").strip()
    if not url or len(url) > 2000 or any(c.isspace() for c in url):
        raise Refused("bad_apprise_url")
    plugin = parse(url)
    host = user_host(plugin)
    if resolve and host and not allow_private:
        try:
            guard.addresses(host, _port(plugin), allow_private=False)
        except guard.Blocked as refused:
            raise Refused(refused.code) from refused
    return url


def user_host(plugin) -> str | None:
    """The host the URL names, when the service has one (json://, ntfy://host, mailto...);
    fixed-host services (dingtalk://, tgram://...) keep tokens where a host would be."""
    if not any("{host}" in template for template in getattr(plugin, "templates", ())):
        return None
    if getattr(plugin, "mode", None) in ("cloud", "t2bot"):  # ntfy.sh, matrix's t2bot.io
        return None
    return getattr(plugin, "host", None) or None


def hint(url: str) -> str:
    """Scheme, the host when it is one, and the last 4 characters (never a token)."""
    scheme = url.split("://", 1)[0].lower()
    try:
        host = user_host(parse(url))
    except Refused:
        host = None
    return f"{scheme}://{(host or '')[:50]} …{url[-4:]}"


def send(url: str, event: dict, *, allow_private: bool) -> str | None:
    """Send the event through Apprise; None when it reports success, else a short reason."""
    try:
        plugin = parse(url)
        # Checked again now (the rules may have changed since saving, and a proxy from the
        # environment would resolve the name itself); each connection is checked below too.
        check(url, allow_private=allow_private)
    except Refused as refused:
        return refused.code
    # Our delivery log and retries decide what happens next: no redirects, our timeouts.
    plugin.redirects = False
    plugin.socket_connect_timeout, plugin.socket_read_timeout = SEND_TIMEOUT
    rule = _Guard(allow_private)
    token = _SENDING.set(rule)
    try:
        with _captured(_secrets(url)) as problems:
            ok = plugin.notify(
                body="\n".join(event["lines"]),
                title=event["title"],
                body_format=NotifyFormat.TEXT,
            )
    except Exception:  # noqa: BLE001  a plugin's bug must not stop the delivery queue
        ok, problems = False, []
    finally:
        _SENDING.reset(token)
    if rule.refused:
        return rule.refused
    if ok:
        return None
    return ("apprise: " + " / ".join(problems))[:200] if problems else "apprise_failed"


@functools.cache
def _registry() -> NotificationManager:
    """Apprise's plugin registry (a singleton), loaded on first use (it takes ~0.3 s)."""
    registry = NotificationManager()
    with warnings.catch_warnings():
        # Apprise's e-mail plugin imports the stdlib's deprecated imghdr (a shim for PGP).
        warnings.simplefilter("ignore", DeprecationWarning)
        registry.load_modules()
    return registry


def _port(plugin) -> int:
    if getattr(plugin, "port", None):
        return int(plugin.port)
    if plugin.protocol in ("mailto",) or plugin.secure_protocol in ("mailtos",):
        return 465 if plugin.secure else 25
    return 443 if getattr(plugin, "secure", True) else 80


def _secrets(url: str) -> list[str]:
    # Every longer piece of the URL may be a token; scrub them all from log lines we keep.
    rest = url.split("://", 1)[-1]
    parts = {p for p in re.split(r"[/@:?&=#.,]+", rest) if len(p) >= 6}
    return sorted(parts, key=len, reverse=True)


@contextmanager
def _captured(secrets: list[str]) -> Iterator[list[str]]:
    """Apprise's warnings from this thread while sending, scrubbed of URLs and tokens."""
    problems: list[str] = []
    handler = _Collect(threading.get_ident(), secrets, problems)
    _LOGGER.addHandler(handler)
    try:
        yield problems
    finally:
        _LOGGER.removeHandler(handler)


class _Collect(logging.Handler):
    def __init__(self, thread: int, secrets: list[str], into: list[str]):
        super().__init__(logging.WARNING)
        self.thread, self.secrets, self.into = thread, secrets, into

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or len(self.into) >= 3:
            return
        text = _URLISH.sub("[url]", record.getMessage())
        for secret in self.secrets:
            text = text.replace(secret, "…")
        self.into.append(text.strip()[:120])


def _checked_getaddrinfo(host, port, *args, **kwargs):
    found = _ORIGINAL_GETADDRINFO(host, port, *args, **kwargs)
    rule = _SENDING.get(None)
    if rule is None or rule.allow_private:
        return found
    try:
        guard.check([info[4] for info in found], allow_private=False)
    except guard.Blocked:
        rule.refused = "private_address"
        raise socket.gaierror(socket.EAI_NONAME, "refused: not a public address") from None
    return found


def _install() -> None:
    # Once per process; a second import (tests reloading) must not wrap the wrapper.
    if getattr(socket.getaddrinfo, "_relaydash_alerts", False):
        return
    _checked_getaddrinfo._relaydash_alerts = True  # type: ignore[attr-defined]
    socket.getaddrinfo = _checked_getaddrinfo


_ORIGINAL_GETADDRINFO = getattr(socket.getaddrinfo, "_original", socket.getaddrinfo)
_checked_getaddrinfo._original = _ORIGINAL_GETADDRINFO  # type: ignore[attr-defined]
_ASSET = apprise.AppriseAsset(storage_mode="memory")
# Apprise logs URLs and tokens (an invalid token's value, debug lines with the full URL): its
# records never reach the app's logs; only the scrubbed warnings of a send are kept (_captured).
_LOGGER = logging.getLogger("apprise")
_LOGGER.propagate = False
_LOGGER.setLevel(logging.WARNING)
_LOGGER.addHandler(logging.NullHandler())  # else logging's last resort prints them to stderr
_install()
