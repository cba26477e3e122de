"""Calling the relay for a run: one worker per column, news handed to the stream as plain data.

Workers never render or log: they read upstream events, time them with the monotonic clock the
events carry, and put (column, kind, payload) tuples on a queue. The stream (stream.py) renders.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from relay.chat import ChatCall, Event
from relay.http import Answer

from .build import Column
from .metrics import Marks, Metrics, measure
from .runs import Run
from .schema import check_output
from .think import ThinkSplitter

RAW_CHUNKS = 200  # chunks kept for the Raw tab
VERDICT_EVERY = 0.15  # seconds between partial schema checks while streaming

POOL = ThreadPoolExecutor(max_workers=48, thread_name_prefix="playground")


@dataclass
class Outcome:
    """What one call to the relay produced."""

    content: str = ""
    reasoning: str = ""
    marks: Marks = field(default_factory=Marks)
    usage: dict | None = None
    finish: str | None = None
    response_id: str | None = None
    model: str | None = None
    error: Answer | None = None  # refused before the stream started
    stream_error: str | None = None  # an error event inside the stream (relay text)
    broken: str | None = None  # "reset" | "timeout" | "eof" | "stopped" | "malformed"
    done: bool = False
    chunks: list[str] = field(default_factory=list)
    metrics: Metrics | None = None

    @property
    def cut_off(self) -> bool:
        """The answer is partial: the stream broke, errored, or ended without a finish reason."""
        if self.error is not None:
            return False
        return bool(self.broken or self.stream_error or self.finish is None)


Emit = Callable[[str, object], None]


def call_once(
    run: Run, column: Column, timeouts: tuple[float, float], emit: Emit | None
) -> Outcome:
    """One request; with `emit`, tokens and partial verdicts are announced as they arrive."""
    out = Outcome()
    call = ChatCall(
        run.base_url, run.key, column.data, connect_timeout=timeouts[0], read_timeout=timeouts[1]
    )
    if not run.attach(call):
        out.broken = "stopped"
        return out
    splitter, checked = ThinkSplitter(), 0.0
    for event in call.events():
        out.marks.sent = call.sent_at
        if len(out.chunks) < RAW_CHUNKS and event.raw:
            out.chunks.append(event.raw)
        if event.kind == "data":
            if out.marks.first_event is None:
                out.marks.first_event = event.at
            reasoning, content = _read(event.data or {}, out, splitter)
            _took(out, event, reasoning, content, emit)
            if emit and run.spec.mode != "none" and event.at - checked >= VERDICT_EVERY:
                checked = event.at
                emit("verdict", check_output(out.content, run.spec.schema, final=False))
        elif event.kind == "error":
            if out.marks.first_event is None and event.raw == "":
                out.error = event.answer
            else:
                out.stream_error = (event.answer.message if event.answer else "") or "error"
        elif event.kind == "done":
            out.done = True
        elif event.kind == "broken":
            out.broken = event.reason or "reset"
    reasoning, content = splitter.flush()
    _took(out, None, reasoning, content, emit)
    out.marks.end = time.perf_counter()
    return out


def _read(data: dict, out: Outcome, splitter: ThinkSplitter) -> tuple[str, str]:
    """(reasoning, content) text of one chunk (or a whole non-stream reply); notes usage."""
    out.response_id = out.response_id or _text(data.get("id")) or None
    out.model = out.model or _text(data.get("model")) or None
    if isinstance(data.get("usage"), dict):
        out.usage = data["usage"]
    reasoning, content = "", ""
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        part = choice.get("delta") if "delta" in choice else choice.get("message")
        if isinstance(part, dict):
            # new-api sets reasoning_content and reasoning to the same text: take one, never both.
            reasoning += _text(part.get("reasoning_content")) or _text(part.get("reasoning"))
            content += _text(part.get("content"))
        if isinstance(choice.get("finish_reason"), str):
            out.finish = choice["finish_reason"]
    thought, said = splitter.feed(content)
    return reasoning + thought, said


def _took(out: Outcome, event: Event | None, reasoning: str, content: str, emit: Emit | None):
    at = event.at if event is not None else time.perf_counter()
    marks = out.marks
    if reasoning:
        out.reasoning += reasoning
        marks.first_reasoning = marks.first_reasoning or at
        if emit:
            emit("reasoning", reasoning)
    if content:
        out.content += content
        marks.first_content = marks.first_content or at
        if emit:
            emit("content", content)
    if (reasoning or content) and event is not None:
        marks.last_token = at
        marks.token_chunks += 1


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def run_column(
    run: Run, index: int, timeouts: tuple[float, float], news: queue.Queue
) -> list[Outcome]:
    """Every repetition of one column; the first one streams its tokens to the page."""
    column = run.spec.columns[index]
    price = run.prices.get(column.model)
    outcomes: list[Outcome] = []
    try:
        for n in range(run.spec.repeat):
            if run.stopped.is_set():
                break

            def emit(kind: str, payload, _n=n) -> None:
                news.put((index, kind, payload))

            out = call_once(run, column, timeouts, emit if n == 0 else None)
            out.metrics = measure(
                out.marks, out.usage, run.spec.prompt_text, out.reasoning + out.content, price
            )
            outcomes.append(out)
            if run.spec.repeat > 1:
                news.put((index, "repeat", (n + 1, out)))
            if out.error is not None:
                break  # a refusal repeats itself: do not spend the remaining runs
    finally:
        news.put((index, "end", outcomes))
    return outcomes


def start(run: Run, timeouts: tuple[float, float]) -> queue.Queue:
    """Start one worker per column; their news arrives on the returned queue."""
    news: queue.Queue = queue.Queue()
    for index in range(len(run.spec.columns)):
        POOL.submit(run_column, run, index, timeouts, news)
    return news
