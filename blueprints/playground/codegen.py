"""View code: the exact request body as curl, Python, LangChain and Node, plus client set-up.

Every snippet reads the key from the RELAY_API_KEY environment variable; no key is ever written.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from flask_babel import gettext as _

from blueprints.providers.clients import client_setup

LANGUAGES = ("curl", "python", "requests", "langchain", "node")
KEY_PLACEHOLDER = "<your relay key>"
_WIDTH = 88
# Keyword arguments of the openai SDK's chat.completions.create; anything else goes in extra_body.
_SDK_PARAMS = frozenset(
    {
        *("audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs"),
        *("max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model"),
        *("n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key"),
        *("reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier"),
        *("stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools"),
        *("top_logprobs", "top_p", "user", "verbosity", "web_search_options"),
    }
)
# ChatOpenAI fields that reach the body under the same name. (max_tokens does not: ChatOpenAI
# renames it to max_completion_tokens, so it travels in extra_body; metadata is LangChain's own.)
_LC_FIELDS = (
    *("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "stop", "n"),
    *("logit_bias", "max_completion_tokens", "reasoning_effort"),
)
_LC_OWN = frozenset({"max_tokens", "metadata", "stream", "stream_options"})
_INCLUDE_USAGE = {"include_usage": True}
_JS_SAFE = 2**53 - 1  # Number.MAX_SAFE_INTEGER


def _py_str(text: str) -> str:
    """A Python string literal; double quotes when the text has no quotes at all."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text and "'" not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def _py_flat(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return repr(value)  # JSON numbers are finite here: the body was sent as JSON
    if isinstance(value, str):
        return _py_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_py_flat(v) for v in value) + "]"
    return "{" + ", ".join(f"{_py_str(k)}: {_py_flat(v)}" for k, v in value.items()) + "}"


