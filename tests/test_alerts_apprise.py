"""Channels of kind "apprise": real json:// and form:// deliveries to local servers, the guard."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select

from blueprints.alerts import apprise_send, deliver, service
from blueprints.alerts.models import Channel, Delivery
from blueprints.auth.service import create_user
from blueprints.shared.vault import vault
from database import db, utcnow
from tests.conftest import make_app
from tests.test_alerts import (  # noqa: F401  (app, ctx, receiver: the alerts tests' fixtures)
    KEY,
    OPEN,
    PASSWORD,
    Receiver,
    app,
    ctx,
    login,
    make_channel,
    make_key,
    poll,
    receiver,
)

TOKEN = "tOkEn4a5b6c7d8e9"
MAIL = "mailtos://{host}?user=u&pass=p&from=a@example.com&to=b@example.com"


def apprise_url(receiver, scheme: str = "json", path: str = f"/apprise/{TOKEN}") -> str:
    return receiver.url.replace("http", scheme, 1) + path


@pytest.mark.parametrize("scheme", ["json", "form"])
def test_it_delivers_through_apprise_to_a_local_server(ctx, receiver, scheme):
    channel = make_channel("apprise", apprise_url(receiver, scheme))
    poll(make_key(), remaining=1.5)
    assert deliver.deliver_due() == 1
    delivery = db.session.scalars(select(Delivery)).one()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 1, None)
    (request,) = receiver.requests
    assert request["path"] == f"/apprise/{TOKEN}"
    raw = request["body"]
    if scheme == "json":
        assert request["headers"]["Content-Type"].startswith("application/json")
        body = json.loads(raw)
    else:
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    assert "余额不足 / Low balance" in body["title"]
    assert "sk-AlE…WXYZ" in body["message"] and "1.50 USD" in body["message"]
    assert KEY not in raw.decode()
    assert channel.url_hint == f"{scheme}://127.0.0.1 …{TOKEN[-4:]}"


def test_it_retries_apprise_failures_with_backoff_and_a_reason(ctx, receiver):
    make_channel("apprise", apprise_url(receiver))
    receiver.script[f"/apprise/{TOKEN}"] = [(503, "busy"), (500, "")]
    poll(make_key(), remaining=1.0)
    now = utcnow()
    deliver.deliver_due(now=now)
    delivery = db.session.scalars(select(Delivery)).one()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("apprise: ") and "503" in delivery.last_error
    assert TOKEN not in delivery.last_error and "127.0.0.1" not in delivery.last_error
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    assert deliver.deliver_due(now=now + timedelta(minutes=1)) == 1
    assert "500" in delivery.last_error and delivery.attempts == 2
    assert deliver.deliver_due(now=now + timedelta(minutes=3)) == 1
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 3, None)
    assert len(receiver.requests) == 3


def test_it_records_a_dead_target_without_url_or_token(ctx, receiver):
    make_channel("apprise", apprise_url(receiver))
    receiver.server.shutdown()
    receiver.server.server_close()
    poll(make_key(), remaining=1.0)
    deliver.deliver_due()
    delivery = db.session.scalars(select(Delivery)).one()
    assert delivery.state == "pending" and delivery.last_error
    assert TOKEN not in delivery.last_error and "://" not in delivery.last_error


def test_it_refuses_private_apprise_targets_when_not_allowed(ctx, receiver, app):
    app.config["ALERTS_ALLOW_PRIVATE"] = False
    for url in (apprise_url(receiver), "form://[::1]:9/x", MAIL.format(host="127.0.0.1")):
        with pytest.raises(service.ChannelError) as refused:
            make_channel("apprise", url)
        assert refused.value.code == "private_address", url
    # Saved while allowed, refused at send time once the rule applies: nothing leaves.
    app.config["ALERTS_ALLOW_PRIVATE"] = True
    make_channel("apprise", apprise_url(receiver))
    app.config["ALERTS_ALLOW_PRIVATE"] = False
    poll(make_key(), remaining=1.0)
    deliver.deliver_due()
    assert db.session.scalars(select(Delivery)).one().last_error == "private_address"
    assert receiver.requests == []


def test_the_send_time_guard_checks_each_connection_not_only_the_saved_host(receiver, monkeypatch):
    # A name that resolved to a public address when checked and to a private one when Apprise
    # connects (DNS rebinding): the check before sending is skipped to stand for that.
    monkeypatch.setattr(apprise_send, "check", lambda url, **rules: url)
    url = apprise_url(receiver).replace("127.0.0.1", "localhost")
    event = {"title": "t", "lines": ["l"]}
    assert apprise_send.send(url, event, allow_private=False) == "private_address"
    assert receiver.requests == []
    assert apprise_send.send(url, event, allow_private=True) is None
    assert len(receiver.requests) == 1
    # E-mail too: smtplib resolves through the same check.
    assert apprise_send.send(MAIL.format(host="localhost"), event, allow_private=False) == (
        "private_address"
    )
    # Outside a send the wrapper changes nothing.
    assert socket.getaddrinfo("127.0.0.1", 80)


class Recorder(logging.Handler):
    """What the app's own log handlers (on the root logger) would receive."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_apprise_never_writes_urls_or_tokens_to_the_app_logs(receiver, capfd):
    root, recorder = logging.getLogger(), Recorder()
    root.addHandler(recorder)
    handlers = list(logging.getLogger("apprise").handlers)
    try:
        with pytest.raises(apprise_send.Refused):
            apprise_send.parse("dingtalk://bad-secret-SeCrEt99@tok3n5678/")  # Apprise logs both
        receiver.script[f"/apprise/{TOKEN}"] = [(500, "")]
        event = {"title": "t", "lines": ["l"]}
        error = apprise_send.send(apprise_url(receiver), event, allow_private=True)
    finally:
        root.removeHandler(recorder)
    assert error.startswith("apprise: ") and "500" in error and TOKEN not in error
    logged = "\n".join(recorder.lines) + "".join(capfd.readouterr())
    for secret in ("SeCrEt99", "tok3n5678", TOKEN):
        assert secret not in logged
    assert logging.getLogger("apprise").handlers == handlers  # the capture was removed


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("pigeon://x", "unknown_scheme"),
        ("https://example.com/x", "unknown_scheme"),
        ("no scheme at all", "bad_apprise_url"),
        ("syslog://", "unsupported_scheme"),
        ("mqtt://broker.example/topic", "unsupported_scheme"),
        ("pushplus://x", "bad_apprise_url"),
        ("json://no-such-host.invalid/x", "unresolvable"),
    ],
)
def test_it_refuses_apprise_urls_it_cannot_use(tmp_path, url, code):
    plain = make_app(tmp_path)
    with plain.app_context():
        create_user("alice", PASSWORD)
        with pytest.raises(service.ChannelError) as refused:
            make_channel("apprise", url)
        assert refused.value.code == code
        assert db.session.scalar(select(func.count()).select_from(Channel)) == 0
        db.session.remove()
        db.engine.dispose()


