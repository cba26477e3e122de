"""JSON Schema checks for structured output: the schema itself, and a (streaming) answer against it.

Problem.detail may quote model output: show it to the user, never put it in a log line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

import partial_json_parser
import referencing.exceptions
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing.jsonschema import specification_with

from relay.values import finite_float, reject_constant

# The seed guide's structured-output example, as the one-click preset.
MATH_REASONING: dict[str, Any] = {
    "system": "You are a helpful math tutor. Guide the user through the solution step by step.",
    "user": "how can I solve 8x + 7 = -23",
    "model": "gpt-4o",
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "math_reasoning",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "steps": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "explanation": {"type": "string"},
                                "output": {"type": "string"},
                            },
                            "required": ["explanation", "output"],
                            "additionalProperties": False,
                        },
                    },
                    "final_answer": {"type": "string"},
                },
                "required": ["steps", "final_answer"],
                "additionalProperties": False,
            },
        },
    },
}

# jsonschema's validator names → Problem.kind; any other keyword is "other".
_KINDS = {"required": "required", "type": "type", "enum": "enum", "format": "format"}
_KINDS["additionalProperties"] = "additional"
# While streaming only these are certain: a value's type and a complete key never change later.
# (This also drops "required", so no required-less validator is needed for partial answers.)
_DEFINITE = ("type", "additional")
# bool before int: Python's True is an int.
_JSON_TYPES = (
    *((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")),
    *((list, "array"), (dict, "object"), (type(None), "null")),
)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\r?\n")
_OPENERS = ("```", "<think>")
_DETAIL_MAX = 200
# Keys whose values are data, not subschemas: a "$ref" inside them is not a reference.
_DATA_KEYS = frozenset({"enum", "const", "default", "examples"})


class Problem(NamedTuple):
    """One failing place: JSON path, kind of failure, short human text."""

    path: str
    kind: str
    detail: str


class Verdict(NamedTuple):
    """The answer's state against the schema, with every problem found."""

    state: str
    problems: list[Problem]


class _Checker(NamedTuple):
    problems: list[Problem]
    validator: Validator | None


def json_path(parts: Iterable[str | int]) -> str:
    """$.steps[0].output; keys that are not identifiers are quoted: $["a b"]."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += "." + part
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out


def strict_loads(text: str) -> Any:
    """json.loads refusing NaN, Infinity and numbers too big for a float."""
    return json.loads(text, parse_float=finite_float, parse_constant=reject_constant)


def unwrap(text: str) -> str:
    """The JSON part of an answer: without a leading <think>…</think> and a ```json fence."""
    body = text.lstrip()
    if body.startswith("<think>"):
        end = body.find("</think>")
        body = "" if end < 0 else body[end + len("</think>") :].lstrip()
    fence = _FENCE.match(body)
    if fence:
        body = body[fence.end() :]
        close = body.find("```")
        # While streaming the closing fence may have arrived in part: drop its backticks.
        body = body[:close] if close >= 0 else body.rstrip("`")
    return body.strip()


def _short(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def _type_name(value: object) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "unknown")


def _detail(err: ValidationError, kind: str) -> str:
    if kind == "type":
        wanted = err.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return f"expected {wanted}, got {_type_name(err.instance)}"
    if kind == "enum":
        return _short(f"not one of {json.dumps(err.validator_value, ensure_ascii=False)}")
    if kind == "format":
        return f"not a valid {err.validator_value}"
    if err.context:
        # anyOf/oneOf: the closest branch says more than "not valid under any of the given schemas".
        best = best_match(err.context)
        if best is not None:
            return _short(best.message)
    return _short(err.message)


def _problem(err: ValidationError) -> Problem:
    kind = _KINDS.get(str(err.validator), "other")
    return Problem(json_path(err.absolute_path), kind, _detail(err, kind))


def _order(err: ValidationError) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in err.absolute_path)


def _run(validator: Validator, instance: object) -> list[Problem] | Problem:
    """Every error sorted by path, or one Problem when the schema cannot be applied at all."""
    try:
        errors = sorted(validator.iter_errors(instance), key=_order)
    except referencing.exceptions.Unresolvable as exc:
        return Problem(
            "$", "other", _short(f"the schema has a $ref that cannot be resolved: {exc}")
        )
    except RecursionError:
        return Problem("$", "other", "too deeply nested to check (or the schema refers to itself)")
    return [_problem(err) for err in errors]


def _collect(validator: Validator, instance: object) -> list[Problem]:
    found = _run(validator, instance)
    return [found] if isinstance(found, Problem) else found


