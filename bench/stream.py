"""Playground streaming bench: what relaydash adds to the first token and to each forwarded chunk.

Spec (from the issue): time to first token through relaydash minus direct to the fake relay, and
the extra delay per forwarded chunk, in one run. Goal: ≤ 15 ms added to the first token, ≤ 5 ms
per chunk (no buffering).

Method: three processes, so no two sides share a GIL. The fake relay (tests/fakerelay.py) runs in
one, with a scripted model: the first content chunk after --first-delay (plus --delay), then
--chunks chunks --delay apart. relaydash runs in another, served over real HTTP by werkzeug's
threaded server (the live_server fixture's, `make_server(threaded=True)`) on a migrated temp
SQLite (tests.conftest.make_app), a provider pointing at the fake and one user. This process is
the client: it logs in through the real /login form, then per round (interleaved, who goes first
alternating, after --warmup rounds) makes
- direct: POST /v1/chat/completions (stream, include_usage) to the fake relay on a fresh
  connection, read with raw.read1() and split into lines by hand; each `data:` line carrying
  delta.content is stamped on arrival;
- relaydash: POST /playground/run (timed apart as post_ms), then GET its sse-connect URL (the
  start of the clock: the upstream call begins with this GET) and stamp each `c0-content` event.
Both replies must carry the scripted text in full, or the bench stops. Per round: TTFT added =
(relaydash first content − GET) − (direct first content − POST); chunk i's extra =
(relaydash_i − relaydash_0) − (direct_i − direct_0), its mean over i is that round's
chunk_added. time.perf_counter() is CLOCK_MONOTONIC, shared by the processes, so relaydash's own
stamps (wrapped in at run time, no app change: upstream line read in engine._took, SSE event
rendered in stream.sse) split the time into layers: upstream read → rendered → client. The
fake relay times each wait from the end of its previous write, so its stream drifts a little
later when the reader's side is busier: that "upstream drift" row is part of chunk_added.

Run from the repo root: .venv/bin/python bench/stream.py [--n 15] [--chunks 30] [--delay 0.02]
The last line printed is one JSON object {"ttft_added_ms": …, "chunk_added_ms": …} (medians over
rounds; p90s, per-chunk p95/max, post_ms and the layer split as extra keys).
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import math
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # `python bench/stream.py` puts bench/ on sys.path, not the repo root.
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from blueprints.auth.service import create_user  # noqa: E402
from blueprints.playground import engine  # noqa: E402
from blueprints.playground import stream as pg_stream  # noqa: E402
from blueprints.providers.service import add_provider  # noqa: E402
from database import db  # noqa: E402
from tests.conftest import PASSWORD, make_app  # noqa: E402
from tests.fakerelay import NA_PLUS, FakeRelay  # noqa: E402

TTFT_GOAL, CHUNK_GOAL = 15.0, 5.0
MODEL, PROVIDER, USER = "bench-stream", "fake", "bench"
TIMEOUT = (3.0, 30.0)


def pieces(n: int) -> list[str]:
    """The scripted content chunks (distinct, so a lost or merged chunk shows)."""
    return [f"tok{i:03d} " for i in range(n)]


def serve_relay(conn, key: str, chunks: int, first_delay: float, delay: float) -> None:
    """Child process: the fake relay with the scripted model, until the parent says stop."""
    fake = FakeRelay(NA_PLUS, fault_sleep=2.0)
    fake.add_token(key)
    fake.script(MODEL, content=pieces(chunks), first_delay=first_delay, delay=delay)
    fake.start()
    conn.send(fake.url)
    conn.recv()
    fake.stop()
    conn.send(True)


def serve_app(conn, relay_url: str, folder: str) -> None:
    """Child process: relaydash on werkzeug's threaded server; answers "layers" with its stamps."""
    os.environ["RELAYDASH_INSTANCE"] = str(Path(folder) / "instance")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines on the table
    app = make_app(Path(folder), RELAY_CONNECT_TIMEOUT=3.0, RELAY_READ_TIMEOUT=10.0)
    with app.app_context():
        add_provider(PROVIDER, relay_url + "/v1")
        create_user(USER, PASSWORD)
    stamps: dict[str, list[float]] = {"sent": [], "read": [], "rendered": []}
    took, sse = engine._took, pg_stream.sse

    def stamped_took(out, event, reasoning, content, emit):
        if content and event is not None:
            if not stamps["read"]:
                stamps["sent"].append(out.marks.sent)
            stamps["read"].append(event.at)
        return took(out, event, reasoning, content, emit)

    def stamped_sse(event, data):
        if event.endswith("-content"):
            stamps["rendered"].append(time.perf_counter())
        return sse(event, data)

    engine._took, pg_stream.sse = stamped_took, stamped_sse
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn.send(f"http://127.0.0.1:{server.server_port}")
    while conn.recv() == "layers":
        conn.send({name: list(values) for name, values in stamps.items()})
        for values in stamps.values():
            values.clear()
    server.shutdown()
    thread.join(5)
    with app.app_context():
        db.engine.dispose()
    conn.send(True)


