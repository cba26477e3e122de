"""The diff between two answers: JSON structure when both are JSON, else word by word."""

from __future__ import annotations

import json
import random
import time

import pytest

from blueprints.playground.diff import answer_diff


def sides(items: list[tuple[str, str]]) -> tuple[str, str]:
    """Both texts rebuilt from text-mode ops."""
    left = "".join(text for op, text in items if op != "insert")
    right = "".join(text for op, text in items if op != "delete")
    return left, right


def test_it_walks_nested_json_for_added_removed_and_changed_paths():
    left = {
        "steps": [{"explanation": "a", "output": "1"}, {"explanation": "b"}],
        "final_answer": "x",
        "gone": 1,
    }
    right = {
        "steps": [{"explanation": "a", "output": "2", "note": None}],
        "final_answer": "x",
        "new": [1],
    }
    assert answer_diff(json.dumps(left), json.dumps(right)) == {
        "mode": "json",
        "items": [
            ("$.steps[0].output", "changed", "1", "2"),
            ("$.steps[0].note", "added", None, None),
            ("$.steps[1]", "removed", {"explanation": "b"}, None),
            ("$.gone", "removed", 1, None),
            ("$.new", "added", None, [1]),
        ],
    }


def test_it_compares_json_values_as_json():
    same = answer_diff('{"n": 1, "m": [true]}', '{"n": 1.0, "m": [true]}')
    assert same == {"mode": "json", "items": []}
    items = answer_diff('{"n": 1, "m": {"k": 0}}', '{"n": true, "m": [0], "s": "a b"}')["items"]
    assert items == [
        ("$.n", "changed", 1, True),
        ("$.m", "changed", {"k": 0}, [0]),
        ("$.s", "added", None, "a b"),
    ]
    assert answer_diff('{"a b": 1}', '{"a b": 2}')["items"] == [('$["a b"]', "changed", 1, 2)]


def test_it_strips_fences_before_comparing_json():
    fenced = '```json\n{"final_answer": "x"}\n```'
    got = answer_diff(fenced, '<think>hm</think>{"final_answer": "y"}')
    assert got == {"mode": "json", "items": [("$.final_answer", "changed", "x", "y")]}


@pytest.mark.parametrize(
    ("left", "right"),
    [('{"a": 1}', "not json"), ("42", "43"), ('{"a": NaN}', '{"a": 1}'), ("", "")],
)
def test_it_falls_back_to_text(left, right):
    got = answer_diff(left, right)
    assert got["mode"] == "text"
    assert sides(got["items"]) == (left, right)


def test_it_diffs_text_word_by_word():
    got = answer_diff("The quick brown fox.", "The quick red fox!")
    assert got == {
        "mode": "text",
        "items": [
            ("equal", "The quick "),
            ("delete", "brown "),
            ("insert", "red "),
            ("equal", "fox"),
            ("delete", "."),
            ("insert", "!"),
        ],
    }
    assert answer_diff("same text", "same text")["items"] == [("equal", "same text")]


def test_it_diffs_cjk_character_by_character():
    got = answer_diff("今天天气很好", "今天天气不好")
    assert got["items"] == [
        ("equal", "今天天气"),
        ("delete", "很"),
        ("insert", "不"),
        ("equal", "好"),
    ]


def test_it_always_rebuilds_both_texts():
    rng = random.Random(5)
    alphabet = ["a", "bc", " ", "\n", ".", "!", "。", "是", "-", "\t", "?", ", ", "🙂"]
    for _ in range(500):
        left = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        right = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        got = answer_diff(left, right)
        assert sides(got["items"]) == (left, right), (left, right)
        ops = [op for op, _ in got["items"]]
        assert all(a != b for a, b in zip(ops, ops[1:], strict=False)), "neighbours are merged"


def test_it_stays_fast_on_long_answers():
    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "x", "the", "of", "是", "的"]
    left = " ".join(rng.choice(words) for _ in range(8000))
    right = " ".join(rng.choice(words) for _ in range(8000))
    sentences = " ".join(f"Sentence number {i} is here." for i in range(3000))
    started = time.perf_counter()
    got = answer_diff(left, right)
    edited = answer_diff(sentences, sentences.replace("number 7 ", "number seven "))
    assert time.perf_counter() - started < 2.0  # a plain word-level difflib took 21 s here
    assert sides(got["items"]) == (left, right)
    assert [op for op, _ in edited["items"]] == ["equal", "delete", "insert", "equal"]
    assert edited["items"][1:3] == [("delete", "7 "), ("insert", "seven ")]


def test_it_survives_deep_json():
    nested = "[" * 500 + "]" * 500
    assert answer_diff(nested, nested) == {"mode": "json", "items": []}
    too_deep = "[" * 5000 + "]" * 5000  # past json's recursion limit: compared as text
    got = answer_diff(too_deep, nested)
    assert got["mode"] == "text"
    assert sides(got["items"]) == (too_deep, nested)
