"""`make fuzz`: schemathesis against a running app, the JSON API and the public pages.

A throwaway instance (RELAYDASH_INSTANCE in a temp folder, `flask setup`, one provider on a fake
relay so lookups go all the way) is served on a free port. schemathesis then runs the API's own
OpenAPI document, and a document this script writes for the pages a guest can reach (every
non-API route, with the fields each reads). CSRF and rate limits are off so the generated
values reach the parsers instead of a token check. It fails on any 5xx, counted both by
schemathesis and from the server's own access log, and on any way the API departs from its
document (schemathesis's other checks).

Run: .venv/bin/python -m tests.fuzz [--max-examples N] (not collected by pytest).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from app import create_app
from tests.fakerelay import FakeRelay

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PAGE_CHECKS = "not_a_server_error"
PROVIDER = "聚合AI"  # the API document's example, so its examples reach the relay

# The fields each page reads (query for GET, form for POST); other routes get none.
FIELDS = {
    "lookup.lookup": ["provider", "key"],
    "lookup.log": ["provider", "key", "page", "size", "sort", "dir"],
    "lookup.log_csv": ["provider", "key"],
    "lookup.batch_run": ["provider", "keys"],
    "status.index": ["page"],
    "status.provider": ["range"],
    "status.feed": ["metric", "window"],
    "status.badge": ["metric", "window"],
    "auth.login": ["next"],
    "auth.login_post": ["username", "password", "next"],
    "core.set_language": ["lang", "next"],
    "usage.key": ["range", "from", "to", "tz"],
    "alerts.log": ["page"],
    "playground.run": ["source", "key_id", "provider", "key", "model", "content", "repeat"],
}
EXAMPLES = {"provider": PROVIDER, "key": "sk-" + "f" * 48, "keys": "sk-" + "f" * 48}


def pages_document(app) -> dict:
    """OpenAPI 3.1 for every route outside /api/ and /static/, built from the URL map."""
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static/")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        arguments = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in sorted(rule.arguments)
        ]
        fields = {name: _field(name) for name in FIELDS.get(rule.endpoint, [])}
        for method in sorted(rule.methods & {"GET", "POST"}):
            operation: dict = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "parameters": list(arguments),
                "responses": {"default": {"description": "a page, a redirect or a refusal"}},
            }
            if method == "GET":
                operation["parameters"] += [
                    {"name": name, "in": "query", "schema": schema}
                    for name, schema in fields.items()
                ]
            elif fields:
                form = {"type": "object", "properties": fields}
                operation["requestBody"] = {
                    "content": {"application/x-www-form-urlencoded": {"schema": form}}
                }
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "relaydash pages (guest)", "version": "1"},
        "paths": paths,
    }


def _field(name: str) -> dict:
    schema: dict = {"type": "string"}
    if name in EXAMPLES:
        schema["examples"] = [EXAMPLES[name]]
    return schema


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("fuzz: the server did not come up")


def schemathesis(location: str, base: str, folder: Path, examples: int, checks: str) -> int:
    """One schemathesis run; its exit code (non-zero on any failed check)."""
    command = [
        str(BIN / "schemathesis"),
        "run",
        location,
        "--url",
        base,
        "--checks",
        checks,
        "--max-examples",
        str(examples),
        "--workers",
        "2",
        "--seed",
        "12",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
    ]
    print("fuzz:", " ".join(command[1:4]), flush=True)
    return subprocess.run(command, cwd=folder, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100)
    options = parser.parse_args()
    relay = FakeRelay("new-api-2026").start()
    with tempfile.TemporaryDirectory(prefix="relaydash-fuzz-") as temp:
        folder = Path(temp)
        env = {
            **os.environ,
            "RELAYDASH_INSTANCE": str(folder / "instance"),
            "RELAYDASH_DEFAULT_PROVIDERS": json.dumps(
                [{"name": PROVIDER, "base_url": relay.url + "/v1"}]
            ),
            "RELAYDASH_ALLOW_PRIVATE_PROVIDERS": "true",  # the fake relay is on 127.0.0.1
            "RELAYDASH_WTF_CSRF_ENABLED": "false",
            "RELAYDASH_RATELIMIT_ENABLED": "false",
            "RELAYDASH_RELAY_READ_TIMEOUT": "3.0",
        }
        flask = [str(BIN / "flask"), "--app", "app"]
        subprocess.run([*flask, "setup"], cwd=ROOT, env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (folder / "server.log").open("w+")
        server = subprocess.Popen(
            [*flask, "run", "--port", str(port), "--no-reload", "--no-debugger"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(base, server)
            os.environ.update(env)  # the factory reads RELAYDASH_* when called
            pages = folder / "pages.json"
            pages.write_text(json.dumps(pages_document(create_app())))
            # The API is held to its own document (every check); the pages document is ours,
            # so there only a server error counts.
            api = base + "/api/v1/openapi.json"
            failed = schemathesis(api, base, folder, options.max_examples, "all")
            failed |= schemathesis(str(pages), base, folder, options.max_examples, PAGE_CHECKS)
        finally:
            server.terminate()
            server.wait(10)
            relay.stop()
        log.seek(0)
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read())  # werkzeug colours the status
        requests = re.findall(r'"[A-Z]+ [^"]*" (\d{3}) ', text)
        errors = [line for line in text.splitlines() if re.search(r'" 5\d\d ', line)]
        tracebacks = text.count("unhandled ")
        print(
            f"fuzz: {len(requests)} requests served, {len(errors)} server errors, "
            f"{tracebacks} unhandled exceptions logged"
        )
        for line in errors[:20]:
            print("  ", line)
        return 1 if failed or errors or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
