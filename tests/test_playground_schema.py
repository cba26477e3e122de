"""Structured output checks: the schema before sending, the answer as it streams and at the end."""

from __future__ import annotations

import json

import pytest

from blueprints.playground.schema import (
    MATH_REASONING,
    Problem,
    Verdict,
    check_output,
    schema_problems,
    unwrap,
)

SCHEMA = MATH_REASONING["response_format"]["json_schema"]["schema"]
GOOD = {
    "steps": [
        {"explanation": "Subtract 7 from both sides.", "output": "8x = -30"},
        {"explanation": "Divide both sides by 8.", "output": "x = -30/8"},
    ],
    "final_answer": "x = -3.75",
}
# The research brief's example of a model that ignores the schema, with its five known problems.
BAD = (
    '{"steps":[{"explanation":"x","output":1,"extra":true},{"output":"y"}],'
    '"final_answer":2,"note":"z"}'
)
BAD_PROBLEMS = [
    Problem("$", "additional", "Additional properties are not allowed ('note' was unexpected)"),
    Problem("$.final_answer", "type", "expected string, got integer"),
    Problem(
        "$.steps[0]", "additional", "Additional properties are not allowed ('extra' was unexpected)"
    ),
    Problem("$.steps[0].output", "type", "expected string, got integer"),
    Problem("$.steps[1]", "required", "'explanation' is a required property"),
]
DRAFT4 = "http://json-schema.org/draft-04/schema#"


def prefixes(text: str) -> list[str]:
    return [text[:i] for i in range(len(text) + 1)]


