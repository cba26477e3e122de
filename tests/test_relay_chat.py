"""relay.chat against the fake relay on a real socket: events, timing, errors, breaks, Stop."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from relay import http
from relay.chat import CHAT, ChatCall, Event, models
from tests.fakerelay import DEFAULT_GROUP_MODELS, FLAVORS, FakeRelay, Token

PROMPT = "PROMPT-TEXT-7f3a"  # must never reach a log line
ANSWER = ["ANSWER-", "TEXT-", "9c2e"]
SLACK = 0.05  # timer and scheduler jitter allowed below a scripted delay


def chat_body(model: str, *, stream: bool = True, usage: bool = True) -> bytes:
    payload: dict = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    payload["stream"] = stream
    if stream and usage:
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


def run(fake: FakeRelay, token: Token | str, body: bytes, **kw) -> tuple[ChatCall, list[Event]]:
    key = token if isinstance(token, str) else token.key
    call = ChatCall(fake.url, key, body, **kw)
    return call, list(call.events())


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def deltas(events: list[Event], field: str) -> list[str]:
    return [
        e.data["choices"][0]["delta"][field]
        for e in events
        if e.kind == "data" and e.data["choices"] and field in e.data["choices"][0]["delta"]
    ]


@contextmanager
def raw_server(writes: list[tuple[float, bytes]]) -> Iterator[str]:
    """A one-request HTTP server that writes exactly `writes` (pause, bytes), then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                (
                    int(h.split(b":")[1])
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length")
                ),
                0,
            )
            while len(body) < length:  # read it all, or close() would send an RST
                body += conn.recv(65536)
            for pause, data in writes:
                time.sleep(pause)
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        thread.join(5)
        listener.close()


