"""The OpenAPI document flattened for the human API page: operations, fields, responses, curl."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

# What the page's curl examples send as the key: never a real one.
KEY_PLACEHOLDER = "sk-…"


@dataclass
class Field:
    """One property of a schema: its dotted name, type text, whether required, description."""

    name: str
    type: str
    required: bool
    description: str = ""


@dataclass
class Operation:
    """One path + method of the document, ready for the template."""

    method: str
    path: str
    summary: str
    description: str
    body: list[Field]
    responses: list[tuple[str, str, str]]  # (code, description, schema name or type)
    curl: str
    anchor: str = field(default="")


def type_text(schema: dict) -> str:
    """A short type description: "number | null", "array of string", "Result", "one of: a, b"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of: " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    kind = schema.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and isinstance(schema.get("items"), dict):
        kinds = [f"array of {type_text(schema['items'])}" if k == "array" else k for k in kinds]
    text = " | ".join(kinds)
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def fields(schema: dict, prefix: str = "") -> list[Field]:
    """The schema's properties, nested objects flattened as "parent.child"."""
    required = set(schema.get("required", []))
    found = []
    for name, sub in (schema.get("properties") or {}).items():
        dotted = f"{prefix}{name}"
        found.append(Field(dotted, type_text(sub), name in required, _describe(sub)))
        if isinstance(sub.get("properties"), dict):
            found.extend(fields(sub, dotted + "."))
    return found


def _describe(schema: dict) -> str:
    text = schema.get("description", "")
    limits = [
        f"{word} {schema[key]}"
        for key, word in (("minItems", "at least"), ("maxItems", "at most"))
        if key in schema
    ]
    if limits:
        text = (text + " " if text else "") + f"({', '.join(limits)} items)"
    return text


def example(schema: dict) -> object:
    """An example body from the schema: keys are the placeholder, other strings their example."""
    if schema.get("type") == "object":
        return {name: example(sub) for name, sub in (schema.get("properties") or {}).items()}
    if schema.get("type") == "array":
        return [example(schema.get("contains") or schema.get("items") or {})]
    if "pattern" in schema:  # the key field: its pattern is the key pattern
        return KEY_PLACEHOLDER
    return schema.get("example", "")


def curl(base_url: str, method: str, path: str, body: object) -> str:
    """The curl command line for one operation (its JSON body single-quoted for the shell)."""
    data = json.dumps(body, ensure_ascii=False)
    return (
        f"curl -s -X {method.upper()} {shlex.quote(base_url.rstrip('/') + path)} \\\n"
        f"     -H 'Content-Type: application/json' \\\n"
        f"     -d {shlex.quote(data)}"
    )


def operations(spec: dict, base_url: str) -> list[Operation]:
    """Every operation of the document, in its order."""
    found = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body = content.get("schema", {})
            responses = []
            for code, reply in op.get("responses", {}).items():
                schema = reply.get("content", {}).get("application/json", {}).get("schema")
                responses.append((code, reply.get("description", ""), _reply(schema)))
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    body=fields(body),
                    responses=responses,
                    curl=curl(base_url, method, path, example(body)),
                    anchor=f"{method}-{path.strip('/').replace('/', '-')}",
                )
            )
    return found


def _reply(schema: dict | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return type_text(schema)
    # an inline object: name its fields so the reader sees the shape
    return "{" + ", ".join(f"{f.name}: {f.type}" for f in fields(schema)) + "}"


def schemas(spec: dict) -> list[tuple[str, list[Field]]]:
    """The named schemas (Result, Error) with their fields."""
    named = spec.get("components", {}).get("schemas", {})
    return [(name, fields(schema)) for name, schema in named.items()]


def page(spec: dict, base_url: str) -> dict:
    """What the API page shows: the document's info, its operations and its named schemas."""
    return {
        "info": spec.get("info", {}),
        "operations": operations(spec, base_url),
        "schemas": schemas(spec),
    }
