"""Alerts end to end: crossings from polls, deliveries to real local bot endpoints, the pages."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from blueprints.alerts import deliver, service
from blueprints.alerts.models import AlertState, Channel, Delivery
from blueprints.auth.service import create_user, find_user
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.poller import poll_once
from blueprints.keys.signals import key_polled
from blueprints.providers.service import add_provider
from blueprints.shared.vault import vault
from database import db, utcnow
from tests.conftest import make_app

KEY = "sk-AlErTsSeCrEtKey0123456789abcdefWXYZ"
PASSWORD = "correct horse battery"
USD_QUOTA = 500000  # one-api/new-api quota units per USD
OPEN = {"ALERTS_ALLOW_HTTP": True, "ALERTS_ALLOW_ANY_HOST": True, "ALERTS_ALLOW_PRIVATE": True}
PATHS = {
    "webhook": "/hook/relaydash",
    "wecom": "/cgi-bin/webhook/send?key=wecom-token-1234",
    "dingtalk": "/robot/send?access_token=ding-token-5678",
    "feishu": "/open-apis/bot/v2/hook/feishu-token-9abc",
}
OK_BODIES = {
    "/cgi-bin/webhook/send": '{"errcode":0,"errmsg":"ok"}',
    "/robot/send": '{"errcode":0,"errmsg":"ok"}',
}


class Receiver:
    """A real HTTP server standing in for the bots: records requests, answers as scripted."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, str]]] = defaultdict(list)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, text = receiver.answer(urlsplit(self.path).path)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, path: str) -> tuple[int, str]:
        if self.script[path]:
            return self.script[path].pop(0)
        if path.startswith("/open-apis/bot/v2/hook/"):
            return 200, '{"code":0,"msg":"success","data":{}}'
        return 200, OK_BODIES.get(path, "{}")

    def to(self, prefix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith(prefix)]


@pytest.fixture
def receiver():
    """A started fake bot endpoint on 127.0.0.1."""
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def app(tmp_path):
    """The app with local receivers allowed (http, any host, private addresses)."""
    app = make_app(tmp_path, **OPEN)
    with app.app_context():
        add_provider("fake", "http://127.0.0.1:9/v1")
        create_user("alice", PASSWORD)
        create_user("mallory", PASSWORD)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for direct model work."""
    with app.app_context():
        yield


def make_key(owner: str = "alice", **fields) -> TrackedKey:
    fields = {
        "low_threshold": 5.0,
        "provider_id": 1,
        "label": "main key",
        "status": "active",
        "unit": "USD",
        **fields,
    }
    key = TrackedKey.sealed(KEY, user_id=find_user(owner).id, **fields)
    db.session.add(key)
    db.session.commit()
    return key


def make_channel(kind: str, url: str, owner: str = "alice", secret: str | None = None):
    form = {"kind": kind, "name": f"{kind} channel", "url": url, "secret": secret or ""}
    return service.add_channel(find_user(owner), form)


def poll(key: TrackedKey, status: str = "active", remaining: float | None = 10.0, at=None):
    """Store a sample the way the poller does, then announce it."""
    previous = key.status
    sample = BalanceSample(
        key_id=key.id,
        taken_at=at or utcnow(),
        status=status,
        unit="USD",
        remaining=remaining,
        source="/api/usage/token",
    )
    key.status = status
    if remaining is not None:
        key.remaining = remaining
    db.session.add(sample)
    db.session.commit()
    key_polled.send(current_app._get_current_object(), key=key, sample=sample, previous=previous)


def events() -> list[str]:
    """Every queued delivery's event (with the condition for recoveries), oldest first."""
    rows = db.session.scalars(select(Delivery).order_by(Delivery.id))
    out = []
    for row in rows:
        condition = json.loads(row.payload)["condition"]
        out.append(row.event if row.event != "recovered" else f"recovered:{condition}")
    return out


def login(client, name: str = "alice") -> None:
    response = client.post(
        "/login", data={"username": name, "password": PASSWORD, "next": "/alerts"}
    )
    assert response.status_code == 303, response.status_code


# --- crossings ---------------------------------------------------------------------------


def test_it_fires_low_balance_once_per_crossing_and_on_recovery(ctx, receiver):
    make_channel("webhook", receiver.url + PATHS["webhook"])
    key = make_key(low_threshold=5.0)
    poll(key, remaining=10.0)
    assert events() == []
    poll(key, remaining=4.0)
    poll(key, remaining=3.0)
    assert events() == ["low_balance"]
    poll(key, remaining=20.0)
    assert events() == ["low_balance", "recovered:low_balance"]
    poll(key, remaining=19.0)
    poll(key, remaining=1.0)
    assert events() == ["low_balance", "recovered:low_balance", "low_balance"]
    state = db.session.get(AlertState, (key.id, "low_balance"))
    assert state.active is True


