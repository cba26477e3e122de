"""Each channel's documented request (body, signature) and how to read its answer. Pure.

These four stay hand-written although Apprise 2.2.0 has plugins for them, because each plugin
behaves differently from what these channels promise (kind "apprise" is there for the rest):
- dingtalk:// signs exactly like dingtalk_sign(), but counts every HTTP 200 as sent. DingTalk
  answers a bad signature, a missing keyword or its rate limit with HTTP 200 and errcode != 0,
  so the delivery log would say "Sent" for messages nobody got, and nothing would be retried.
- feishu:// and lark:// cannot sign (no 签名校验 secret), and also ignore the code in the answer.
- wecombot:// sends msgtype "text" cut at 2048 bytes, not markdown, and ignores errcode.
- json:// posts Apprise's own body ({"version", "title", "message", "type"}), not our event, and
  has no way to sign it: X-Relaydash-Signature (HMAC of the body) would be lost.
Existing channel rows therefore keep working unchanged; no data migration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote_plus

# WeCom refuses markdown content over 4096 bytes; DingTalk and Feishu allow more.
MAX_CONTENT_BYTES = 4000
_URLISH = re.compile(r"\w+://\S+")


@dataclass(frozen=True)
class OutRequest:
    """One POST to send: the full URL (secret: never log it), the body bytes and headers."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def build(kind: str, url: str, secret: str | None, event: dict, now_s: float) -> OutRequest:
    """The request for `kind` carrying `event`, signed with `secret` when there is one."""
    builder = {"webhook": webhook, "wecom": wecom, "dingtalk": dingtalk, "feishu": feishu}[kind]
    return builder(url, secret, event, now_s)


def webhook(url: str, secret: str | None, event: dict, now_s: float) -> OutRequest:
    """Generic JSON webhook: the event itself; with a secret, an HMAC of the body in a header."""
    body = _json(event)
    headers = _JSON_HEADERS.copy()
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Relaydash-Signature"] = f"sha256={digest}"
    return OutRequest(url, body, headers)


def wecom(url: str, secret: str | None, event: dict, now_s: float) -> OutRequest:
    """WeCom (企业微信) group bot: markdown message; WeCom bots have no signing secret."""
    body = {"msgtype": "markdown", "markdown": {"content": markdown(event)}}
    return OutRequest(url, _json(body), _JSON_HEADERS.copy())


def dingtalk(url: str, secret: str | None, event: dict, now_s: float) -> OutRequest:
    """DingTalk (钉钉) custom robot: markdown; 加签 puts timestamp (ms) and sign in the URL."""
    body = {"msgtype": "markdown", "markdown": {"title": event["title"], "text": markdown(event)}}
    if secret:
        timestamp = str(int(now_s * 1000))
        url = f"{url}&timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    return OutRequest(url, _json(body), _JSON_HEADERS.copy())


def feishu(url: str, secret: str | None, event: dict, now_s: float) -> OutRequest:
    """Feishu (飞书) custom bot: a text message; 签名校验 adds timestamp (s) and sign."""
    body: dict = {"msg_type": "text", "content": {"text": plain(event)}}
    if secret:
        timestamp = str(int(now_s))
        body = {"timestamp": timestamp, "sign": feishu_sign(secret, timestamp), **body}
    return OutRequest(url, _json(body), _JSON_HEADERS.copy())


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), as Feishu documents it."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def judge(kind: str, status: int, text: str) -> str | None:
    """None when the channel accepted the message, else a short error (never a URL)."""
    if not 200 <= status < 300:
        return f"http_{status}"
    if kind == "webhook":
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's stack
        return "bad_response"
    if not isinstance(data, dict):
        return "bad_response"
    if kind == "feishu":
        code = data.get("code", data.get("StatusCode"))
        message = data.get("msg", data.get("StatusMessage"))
    else:
        code, message = data.get("errcode"), data.get("errmsg")
    if code == 0:
        return None
    return _short(f"code {code}: {message or ''}".strip().rstrip(":"))


def markdown(event: dict) -> str:
    """Title and lines as markdown both WeCom and DingTalk render (blank line between lines)."""
    lines = [_escape_md(line) for line in event["lines"]]
    return _cap("\n\n".join([f"### {_escape_md(event['title'])}", *lines]))


def plain(event: dict) -> str:
    """Title and lines as plain text."""
    return _cap("\n".join([event["title"], *event["lines"]]))


def _escape_md(text: str) -> str:
    # A label must not become a link, a <font> tag or an <@all> mention in someone's group chat.
    return text.translate(_MD_SAFE)


def _cap(text: str) -> str:
    raw = text.encode()
    if len(raw) <= MAX_CONTENT_BYTES:
        return text
    return raw[: MAX_CONTENT_BYTES - 3].decode(errors="ignore") + "…"


def _short(text: str) -> str:
    # Bot error messages sometimes include a help link; the delivery log shows no URLs at all.
    return _URLISH.sub("[url]", text)[:160]


def _json(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


_MD_SAFE = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］"})
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