def _walk_refs(node: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple, str]]:
    """(path, ref) for every "$ref" string in schema positions."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield (*path, key), value
            elif key not in _DATA_KEYS:
                yield from _walk_refs(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk_refs(value, (*path, i))


def _has_inner_id(node: object, root: bool = True) -> bool:
    if isinstance(node, dict):
        if not root and isinstance(node.get("$id", node.get("id")), str):
            return True
        return any(_has_inner_id(v, False) for k, v in node.items() if k not in _DATA_KEYS)
    return isinstance(node, list) and any(_has_inner_id(v, False) for v in node)


def _ref_problems(schema: dict, cls: type[Validator]) -> list[Problem]:
    """References that point nowhere; nothing is fetched (the registry cannot retrieve)."""
    if _has_inner_id(schema):
        return []  # nested $id moves the base URI: leave resolution to the validator itself
    dialect = cls.META_SCHEMA.get("$schema", "")
    resource = specification_with(dialect).create_resource(schema)
    resolver = SPECIFICATIONS.resolver_with_root(resource)
    problems = []
    for path, ref in _walk_refs(schema):
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            detail = _short(f"cannot resolve $ref {ref!r} (remote schemas are not fetched)")
            problems.append(Problem(json_path(path), "other", detail))
    return problems


def _validator_class(schema: dict) -> type[Validator] | Problem:
    declared = schema.get("$schema")
    if not isinstance(declared, str):
        return Draft202012Validator  # absent, or not a string (the meta-schema check reports that)
    cls = validators.validator_for(schema, default=None)
    if cls is None:
        return Problem(
            "$.$schema", "other", _short(f"unknown $schema {declared!r}: omit it for 2020-12")
        )
    return cls


@lru_cache(maxsize=64)
def _checker(canonical: str) -> _Checker:
    schema = json.loads(canonical)
    if not isinstance(schema, dict):
        return _Checker([Problem("$", "type", "a schema must be a JSON object")], None)
    cls = _validator_class(schema)
    if isinstance(cls, Problem):
        return _Checker([cls], None)
    meta = cls(cls.META_SCHEMA, registry=SPECIFICATIONS, format_checker=cls.FORMAT_CHECKER)
    problems = _collect(meta, schema)
    if problems:
        return _Checker(problems, None)
    full = cls(schema, registry=SPECIFICATIONS, format_checker=cls.FORMAT_CHECKER)
    problems = _ref_problems(schema, cls)
    # A $ref loop that consumes nothing recurses forever on any instance: find it now.
    trial = [] if problems else _run(full, {})
    if isinstance(trial, Problem):
        problems.append(trial)
    if problems:
        return _Checker(problems, None)
    return _Checker([], full)


def _compiled(schema: object) -> _Checker:
    try:
        canonical = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return _Checker([Problem("$", "other", "the schema is not plain JSON")], None)
    return _checker(canonical)


def schema_problems(schema: object) -> list[Problem]:
    """What is wrong with a schema by its meta-schema ($schema honoured, default 2020-12)."""
    return list(_compiled(schema).problems)


def _not_json(exc: BaseException) -> Verdict:
    if isinstance(exc, RecursionError):
        detail = "nested too deeply"
    elif isinstance(exc, json.JSONDecodeError):
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    else:
        detail = _short(str(exc) or type(exc).__name__)
    return Verdict("not_json", [Problem("$", "other", f"not JSON: {detail}")])


def check_output(text: str, schema: dict | None, *, final: bool) -> Verdict:
    """Verdict on an answer so far (final=False: partial parse, definite errors only) or whole."""
    body = unwrap(text)
    if not final and (body.startswith("```") or any(w.startswith(body) for w in _OPENERS)):
        return Verdict("pending", [])  # nothing yet, or a fence / <think> still arriving
    if not body:
        return Verdict("not_json", [Problem("$", "other", "not JSON: the answer is empty")])
    try:
        if final:
            value = strict_loads(body)
        else:
            value = partial_json_parser.loads(body, parser=strict_loads)
    except partial_json_parser.PartialJSON:
        return Verdict("pending", [])  # e.g. a lone "-": the start of a number
    except (ValueError, IndexError, RecursionError) as exc:
        return _not_json(exc)
    if schema is None:
        return Verdict("ok" if final else "pending", [])
    validator = _compiled(schema).validator
    if validator is None:
        return Verdict("invalid", [Problem("$", "other", "the schema itself is not valid")])
    problems = _collect(validator, value)
    if final:
        return Verdict("invalid" if problems else "ok", problems)
    # A partial answer only fails for good on a wrong type or an extra key: a missing key, a
    # short string or array, a number still being written may all come right.
    problems = [p for p in problems if p.kind in _DEFINITE]
    return Verdict("invalid" if problems else "pending", problems)
