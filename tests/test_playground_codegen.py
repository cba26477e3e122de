"""View code: every snippet sends exactly the body the playground sent, key from the env."""

from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blueprints.playground.codegen import LANGUAGES, client_snippets, snippets
from blueprints.playground.schema import MATH_REASONING
from blueprints.providers.clients import CLIENTS

ROOT = "https://relay.example.com"
CHAT = "/v1/chat/completions"
TRICKY = "it's \"quoted\" — 'single' too\nline two\t中文 \\ $HOME `id` 🙂"
MESSAGES = [
    {"role": "system", "content": MATH_REASONING["system"]},
    {"role": "user", "content": TRICKY},
    {"role": "assistant", "content": "ok"},
    {"role": "user", "content": MATH_REASONING["user"]},
]
STREAM = {"stream": True, "stream_options": {"include_usage": True}}
BODIES = {
    "plain": {"model": "gpt-4o", "messages": MESSAGES},
    "params": {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "temperature": 0.7,
        "top_p": 1.0,
        "max_tokens": 300,
        "presence_penalty": -0.5,
        "frequency_penalty": 2.0,
        "stop": ["\n\n", "END'"],
        "seed": 42,
    },
    "schema": {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "response_format": MATH_REASONING["response_format"],
    },
    "schema_stream": {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "max_tokens": 300,
        "response_format": MATH_REASONING["response_format"],
        **STREAM,
    },
    "json_object_stream": {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "response_format": {"type": "json_object"},
        **STREAM,
    },
    "vendor_fields": {"model": "gpt-4o", "messages": MESSAGES, "top_k": 40, "metadata": {"a": "b"}},
}
HAVE_CURL = shutil.which("curl") is not None
HAVE_NODE = shutil.which("node") is not None


def call_of(tree: ast.AST, name: str) -> ast.Call:
    """The one call whose function's source ends with `name`."""
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(name)
    ]
    assert len(calls) == 1, name
    return calls[0]


def literal(node: ast.expr):
    return ast.literal_eval(node)


def assignment(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == name:
            return literal(node.value)
    raise AssertionError(f"no {name} = …")


def run_snippet(
    cmd: list[str], env_key: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["RELAY_API_KEY"] = env_key
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_it_writes_every_language_with_the_key_from_the_environment():
    for body in BODIES.values():
        code = snippets(ROOT, body)
        assert tuple(code) == LANGUAGES
        for text in code.values():
            assert "RELAY_API_KEY" in text
            assert "sk-" not in text


@pytest.mark.parametrize("name", BODIES)
def test_the_curl_body_is_the_exact_body(name):
    body = BODIES[name]
    words = shlex.split(snippets(ROOT + "/", body)["curl"])
    assert words[1 + bool(body.get("stream"))] == ROOT + CHAT
    assert json.loads(words[words.index("--data-binary") + 1]) == body
    assert ("-N" in words) is bool(body.get("stream"))
    assert "Authorization: Bearer $RELAY_API_KEY" in words


@pytest.mark.skipif(not HAVE_CURL, reason="curl is not installed")
@pytest.mark.parametrize("name", ["params", "schema_stream"])
def test_running_the_curl_snippet_sends_the_body(fake, name):
    body = BODIES[name]
    token = fake.add_token()
    done = run_snippet(["bash", "-c", snippets(fake.url, body)["curl"]], token.key)
    assert done.returncode == 0, done.stderr
    [sent] = fake.requests_to(CHAT)
    assert json.loads(sent.body) == body
    assert sent.headers["Authorization"] == f"Bearer {token.key}"
    assert ("data: [DONE]" in done.stdout) is bool(body.get("stream"))


@pytest.mark.parametrize("name", BODIES)
def test_running_the_requests_snippet_sends_the_body(fake, name):
    body = BODIES[name]
    token = fake.add_token()
    code = snippets(fake.url, body)["requests"]
    assert assignment(ast.parse(code), "body") == body
    done = run_snippet([sys.executable, "-c", code], token.key)
    assert done.returncode == 0, done.stderr
    [sent] = fake.requests_to(CHAT)
    assert json.loads(sent.body) == body
    assert sent.headers["Authorization"] == f"Bearer {token.key}"
    assert done.stdout.strip() == "Hello from fake relay"


@pytest.mark.parametrize("name", BODIES)
def test_the_openai_snippet_passes_every_field_as_a_keyword(name):
    body = BODIES[name]
    tree = ast.parse(snippets(ROOT, body)["python"])
    client = call_of(tree, "OpenAI")
    client_args = {k.arg: k.value for k in client.keywords}
    assert client_args.keys() == {"base_url", "api_key"}
    assert literal(client_args["base_url"]) == ROOT + "/v1"
    assert ast.unparse(client_args["api_key"]) == "os.environ['RELAY_API_KEY']"
    create = call_of(tree, "chat.completions.create")
    sent = {k.arg: literal(k.value) for k in create.keywords}
    sent |= sent.pop("extra_body", {})
    assert sent == body
    # Only what the SDK has no argument for goes in extra_body.
    assert {k.arg for k in create.keywords} - {"extra_body"} == set(body) - {"top_k"}
    if body.get("stream"):
        loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For))
        assert ast.unparse(loop.iter) == "stream"
        assert "delta.content" in ast.unparse(loop)