class Child:
    """A spawned process answering over a pipe; the first thing it sends is its URL."""

    def __init__(self, target, *args) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.proc.start()
        if not self.conn.poll(60):
            raise SystemExit(f"bench: {target.__name__} did not start")
        self.url: str = self.conn.recv()

    def ask(self, command: str):
        """Send a command, return the child's answer."""
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        """Stop the child's server and wait for the process to end."""
        if self.proc.is_alive():
            self.ask("stop")
        self.proc.join(10)


def lines(response: requests.Response) -> Iterator[tuple[float, bytes]]:
    """(arrival time, line) of a streamed body, split by hand over read1()."""
    pending = b""
    while chunk := response.raw.read1(65536):
        at = time.perf_counter()
        found = (pending + chunk).split(b"\n")
        pending = found.pop()
        for line in found:
            yield at, line.rstrip(b"\r")


def direct(relay_url: str, key: str, body: bytes) -> tuple[float, list[float], str]:
    """(start, content arrival times, text) of one streamed call straight to the relay."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with requests.Session() as session:  # a fresh connection, as relaydash's call makes
        start = time.perf_counter()
        response = session.post(
            relay_url + "/v1/chat/completions",
            data=body,
            headers=headers,
            stream=True,
            timeout=TIMEOUT,
        )
        if response.status_code != 200:
            raise SystemExit(f"bench: the relay answered {response.status_code}")
        arrivals, text = [], ""
        for at, line in lines(response):
            if not line.startswith(b"data:"):
                continue
            if (payload := line[5:].strip()) == b"[DONE]":
                break
            for choice in json.loads(payload).get("choices") or []:
                if content := (choice.get("delta") or {}).get("content"):
                    arrivals.append(at)
                    text += content
        response.close()
    return start, arrivals, text


def through(session: requests.Session, base: str, form: dict) -> tuple[float, float, list, str]:
    """(post seconds, GET start, c0-content arrival times, text) of one playground run."""
    started = time.perf_counter()
    page = session.post(base + "/playground/run", data=form, timeout=TIMEOUT)
    post = time.perf_counter() - started
    found = re.search(r'sse-connect="([^"]+)"', page.text)
    if page.status_code != 200 or found is None:
        raise SystemExit(f"bench: POST /playground/run answered {page.status_code}")
    start = time.perf_counter()
    response = session.get(base + html.unescape(found[1]), stream=True, timeout=TIMEOUT)
    if response.status_code != 200:
        raise SystemExit(f"bench: the run's stream answered {response.status_code}")
    arrivals, text, event, data = [], "", b"", []
    for at, line in lines(response):
        if line.startswith(b"event: "):
            event, data = line[7:], []
        elif line.startswith(b"data: "):
            data.append(line[6:].decode())
        elif not line and event:  # the blank line completes the event
            if event == b"c0-content":
                arrivals.append(at)
                text += html.unescape("\n".join(data))
            if event == b"done":
                break
            event = b""
    response.close()
    return post, start, arrivals, text


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def extras(mine: list[float], theirs: list[float]) -> list[float]:
    """Chunk i's delay beyond the first chunk, relaydash minus direct, in ms (i ≥ 1)."""
    return [((m - mine[0]) - (t - theirs[0])) * 1000 for m, t in zip(mine, theirs, strict=True)][1:]


ROWS = (  # series name → table label; None starts a section
    ("ttft_direct", "TTFT direct (POST → first content)"),
    ("ttft_relaydash", "TTFT via relaydash (GET → first c0-content)"),
    ("ttft_added", "TTFT added"),
    ("post", "POST /playground/run (before the GET)"),
    ("chunk_added", "chunk added (mean over a round's chunks)"),
    ("every_chunk", "chunk added (every chunk, every round)"),
    (None, "where relaydash's time goes (its own stamps, same monotonic clock):"),
    ("get_to_upstream", "  GET → upstream request sent"),
    ("upstream_ttft", "  upstream TTFT at relaydash − direct"),
    ("upstream_drift", "  upstream chunk drift at relaydash − direct"),
    ("handoff", "  upstream line read → SSE event rendered"),
    ("send", "  SSE event rendered → client has it"),
)


