"""The SSRF guard: private addresses in every spelling are refused, when saved and when called, and
a connection goes to the very address that was checked (no second DNS answer is ever used)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from blueprints.alerts import urls
from blueprints.auth.service import create_user
from blueprints.providers.models import Provider
from blueprints.providers.service import ProviderError, add_provider, edit_provider, find_provider
from database import db
from relay import guard, http
from relay.chat import ChatCall
from relay.probe import probe_status
from tests.conftest import PASSWORD, login, make_app
from tests.test_playground import form, run

PRIVATE = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",  # site-local
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 (DNS64 on an IPv6-only host) of a public address
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses_in_every_spelling_are_refused(address):
    assert not guard.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert guard.is_public(ipaddress.ip_address(address))


# -- a fake DNS, so names can point anywhere --------------------------------------------------


@pytest.fixture
def dns(monkeypatch):
    """names[host] = [ip, …]: one answer per lookup, the last one repeating; asked: every lookup."""
    names: dict[str, list[str]] = {}
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in names:
            return real(host, port, family, type, proto, flags)
        asked.append(host)
        answers = names[host]
        ip = answers.pop(0) if len(answers) > 1 else answers[0]
        if ":" in ip:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(names=names, asked=asked)


@pytest.fixture
def connects(monkeypatch):
    """Every (address, port) a pinned connection opens; none is opened to anything."""
    opened: list[tuple] = []

    def create_connection(address, *args, **kw):
        opened.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(guard.util_connection, "create_connection", create_connection)
    return opened


def test_a_connection_uses_the_address_it_checked(fake, dns):
    """The name is resolved once; urllib3 connects to that answer and sends the name as Host."""
    dns.names["relay.test"] = ["127.0.0.1"]
    port = fake.url.rsplit(":", 1)[1]
    answer = http.get(f"http://relay.test:{port}", "/api/status")
    assert answer.ok and dns.asked == ["relay.test"]
    assert fake.requests[0].headers["Host"] == f"relay.test:{port}"


def test_a_second_dns_answer_is_never_used(fake, dns, connects):
    """DNS rebinding: public when checked, loopback a moment later; only the first is dialled."""
    guard.PROVIDERS.allowed = False
    dns.names["rebind.test"] = ["93.184.216.34", "127.0.0.1"]
    answer = http.get("http://rebind.test:8080", "/api/status")
    assert answer.kind == http.UNREACHABLE  # the public address refused the test's connection
    assert connects == [("93.184.216.34", 8080)]
    answer = http.get("http://rebind.test:8080", "/api/status")  # now it says 127.0.0.1
    assert answer.kind == http.BLOCKED and connects == [("93.184.216.34", 8080)]
    assert fake.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost", "loop.test"])
def test_calls_to_private_addresses_are_refused_when_not_allowed(fake, dns, host):
    """Every relay call (GET, chat, probe) refuses: nothing reaches the relay."""
    guard.PROVIDERS.allowed = False
    dns.names["loop.test"] = ["::ffff:127.0.0.1"]
    base = f"http://{host}:{fake.url.rsplit(':', 1)[1]}"
    key = fake.add_token().key
    assert http.get(base, "/v1/models", key=key).kind == http.BLOCKED
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
    event = list(ChatCall(base, key, body).events())[-1]
    assert event.kind == "error" and event.answer.kind == http.BLOCKED
    assert probe_status(base, timeout=(1.0, 1.0), slow_ms=1000).error == "connect"
    assert fake.requests == []


# -- TLS: SNI and the certificate check follow the name, not the address ------------------------


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for one DNS name (its own trust anchor)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def https_server(cert: tuple[Path, Path]) -> Iterator[tuple[int, dict]]:
    """An HTTPS server on 127.0.0.1 answering 200; `seen` holds the SNI name and Host header."""
    seen: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    context.sni_callback = lambda _sock, name, _ctx: seen.__setitem__("sni", name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_tls_checks_the_name_while_connecting_to_the_checked_address(tmp_path, dns):
    cert = certificate(tmp_path, "relay.test")
    dns.names["relay.test"] = ["127.0.0.1"]
    dns.names["other.test"] = ["127.0.0.1"]
    session = http.make_session(pool=1)
    trust = {"verify": str(cert[0]), "timeout": 5}
    with https_server(cert) as (port, seen):
        reply = session.get(f"https://relay.test:{port}/", **trust)
        assert reply.status_code == 200
        assert seen == {"sni": "relay.test", "host": f"relay.test:{port}"}
        with pytest.raises(requests.exceptions.SSLError):  # same address, a name it is not
            session.get(f"https://other.test:{port}/", **trust)
    guard.PROVIDERS.allowed = False
    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        session.get(f"https://relay.test:{port}/", **trust)
    assert guard.blocked(refused.value).code == "private_address"


# -- alert webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::7f00:1]/hook",
        "https://[2002:7f00:1::]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://169.254.169.254/latest",
        "https://rebind.test/hook",
    ],
)
def test_webhooks_to_ipv6_forms_of_private_addresses_are_refused(app, dns, url):
    dns.names["rebind.test"] = ["64:ff9b::a00:1"]
    with app.app_context(), pytest.raises(urls.UnsafeURL) as refused:
        urls.check("webhook", url)
    assert refused.value.code == "private_address"


# -- provider base URLs --------------------------------------------------------------------------

LAN_URLS = [
    "http://127.0.0.1:3000",
    "http://localhost:3000",
    "http://10.0.0.5:3000",
    "http://[::1]:3000",
    "https://[64:ff9b::7f00:1]",
    "https://[2002:7f00:1::]",
    "https://[::ffff:127.0.0.1]",
    "http://169.254.169.254",
    "https://lan.test",
]


@pytest.fixture
def strict(tmp_path, dns):
    """An app that refuses private provider addresses (the default outside tests)."""
    dns.names["lan.test"] = ["192.168.1.20"]
    app = make_app(tmp_path, ALLOW_PRIVATE_PROVIDERS=False)
    assert guard.PROVIDERS.allowed is False
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("url", LAN_URLS)
def test_private_provider_urls_are_refused_when_saved(strict, url):
    with strict.app_context():
        with pytest.raises(ProviderError) as refused:
            add_provider("lan", url)
        assert refused.value.code == "private_address"
        public = add_provider(
            "public", "https://relay.invalid"
        )  # unresolvable today: checked later
        with pytest.raises(ProviderError):
            edit_provider(public, base_url=url)
        assert find_provider("lan") is None and public.base_url == "https://relay.invalid"


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "private or local network"), ("zh_CN", "ALLOW_PRIVATE_PROVIDERS")],
)
def test_the_admin_form_says_why_in_the_page_language(strict, lang, words):
    with strict.app_context():
        create_user("root", PASSWORD, admin=True)
    client = strict.test_client()
    login(client, "root")
    client.set_cookie("lang", lang)
    response = client.post("/admin/providers", data={"name": "lan", "base_url": LAN_URLS[4]})
    assert response.status_code == 400
    error = re.search(r'data-testid="form-error">([^<]*)<', response.get_data(as_text=True))[1]
    assert words in error
    if lang == "zh_CN":
        assert re.search(r"[\u4e00-\u9fff]", error)  # in Chinese, naming the setting


def test_the_cli_says_why(strict):
    result = strict.test_cli_runner().invoke(args=["providers", "add", "lan", LAN_URLS[0]])
    assert result.exit_code != 0 and "ALLOW_PRIVATE_PROVIDERS" in result.output


def test_a_private_provider_saved_earlier_is_not_called(strict, fake):
    """Saved while allowed (or by an older version): lookups and the playground call nothing."""
    with strict.app_context():
        db.session.add(Provider(name="lan", base_url=fake.url, kind="auto"))
        db.session.commit()
    client = strict.test_client()
    key = fake.add_token().key
    reply = client.post("/api/v1/lookup", json={"provider": "lan", "key": key})
    assert reply.get_json()["error"]["code"] == "blocked_address"
    page = client.post("/lookup", data={"provider": "lan", "key": key})
    assert "private or local network" in page.get_data(as_text=True)
    with strict.app_context():
        create_user("alice", PASSWORD)
    login(client, "alice")
    _html, events = run(client, form(fake, key=key, provider="lan"))
    assert "private or local network" in events["c0-result"][0]
    assert fake.requests == []