@pytest.mark.parametrize("transient", ["rate_limited", "unreachable", "error"])
def test_it_lets_transient_statuses_flip_nothing(ctx, receiver, transient):
    make_channel("webhook", receiver.url + PATHS["webhook"])
    key = make_key(low_threshold=5.0)
    poll(key, remaining=2.0)
    poll(key, status="exhausted", remaining=0.0)
    assert events() == ["low_balance", "status"]
    poll(key, status=transient, remaining=None)
    poll(key, status=transient, remaining=None)
    poll(key, status="exhausted", remaining=0.0)
    assert events() == ["low_balance", "status"]
    assert db.session.get(AlertState, (key.id, "status")).active is True
    poll(key, status="active", remaining=50.0)
    assert events() == [
        "low_balance",
        "status",
        "recovered:status",
        "recovered:low_balance",
    ]


def test_it_fires_again_when_a_bad_status_changes(ctx, receiver):
    make_channel("webhook", receiver.url + PATHS["webhook"])
    key = make_key(low_threshold=None)
    poll(key, status="exhausted", remaining=0.0)
    poll(key, status="exhausted", remaining=0.0)
    poll(key, status="invalid", remaining=None)
    assert events() == ["status", "status"]
    payloads = [json.loads(d.payload) for d in db.session.scalars(select(Delivery))]
    assert [p["status"] for p in payloads] == ["exhausted", "invalid"]


def test_it_warns_once_before_a_key_expires(ctx, receiver):
    make_channel("webhook", receiver.url + PATHS["webhook"])
    key = make_key(low_threshold=None, expiry_warn_days=7)
    key.expires_at = utcnow() + timedelta(days=30)
    poll(key)
    assert events() == []
    key.expires_at = utcnow() + timedelta(days=3)
    poll(key)
    poll(key)
    assert events() == ["expiring"]
    payload = json.loads(db.session.scalars(select(Delivery)).first().payload)
    assert payload["expires_at"] == key.expires_at.isoformat()
    key.expires_at = utcnow() + timedelta(days=365)  # renewed
    poll(key)
    assert events() == ["expiring", "recovered:expiring"]


def test_it_never_alerts_low_balance_for_unlimited_keys(ctx, receiver):
    make_channel("webhook", receiver.url + PATHS["webhook"])
    key = make_key(low_threshold=5.0, unlimited=True)
    poll(key, remaining=0.0)
    no_threshold = make_key(low_threshold=None, fingerprint="other", label="no threshold")
    poll(no_threshold, remaining=0.0)
    assert events() == []


def test_it_queues_one_delivery_per_enabled_channel_of_the_owner(ctx, receiver):
    first = make_channel("webhook", receiver.url + PATHS["webhook"])
    second = make_channel("wecom", receiver.url + PATHS["wecom"])
    off = make_channel("feishu", receiver.url + PATHS["feishu"])
    service.set_enabled(off, False)
    make_channel("webhook", receiver.url + "/mallory", owner="mallory")
    poll(make_key(), remaining=1.0)
    channels = sorted(d.channel_id for d in db.session.scalars(select(Delivery)))
    assert channels == [first.id, second.id]


def test_it_alerts_from_a_real_poll_pass_against_the_fake_relay(ctx, receiver, fake):
    make_channel("wecom", receiver.url + PATHS["wecom"])
    provider = add_provider("relay", fake.url, budget=(0, 180))
    token = fake.add_token(KEY, remain_quota=2 * USD_QUOTA)
    make_key(provider_id=provider.id, low_threshold=5.0)
    start = utcnow()
    poll_once(start)
    poll_once(start + timedelta(hours=1))
    assert events() == ["low_balance"]
    token.remain_quota = 50 * USD_QUOTA
    poll_once(start + timedelta(hours=2))
    assert events() == ["low_balance", "recovered:low_balance"]
    assert deliver.deliver_due(now=start + timedelta(hours=2)) == 2
    texts = [json.loads(r["body"])["markdown"]["content"] for r in receiver.to("/cgi-bin")]
    assert "剩余 / Remaining: 2.00 USD" in texts[0]
    assert "已解除 / Cleared" in texts[1] and "50.00 USD" in texts[1]