def series(rounds: list[dict]) -> dict[str, list[float]]:
    """Every measured quantity in ms, one value per round (per chunk for the per-chunk ones)."""
    out: dict[str, list[float]] = {name: [] for name, _label in ROWS if name}
    for got in rounds:
        (d0, d), (r0, r), stamps = got["direct"], got["relaydash"], got["layers"]
        read, rendered = stamps["read"], stamps["rendered"]
        out["ttft_direct"].append((d[0] - d0) * 1000)
        out["ttft_relaydash"].append((r[0] - r0) * 1000)
        out["ttft_added"].append(out["ttft_relaydash"][-1] - out["ttft_direct"][-1])
        out["post"].append(got["post"] * 1000)
        out["chunk_added"].append(statistics.fmean(extras(r, d)))
        out["every_chunk"] += extras(r, d)
        out["get_to_upstream"].append((stamps["sent"][0] - r0) * 1000)
        upstream = (read[0] - stamps["sent"][0]) * 1000
        out["upstream_ttft"].append(upstream - out["ttft_direct"][-1])
        out["upstream_drift"].append(statistics.fmean(extras(read, d)))
        out["handoff"] += [(b - a) * 1000 for a, b in zip(read, rendered, strict=True)]
        out["send"] += [(c - b) * 1000 for b, c in zip(rendered, r, strict=True)]
    return out


def measure(args: argparse.Namespace) -> list[dict]:
    """Start both servers, log in, run the interleaved rounds; the measured ones."""
    key = "sk-" + "b" * 48
    expected = "".join(pieces(args.chunks))
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hello"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    form = {
        **{"source": "pasted", "provider": PROVIDER, "key": key, "model": [MODEL]},
        **{"system": "You are terse.", "role": ["user"], "content": ["Say hello"]},
        **{"stream": "1", "format": "none", "repeat": "1"},
    }
    tmp = tempfile.TemporaryDirectory(prefix="relaydash-bench-")
    relay = Child(serve_relay, key, args.chunks, args.first_delay, args.delay)
    app = None
    rounds: list[dict] = []
    try:
        app = Child(serve_app, relay.url, tmp.name)
        session = requests.Session()
        login = {"username": USER, "password": PASSWORD}
        if session.post(app.url + "/login", data=login, allow_redirects=False).status_code != 303:
            raise SystemExit("bench: login failed")
        for i in range(args.warmup + args.n):
            got: dict = {}
            for side in ("direct", "relaydash") if i % 2 else ("relaydash", "direct"):
                if side == "direct":
                    start, arrivals, text = direct(relay.url, key, body)
                else:
                    got["post"], start, arrivals, text = through(session, app.url, form)
                    got["layers"] = app.ask("layers")  # and forget them
                if text != expected or len(arrivals) != args.chunks:
                    raise SystemExit(f"bench: {side} got {len(arrivals)} chunks, not the script")
                got[side] = (start, arrivals)
            if i >= args.warmup:
                rounds.append(got)
    finally:
        if app is not None:
            app.stop()
        relay.stop()
        tmp.cleanup()
    return rounds


def main() -> int:
    """Run the bench and print the table, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    parser.add_argument("--chunks", type=int, default=30, help="scripted content chunks")
    parser.add_argument("--first-delay", type=float, default=0.2, help="s before the first")
    parser.add_argument("--delay", type=float, default=0.02, help="s between chunks")
    args = parser.parse_args()
    found = series(measure(args))

    print(
        f"fake relay (own process): first chunk after {args.first_delay * 1000:.0f} + "
        f"{args.delay * 1000:.0f} ms, {args.chunks} chunks {args.delay * 1000:.0f} ms apart; "
        f"relaydash on werkzeug threaded (own process); n={args.n} rounds, interleaved"
    )
    print(f"{'ms':44}{'median':>9}{'p90':>9}{'min':>9}{'max':>9}")
    for name, label in ROWS:
        if name is None:
            print(label)
            continue
        values = found[name]
        med, p90, low, high = statistics.median(values), pct(values, 0.9), min(values), max(values)
        print(f"{label:44}{med:9.1f}{p90:9.1f}{low:9.1f}{high:9.1f}")
    ttft_added = statistics.median(found["ttft_added"])
    chunk_added = statistics.median(found["chunk_added"])
    ok = ttft_added <= TTFT_GOAL and chunk_added <= CHUNK_GOAL
    print(
        f"ttft_added_ms {ttft_added:.1f} (goal ≤ {TTFT_GOAL:.0f}), chunk_added_ms "
        f"{chunk_added:.2f} (goal ≤ {CHUNK_GOAL:.0f}): {'met' if ok else 'not met'}"
    )
    result = {
        "ttft_added_ms": round(ttft_added, 2),
        "chunk_added_ms": round(chunk_added, 2),
        "ttft_added_p90_ms": round(pct(found["ttft_added"], 0.9), 2),
        "chunk_added_p90_ms": round(pct(found["chunk_added"], 0.9), 2),
        "chunk_added_p95_ms": round(pct(found["every_chunk"], 0.95), 2),
        "chunk_added_max_ms": round(max(found["every_chunk"]), 2),
    }
    for name in ("ttft_direct", "ttft_relaydash", "post", "get_to_upstream", "upstream_drift"):
        result[f"{name}_ms"] = round(statistics.median(found[name]), 2)
    for name in ("handoff", "send"):  # per chunk
        result[f"{name}_ms"] = round(statistics.median(found[name]), 3)
    result.update(server="werkzeug-threaded", chunks=args.chunks, n=args.n)
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