def closed_port_url() -> str:
    """A local URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


CLOSE_DELIMITED = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


# -- a normal stream ---------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_stream_events_in_order(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.script("scripted", content=ANSWER, prompt_tokens=21)
    call, events = run(fake, token, chat_body("scripted"))
    # role chunk, 3 content chunks, finish chunk, usage chunk, [DONE]
    assert kinds(events) == ["data"] * 6 + ["done"]
    assert call.sent_at < call.headers_at <= events[0].at
    assert all(a.at <= b.at for a, b in zip(events, events[1:], strict=False))
    assert "".join(deltas(events, "content")) == "".join(ANSWER)
    assert events[4].data["choices"][0]["finish_reason"] == "stop"
    assert events[5].data["choices"] == []
    assert events[5].data["usage"] == {
        "prompt_tokens": 21,
        "completion_tokens": 3,
        "total_tokens": 24,
    }
    assert all(e.raw.startswith("data: {") and json.loads(e.raw[6:]) == e.data for e in events[:6])
    assert events[-1].raw == "data: [DONE]"
    # the fake's built-in reply streams the same way
    call, events = run(fake, token, chat_body("gpt-4o-mini"))
    assert kinds(events)[-1] == "done"
    assert "".join(deltas(events, "content")) == "Hello from fake relay"


@pytest.mark.parametrize(
    ("mode", "asked", "sent"),
    [
        ("asked", True, True),
        ("asked", False, False),
        ("never", True, False),
        ("always", False, True),
    ],
)
def test_usage_chunk_present_or_absent(fake, mode, asked, sent):
    token = fake.add_token()
    fake.script("m", content=["a", "b"], usage=mode)
    _, events = run(fake, token, chat_body("m", usage=asked))
    usage = [e.data["usage"] for e in events if e.kind == "data" and e.data.get("usage")]
    assert usage == (
        [{"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}] if sent else []
    )
    assert kinds(events)[-1] == "done"


# -- timing -----------------------------------------------------------------------------------


def test_event_times_show_the_scripted_gaps(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b", "c"], first_delay=0.3, delay=0.1)
    call, events = run(fake, token, chat_body("m"))
    assert events[0].at - call.headers_at >= 0.3 - SLACK
    assert events[0].at - call.sent_at >= 0.3 - SLACK
    gaps = [b.at - a.at for a, b in zip(events, events[1:], strict=False)]
    assert all(gap >= 0.1 - SLACK for gap in gaps), gaps


def test_each_chunk_arrives_on_its_own(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b", "c", "d"], delay=0.2)
    seen: list[float] = []
    for _ in ChatCall(fake.url, token.key, chat_body("m")).events():
        seen.append(time.perf_counter())
    # each chunk was handed over before the fake even sent the next one
    assert all(b - a >= 0.15 for a, b in zip(seen, seen[1:], strict=False)), seen


def test_close_delimited_stream_is_not_buffered():
    """No Content-Length, no chunking: iter_lines() would hold every event until the close."""
    event = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    writes = [(0.0, CLOSE_DELIMITED)] + [(0.2, event)] * 3 + [(0.2, b"data: [DONE]\n\n")]
    with raw_server(writes) as url:
        events = list(ChatCall(url, "sk-test", b"{}").events())
    assert kinds(events) == ["data", "data", "data", "done"]
    gaps = [b.at - a.at for a, b in zip(events, events[1:], strict=False)]
    assert all(gap >= 0.15 for gap in gaps), gaps


def test_sse_oddities_on_a_raw_wire():
    """CRLF lines, other SSE fields, a final [DONE] without its newline."""
    writes = [
        (0.0, CLOSE_DELIMITED),
        (0.0, b'event: message\r\nid: 1\r\ndata:{"choices":[]}\r\n\r\n'),
        (0.0, b"data: [DONE]"),
    ]
    with raw_server(writes) as url:
        events = list(ChatCall(url, "sk-test", b"{}").events())
    assert kinds(events) == ["comment", "comment", "data", "done"]
    assert [e.raw for e in events] == [
        "event: message",
        "id: 1",
        'data:{"choices":[]}',
        "data: [DONE]",
    ]


@pytest.mark.parametrize("line", [b"data: not json", b"data: [1, 2]", b'data: {"a": NaN}'])
def test_non_json_data_line_is_malformed(line):
    with raw_server([(0.0, CLOSE_DELIMITED), (0.0, line + b"\n\ndata: [DONE]\n\n")]) as url:
        events = list(ChatCall(url, "sk-test", b"{}").events())
    assert kinds(events) == ["broken"]
    assert events[0].reason == "malformed" and events[0].raw == line.decode()


# -- comments and reasoning ---------------------------------------------------------------------


def test_ping_comment_before_first_data(fake):
    token = fake.add_token()
    fake.script("m", content=["a"], ping=True, first_delay=0.2)
    _, events = run(fake, token, chat_body("m"))
    assert events[0].kind == "comment" and events[0].raw == ": PING"
    assert events[1].kind == "data"
    assert events[1].at - events[0].at >= 0.2 - SLACK  # the ping did not wait for the data


@pytest.mark.parametrize("flavor", FLAVORS)
def test_reasoning_deltas(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.script("thinker", content=["42"], reasoning=["Let me ", "think."])
    _, events = run(fake, token, chat_body("thinker"))
    assert deltas(events, "reasoning_content") == ["Let me ", "think."]
    # new-api sets both fields to the same text; one-api passes reasoning_content only
    assert deltas(events, "reasoning") == ([] if flavor == "one-api" else ["Let me ", "think."])
    first_content = next(i for i, e in enumerate(events) if deltas([e], "content") == ["42"])
    assert first_content > max(i for i, e in enumerate(events) if deltas([e], "reasoning_content"))
    usage = events[-2].data["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 2}


# -- non-stream replies and errors before the stream -----------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_non_stream_reply(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.script("m", content=ANSWER)
    _, events = run(fake, token, chat_body("m", stream=False))
    assert kinds(events) == ["data", "done"]
    reply = events[0].data
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "".join(ANSWER)
    assert reply["usage"]["completion_tokens"] == 3
    assert events[0].raw == ""


@pytest.mark.parametrize("flavor", FLAVORS)
def test_401_before_stream(relays, flavor):
    fake = relays(flavor)
    call, events = run(fake, "sk-" + "x" * 48, chat_body("gpt-4o"))
    assert kinds(events) == ["error"]
    answer = events[0].answer
    assert (answer.kind, answer.status, answer.path) == (http.DENIED, 401, CHAT)
    assert answer.message.startswith("无效的令牌 (request id: ")
    expected = "one_api_error" if flavor == "one-api" else "new_api_error"
    assert answer.data["error"]["type"] == expected
    assert call.status == 401 and call.headers_at is not None


@pytest.mark.parametrize("flavor", FLAVORS)
def test_model_not_available_before_stream(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    _, events = run(fake, token, chat_body("no-such-model"))
    assert kinds(events) == ["error"]
    answer = events[0].answer
    assert (answer.kind, answer.status) == (http.SERVER_ERROR, 503)
    assert "no-such-model" in answer.message and "无可用渠道" in answer.message
    code = answer.data["error"].get("code")
    assert code == ("model_not_found" if flavor == "new-api-2026" else None)


@pytest.mark.parametrize(
    ("fault", "kind", "status", "message"),
    [
        ("429", http.RATE_LIMITED, 429, ""),
        ("429_json", http.RATE_LIMITED, 429, "您已达到请求数限制：1分钟内最多请求60次"),
        ("500", http.SERVER_ERROR, 500, "internal server error"),
        ("503", http.SERVER_ERROR, 503, "service unavailable"),
        ("502_html", http.SERVER_ERROR, 502, ""),
        ("html", http.HTML, 200, ""),
        ("malformed", http.MALFORMED, 200, ""),
        ("db_error", http.SERVER_ERROR, 200, "database error"),
    ],
)
def test_error_reply_before_stream(fake, fault, kind, status, message):
    token = fake.add_token()
    fake.set_fault(CHAT, fault)
    _, events = run(fake, token, chat_body("gpt-4o"))
    assert kinds(events) == ["error"]
    answer = events[0].answer
    assert (answer.kind, answer.status, answer.message) == (kind, status, message)


def test_no_reply_at_all(relays):
    fake = relays(fault_sleep=1.0)
    token = fake.add_token()
    fake.set_fault(CHAT, "reset", times=1)
    _, events = run(fake, token, chat_body("gpt-4o"))
    assert kinds(events) == ["error"] and events[0].answer.kind == http.RESET
    fake.set_latency(1.0, CHAT)
    _, events = run(fake, token, chat_body("gpt-4o"), read_timeout=0.3)
    assert kinds(events) == ["error"] and events[0].answer.kind == http.TIMEOUT
    assert events[0].answer.status is None
    events = list(ChatCall(closed_port_url(), token.key, chat_body("gpt-4o")).events())
    assert kinds(events) == ["error"] and events[0].answer.kind == http.UNREACHABLE


# -- errors and breaks inside the stream ---------------------------------------------------------


def test_in_stream_error_then_done(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b", "c"], end="error_after:1")
    _, events = run(fake, token, chat_body("m"))
    assert kinds(events) == ["data", "data", "error", "done"]
    answer = events[2].answer
    assert (answer.kind, answer.status, answer.message) == (
        http.SERVER_ERROR,
        200,
        "upstream error",
    )
    assert events[2].raw.startswith('data: {"error":')


def test_reset_mid_stream_keeps_the_partial_chunks(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b", "c", "d"], end="reset_after:2", delay=0.05)
    _, events = run(fake, token, chat_body("m"))
    assert kinds(events) == ["data", "data", "data", "broken"]
    assert deltas(events, "content") == ["", "a", "b"]  # the role chunk carries ""
    assert events[-1].reason == "reset"
    # the fake's older fault: half the events, then an RST
    fake.chunk_delay = 0.05
    fake.set_fault(CHAT, "reset_mid", times=1)
    _, events = run(fake, token, chat_body("gpt-4o"))
    assert kinds(events)[-1] == "broken" and events[-1].reason == "reset"
    assert kinds(events)[:-1] == ["data"] * 4  # of role, 4 content, finish, usage, [DONE]


def test_eof_without_done(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b"], end="eof")
    _, events = run(fake, token, chat_body("m"))
    assert kinds(events) == ["data"] * 5 + ["broken"]
    assert events[-1].reason == "eof"
    assert events[-3].data["choices"][0]["finish_reason"] == "stop"


def test_read_timeout_mid_stream(fake):
    token = fake.add_token()
    fake.script("m", content=["a", "b"], delay=1.0)
    call, events = run(fake, token, chat_body("m"), read_timeout=0.3)
    assert kinds(events) == ["data", "broken"]
    assert events[-1].reason == "timeout"
    assert 0.3 - SLACK <= events[-1].at - events[0].at < 0.9


# -- Stop ---------------------------------------------------------------------------------------


def wait_for_hangup(fake: FakeRelay, within: float) -> list[tuple[str, int]]:
    deadline = time.monotonic() + within
    while not fake.hangups and time.monotonic() < deadline:
        time.sleep(0.01)
    return fake.hangups


def stop_later(call: ChatCall, after: float, marks: list[float]) -> None:
    def later() -> None:
        time.sleep(after)
        marks.append(time.perf_counter())
        call.stop()

    threading.Thread(target=later, daemon=True).start()


def test_stop_from_another_thread_mid_stream(fake):
    token = fake.add_token()
    fake.script("slow", content=["a"] * 10, delay=1.0)
    call = ChatCall(fake.url, token.key, chat_body("slow"))
    events: list[Event] = []
    marks: list[float] = []
    for event in call.events():
        events.append(event)
        if len(events) == 2:  # role chunk and first content chunk; the next is 1 s away
            stop_later(call, 0.2, marks)
    assert kinds(events) == ["data", "data", "broken"]
    assert events[-1].reason == "stopped"
    assert events[-1].at - marks[0] < 0.5
    # the fake saw the hang-up at once, after the two events it had sent
    assert wait_for_hangup(fake, 0.5) == [("slow", 2)]
    assert time.perf_counter() - marks[0] < 0.6


def test_stop_before_the_headers(fake):
    token = fake.add_token()
    fake.script("slow", content=["a"], first_delay=3.0)
    call = ChatCall(fake.url, token.key, chat_body("slow", stream=False))
    marks: list[float] = []
    stop_later(call, 0.2, marks)
    events = list(call.events())
    assert kinds(events) == ["broken"] and events[0].reason == "stopped"
    assert events[0].at - marks[0] < 0.5
    assert wait_for_hangup(fake, 0.5) == [("slow", 0)]


def test_stop_before_events_sends_nothing(fake):
    token = fake.add_token()
    call = ChatCall(fake.url, token.key, chat_body("gpt-4o"))
    call.stop()
    events = list(call.events())
    assert kinds(events) == ["broken"] and events[0].reason == "stopped"
    assert fake.requests_to(CHAT) == []
    call.stop()  # again, after the end: harmless
    with pytest.raises(RuntimeError):
        call.events()


def test_consumer_walking_away_closes_the_connection(fake):
    token = fake.add_token()
    fake.script("slow", content=["a"] * 10, delay=0.3)
    events = ChatCall(fake.url, token.key, chat_body("slow")).events()
    assert next(events).kind == "data"
    events.close()  # type: ignore[attr-defined]
    assert wait_for_hangup(fake, 0.5) == [("slow", 1)]


# -- what is sent, and what is never written down -------------------------------------------------


def test_body_bytes_sent_verbatim(fake):
    token = fake.add_token()
    body = (
        '{ "model":"gpt-4o",\n  "messages":[{"role":"user","content":"h\\u00e9 é 1e2"}] }'.encode()
    )
    _, events = run(fake, token, body)
    assert kinds(events) == ["data", "done"]
    (seen,) = fake.requests_to(CHAT)
    assert seen.method == "POST" and seen.body == body
    assert seen.headers["Authorization"] == f"Bearer {token.key}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert seen.query == {}


def test_key_and_content_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    token = fake.add_token()
    fake.script("m", content=ANSWER, end="reset_after:2", delay=0.02)
    fake.script("slow", content=ANSWER, delay=1.0)
    outcomes = []
    for key, model in ((token.key, "m"), (token.key, "gpt-4o"), ("sk-" + "y" * 48, "m")):
        outcomes += run(fake, key, chat_body(model))[1]
    call = ChatCall(fake.url, token.key, chat_body("slow"))
    stop_later(call, 0.2, [])
    outcomes += list(call.events())
    outcomes += list(ChatCall(closed_port_url(), token.key, chat_body("m")).events())
    assert {e.kind for e in outcomes} >= {"data", "error", "broken", "done"}
    assert any("chat call ended" in r.getMessage() for r in caplog.records)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for secret in (token.key, token.key.removeprefix("sk-"), PROMPT, "".join(ANSWER), ANSWER[2]):
        assert secret not in logged
        assert secret not in repr([e.answer for e in outcomes])
        assert secret not in repr([(e.kind, e.reason) for e in outcomes])


# -- models ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_models_per_flavor(relays, flavor):
    fake = relays(flavor)
    token = fake.add_token()
    fake.script("zz-scripted", content=["a"])
    answer, ids = models(fake.url, token.key, timeout=(1.0, 1.0))
    assert answer.ok and answer.status == 200
    assert ids == sorted([*DEFAULT_GROUP_MODELS, "zz-scripted"])
    narrow = fake.add_token(models=["gpt-4o", "deepseek-chat"])
    assert models(fake.url, narrow.key, timeout=(1.0, 1.0))[1] == ["deepseek-chat", "gpt-4o"]
    answer, ids = models(fake.url, "sk-" + "z" * 48, timeout=(1.0, 1.0))
    assert (answer.kind, answer.status, ids) == (http.DENIED, 401, None)
    assert answer.message.startswith("无效的令牌")


def test_models_without_a_data_list():
    body = b'{"object":"list"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    with raw_server([(0.0, head % len(body) + body)]) as url:
        answer, ids = models(url, "sk-test", timeout=(1.0, 1.0))
    assert (answer.kind, ids) == (http.MALFORMED, None)


def test_it_reads_a_chunk_nested_past_the_parser_as_a_broken_stream():
    """An SSE line of 2,000 open brackets ends the stream as malformed, not in a RecursionError."""
    call = ChatCall("http://127.0.0.1:9", "sk-test", b"{}")
    event = call._line(b"data: " + b"[" * 2000, time.perf_counter())
    assert (event.kind, event.reason) == ("broken", "malformed")
