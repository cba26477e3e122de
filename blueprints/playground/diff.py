"""Differences between two answers: by JSON structure when both are JSON, else word by word."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from .schema import json_path, strict_loads, unwrap

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# A CJK character (those scripts use no spaces), a word or a symbol, each with the spaces after it.
_TOKEN = re.compile(rf"[{_CJK}]\s*|[^\W{_CJK}]+\s*|[^\w\s]\s*|\s+")
# A sentence or line with the spaces after it; every character belongs to exactly one.
_SENTENCE = re.compile(r"[^\n.!?。！？]+[.!?。！？]*\s*|[.!?。！？]+\s*|\n+")
# Most token pairs one SequenceMatcher may compare (quadratic): ~50 ms at the worst.
_BUDGET = 1_000_000
_NO_JSON = object()

Item = tuple[Any, ...]


def _parse(text: str) -> Any:
    """The answer as a JSON object or array, or _NO_JSON (a bare "42" is compared as text)."""
    try:
        value = strict_loads(unwrap(text))
    except (ValueError, RecursionError):
        return _NO_JSON
    return value if isinstance(value, dict | list) else _NO_JSON


def _same(left: Any, right: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 (Python's bool is an int)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right


def _walk(left: Any, right: Any, path: tuple[str | int, ...], items: list[Item]) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in left:
            if key in right:
                _walk(left[key], right[key], (*path, key), items)
            else:
                items.append((json_path((*path, key)), "removed", left[key], None))
        for key in right:
            if key not in left:
                items.append((json_path((*path, key)), "added", None, right[key]))
    elif isinstance(left, list) and isinstance(right, list):
        for i in range(max(len(left), len(right))):
            where = json_path((*path, i))
            if i >= len(right):
                items.append((where, "removed", left[i], None))
            elif i >= len(left):
                items.append((where, "added", None, right[i]))
            else:
                _walk(left[i], right[i], (*path, i), items)
    elif not _same(left, right):
        items.append((json_path(path), "changed", left, right))


def _common(a: list[str], b: list[str]) -> tuple[int, int]:
    """Lengths of the common head and tail (cheap, and it shrinks the quadratic part)."""
    most = min(len(a), len(b))
    head = 0
    while head < most and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < most - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _text_diff(left: str, right: str) -> list[Item]:
    """Word-level ops; sentences are matched first (difflib is quadratic in what it compares)."""
    items: list[list[str]] = []

    def add(op: str, text: str) -> None:
        if text and items and items[-1][0] == op:
            items[-1][1] += text
        elif text:
            items.append([op, text])

    def diff(a: list[str], b: list[str], then: Callable[[list[str], list[str]], None]) -> None:
        head, tail = _common(a, b)
        add("equal", "".join(a[:head]))
        a, b, end = a[head : len(a) - tail], b[head : len(b) - tail], "".join(a[len(a) - tail :])
        if len(a) * len(b) > _BUDGET:
            whole(a, b)
        else:
            matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "equal":
                    add("equal", "".join(a[i1:i2]))
                else:
                    then(a[i1:i2], b[j1:j2])
        add("equal", end)

    def whole(a: list[str], b: list[str]) -> None:
        add("delete", "".join(a))
        add("insert", "".join(b))

    def words(a: list[str], b: list[str]) -> None:
        diff(_TOKEN.findall("".join(a)), _TOKEN.findall("".join(b)), whole)

    diff(_SENTENCE.findall(left), _SENTENCE.findall(right), words)
    return [(op, text) for op, text in items]


def answer_diff(left: str, right: str) -> dict:
    """JSON mode: items (path, change, left, right); text mode: items (op, text), word by word."""
    left_value, right_value = _parse(left), _parse(right)
    if left_value is _NO_JSON or right_value is _NO_JSON:
        return {"mode": "text", "items": _text_diff(left, right)}
    items: list[Item] = []
    # No recursion guard needed: json.loads counts each level against the same recursion limit.
    _walk(left_value, right_value, (), items)
    return {"mode": "json", "items": items}
