"""The run form → request bodies: one per compare column, checked before anything is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from blueprints.shared import inputs
from blueprints.shared.errors import Refusal

from .schema import schema_problems, strict_loads

MAX_COLUMNS = 4
MAX_REPEAT = 10
MAX_MESSAGES = 100
MAX_STOPS = 4
ROLES = ("user", "assistant")
# name → (kind, low, high); a blank field is not sent, so the provider's default applies.
PARAMS = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 1_000_000),
    "presence_penalty": (float, -2.0, 2.0),
    "frequency_penalty": (float, -2.0, 2.0),
    "seed": (int, -(2**63), 2**63 - 1),
}
FORMATS = ("none", "json_object", "json_schema")


class BadRun(Refusal):
    """A run that cannot be sent; `code` names the reason, `params` fill its message."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.params = params


@dataclass
class Column:
    """One compare column: its model and the exact bytes sent."""

    model: str
    body: dict
    data: bytes


@dataclass
class Spec:
    """Everything a run sends, decided before the first byte goes out."""

    columns: list[Column]
    repeat: int
    stream: bool
    mode: str
    schema: dict | None
    prompt_text: str = field(repr=False)  # for the local token estimate only; never logged


def parse(form) -> Spec:
    """A Spec from the submitted form (BadRun for anything that must not be sent)."""
    models = [m.strip() for m in form.getlist("model") if m.strip()]
    if not models:
        raise BadRun("no_model")
    if len(models) > MAX_COLUMNS:
        raise BadRun("too_many_columns", limit=MAX_COLUMNS)
    if any(len(m) > 128 for m in models):
        raise BadRun("bad_model")
    messages = _messages(form)
    shared = _params(form, "")
    stream = form.get("stream") in ("1", "on", "true")
    mode = form.get("format") or "none"
    if mode not in FORMATS:
        raise BadRun("bad_format")
    schema, response_format = _response_format(form, mode)
    columns = []
    for index, model in enumerate(models):
        body: dict = {"model": model, "messages": messages}
        body.update(shared | _params(form, f"@{index}"))
        if response_format is not None:
            body["response_format"] = response_format
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        columns.append(Column(model, body, data))
    prompt_text = "\n".join(m["content"] for m in messages)
    return Spec(columns, _repeat(form), stream, mode, schema, prompt_text)


def _messages(form) -> list[dict]:
    roles, contents = form.getlist("role"), form.getlist("content")
    if len(roles) != len(contents) or len(roles) > MAX_MESSAGES:
        raise BadRun("bad_messages")
    messages = []
    system = (form.get("system") or "").strip()
    if system:
        messages.append({"role": "system", "content": system})
    for role, content in zip(roles, contents, strict=True):
        if role not in ROLES:
            raise BadRun("bad_messages")
        if content.strip():
            messages.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in messages):
        raise BadRun("no_message")
    return messages


def _params(form, suffix: str) -> dict:
    """Parameters given in the form (suffix "@i": one column's own overrides)."""
    out: dict = {}
    for name, (kind, low, high) in PARAMS.items():
        parse = inputs.whole_number if kind is int else inputs.decimal
        value = parse(form.get(name + suffix), name, low=low, high=high)  # BadValue: refused
        if value is not None:
            out[name] = value
    stops = [s for s in (form.get("stop" + suffix) or "").split("\n") if s.strip("\r")]
    stops = [s.rstrip("\r") for s in stops]
    if len(stops) > MAX_STOPS or any(len(s) > 200 for s in stops):
        raise BadRun("bad_stop", limit=MAX_STOPS)
    if stops:
        out["stop"] = stops
    return out


def _response_format(form, mode: str) -> tuple[dict | None, dict | None]:
    """(schema to check the output against, response_format to send)."""
    if mode == "none":
        return None, None
    if mode == "json_object":
        return None, {"type": "json_object"}
    name = (form.get("schema_name") or "").strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "_-" for c in name):
        raise BadRun("bad_schema_name")
    text = form.get("schema") or ""
    inputs.check_depth(text, "schema")  # BadValue before the parser recurses
    try:
        schema = strict_loads(text)
    except ValueError:
        raise BadRun("schema_not_json") from None
    problems = schema_problems(schema)
    if problems:
        raise BadRun("bad_schema", problems=problems)
    strict = form.get("schema_strict") in ("1", "on", "true")
    spec = {"name": name, "strict": strict, "schema": schema}
    return schema, {"type": "json_schema", "json_schema": spec}


def _repeat(form) -> int:
    try:
        return inputs.whole_number(form.get("repeat"), "repeat", low=1, high=MAX_REPEAT, default=1)
    except inputs.BadValue:
        raise BadRun("bad_repeat", limit=MAX_REPEAT) from None