# --- delivery ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["webhook", "wecom", "dingtalk", "feishu"])
def test_it_delivers_each_format_to_its_endpoint(ctx, receiver, kind):
    secret = None if kind == "wecom" else "SECsecret-value"
    make_channel(kind, receiver.url + PATHS[kind], secret=secret)
    poll(make_key(), remaining=1.5)
    assert deliver.deliver_due() == 1
    delivery = db.session.scalars(select(Delivery)).one()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 1, None)
    assert delivery.sent_at is not None
    (request,) = receiver.requests
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(request["body"])
    text = {
        "webhook": lambda b: b["message"],
        "wecom": lambda b: b["markdown"]["content"],
        "dingtalk": lambda b: b["markdown"]["text"],
        "feishu": lambda b: b["content"]["text"],
    }[kind](body)
    assert "余额不足 / Low balance" in text and "sk-AlE…WXYZ" in text and "1.50 USD" in text
    if kind == "dingtalk":
        assert request["path"].startswith(PATHS["dingtalk"] + "&timestamp=")
        assert "&sign=" in request["path"]
    if kind == "feishu":
        assert set(body) == {"timestamp", "sign", "msg_type", "content"}
    if kind == "webhook":
        assert request["headers"]["X-Relaydash-Signature"].startswith("sha256=")
        assert body["event"] == "low_balance" and body["masked_key"] == "sk-AlE…WXYZ"


def test_it_retries_with_exponential_backoff_until_the_bot_accepts(ctx, receiver):
    make_channel("wecom", receiver.url + PATHS["wecom"])
    receiver.script["/cgi-bin/webhook/send"] = [
        (502, "bad gateway"),
        (200, '{"errcode":45009,"errmsg":"api freq out of limit"}'),
    ]
    poll(make_key(), remaining=1.0)
    now = utcnow()
    assert deliver.deliver_due(now=now) == 1
    delivery = db.session.scalars(select(Delivery)).one()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("pending", 1, "http_502")
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    assert deliver.deliver_due(now=now + timedelta(seconds=59)) == 0
    assert deliver.deliver_due(now=now + timedelta(minutes=1)) == 1
    assert delivery.attempts == 2
    assert delivery.last_error == "code 45009: api freq out of limit"
    assert delivery.next_attempt_at == now + timedelta(minutes=1 + 2)
    assert deliver.deliver_due(now=now + timedelta(minutes=2)) == 0
    assert deliver.deliver_due(now=now + timedelta(minutes=3)) == 1
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 3, None)
    assert len(receiver.requests) == 3
    assert deliver.deliver_due(now=now + timedelta(hours=1)) == 0


def test_it_gives_up_after_the_last_attempt(ctx, receiver):
    make_channel("dingtalk", receiver.url + PATHS["dingtalk"])
    receiver.script["/robot/send"] = [(500, "")] * 10
    poll(make_key(), remaining=1.0)
    now = utcnow()
    waits = []
    for _ in range(deliver.MAX_ATTEMPTS):
        assert deliver.deliver_due(now=now) == 1
        delivery = db.session.scalars(select(Delivery)).one()
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
    assert delivery.state == "failed" and delivery.attempts == deliver.MAX_ATTEMPTS
    assert delivery.last_error == "http_500"
    assert [w.total_seconds() / 60 for w in waits[:-1]] == [1, 2, 4, 8, 16]
    assert deliver.deliver_due(now=now + timedelta(days=1)) == 0
    assert len(receiver.requests) == deliver.MAX_ATTEMPTS


def test_it_records_network_errors_without_the_url(ctx, receiver):
    channel = make_channel("wecom", receiver.url + PATHS["wecom"])
    receiver.server.shutdown()
    receiver.server.server_close()
    poll(make_key(), remaining=1.0)
    deliver.deliver_due()
    delivery = db.session.scalars(select(Delivery)).one()
    assert delivery.last_error == "connection_error"
    assert "wecom-token" not in delivery.last_error
    assert channel.url_hint.endswith("…1234")
    assert "wecom-token" not in channel.url_hint


@pytest.mark.sqlite_only
def test_it_never_puts_the_key_or_the_bot_tokens_anywhere_readable(ctx, receiver, app):
    for kind in PATHS:
        secret = None if kind == "wecom" else "SECnever-in-clear"
        make_channel(kind, receiver.url + PATHS[kind], secret=secret)
    key = make_key()
    poll(key, remaining=1.0)
    poll(key, status="exhausted", remaining=0.0)
    poll(key, status="active", remaining=100.0)
    deliver.deliver_due()
    assert len(receiver.requests) == 4 * 4
    for request in receiver.requests:
        assert KEY.encode() not in request["body"] and KEY not in request["path"]
    for delivery in db.session.scalars(select(Delivery)):
        assert KEY not in delivery.payload
        assert json.loads(delivery.payload)["masked_key"] == "sk-AlE…WXYZ"
    db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert b"sk-AlE" in stored  # the masked form is there, so the search itself works
    for secret in (KEY, "wecom-token-1234", "ding-token-5678", "feishu-token-9abc", "SECnever"):
        assert secret.encode() not in stored, secret