@pytest.mark.parametrize("name", BODIES)
def test_the_langchain_snippet_sets_every_field(name):
    body = BODIES[name]
    code = snippets(ROOT, body)["langchain"]
    assert "may add fields of its own" in code
    tree = ast.parse(code)
    args = {k.arg: k.value for k in call_of(tree, "ChatOpenAI").keywords}
    assert literal(args.pop("base_url")) == ROOT + "/v1"
    assert ast.unparse(args.pop("api_key")) == "os.environ['RELAY_API_KEY']"
    assert literal(args.pop("use_responses_api")) is False
    # ChatOpenAI would rename max_tokens to max_completion_tokens: it must travel in extra_body.
    assert "max_tokens" not in args
    sent = {k: literal(v) for k, v in args.items()}
    model_kwargs = sent.pop("model_kwargs", {})
    # ChatOpenAI pulls its own fields out of model_kwargs (metadata is its run metadata).
    assert not model_kwargs.keys() & {"max_tokens", "metadata", "stream", "temperature", "seed"}
    sent |= model_kwargs | sent.pop("extra_body", {})
    if sent.pop("stream_usage", False):
        sent["stream_options"] = {"include_usage": True}
    sent["messages"] = assignment(tree, "messages")
    method = "stream" if "llm.stream(messages)" in code else "invoke"
    assert f"llm.{method}(messages)" in code
    if method == "stream":
        sent["stream"] = True
    assert sent == body


@pytest.mark.parametrize("name", BODIES)
def test_the_node_snippet_sends_the_body_as_written(name, tmp_path):
    body = BODIES[name]
    code = snippets(ROOT, body)["node"]
    assert f'baseURL: "{ROOT}/v1",' in code
    assert "apiKey: process.env.RELAY_API_KEY," in code
    start = code.index("const body = ") + len("const body = ")
    assert json.loads(code[start : code.index(";\n", start)]) == body
    assert ("for await (const chunk of stream)" in code) is bool(body.get("stream"))
    if HAVE_NODE:
        script = tmp_path / "chat.mjs"
        script.write_text(code, encoding="utf-8")
        checked = subprocess.run(["node", "--check", script], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_the_node_snippet_warns_about_integers_javascript_rounds():
    assert "2^53" not in snippets(ROOT, BODIES["params"])["node"]
    big = BODIES["params"] | {"seed": 2**63 - 1}
    assert "2^53" in snippets(ROOT, big)["node"]


def test_python_snippets_are_valid_python():
    for body in BODIES.values():
        code = snippets(ROOT, body)
        for language in ("python", "requests", "langchain"):
            ast.parse(code[language])


def test_it_keeps_a_lone_surrogate_exact():
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "broken \ud800 pair"}]}
    code = snippets(ROOT, body)
    words = shlex.split(code["curl"])
    assert json.loads(words[words.index("--data-binary") + 1]) == body
    assert assignment(ast.parse(code["requests"]), "body") == body
    code["curl"].encode()
    code["node"].encode()


def test_client_snippets_cover_the_seed_guides_list():
    rows = client_snippets(ROOT + "/")
    assert [row["client"] for row in rows] == [name for name, _form, _where in CLIENTS]
    by_client = {row["client"]: row["snippet"] for row in rows}
    forms = {"root": ROOT + "\n", "v1": ROOT + "/v1", "v1/": ROOT + "/v1/", "chat": ROOT + CHAT}
    for name, form, _where in CLIENTS:
        assert forms[form] in by_client[name], name
        assert "sk-" not in by_client[name]
    for name in ("LangChain ChatOpenAI", "openai (Python SDK)"):
        tree = ast.parse(by_client[name])
        assert "os.environ['RELAY_API_KEY']" in ast.unparse(tree)
    academic = ast.parse(by_client["gpt_academic"].split("\n", 1)[1])
    assert assignment(academic, "API_URL_REDIRECT") == {
        "https://api.openai.com/v1/chat/completions": ROOT + CHAT
    }
    assert f"OPENAI_REVERSE_PROXY={ROOT}/v1\n" in by_client["LibreChat"]
    assert f"OPENAI_API_BASE_URL={ROOT}\n" in by_client["Dooy-AI (chatgpt-web-midjourney-proxy)"]
    curl = shlex.split(by_client["requests / curl"])
    assert curl[1] == ROOT + CHAT
