"""Metrics under an answer: stage timings, usage or estimate, decode speed, cost, p50/p95."""

from __future__ import annotations

import pytest

from blueprints.playground.metrics import Marks, Metrics, estimate_tokens, measure, p50_p95

USAGE = {
    "prompt_tokens": 9,
    "completion_tokens": 120,
    "total_tokens": 129,
    "completion_tokens_details": {"reasoning_tokens": 40},
}


def marks(**changes) -> Marks:
    """Sent at 10 s; first event +0.1 s; reasoning +0.3 s; content +0.8 s; last +1.8 s; end +2 s."""
    base = {
        "sent": 10.0,
        "first_event": 10.1,
        "first_reasoning": 10.3,
        "first_content": 10.8,
        "last_token": 11.8,
        "end": 12.0,
        "token_chunks": 20,
    }
    return Marks(**(base | changes))


def test_it_splits_the_timings_and_reads_usage_with_reasoning():
    got = measure(marks(), USAGE, "prompt", "answer", (2.5, 10.0))
    assert got == Metrics(
        ttfe_ms=pytest.approx(100.0),
        ttft_ms=pytest.approx(800.0),
        total_ms=pytest.approx(2000.0),
        prompt_tokens=9,
        completion_tokens=120,
        reasoning_tokens=40,
        estimated=False,
        # 120 tokens (reasoning included) over 10.3 → 11.8 s, from the first reasoning token.
        tokens_per_s=pytest.approx(80.0),
        # 9 × 2.5 / 1e6 + 120 × 10 / 1e6
        cost=pytest.approx(0.0012225),
    )


def test_it_times_the_first_token_from_content_or_else_reasoning():
    no_reasoning = measure(marks(first_reasoning=None), USAGE, "", "", None)
    assert no_reasoning.ttft_ms == pytest.approx(800.0)
    # 120 tokens over 10.8 → 11.8 s when nothing came before the content.
    assert no_reasoning.tokens_per_s == pytest.approx(120.0)
    only_reasoning = measure(marks(first_content=None), USAGE, "", "", None)
    assert only_reasoning.ttft_ms == pytest.approx(300.0)
    nothing = measure(marks(first_reasoning=None, first_content=None), USAGE, "", "", None)
    assert (nothing.ttft_ms, nothing.tokens_per_s) == (None, None)
    assert nothing.ttfe_ms == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("chunks", "last", "speed"),
    [
        (1, 10.3, None),
        (2, 11.8, None),
        (3, 11.8, 80.0),
        (3, 10.3, None),
        (3, 10.0, None),
        (3, None, None),
    ],
)
def test_it_shows_a_speed_only_for_three_chunks_over_a_real_span(chunks, last, speed):
    got = measure(marks(token_chunks=chunks, last_token=last), USAGE, "", "", None)
    assert got.tokens_per_s == (None if speed is None else pytest.approx(speed))


def test_it_estimates_when_the_relay_sends_no_usage():
    got = measure(marks(), None, "Hello there, how are you?", "你好，世界", (1.0, 2.0))
    # 25 Latin characters → ceil(25 / 4) = 7; five CJK characters and punctuation → 5.
    assert (got.prompt_tokens, got.completion_tokens, got.reasoning_tokens) == (7, 5, None)
    assert got.estimated is True
    assert got.cost == pytest.approx(7 * 1.0 / 1e6 + 5 * 2.0 / 1e6)


def test_it_estimates_only_what_usage_lacks_and_distrusts_odd_numbers():
    partial = measure(marks(), {"prompt_tokens": 9}, "x", "abcdefgh", None)
    assert (partial.prompt_tokens, partial.completion_tokens, partial.estimated) == (9, 2, True)
    odd = {"prompt_tokens": True, "completion_tokens": -3, "completion_tokens_details": None}
    got = measure(marks(), odd, "abcd", "abcd", None)
    assert (got.prompt_tokens, got.completion_tokens, got.reasoning_tokens) == (1, 1, None)
    assert got.estimated is True
    assert measure(marks(), {"prompt_tokens": 1.5, "completion_tokens": 2}, "", "", None).estimated


def test_it_leaves_out_what_it_cannot_know():
    got = measure(Marks(), USAGE, "", "", None)
    assert (got.ttfe_ms, got.ttft_ms, got.total_ms, got.tokens_per_s, got.cost) == (None,) * 5


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("a", 1),
        (" ", 1),
        ("abcd", 1),
        ("abcde", 2),
        ("你好世界", 4),
        ("hi 你好", 3),
        ("こんにちは", 5),
        ("안녕", 2),
    ],
)
def test_it_estimates_tokens_roughly(text, tokens):
    assert estimate_tokens(text) == tokens


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (None, None)),
        ([7.0], (7.0, 7.0)),
        ([15, 20, 35, 40, 50], (35, 50)),
        ([50, 15, 40, 20, 35], (35, 50)),
        (list(range(1, 11)), (5, 10)),
        (list(range(1, 21)), (10, 19)),
        (list(range(1, 101)), (50, 95)),
        ([3.0, float("nan"), 1.0], (1.0, 3.0)),
    ],
)
def test_it_takes_nearest_rank_percentiles(values, expected):
    assert p50_p95(values) == expected