def test_it_refuses_private_addresses_when_not_allowed(ctx, receiver, app):
    app.config["ALERTS_ALLOW_PRIVATE"] = False
    with pytest.raises(service.ChannelError) as refused:
        make_channel("webhook", receiver.url + "/hook")
    assert refused.value.code == "private_address"
    with pytest.raises(service.ChannelError) as refused:
        make_channel("webhook", "http://[::1]:9/hook")
    assert refused.value.code == "private_address"
    # Saved while allowed, refused at send time once the rule applies: nothing leaves.
    app.config["ALERTS_ALLOW_PRIVATE"] = True
    make_channel("webhook", receiver.url + "/hook")
    app.config["ALERTS_ALLOW_PRIVATE"] = False
    poll(make_key(), remaining=1.0)
    deliver.deliver_due()
    assert db.session.scalars(select(Delivery)).one().last_error == "private_address"
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("kind", "url", "config", "code"),
    [
        ("wecom", "https://evil.example/cgi-bin/webhook/send?key=x", {}, "wrong_host"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", {}, "no_token"),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/", {}, "no_token"),
        ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", {}, "insecure_url"),
        ("webhook", "ftp://example.com/x", {}, "bad_url"),
        ("webhook", "https://user:pw@example.com/x", {}, "bad_url"),
        ("webhook", "not a url", {}, "bad_url"),
        ("webhook", "https://no-such-host.invalid/x", {}, "unresolvable"),
    ],
)
def test_it_refuses_unsafe_or_wrong_urls(tmp_path, kind, url, config, code):
    app = make_app(tmp_path, **config)
    with app.app_context():
        create_user("alice", PASSWORD)
        with pytest.raises(service.ChannelError) as refused:
            make_channel(kind, url)
        assert refused.value.code == code
        assert db.session.scalar(select(func.count()).select_from(Channel)) == 0
        db.session.remove()
        db.engine.dispose()


def test_it_accepts_official_bot_urls_without_any_loosening(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        create_user("alice", PASSWORD)
        channel = make_channel("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
        assert channel.url_hint == "qyapi.weixin.qq.com …y=k1"
        assert vault().decrypt(channel.url_ciphertext).endswith("?key=k1")
        db.session.remove()
        db.engine.dispose()


# --- pages -------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_login(client):
    response = client.get("/alerts")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    htmx = client.post("/alerts/channels", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert urlsplit(htmx.headers["HX-Redirect"]).path == "/login"


def test_it_adds_a_channel_from_the_form_and_shows_it(client, app, receiver):
    login(client)
    url = receiver.url + PATHS["wecom"]
    response = client.post("/alerts/channels", data={"kind": "wecom", "name": "ops", "url": url})
    assert response.status_code == 303
    page = client.get("/alerts").get_data(as_text=True)
    assert "ops" in page and "…1234" in page
    assert "wecom-token-1234" not in page
    with app.app_context():
        assert db.session.scalars(select(Channel)).one().user_id == find_user("alice").id


WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"kind": "pigeon", "name": "x", "url": "https://x.example"}, "Choose a channel type."),
        ({"kind": "webhook", "name": "", "url": "https://x.example"}, "Give the channel a name"),
        ({"kind": "wecom", "name": "x", "url": WECOM_URL, "secret": "s"}, "WeCom bots have no"),
        (
            {"kind": "dingtalk", "name": "x", "url": "javascript:alert(1)"},
            "Enter the whole webhook",
        ),
    ],
)
def test_it_explains_bad_channel_input_with_a_400(client, form, message, htmx):
    login(client)
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post("/alerts/channels", data=form, headers=headers)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert ("<html" in body) is not htmx


@pytest.mark.parametrize(
    ("action", "data"),
    [("enabled", {"enabled": "0"}), ("test", {}), ("delete", {})],
)
@pytest.mark.parametrize("who", ["alice", "mallory"])
def test_it_lets_only_the_owner_act_on_a_channel(client, app, receiver, who, action, data):
    with app.app_context():
        channel_id = make_channel("webhook", receiver.url + PATHS["webhook"]).id
    login(client, who)
    response = client.post(
        f"/alerts/channels/{channel_id}/{action}", data=data, headers={"HX-Request": "true"}
    )
    with app.app_context():
        channel = db.session.get(Channel, channel_id)
        if who == "mallory":
            assert response.status_code == 404
            assert channel is not None and channel.enabled
            assert receiver.requests == []
        else:
            assert response.status_code == 200
            if action == "delete":
                assert channel is None and response.get_data() == b""
            elif action == "enabled":
                assert channel.enabled is False
            else:
                assert len(receiver.requests) == 1


