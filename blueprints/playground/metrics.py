"""Honest numbers for one answer: stage timings, tokens (relay usage or estimated), speed, cost."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Fewer generated chunks than this give absurd speeds (a whole answer in one chunk is "4000 tok/s").
MIN_SPEED_CHUNKS = 3
# Han, kana, Hangul, CJK punctuation and full-width forms: about one token per character.
_CJK = re.compile(
    "[\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]"
)


@dataclass
class Marks:
    """time.perf_counter() readings taken while one answer streamed."""

    sent: float | None = None
    first_event: float | None = None
    first_reasoning: float | None = None
    first_content: float | None = None
    last_token: float | None = None
    end: float | None = None
    token_chunks: int = 0  # chunks that carried content or reasoning


@dataclass(frozen=True)
class Metrics:
    """What the page shows under an answer; None where it cannot be known."""

    ttfe_ms: float | None
    ttft_ms: float | None
    total_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    estimated: bool
    tokens_per_s: float | None
    cost: float | None


def estimate_tokens(text: str) -> int:
    """A rough local count: ~4 characters a token for Latin text, 1 per CJK character."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def _count(value: object) -> int | None:
    """A token count from relay JSON: a non-negative int (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _ms(start: float | None, stop: float | None) -> float | None:
    return None if start is None or stop is None else (stop - start) * 1000.0


def _tokens(
    usage: dict | None, prompt_text: str, completion_text: str
) -> tuple[int, int, int | None, bool]:
    """(prompt, completion, reasoning, estimated): the relay's numbers where it gave them."""
    usage = usage if isinstance(usage, dict) else {}
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    reasoning = _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    estimated = prompt is None or completion is None
    if prompt is None:
        prompt = estimate_tokens(prompt_text)
    if completion is None:
        completion = estimate_tokens(completion_text)
    return prompt, completion, reasoning, estimated


def measure(
    marks: Marks,
    usage: dict | None,
    prompt_text: str,
    completion_text: str,
    price: tuple[float, float] | None,
) -> Metrics:
    """Metrics for one answer; completion_text is everything generated (reasoning + content)."""
    prompt, completion, reasoning, estimated = _tokens(usage, prompt_text, completion_text)
    firsts = [t for t in (marks.first_reasoning, marks.first_content) if t is not None]
    first_token = min(firsts) if firsts else None
    shown = marks.first_content if marks.first_content is not None else marks.first_reasoning
    speed = None
    if marks.token_chunks >= MIN_SPEED_CHUNKS and first_token is not None:
        # The count includes reasoning tokens, so the span starts at the first token of either kind.
        span = marks.last_token - first_token if marks.last_token is not None else 0.0
        speed = completion / span if span > 0 else None
    cost = None
    if price is not None:
        cost = prompt * price[0] / 1e6 + completion * price[1] / 1e6
    return Metrics(
        ttfe_ms=_ms(marks.sent, marks.first_event),
        ttft_ms=_ms(marks.sent, shown),
        total_ms=_ms(marks.sent, marks.end),
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning,
        estimated=estimated,
        tokens_per_s=speed,
        cost=cost,
    )


def p50_p95(values: list[float]) -> tuple[float | None, float | None]:
    """Nearest-rank 50th and 95th percentiles (values that occurred, never interpolated)."""
    ordered = sorted(v for v in values if v is not None and math.isfinite(v))
    if not ordered:
        return None, None
    n = len(ordered)
    # Nearest rank = ceil(p/100 × n), in integers: 0.95 × 20 in floats may round the rank wrongly.
    return ordered[(50 * n + 99) // 100 - 1], ordered[(95 * n + 99) // 100 - 1]