def test_it_presets_the_seed_guides_math_reasoning_example():
    assert MATH_REASONING["system"] == (
        "You are a helpful math tutor. Guide the user through the solution step by step."
    )
    assert MATH_REASONING["user"] == "how can I solve 8x + 7 = -23"
    assert MATH_REASONING["model"] == "gpt-4o"
    response_format = MATH_REASONING["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "math_reasoning"
    assert response_format["json_schema"]["strict"] is True
    assert SCHEMA["required"] == ["steps", "final_answer"]
    assert SCHEMA["properties"]["steps"]["items"]["additionalProperties"] is False
    assert schema_problems(SCHEMA) == []


def test_it_reports_a_misspelt_type_with_the_closest_reason():
    problems = schema_problems({"type": "objekt"})
    assert len(problems) == 1
    assert problems[0].path == "$.type"
    assert "'objekt' is not one of" in problems[0].detail


@pytest.mark.parametrize("schema", [[], True, "object", None, 3])
def test_it_refuses_a_schema_that_is_not_an_object(schema):
    assert schema_problems(schema) == [Problem("$", "type", "a schema must be a JSON object")]


def test_it_honours_the_declared_draft():
    # Draft 4 spells exclusiveMaximum as a boolean; 2020-12 (the default) wants a number.
    draft4 = {"$schema": DRAFT4, "type": "number", "maximum": 5, "exclusiveMaximum": True}
    assert schema_problems(draft4) == []
    default = {k: v for k, v in draft4.items() if k != "$schema"}
    [problem] = schema_problems(default)
    assert (problem.path, problem.kind) == ("$.exclusiveMaximum", "type")
    assert check_output("5", draft4, final=True).state == "invalid"
    assert check_output("4.5", draft4, final=True).state == "ok"


def test_it_names_an_unknown_draft():
    [problem] = schema_problems({"$schema": "https://example.com/my-draft", "type": "object"})
    assert problem.path == "$.$schema"
    assert "unknown $schema" in problem.detail
    [problem] = schema_problems({"$schema": 5})
    assert (problem.path, problem.kind) == ("$.$schema", "type")


def test_it_finds_a_reference_that_points_nowhere():
    schema = {"$schema": DRAFT4, "properties": {"a": {"$ref": "#/definitions/missing"}}}
    [problem] = schema_problems(schema)
    assert problem.path == "$.properties.a.$ref"
    assert "#/definitions/missing" in problem.detail
    fine = {"$defs": {"n": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}
    assert schema_problems(fine) == []


def test_it_never_fetches_a_remote_reference(fake):
    remote = {"properties": {"a": {"$ref": fake.url + "/schema.json"}}}
    [problem] = schema_problems(remote)
    assert problem.path == "$.properties.a.$ref"
    assert "not fetched" in problem.detail
    # A nested $id skips the up-front check: validation must still not fetch, and not raise.
    nested = {"$defs": {"x": {"$id": "https://example.com/x", "type": "string"}}, **remote}
    verdict = check_output('{"a": 1}', nested, final=True)
    assert verdict.state == "invalid"
    assert "cannot be resolved" in verdict.problems[0].detail
    # The meta-schemas themselves are known without a fetch.
    meta = {"properties": {"s": {"$ref": "https://json-schema.org/draft/2020-12/schema"}}}
    assert schema_problems(meta) == []
    assert fake.requests == []


def test_it_catches_a_reference_loop_instead_of_recursing_forever():
    [problem] = schema_problems({"$ref": "#"})
    assert "refers to itself" in problem.detail
    tree = {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "$ref": "#/$defs/node",
    }
    assert schema_problems(tree) == []
    assert check_output('{"next": {"next": {"next": 1}}}', tree, final=True).problems == [
        Problem("$.next.next.next", "type", "expected object, got integer")
    ]


def test_it_checks_patterns_are_regular_expressions():
    assert schema_problems({"type": "string", "pattern": "("}) == [
        Problem("$.pattern", "format", "not a valid regex")
    ]


def test_it_lists_every_failing_path_at_the_end():
    verdict = check_output(BAD, SCHEMA, final=True)
    assert verdict == Verdict("invalid", BAD_PROBLEMS)


def test_it_passes_a_good_answer_and_every_prefix_is_only_pending():
    text = json.dumps(GOOD, indent=1)
    assert check_output(text, SCHEMA, final=True) == Verdict("ok", [])
    for prefix in prefixes(text):
        assert check_output(prefix, SCHEMA, final=False) == Verdict("pending", []), prefix


def test_it_reports_only_certain_errors_while_streaming():
    seen: set[Problem] = set()
    for prefix in prefixes(BAD):
        verdict = check_output(prefix, SCHEMA, final=False)
        assert verdict.state in ("pending", "invalid"), prefix
        assert all(p.kind in ("type", "additional") for p in verdict.problems), prefix
        seen.update(verdict.problems)
    # Everything but the missing "explanation", which could still have arrived.
    assert seen == set(BAD_PROBLEMS[:4])
    early = check_output('{"steps":[{"explanation":"x","output":1', SCHEMA, final=False)
    assert early == Verdict("invalid", [BAD_PROBLEMS[3]])


def test_it_unwraps_a_json_fence_and_a_think_block():
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    thought = "<think>\nLet me see.\n</think>\n" + json.dumps(GOOD)
    assert unwrap(fenced) == json.dumps(GOOD)
    for text in (fenced, thought, "<think>x</think>" + fenced):
        assert check_output(text, SCHEMA, final=True) == Verdict("ok", []), text
        for prefix in prefixes(text):
            assert check_output(prefix, SCHEMA, final=False).state == "pending", prefix
    assert check_output("```python\n{}\n```", None, final=True).state == "not_json"
    assert check_output("<think>only thinking", None, final=True).state == "not_json"


@pytest.mark.parametrize(
    "text",
    ["Hello", "Sure! " + json.dumps(GOOD), '{"a": NaN}', '{"a": Infinity}', '{"a": 1e999}', "-Inf"],
)
def test_it_calls_non_json_not_json(text):
    for final in (True, False):
        verdict = check_output(text, None, final=final)
        assert verdict.state == "not_json", (text, final)
        assert verdict.problems[0].detail.startswith("not JSON")


def test_it_says_where_json_breaks():
    verdict = check_output('{"a": 1 "b": 2}', None, final=True)
    assert verdict == Verdict(
        "not_json", [Problem("$", "other", "not JSON: Expecting ',' delimiter (line 1, column 9)")]
    )
    assert check_output("", None, final=True).problems[0].detail == "not JSON: the answer is empty"
    assert check_output("   ", None, final=False) == Verdict("pending", [])


def test_it_only_asks_for_json_in_json_object_mode():
    assert check_output('{"anything": [1, 2]}', None, final=True) == Verdict("ok", [])
    assert check_output('{"anything": [1, ', None, final=False) == Verdict("pending", [])
    assert check_output('{"anything": [1, ', None, final=True).state == "not_json"
    for prefix in prefixes("-12.5e-3"):
        assert check_output(prefix, None, final=False) == Verdict("pending", []), prefix


def test_it_survives_pathological_nesting():
    deep = "[" * 100_000
    assert check_output(deep, SCHEMA, final=True).state == "not_json"
    assert check_output(deep, SCHEMA, final=False).state == "not_json"
    nested = "[" * 900 + "]" * 900
    verdict = check_output(nested, {"items": {"$ref": "#"}}, final=True)
    assert verdict.state in ("ok", "invalid")


def test_it_refuses_to_validate_against_a_broken_schema():
    verdict = check_output("{}", {"type": "objekt"}, final=True)
    assert verdict == Verdict("invalid", [Problem("$", "other", "the schema itself is not valid")])


def test_it_names_enum_and_format_failures_and_waits_for_partial_strings():
    schema = {
        "type": "object",
        "properties": {
            "unit": {"enum": ["cm", "m"]},
            "mail": {"type": "string", "format": "email"},
        },
    }
    verdict = check_output('{"unit": "km", "mail": "nope"}', schema, final=True)
    assert verdict == Verdict(
        "invalid",
        [
            Problem("$.mail", "format", "not a valid email"),
            Problem("$.unit", "enum", 'not one of ["cm", "m"]'),
        ],
    )
    # "c" may still become "cm": not an error yet.
    assert check_output('{"unit": "c', schema, final=False) == Verdict("pending", [])


def test_it_quotes_odd_keys_and_sorts_indexes_as_numbers():
    schema = {"type": "array", "items": {"type": "object", "additionalProperties": False}}
    items = [{} for _ in range(12)]
    items[2] = {"a b": 1}
    items[10] = {"x": 1}
    paths = [p.path for p in check_output(json.dumps(items), schema, final=True).problems]
    assert paths == ["$[2]", "$[10]"]
    verdict = check_output('{"a b": 1}', {"additionalProperties": False}, final=True)
    assert verdict.problems[0].path == "$"
    nested = {"properties": {"a b": {"type": "string"}}}
    assert check_output('{"a b": 1}', nested, final=True).problems[0].path == '$["a b"]'


def test_it_keeps_details_short():
    schema = {"type": "object", "properties": {"a": {"const": "x"}}}
    verdict = check_output(json.dumps({"a": "y" * 10_000}), schema, final=True)
    assert len(verdict.problems[0].detail) <= 200
    assert verdict.problems[0].kind == "other"