def test_it_accepts_fixed_host_services_without_any_loosening(tmp_path):
    plain = make_app(tmp_path)
    with plain.app_context():
        create_user("alice", PASSWORD)
        url = "dingtalk://SECa1b2c3@0123456789abcdef0123"
        channel = make_channel("apprise", url)
        assert channel.url_hint == "dingtalk:// …0123"
        assert vault().decrypt(channel.url_ciphertext) == url
        db.session.remove()
        db.engine.dispose()


@pytest.mark.sqlite_only
def test_it_stores_apprise_urls_only_encrypted(ctx, receiver, app):
    make_channel("apprise", apprise_url(receiver))
    poll(make_key(), remaining=1.0)
    deliver.deliver_due()
    db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert b"json://127.0.0.1" in stored  # the hint is there, so the search itself works
    assert TOKEN.encode() not in stored and KEY.encode() not in stored


def test_it_adds_an_apprise_channel_from_the_form(app, receiver):
    client = app.test_client()
    login(client)
    page = client.get("/alerts").get_data(as_text=True)
    assert 'value="apprise"' in page and "ntfys://ntfy.sh/your-topic" in page
    assert "tgram://" in page and 'href="https://appriseit.com/services/"' in page
    form = {"kind": "apprise", "name": "ops", "url": apprise_url(receiver)}
    assert client.post("/alerts/channels", data=form).status_code == 303
    page = client.get("/alerts").get_data(as_text=True)
    assert "…" + TOKEN[-4:] in page and TOKEN not in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"url": "pigeon://x"}, "Apprise does not know that kind of URL"),
        ({"url": "syslog://"}, "only to web services and e-mail"),
        ({"url": "json://example.com", "secret": "s"}, "carries its own secrets"),
        ({"url": "json://" + "x" * 3000}, "Apprise cannot read that URL"),
    ],
)
def test_it_explains_bad_apprise_input_with_a_400(app, form, message):
    client = app.test_client()
    login(client)
    data = {"kind": "apprise", "name": "x", **form}
    response = client.post("/alerts/channels", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
