"""One chat completion against a relay, as events in arrival order; stoppable from any thread."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from . import http as relay_http
from .balance import parse_models
from .calls import MODELS, call
from .values import finite_float, reject_constant

log = logging.getLogger(__name__)

CHAT = "/v1/chat/completions"
READ_SIZE = 65536
MAX_LINE = 4 << 20  # no relay sends a 4 MiB SSE line; past this it is not SSE
MAX_BODY = 16 << 20

# Read failures of a started body: the wire broke, not the relay's JSON.
_READ_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError)
_RESETS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_TIMEOUTS = (urllib3.exceptions.TimeoutError, requests.exceptions.Timeout, TimeoutError)


@dataclass(frozen=True)
class Event:
    """One thing the relay said, stamped with time.perf_counter() on arrival."""

    kind: str  # "data" | "comment" | "done" | "error" | "broken"
    at: float
    data: dict | None = None  # "data": the chunk JSON (a non-stream reply: the whole body)
    raw: str = ""  # the SSE line as received, without its newline; "" for non-stream replies
    answer: relay_http.Answer | None = None  # "error": status, kind and the relay's message
    reason: str | None = None  # "broken": "reset" | "timeout" | "eof" | "stopped" | "malformed"


class ChatCall:
    """One POST /v1/chat/completions: iterate events(); stop() from any thread ends it."""

    def __init__(
        self,
        base_url: str,
        key: str,
        body: bytes,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url
        self._key = key  # never in a repr, a log line or an event
        self.body = body
        self.timeout = (connect_timeout, read_timeout)
        self.sent_at: float | None = None
        self.headers_at: float | None = None
        self.status: int | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._started = False

    def stop(self) -> None:
        """Shut the upstream socket now (any thread, any time, repeatable); events() then ends."""
        self._stopped.set()
        with self._lock:
            if self._sock is not None:
                _shutdown(self._sock)

    def events(self) -> Iterator[Event]:
        """The call's events in order; the last one is "done", "error" or "broken". Runs once."""
        if self._started:
            raise RuntimeError("a ChatCall runs once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[Event]:
        # A session of its own: a stopped or broken connection must never go back to a pool.
        session = relay_http.make_session(pool=1)
        adapter = _Adapter(self._attach)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        end = "abandoned"  # the consumer stopped iterating
        try:
            for event in self._exchange(session):
                if event.kind in ("done", "error", "broken"):
                    end = event.reason or (event.answer.kind if event.answer else event.kind)
                yield event
        finally:
            with self._lock:
                self._sock = None
            session.close()
            # status and outcome only: never the body, the reply or the key
            log.debug("chat call ended: status=%s end=%s", self.status, end)

    def _attach(self, sock: socket.socket) -> None:
        """Called by the connection once connected; a stop() that came first takes effect now."""
        with self._lock:
            self._sock = sock
            if self._stopped.is_set():
                _shutdown(sock)

    def _exchange(self, session: requests.Session) -> Iterator[Event]:
        if self._stopped.is_set():
            yield self._broken("stopped")
            return
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream, application/json",
            "Accept-Encoding": "identity",
        }
        self.sent_at = time.perf_counter()
        try:
            response = session.post(
                self.base_url + CHAT,
                data=self.body,
                headers=headers,
                stream=True,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            # No reply at all. The exception text holds the URL: only its type is looked at.
            why, at = self._why(exc), time.perf_counter()
            kind = {"timeout": relay_http.TIMEOUT, "reset": relay_http.RESET}
            answer = relay_http.Answer(CHAT, kind.get(why, relay_http.UNREACHABLE))
            failed = Event("error", at, answer=replace(answer, elapsed_ms=self._ms(at)))
            yield self._broken(why) if why == "stopped" else failed
            return
        self.headers_at = time.perf_counter()
        self.status = response.status_code
        with response:
            ctype = response.headers.get("Content-Type", "").lower()
            if 200 <= response.status_code < 300 and ctype.startswith("text/event-stream"):
                yield from self._stream(response.raw)
            else:
                yield from self._reply(response)

    def _stream(self, raw: urllib3.BaseHTTPResponse) -> Iterator[Event]:
        """SSE split by hand over read1(): iter_lines() buffers close-delimited streams."""
        pending = b""
        while True:
            chunk = self._read(raw)
            at = time.perf_counter()
            if isinstance(chunk, str):
                yield self._broken(chunk)
                return
            lines = (pending + chunk).split(b"\n")
            # at the end a last line without its newline still counts
            pending = lines.pop() if chunk else b""
            for line in lines:
                if self._stopped.is_set():
                    yield self._broken("stopped")
                    return
                event = self._line(line.rstrip(b"\r"), at)
                if event is not None:
                    yield event
                    if event.kind in ("done", "broken"):
                        return
            if not chunk or len(pending) > MAX_LINE:
                yield self._broken("eof" if not chunk else "malformed")
                return

    def _line(self, line: bytes, at: float) -> Event | None:
        if not line:
            return None  # the blank line between events
        text = line.decode("utf-8", "replace")
        if not text.startswith("data:"):
            # ": PING" keep-alives, and event:/id:/retry: fields a relay has no use for
            return Event("comment", at, raw=text)
        payload = text[5:].strip()
        if payload == "[DONE]":
            return Event("done", at, raw=text)
        try:
            data = json.loads(payload, parse_float=finite_float, parse_constant=reject_constant)
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's stack
            return Event("broken", at, raw=text, reason="malformed")
        if not isinstance(data, dict):
            return Event("broken", at, raw=text, reason="malformed")
        if isinstance(data.get("error"), dict | str) and data["error"]:
            # An upstream error forwarded inside the stream; the stream may go on.
            message = relay_http.error_message(data)
            answer = relay_http.Answer(CHAT, relay_http.SERVER_ERROR, self.status, data, message)
            return Event("error", at, raw=text, answer=answer)
        return Event("data", at, data=data, raw=text)

    def _reply(self, response: requests.Response) -> Iterator[Event]:
        """A plain reply: an error before the stream, or a stream:false completion."""
        body = bytearray()
        while chunk := self._read(response.raw):
            if isinstance(chunk, str) or len(body) > MAX_BODY:
                yield self._broken(chunk if isinstance(chunk, str) else "malformed")
                return
            body += chunk
        at = time.perf_counter()
        status, headers = response.status_code, response.headers
        answer = relay_http.classify(CHAT, status, headers, bytes(body), self._ms(at))
        if answer.kind == relay_http.RATE_LIMITED and body.strip():
            # classify() skips a 429's body; new-api's model rate limit puts its text there
            with contextlib.suppress(ValueError, RecursionError):
                data = json.loads(body, parse_float=finite_float, parse_constant=reject_constant)
                answer = replace(answer, data=data, message=relay_http.error_message(data))
        if answer.ok and not isinstance(answer.data, dict):
            answer = replace(answer, kind=relay_http.MALFORMED)
        if not answer.ok:
            yield Event("error", at, answer=answer)
            return
        yield Event("data", at, data=answer.data)
        yield Event("done", at)

    def _read(self, raw: urllib3.BaseHTTPResponse) -> bytes | str:
        """The next bytes of the body (b"" at its end), or why reading it failed."""
        try:
            # decode_content: a relay that gzips despite Accept-Encoding: identity still reads
            chunk = raw.read1(READ_SIZE, decode_content=True)
        except _READ_ERRORS as exc:
            return self._why(exc)
        # after stop() the shut socket reads as a clean end: that is not the relay's doing
        return "stopped" if self._stopped.is_set() else chunk

    def _why(self, exc: BaseException) -> str:
        if self._stopped.is_set():
            return "stopped"
        if isinstance(exc, _TIMEOUTS):
            return "timeout"
        return "reset" if _resets(exc) else "eof"

    def _broken(self, reason: str) -> Event:
        return Event("broken", time.perf_counter(), reason=reason)

    def _ms(self, at: float) -> float:
        return (at - self.sent_at) * 1000 if self.sent_at is not None else 0.0


def models(base_url: str, key: str, *, timeout) -> tuple[relay_http.Answer, list[str] | None]:
    """The key's model ids from /v1/models (sorted), or None with the answer that says why."""
    answer = call(base_url, MODELS, key, timeout=timeout)
    if not answer.ok:
        return answer, None
    ids = parse_models(answer.data)
    if ids is None:
        return replace(answer, kind=relay_http.MALFORMED), None
    return answer, ids


def _resets(exc: BaseException) -> bool:
    """True when a reset (RST, or a close before any reply) is anywhere in the exception chain."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, _RESETS):  # RemoteDisconnected is a ConnectionResetError
            return True
        linked = (err.__cause__, err.__context__, getattr(err, "reason", None), *err.args)
        todo.extend(x for x in linked if isinstance(x, BaseException))
    return False


def _shutdown(sock: socket.socket) -> None:
    # shutdown(), not close(): it wakes a thread blocked in recv() on this socket at once,
    # and the fd stays owned by the reading thread, so it cannot be reused under it.
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """urllib3 connection mixin: hand the socket to `attach` as soon as it is connected."""

    sock: Any

    def __init__(self, *args: Any, attach: Callable[[socket.socket], None], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._attach = attach

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._attach(self.sock)


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


_WATCHED: dict[type, type] = {HTTPConnection: _WatchedHTTP, HTTPSConnection: _WatchedHTTPS}


class _Adapter(HTTPAdapter):
    """A one-connection adapter whose connections report their socket (so stop() can reach it)."""

    def __init__(self, attach: Callable[[socket.socket], None]) -> None:
        self._attach = attach
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        watched = _WATCHED.get(pool.ConnectionCls)
        if watched is not None:  # leave other kinds (SOCKS) alone: stop() then waits for a read
            pool.ConnectionCls = watched
            pool.conn_kw["attach"] = self._attach
        return pool
