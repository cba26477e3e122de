"""The API page (/api): the OpenAPI document for people, server-rendered, linked from the nav."""

from __future__ import annotations

import html
import json
import re
import shlex

import pytest

from blueprints.lookup.apidocs import KEY_PLACEHOLDER, example, type_text


def _page(client, lang: str = "en") -> str:
    client.set_cookie("lang", lang)
    response = client.get("/api")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _curls(page: str) -> list[str]:
    blocks = re.findall(r'data-testid="curl"><code>(.*?)</code>', page, re.S)
    return [html.unescape(block) for block in blocks]


def test_the_nav_api_link_opens_the_page_and_the_json_stays(client):
    """ "API" in the header leads to /api; the raw document is still served and linked."""
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/api"[^>]*>API</a>', home)
    assert 'href="/api/v1/openapi.json">API<' not in home
    page = _page(client)
    assert 'href="/api/v1/openapi.json" data-testid="raw-openapi"' in page
    assert client.get("/api/v1/openapi.json").get_json()["openapi"].startswith("3.")


def test_every_operation_field_and_response_of_the_document_is_on_the_page(client):
    """Built from the document itself: each path, method, summary, body field and response code,
    and every property of every named schema, appear."""
    spec = client.get("/api/v1/openapi.json").get_json()
    page = html.unescape(_page(client))
    assert spec["info"]["title"] in page
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert f'id="{method}-{path.strip("/").replace("/", "-")}"' in page
            assert op["summary"] in page
            body = op["requestBody"]["content"]["application/json"]["schema"]
            for name in body["properties"]:
                assert f"<code>{name}</code>" in page
            for code, reply in op["responses"].items():
                assert f'<td class="nowrap">{code}</td><td>{reply["description"]}</td>' in page
    for name, schema in spec["components"]["schemas"].items():
        assert f'id="schema-{name}"' in page
        for prop in schema["properties"]:
            assert f"<code>{prop}</code>" in page, prop
    assert page.count('data-testid="operation"') == sum(len(m) for m in spec["paths"].values())


def test_the_curl_examples_run_against_the_api_with_a_real_key(client, provider, fake):
    """Each example is a valid request: with the placeholder swapped for a key, the API answers
    200. The page itself never shows a key-like string, only the placeholder."""
    page = _page(client)
    curls = _curls(page)
    assert len(curls) == 2
    token = fake.add_token()
    for text in curls:
        assert KEY_PLACEHOLDER in text
        assert not re.search(r"sk-[A-Za-z0-9]{16,}", text)
        argv = shlex.split(text.replace("\\\n", " "))
        url = argv[argv.index("-X") + 2]
        body = json.loads(argv[argv.index("-d") + 1])
        assert url.startswith("http://localhost/api/v1/lookup")
        body["provider"] = provider
        if "keys" in body:
            body["keys"] = [token.key]
        else:
            body["key"] = token.key
        response = client.post(url.removeprefix("http://localhost"), json=body)
        assert response.status_code == 200, response.get_json()
        result = response.get_json()
        first = result["results"][0] if "results" in result else result
        assert first["status"] == "active"


@pytest.mark.parametrize("lang,html_lang", [("en", "en"), ("zh_CN", "zh-CN")])
def test_the_page_renders_in_both_languages_without_inline_script_or_style(client, lang, html_lang):
    """CSP-safe: no inline style attribute, no script besides the nonce'd files of base.html."""
    page = _page(client, lang)
    assert f'<html lang="{html_lang}">' in page
    assert " style=" not in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(" src=" in tag and " nonce=" in tag for tag in scripts)
    assert re.search(r'<a href="/api" aria-current="page">API</a>', page)


def test_type_text_and_example_follow_the_schema():
    """The helpers the page is built with, on the shapes the document uses."""
    assert type_text({"type": ["number", "null"]}) == "number | null"
    assert type_text({"type": "array", "items": {"type": "string"}}) == "array of string"
    assert type_text({"$ref": "#/components/schemas/Result"}) == "Result"
    assert type_text({"enum": ["token", None]}) == "one of: token, null"
    assert type_text({"type": ["string", "null"], "format": "date-time"}) == (
        "string | null (date-time)"
    )
    body = {
        "type": "object",
        "properties": {
            "provider": {"type": "string", "example": "聚合AI"},
            "keys": {"type": "array", "items": {"type": "string"}, "contains": {"pattern": "x"}},
        },
    }
    assert example(body) == {"provider": "聚合AI", "keys": [KEY_PLACEHOLDER]}
