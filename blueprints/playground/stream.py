"""A run's Server-Sent Events: tokens as they arrive, then metrics, verdicts, raw data and diffs.

Every column of a compare (and every repetition) shares this one stream: browsers allow six
connections per origin, and a Stop POST must still get through. Each event carries an HTML
fragment that htmx's sse extension swaps into the element listening for that event name.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator

from flask import render_template
from markupsafe import escape

from . import engine, pending
from .catalog import models
from .diff import answer_diff
from .errors import BROKEN, refusal
from .metrics import p50_p95
from .runs import RUNS, Run
from .schema import check_output

KEEPALIVE = 15.0  # seconds of silence before a comment line keeps proxies from closing the stream
STOP_CHECK = 0.5  # seconds between looks at the run's row for a Stop sent to another worker


def sse(event: str, data: str) -> str:
    """One SSE event; every line of data gets its own data: field (CR is a line break too)."""
    lines = str(data).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def events(run: Run, timeouts: tuple[float, float]) -> Iterator[str]:
    """The whole stream of one run; the upstream calls stop when the browser goes away."""
    try:
        yield ": relaydash\n\n"  # headers and a first byte now, so the page knows it is live
        news = engine.start(run, timeouts)
        finished: dict[int, list[engine.Outcome]] = {}
        now = time.monotonic()
        said, checked, renewed = now, now, now
        while len(finished) < len(run.spec.columns):
            now = time.monotonic()
            if now - checked >= STOP_CHECK and not run.stopped.is_set():
                checked = now
                if now - renewed >= pending.RENEW_SECONDS:
                    renewed = now
                    wanted = pending.renew(run.id)
                else:
                    wanted = not pending.stop_requested(run.id)
                if not wanted:
                    run.stop()
            try:
                index, kind, payload = news.get(timeout=STOP_CHECK)
            except queue.Empty:
                if time.monotonic() - said >= KEEPALIVE:
                    said = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            said = time.monotonic()
            name = f"c{index}"
            if kind in ("content", "reasoning"):
                yield sse(f"{name}-{kind}", escape(payload))
            elif kind == "verdict":
                yield sse(f"{name}-verdict", _verdict(payload, final=False))
            elif kind == "repeat":
                number, out = payload
                yield sse(f"{name}-repeat", _template("_repeat_row.html", n=number, out=out))
            elif kind == "end":
                finished[index] = payload
                yield from _column_end(run, index, payload)
        if len(finished) > 1:
            yield sse("diff", _diffs(run, finished))
        # Before "done": htmx closes the stream on "done" (sse-close) before swapping it.
        yield sse("outcome", _overall(finished))
        yield sse("done", "")
    finally:
        run.stop()
        RUNS.finish(run)
        pending.release(run.id)


def _column_end(run: Run, index: int, outcomes: list[engine.Outcome]) -> Iterator[str]:
    name = f"c{index}"
    first = outcomes[0] if outcomes else engine.Outcome(broken="stopped")
    if run.spec.mode != "none" and first.error is None:
        yield sse(
            f"{name}-verdict",
            _verdict(check_output(first.content, run.spec.schema, final=True), final=True),
        )
    explained = refusal(first.error) if first.error is not None else None
    offered = None
    if explained is not None and explained.model_missing:
        offered, _answer = models(run.base_url, run.key)
    yield sse(
        f"{name}-result",
        _template(
            "_result.html",
            run=run,
            index=index,
            out=first,
            explained=explained,
            offered=offered,
            broken=_broken_text(first),
            summary=_summary(outcomes) if run.spec.repeat > 1 else None,
            raw=_raw(run, index, first),
        ),
    )


def _overall(finished: dict[int, list[engine.Outcome]]) -> str:
    """How the run ended, for its header: ok, partial (some columns failed), failed, stopped."""
    firsts = [outs[0] if outs else engine.Outcome(broken="stopped") for outs in finished.values()]
    if not firsts or any(o.broken == "stopped" for o in firsts):
        return "stopped"
    bad = [o.error is not None or o.cut_off for o in firsts]
    if all(bad):
        return "failed"
    return "partial" if any(bad) else "ok"


def _broken_text(out: engine.Outcome) -> str | None:
    if out.error is not None or not out.cut_off:
        return None
    if out.broken:
        return str(BROKEN.get(out.broken, BROKEN["reset"]))
    return str(BROKEN["stream_error" if out.stream_error else "no_finish"])


def _summary(outcomes: list[engine.Outcome]) -> dict:
    """p50 / p95 of TTFT and tokens per second over the repetitions that answered."""
    ttft = [o.metrics.ttft_ms for o in outcomes if o.metrics and o.metrics.ttft_ms is not None]
    speed = [o.metrics.tokens_per_s for o in outcomes if o.metrics and o.metrics.tokens_per_s]
    return {"runs": len(outcomes), "ttft": p50_p95(ttft), "speed": p50_p95(speed)}


def _raw(run: Run, index: int, out: engine.Outcome) -> dict:
    """The Raw tab: the body sent (key masked in the headers), the chunks, the assembled JSON."""
    column = run.spec.columns[index]
    message: dict = {"role": "assistant", "content": out.content}
    if out.reasoning:
        message["reasoning_content"] = out.reasoning
    assembled = {
        "id": out.response_id,
        "object": "chat.completion",
        "model": out.model or column.model,
        "choices": [{"index": 0, "message": message, "finish_reason": out.finish}],
        "usage": out.usage,
    }
    return {
        "request": f"POST {run.base_url}/v1/chat/completions\nAuthorization: Bearer {run.masked}\n"
        "Content-Type: application/json\n\n"
        + json.dumps(column.body, ensure_ascii=False, indent=2),
        "chunks": out.chunks,
        "assembled": json.dumps(assembled, ensure_ascii=False, indent=2),
    }


def _diffs(run: Run, finished: dict[int, list[engine.Outcome]]) -> str:
    """Column 1 against every other column."""
    first = finished[0][0].content if finished.get(0) else ""
    pairs = []
    for index in sorted(finished)[1:]:
        other = finished[index][0].content if finished[index] else ""
        pairs.append((run.spec.columns[index].model, answer_diff(first, other)))
    return _template("_diff.html", left=run.spec.columns[0].model, pairs=pairs)


def _verdict(verdict, *, final: bool) -> str:
    return _template("_verdict.html", verdict=verdict, final=final)


def _template(name: str, **context) -> str:
    return render_template("playground/" + name, **context)