def test_it_shows_each_user_only_their_own_channels_and_log(client, app, receiver):
    with app.app_context():
        make_channel("webhook", receiver.url + PATHS["webhook"])
        db.session.get(Channel, 1).name = "alice-secret-channel"
        db.session.commit()
        poll(make_key(), remaining=1.0)
    login(client, "mallory")
    page = client.get("/alerts").get_data(as_text=True)
    assert "alice-secret-channel" not in page and "sk-AlE" not in page
    client.post("/logout")
    login(client, "alice")
    page = client.get("/alerts").get_data(as_text=True)
    assert "alice-secret-channel" in page and "sk-AlE…WXYZ" in page


def test_it_sends_a_test_message_and_logs_it(client, app, receiver):
    with app.app_context():
        channel_id = make_channel("feishu", receiver.url + PATHS["feishu"], secret="s").id
    login(client)
    response = client.post(f"/alerts/channels/{channel_id}/test", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "alerts-log-changed"
    row = response.get_data(as_text=True)
    assert 'data-state="sent"' in row and row.lstrip().startswith("<tr")
    body = json.loads(receiver.requests[0]["body"])
    assert body["content"]["text"].startswith("【relaydash】测试消息 / Test message")
    client.set_cookie("tz", "Asia/Shanghai")
    log = client.get("/alerts/log", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-event="test"' in log and 'data-state="sent"' in log
    # The time in the viewer's zone, in ISO order, with the zone in the column head.
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:")
    assert shanghai in log and "(Asia/Shanghai)" in log


def test_it_shows_a_failed_test_with_its_reason(client, app, receiver):
    receiver.script["/robot/send"] = [
        (200, '{"errcode":310000,"errmsg":"keywords not in content"}')
    ]
    with app.app_context():
        channel_id = make_channel("dingtalk", receiver.url + PATHS["dingtalk"]).id
    login(client)
    row = client.post(f"/alerts/channels/{channel_id}/test").status_code
    assert row == 303
    page = client.get("/alerts").get_data(as_text=True)
    assert "code 310000: keywords not in content" in page
    with app.app_context():
        delivery = db.session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.attempts) == ("failed", 1)  # tests are not retried
        assert deliver.deliver_due(now=utcnow() + timedelta(hours=1)) == 0


def test_it_drops_queued_messages_when_a_channel_is_turned_off(client, app, receiver):
    with app.app_context():
        channel_id = make_channel("webhook", receiver.url + PATHS["webhook"]).id
        poll(make_key(), remaining=1.0)
    login(client)
    client.post(f"/alerts/channels/{channel_id}/enabled", data={"enabled": "0"})
    with app.app_context():
        assert deliver.deliver_due() == 0
        delivery = db.session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.last_error) == ("failed", "channel_disabled")
    assert receiver.requests == []


def test_it_pages_the_delivery_log_newest_first(client, app, receiver):
    with app.app_context():
        channel = make_channel("webhook", receiver.url + PATHS["webhook"])
        for number in range(service.PER_PAGE + 5):
            db.session.add(Delivery(channel_id=channel.id, event="test", payload="{}"))
            db.session.flush()
            assert number >= 0
        db.session.commit()
    login(client)
    first = client.get("/alerts/log", headers={"HX-Request": "true"}).get_data(as_text=True)
    second = client.get("/alerts/log?page=2", headers={"HX-Request": "true"})
    assert first.count('data-testid="delivery-row"') == service.PER_PAGE
    assert second.get_data(as_text=True).count('data-testid="delivery-row"') == 5
    assert client.get("/alerts/log?page=99", headers={"HX-Request": "true"}).status_code == 200
    for bad in ("x", "-3", "99999999999999999999", "²"):
        response = client.get(f"/alerts/log?page={bad}", headers={"HX-Request": "true"})
        assert response.status_code == 400
        assert "“page” must be a whole number" in response.get_data(as_text=True)


def test_it_enforces_csrf_on_channel_forms(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True, **OPEN)
    with app.app_context():
        create_user("alice", PASSWORD)
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    response = client.post("/alerts/channels", data={"kind": "webhook", "name": "x", "url": "x"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Channel)) == 0
        db.session.remove()
        db.engine.dispose()
