"""The channels' request builders and answer readers: exact bodies, known signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from blueprints.alerts import formats, messages

AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
NOW_S = 1_772_353_800.25  # any fixed instant; the builders never read the clock
KEY_FACTS = {
    "key_id": 7,
    "masked_key": "sk-abc…wxyz",
    "label": "team <@all> [x](http://evil)",
    "provider": "聚合AI",
    "status": "active",
    "remaining": 3.5,
    "unit": "USD",
    "unlimited": False,
    "threshold": 5.0,
    "expires_at": None,
}


@pytest.fixture
def event() -> dict:
    """A low-balance event as evaluate builds it."""
    return messages.key_event("low_balance", key=dict(KEY_FACTS), at=AT)


def test_it_builds_the_generic_webhook_as_the_event_json(event):
    out = formats.build("webhook", "https://hooks.example/x", None, event, NOW_S)
    assert out.url == "https://hooks.example/x"
    assert out.headers == {"Content-Type": "application/json; charset=utf-8"}
    body = json.loads(out.body)
    assert body == event
    assert body["event"] == "low_balance"
    assert body["masked_key"] == "sk-abc…wxyz"
    assert body["remaining"] == 3.5 and body["threshold"] == 5.0
    assert body["at"] == "2026-03-01T08:30:00+00:00"


def test_it_signs_the_generic_webhook_body_with_its_secret(event):
    out = formats.build("webhook", "https://hooks.example/x", "s3cret", event, NOW_S)
    expected = hmac.new(b"s3cret", out.body, hashlib.sha256).hexdigest()
    assert out.headers["X-Relaydash-Signature"] == "sha256=" + expected


def test_it_builds_the_wecom_markdown_body(event):
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123"
    out = formats.build("wecom", url, None, event, NOW_S)
    assert out.url == url
    body = json.loads(out.body)
    assert list(body) == ["msgtype", "markdown"]
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert list(body["markdown"]) == ["content"]
    assert content.startswith("### 【relaydash】余额不足 / Low balance")
    assert "sk-abc…wxyz" in content
    assert "3.50 USD" in content and "5.00 USD" in content
    # A label cannot mention everyone or smuggle a link into the group chat.
    assert "<@all>" not in content and "[x]" not in content
    assert "＜@all＞" in content


def test_it_builds_the_dingtalk_body_and_signs_the_url(event):
    base = "https://oapi.dingtalk.com/robot/send?access_token=tok123"
    secret = "SECabcdef0123456789"
    out = formats.build("dingtalk", base, secret, event, NOW_S)
    body = json.loads(out.body)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【relaydash】余额不足 / Low balance"
    assert body["markdown"]["text"].startswith("### 【relaydash】")
    assert out.url.startswith(base + "&timestamp=")
    query = parse_qs(urlsplit(out.url).query)
    assert query["access_token"] == ["tok123"]
    assert query["timestamp"] == ["1772353800250"]
    # Computed here independently, as DingTalk's documentation describes it.
    digest = hmac.new(secret.encode(), f"1772353800250\n{secret}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    # The sign is URL-encoded in the URL (base64 has + / =).
    raw_sign = out.url.split("&sign=")[1]
    assert unquote(raw_sign) == base64.b64encode(digest).decode()
    assert "+" not in raw_sign and "/" not in raw_sign


def test_it_leaves_the_dingtalk_url_alone_without_a_secret(event):
    base = "https://oapi.dingtalk.com/robot/send?access_token=tok123"
    assert formats.build("dingtalk", base, None, event, NOW_S).url == base


def test_it_builds_the_feishu_text_body_with_its_signature(event):
    url = "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d"
    secret = "feishu-secret"
    out = formats.build("feishu", url, secret, event, NOW_S)
    assert out.url == url
    body = json.loads(out.body)
    assert body["msg_type"] == "text"
    assert body["content"]["text"].splitlines()[0] == "【relaydash】余额不足 / Low balance"
    assert body["timestamp"] == "1772353800"
    # Feishu signs nothing with key = timestamp + "\n" + secret (unlike DingTalk).
    digest = hmac.new(f"1772353800\n{secret}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(digest).decode()


def test_it_sends_feishu_without_signature_fields_when_no_secret(event):
    out = formats.build("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x", None, event, 0)
    assert set(json.loads(out.body)) == {"msg_type", "content"}


WECOM_93000 = json.dumps(
    {"errcode": 93000, "errmsg": "invalid webhook url, more info at https://x.example/q?key=abc"}
)


@pytest.mark.parametrize(
    ("kind", "status", "text", "expected"),
    [
        ("webhook", 200, "anything", None),
        ("webhook", 204, "", None),
        ("webhook", 500, "", "http_500"),
        ("webhook", 302, "", "http_302"),
        ("wecom", 200, '{"errcode":0,"errmsg":"ok"}', None),
        ("wecom", 200, WECOM_93000, "code 93000: invalid webhook url, more info at [url]"),
        ("wecom", 200, "<html>", "bad_response"),
        ("dingtalk", 200, '{"errcode":0,"errmsg":"ok"}', None),
        (
            "dingtalk",
            200,
            '{"errcode":310000,"errmsg":"sign not match"}',
            "code 310000: sign not match",
        ),
        ("dingtalk", 200, "[]", "bad_response"),
        ("dingtalk", 200, "[" * 2000, "bad_response"),  # nested past the parser's stack
        ("feishu", 200, '{"code":0,"msg":"success","data":{}}', None),
        ("feishu", 200, '{"StatusCode":0,"StatusMessage":"success"}', None),
        ("feishu", 200, '{"code":19021,"msg":"sign match fail"}', "code 19021: sign match fail"),
        ("feishu", 400, '{"code":9499}', "http_400"),
    ],
)
def test_it_judges_each_channels_answer(kind, status, text, expected):
    assert formats.judge(kind, status, text) == expected


def test_it_caps_long_messages_under_the_wecom_limit(event):
    event["lines"] = ["长" * 3000]
    content = json.loads(formats.build("wecom", "https://x/y", None, event, 0).body)
    assert len(content["markdown"]["content"].encode()) <= 4096


def test_it_writes_recovery_and_status_messages_in_both_languages():
    facts = dict(KEY_FACTS, status="exhausted", remaining=0.0)
    status = messages.key_event("status", key=facts, at=AT)
    assert "已用尽 / used up" in status["message"]
    recovered = messages.key_event("recovered", key=dict(KEY_FACTS), at=AT, condition="low_balance")
    assert recovered["event"] == "recovered" and recovered["condition"] == "low_balance"
    assert "已解除 / Cleared: 余额不足 / low balance" in recovered["message"]
