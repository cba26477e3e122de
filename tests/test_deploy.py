"""deploy/ as a user copies it: gunicorn with deploy/gunicorn.conf.py behind nginx with
deploy/nginx/relaydash.conf (TLS, real client address, streams unbuffered), and the systemd units
checked by systemd-analyze. Only the site's names, ports and certificate paths are changed."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import worker_env
from tests.services import free_port as _port
from tests.services import gunicorn
from tests.test_playground import parse_sse, text
from tests.test_workers import _member, _start

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _need(tool: str) -> str:
    """The tool's path; a skip without it, a failure in CI (RELAYDASH_REQUIRE_BROWSER: .ci/run)."""
    path = shutil.which(tool) or (tool if os.path.exists(tool) else None)
    if path:
        return path
    if os.environ.get("RELAYDASH_REQUIRE_BROWSER"):
        pytest.fail(f"{tool} is missing (.ci/run installs it)")
    pytest.skip(f"{tool} missing: apt-get install -y nginx")


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the tests trust exactly it)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def _site(folder: Path, *, upstream: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx/relaydash.conf with this machine's ports, certificate and log paths, inside a
    minimal nginx.conf of its own (the site goes in the http block, as sites-enabled/ does)."""
    cert, key = _certificate(folder)
    site = (DEPLOY / "nginx" / "relaydash.conf").read_text()
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "/etc/letsencrypt/live/relaydash.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/relaydash.example.com/privkey.pem": str(key),
        "/var/log/nginx/relaydash.access.log": str(folder / "access.log"),
        "/var/www/html": str(folder),
    }.items():
        assert old in site, old  # the shipped site still has what the README tells users to edit
        site = site.replace(old, new)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)  # no IPv6 in every container
    (folder / "site.conf").write_text(site)
    temp = folder / "temp"
    temp.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        + "events {}\nhttp {\n"
        + "".join(
            f"  {name}_temp_path {temp}/{name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {folder}/site.conf;\n}}\n"
    )
    return conf


def test_the_nginx_site_passes_nginx_t(tmp_path):
    """`nginx -t` accepts the shipped site (with a real certificate at its paths)."""
    nginx = _need(NGINX)
    conf = _site(tmp_path, upstream=8000, http_port=_port(), https_port=_port())
    checked = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_the_systemd_units_verify(tmp_path):
    """systemd-analyze verify finds nothing wrong in the three units (the install path mapped to
    this checkout, so their commands exist)."""
    analyze = _need("systemd-analyze")
    install = tmp_path / "opt-relaydash"
    (install / ".venv" / "bin").mkdir(parents=True)
    for tool in ("gunicorn", "flask"):
        (install / ".venv" / "bin" / tool).symlink_to(Path(sys.executable).parent / tool)
    (install / "deploy").symlink_to(DEPLOY)
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/relaydash", str(install)))
        units.append(str(copy))
    assert len(units) == 3
    verified = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, cwd=tmp_path
    )
    assert verified.returncode == 0, verified.stderr
    assert "relaydash" not in verified.stderr, verified.stderr  # no warning about our units


@pytest.fixture
def behind_nginx(app, tmp_path):
    """gunicorn (deploy/gunicorn.conf.py, 2 workers) on the app's database behind nginx (the
    shipped site): (https base URL, http base URL, certificate path, configure)."""
    nginx = _need(NGINX)
    running: list[subprocess.Popen] = []

    def start(**overrides) -> tuple[str, str, str]:
        env = worker_env(app, tmp_path / "instance", TRUSTED_PROXIES=1, **overrides)
        process, upstream_url = gunicorn(env, workers=2, root=ROOT)
        running.append(process)
        upstream = int(upstream_url.rsplit(":", 1)[1])
        http_port, https_port = _port(), _port()
        conf = _site(tmp_path, upstream=upstream, http_port=http_port, https_port=https_port)
        running.append(
            subprocess.Popen(
                [nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        https = f"https://127.0.0.1:{https_port}"
        cert = str(tmp_path / "cert.pem")
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(https + "/readyz", timeout=2, verify=cert).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn behind nginx did not become ready")
            time.sleep(0.2)
        return https, f"http://127.0.0.1:{http_port}", cert

    yield start
    for process in reversed(running):
        process.terminate()
    for process in running:
        process.wait(30)


def _get_from(address: str, https: str, cert: str, path: str, **headers) -> int:
    """GET through nginx from a given local address (another client), its status."""
    host, port = https.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=cert)
    connection = http.client.HTTPSConnection(
        host, int(port), context=context, source_address=(address, 0), timeout=10
    )
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_behind_nginx_limits_see_the_client_not_the_proxy(behind_nginx):
    """A 3/minute limit through nginx and two gunicorn workers: one client is stopped after 3
    whatever X-Forwarded-For it forges, another client still gets through; http moves to https."""
    https, plain, cert = behind_nginx(RATELIMIT_ENABLED=True, STATUS_RATE_LIMIT="3/minute")
    first = [
        _get_from("127.0.0.3", https, cert, "/status.json", **{"X-Forwarded-For": f"10.0.0.{n}"})
        for n in range(5)
    ]
    assert first == [200, 200, 200, 429, 429]
    assert _get_from("127.0.0.4", https, cert, "/status.json") == 200
    moved = requests.get(plain + "/status", allow_redirects=False, timeout=5)
    assert moved.status_code == 301 and moved.headers["Location"].startswith("https://")
    health = requests.get(https + "/healthz", timeout=5, verify=cert)
    assert health.ok and "Strict-Transport-Security" in health.headers


def test_behind_nginx_a_playground_stream_arrives_as_it_is_made(
    behind_nginx, make_user, provider, fake
):
    """The relay sends "Hel", then a second later "lo": through nginx and gunicorn the first
    words arrive on their own, before the relay has sent the rest (nothing buffers the stream)."""
    fake.script("m-plain", content=["Hel", "lo"], delay=1.0)
    https, _plain, cert = behind_nginx(SESSION_COOKIE_SECURE=True)
    session = _member(make_user, https, verify=cert)
    status, stream, _run = _start(session, https, fake)
    assert status == 200
    body, seen_first = "", None
    with session.get(https + stream, stream=True, timeout=20) as answer:
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        for chunk in answer.iter_content(chunk_size=None, decode_unicode=True):
            body += chunk
            if seen_first is None and "data: Hel" in body:
                seen_first = body
    assert text(parse_sse(body), "c0-content") == "Hello"
    assert seen_first is not None and "data: lo" not in seen_first