def _py(value: Any, level: int = 0, lead: int = 0) -> str:
    """A Python literal equal to a JSON value, broken over lines the way ruff would."""
    flat = _py_flat(value)
    if not isinstance(value, dict | list) or not value or 4 * level + lead + len(flat) <= _WIDTH:
        return flat
    pad, inner = "    " * level, "    " * (level + 1)
    if isinstance(value, dict):
        rows = [
            f"{inner}{_py_str(k)}: {_py(v, level + 1, len(_py_str(k)) + 2)},"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(rows) + f"\n{pad}}}"
    return "[\n" + "\n".join(f"{inner}{_py(v, level + 1)}," for v in value) + f"\n{pad}]"


def _kwargs(args: dict[str, Any]) -> str:
    """The inside of a call: one keyword argument a line."""
    return "".join(f"    {k}={_py(v, 1, len(k) + 1)},\n" for k, v in args.items())


def _json_flat(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _json_lines(value: Any, level: int = 0, lead: int = 0) -> str:
    flat = _json_flat(value)
    if not isinstance(value, dict | list) or not value or 2 * level + lead + len(flat) <= _WIDTH:
        return flat
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        rows = [
            f"{inner}{_json_flat(k)}: {_json_lines(v, level + 1, len(_json_flat(k)) + 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(rows) + f"\n{pad}}}"
    return "[\n" + ",\n".join(f"{inner}{_json_lines(v, level + 1)}" for v in value) + f"\n{pad}]"


def _json(value: Any, lead: int = 0) -> str:
    """Readable JSON (also a JavaScript literal); \\u escapes only where UTF-8 cannot go."""
    text = _json_lines(value, 0, lead)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate (a \ud800 escape in the input)
        text = json.dumps(value, indent=2)
    return text


def _curl(url: str, body: dict) -> str:
    flags = " -N" if body.get("stream") else ""  # -N: print each event as it arrives
    return (
        f"curl{flags} {shlex.quote(url)} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        '  -H "Authorization: Bearer $RELAY_API_KEY" \\\n'
        f"  --data-binary {shlex.quote(_json(body))}\n"
    )


def _python(url: str, body: dict) -> str:
    args = {k: v for k, v in body.items() if k in _SDK_PARAMS}
    extra = {k: v for k, v in body.items() if k not in args}
    if extra:
        args["extra_body"] = extra  # fields the SDK has no argument for, sent as they are
    head = (
        "import os\n\nfrom openai import OpenAI\n\n"
        f'client = OpenAI(base_url={_py_str(url)}, api_key=os.environ["RELAY_API_KEY"])\n\n'
    )
    if body.get("stream"):
        return (
            f"{head}stream = client.chat.completions.create(\n{_kwargs(args)})\n"
            "for chunk in stream:\n"
            "    if chunk.choices and chunk.choices[0].delta.content:\n"
            '        print(chunk.choices[0].delta.content, end="", flush=True)\n'
            "    if chunk.usage:\n"
            '        print("\\n", chunk.usage)\n'
        )
    return (
        f"{head}response = client.chat.completions.create(\n{_kwargs(args)})\n"
        "print(response.choices[0].message.content)\n"
    )


def _requests(url: str, body: dict) -> str:
    stream = bool(body.get("stream"))
    head = (
        ("import json\n" if stream else "")
        + "import os\n\nimport requests\n\n"
        + f"URL = {_py_str(url)}\n"
        + 'HEADERS = {"Authorization": "Bearer " + os.environ["RELAY_API_KEY"]}\n'
        + f"body = {_py(body, 0, 7)}\n\n"
    )
    if stream:
        return (
            f"{head}with requests.post(\n"
            "    URL, headers=HEADERS, json=body, stream=True, timeout=120\n"
            ") as response:\n"
            "    response.raise_for_status()\n"
            "    # Bytes, not text: SSE is UTF-8 whatever charset requests would guess.\n"
            "    for line in response.iter_lines():\n"
            '        if not line.startswith(b"data: ") or line == b"data: [DONE]":\n'
            "            continue\n"
            "        chunk = json.loads(line[6:])\n"
            '        for choice in chunk.get("choices") or []:\n'
            '            print(choice["delta"].get("content") or "", end="", flush=True)\n'
            "print()\n"
        )
    return (
        f"{head}response = requests.post(URL, headers=HEADERS, json=body, timeout=120)\n"
        "response.raise_for_status()\n"
        'print(response.json()["choices"][0]["message"]["content"])\n'
    )


def _langchain(url: str, body: dict) -> str:
    stream = bool(body.get("stream"))
    args = {k: body[k] for k in ("model", *_LC_FIELDS) if k in body}
    model_kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key in args or key == "messages" or (key == "stream" and stream):
            continue  # llm.stream() sends "stream": true itself
        if key == "stream_options" and stream and value == _INCLUDE_USAGE:
            args["stream_usage"] = True  # LangChain then sends these stream_options itself
        elif key in _SDK_PARAMS and key not in _LC_OWN:
            model_kwargs[key] = value
        else:
            extra[key] = value  # merged into the body by the openai SDK, untouched
    if model_kwargs:
        args["model_kwargs"] = model_kwargs
    if extra:
        args["extra_body"] = extra
    call = (
        "for chunk in llm.stream(messages):\n"
        '    print(chunk.content, end="", flush=True)\nprint()\n'
        if stream
        else "print(llm.invoke(messages).content)\n"
    )
    return (
        "import os\n\nfrom langchain_openai import ChatOpenAI\n\n"
        "# LangChain builds the request itself and may add fields of its own (a non-streamed\n"
        '# call sends "stream": false); everything the playground sent is set here.\n'
        f"llm = ChatOpenAI(\n    base_url={_py_str(url)},\n"
        '    api_key=os.environ["RELAY_API_KEY"],\n'
        "    use_responses_api=False,  # the relay's /v1/chat/completions, not /v1/responses\n"
        f"{_kwargs(args)})\n"
        f"messages = {_py(body.get('messages', []), 0, 11)}\n{call}"
    )


def _ints(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def _node(url: str, body: dict) -> str:
    if body.get("stream"):
        call = (
            "const stream = await client.chat.completions.create(body);\n"
            "for await (const chunk of stream) {\n"
            '  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");\n'
            "}\n"
            'process.stdout.write("\\n");\n'
        )
    else:
        call = (
            "const completion = await client.chat.completions.create(body);\n"
            "console.log(completion.choices[0].message.content);\n"
        )
    note = ""
    if any(abs(n) > _JS_SAFE for n in _ints(body)):
        note = "// Beware: JavaScript rounds integers past 2^53 (a large seed) before sending.\n"
    return (
        "// Save as chat.mjs, then: npm install openai && node chat.mjs\n"
        f"{note}"
        'import OpenAI from "openai";\n\n'
        "const client = new OpenAI({\n"
        f"  baseURL: {json.dumps(url)},\n"
        "  apiKey: process.env.RELAY_API_KEY,\n"
        "});\n\n"
        f"const body = {_json(body, 13)};\n\n{call}"
    )


def snippets(base_url: str, body: dict) -> dict[str, str]:
    """Each language's code for exactly this body; base_url is the provider's root (no /v1)."""
    root = base_url.rstrip("/")
    v1, chat = root + "/v1", root + "/v1/chat/completions"
    return {
        "curl": _curl(chat, body),
        "python": _python(v1, body),
        "requests": _requests(chat, body),
        "langchain": _langchain(v1, body),
        "node": _node(v1, body),
    }


def _setup_snippet(client: str, url: str, where: str) -> str:
    """What to type or paste for one client; the key stays a placeholder."""
    if client == "LangChain ChatOpenAI":
        return (
            "import os\n\nfrom langchain_openai import ChatOpenAI\n\n"
            f'llm = ChatOpenAI(model="gpt-4o", base_url={_py_str(url)}, '
            'api_key=os.environ["RELAY_API_KEY"])\n'
        )
    if client == "openai (Python SDK)":
        return (
            "import os\n\nfrom openai import OpenAI\n\n"
            f'client = OpenAI(base_url={_py_str(url)}, api_key=os.environ["RELAY_API_KEY"])\n'
        )
    if client == "requests / curl":
        hello = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
        return _curl(url, hello)
    if client == "LibreChat":
        return (
            "# .env\nENDPOINTS=openAI\n"
            f"OPENAI_API_KEY={KEY_PLACEHOLDER}\n"
            "OPENAI_MODELS=gpt-4o,gpt-4o-mini\n"
            f"OPENAI_REVERSE_PROXY={url}\n"
        )
    if client.startswith("Dooy-AI"):
        return (
            f"# docker environment\nOPENAI_API_BASE_URL={url}\n"
            f"OPENAI_API_KEY={KEY_PLACEHOLDER}\n"
            "# MJ_SERVER=… only for its Midjourney drawing\n"
        )
    if client == "gpt_academic":
        return (
            "# config_private.py\n"
            f"API_KEY = {_py_str(KEY_PLACEHOLDER)}\n"
            'API_URL_REDIRECT = {"https://api.openai.com/v1/chat/completions": '
            f"{_py_str(url)}}}\n"
        )
    return f"{where}: {url}\n{_('API key')}: {KEY_PLACEHOLDER}\n"


def client_snippets(base_url: str) -> list[dict]:
    """The seed guide's client set-up list, filled with this provider's address."""
    rows = client_setup(base_url.rstrip("/"))
    return [
        {
            "client": row["client"],
            "snippet": _setup_snippet(row["client"], row["url"], str(row["where"])),
        }
        for row in rows
    ]
