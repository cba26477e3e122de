"""The public lookup: page vs fragment, the result card, the request log, batch and the JSON API."""

from __future__ import annotations

import calendar
import csv
import io
import json
import time

import jsonschema
import pytest
from itsdangerous import URLSafeSerializer

from blueprints.providers.service import add_provider
from tests.conftest import make_app
from tests.fakerelay import make_logs

HX = {"HX-Request": "true"}
USD = 500000


def lookup(client, key, provider="fake", **headers):
    """POST the lookup form."""
    return client.post("/lookup", data={"provider": provider, "key": key}, headers=headers)


def api(client, body):
    """POST the JSON API."""
    return client.post("/api/v1/lookup", json=body)


def test_it_shows_the_lookup_page_with_public_providers_only(app, client, provider, fake):
    """Hidden providers stay out of the select; the key field is a password field."""
    with app.app_context():
        add_provider("secret-relay", fake.url, hidden=True)
    page = client.get("/").get_data(as_text=True)
    assert f"fake — {fake.url}</option>" in page
    assert "secret-relay" not in page
    assert 'type="password"' in page and 'autocomplete="off"' in page


def test_it_returns_the_card_fragment_for_htmx_and_the_page_otherwise(client, provider, fake):
    """htmx gets only the card; a plain POST gets the whole page with the card in it."""
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD)
    fragment = lookup(client, token.key, **HX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.data
    assert b'data-testid="result"' in fragment.data
    page = lookup(client, token.key)
    assert b"<html" in page.data and b'data-testid="result"' in page.data
    for response in (fragment, page):
        assert response.headers["Cache-Control"] == "no-store"
        assert token.key.encode() not in response.data


def test_it_shows_remaining_unit_cny_bar_and_facts(client, provider, fake):
    """Remaining in large type with its unit, ≈ CNY at the purchase rate, used/total, expiry."""
    expires = int(time.time()) + 10 * 86400
    token = fake.add_token(
        name="prod",
        remain_quota=12 * USD,
        used_quota=3 * USD,
        expired_time=expires,
        models=["gpt-4o", "gpt-4o-mini"],
    )
    html = lookup(client, token.key, **HX).get_data(as_text=True)
    assert 'data-testid="remaining">$12.00<' in html
    assert "≈ ¥42.00" in html  # 12 USD × 3.5 CNY/USD
    assert 'value="20.0"' in html  # 3 of 15 used
    assert "prod" in html and f"{token.key[:6]}…{token.key[-4:]}" in html
    assert "in 1 week" in html or "in 10 days" in html
    assert "<code>gpt-4o-mini</code>" in html
    assert "/api/usage/token/" in html and "v0.10.9" in html
    assert "This key only" in html
    assert "= 6,000,000 quota units" in html  # beside the money, from quota_per_unit
    assert f"<code>{fake.url}/v1/chat/completions</code>" in html  # client set-up table


def test_it_explains_an_invalid_key_in_chinese(client, provider):
    """An unknown key is a card (not a 500) with the zh explanation and hint."""
    client.set_cookie("lang", "zh_CN")
    response = lookup(client, "sk-" + "x" * 48, **HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-status="invalid"' in html
    assert "不认识这个密钥" in html


@pytest.mark.parametrize(
    "form,status,code",
    [
        ({"provider": "fake"}, 400, "missing_key"),
        ({"provider": "fake", "key": "hello world"}, 400, "bad_key"),
        ({"provider": "nope", "key": "sk-" + "a" * 48}, 404, "unknown_provider"),
        ({"key": "sk-" + "a" * 48}, 400, "missing_provider"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message(client, provider, form, status, code):
    """Bad input → the right status code and a message, never a stack trace."""
    response = client.post("/lookup", data=form, headers=HX)
    assert response.status_code == status
    assert b'data-testid="input-error"' in response.data
    body = api(client, form)
    assert body.status_code == status
    assert body.get_json()["error"]["code"] == code


def test_it_refuses_hidden_providers_publicly(app, client, fake):
    """A hidden provider cannot be queried by the public lookup."""
    with app.app_context():
        add_provider("hidden", fake.url, hidden=True)
    token = fake.add_token()
    response = api(client, {"provider": "hidden", "key": token.key})
    assert response.status_code == 404
    assert fake.requests == []


def test_it_answers_the_documented_json(client, provider, fake):
    """Every documented field, numbers in the unit, no-store."""
    token = fake.add_token(remain_quota=12 * USD, used_quota=3 * USD, models=["gpt-4o"])
    response = api(client, {"provider": "fake", "key": token.key})
    body = response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert body["provider"] == "fake" and body["relay"] == "new-api"
    assert body["family"] == "new-api" and body["balance_published"] is True
    assert body["status"] == "active" and body["unit"] == "USD"
    assert (body["total"], body["used"], body["remaining"]) == (15.0, 3.0, 12.0)
    assert body["unlimited"] is False and body["expires_at"] is None
    assert body["expiry_stated"] is True  # /api/usage/token said 0: never
    assert body["balances"] == [] and body["budget"] is None and body["account"] is None
    assert body["figures_error"] is None
    assert body["token_name"] == "Default Token" and body["scope"] == "token"
    assert body["models"] == ["gpt-4o"]
    assert "/api/usage/token/" in body["answered_by"]
    assert body["checked_at"].endswith("Z")
    assert "error" not in body


def test_it_reports_unlimited_keys_with_null_totals(client, provider, fake):
    """Unlimited → total/remaining null, unlimited true."""
    token = fake.add_token(unlimited=True, used_quota=2 * USD)
    body = api(client, {"provider": "fake", "key": token.key}).get_json()
    assert body["unlimited"] is True
    assert body["total"] is None and body["remaining"] is None and body["used"] == 2.0


def test_it_reads_cny_relays_in_cny(app, client, relays):
    """A relay that displays CNY reports CNY; the card's ≈¥ goes through USD at the buy rate."""
    fake = relays("new-api-2026", display="CNY", usd_exchange_rate=7.0)
    with app.app_context():
        add_provider("cny", fake.url, cny_rate=3.5)
    token = fake.add_token(remain_quota=10 * USD, used_quota=0)
    body = api(client, {"provider": "cny", "key": token.key}).get_json()
    assert body["unit"] == "CNY" and body["remaining"] == 70.0
    html = lookup(client, token.key, provider="cny", **HX).get_data(as_text=True)
    assert "¥70.00" in html and "≈ ¥35.00" in html
    assert "at the relay's price" in html and "What it cost you:" in html


def test_a_cny_relay_priced_at_the_purchase_rate_shows_one_yen_amount(app, client, relays):
    """Bought at the relay's own rate, the ≈¥ line would repeat the main figure: it is left out."""
    fake = relays("new-api-2026", display="CNY", usd_exchange_rate=7.0)
    with app.app_context():
        add_provider("same", fake.url, cny_rate=7.0)
    token = fake.add_token(remain_quota=10 * USD, used_quota=0)
    html = lookup(client, token.key, provider="same", **HX).get_data(as_text=True)
    assert "¥70.00" in html
    assert 'data-testid="cny"' not in html and "relay's price" not in html


def test_it_says_the_relay_limits_us_not_the_key(client, provider, fake):
    """Empty-body 429 everywhere → rate_limited with retry_in; the key is not blamed."""
    fake.set_fault("*", "429")
    body = api(client, {"provider": "fake", "key": "sk-" + "b" * 48}).get_json()
    assert body["status"] == "rate_limited"
    assert body["retry_in"] > 0
    assert "not at fault" in body["error"]["message"]


def test_it_reports_an_unreachable_relay(client, provider, fake):
    """A relay that resets every connection → unreachable, with a hint."""
    fake.set_fault("*", "reset")
    body = api(client, {"provider": "fake", "key": "sk-" + "c" * 48}).get_json()
    assert body["status"] == "unreachable"
    assert body["error"]["code"] == "reset"


def test_it_serves_a_repeat_lookup_from_memory(client, provider, fake):
    """A second lookup within RESULT_CACHE_SECONDS does not call the relay again."""
    token = fake.add_token()
    api(client, {"provider": "fake", "key": token.key})
    calls = len(fake.requests)
    api(client, {"provider": "fake", "key": token.key})
    assert len(fake.requests) == calls


@pytest.mark.parametrize(
    "body,status,code",
    [
        ("not json", 400, "bad_json"),
        ([1, 2], 400, "bad_json"),
        ({"provider": "fake", "key": 5}, 400, "bad_field"),
    ],
)
def test_it_answers_malformed_bodies_with_400(client, provider, body, status, code):
    """Malformed JSON bodies get a JSON 400."""
    if isinstance(body, str):
        response = client.post("/api/v1/lookup", data=body, content_type="application/json")
    else:
        response = api(client, body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_it_answers_too_large_bodies_with_413(client, provider):
    """A body over MAX_CONTENT_LENGTH is refused with a JSON 413."""
    response = api(client, {"provider": "fake", "key": "sk-" + "a" * 100_000})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_it_looks_up_a_batch_in_order_with_masked_keys(client, provider, fake):
    """Batch JSON: duplicates once, input order, masked keys, 413 past the limit."""
    good = fake.add_token(remain_quota=5 * USD, used_quota=0)
    bad = "sk-" + "d" * 48
    response = client.post(
        "/api/v1/lookup/batch", json={"provider": "fake", "keys": [good.key, bad, good.key]}
    )
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["active", "invalid"]
    assert results[0]["key"] == f"{good.key[:6]}…{good.key[-4:]}"
    assert good.key not in response.get_data(as_text=True)
    many = [f"sk-{i:048d}" for i in range(101)]
    too_many = client.post("/api/v1/lookup/batch", json={"provider": "fake", "keys": many})
    assert too_many.status_code == 413


def test_it_renders_the_batch_page_without_javascript(client, provider, fake):
    """A plain form POST returns the full table and a CSV of masked keys."""
    a = fake.add_token(remain_quota=5 * USD, used_quota=0)
    b = fake.add_token(status="disabled")
    text = f"{a.key}, {b.key};\n{a.key} not-a-key"
    response = client.post("/batch", data={"provider": "fake", "keys": text})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert html.count('id="batch-row-') == 2
    assert 'data-status="active"' in html and 'data-status="disabled"' in html
    assert a.key not in html and "1 piece was not a key" in html
    sealed = html.split('name="table" value="')[1].split('"')[0]
    answer = client.post("/batch.csv", data={"table": sealed})
    assert answer.headers["Content-Disposition"] == 'attachment; filename="relaydash-batch.csv"'
    sheet = answer.get_data(as_text=True)
    assert sheet.startswith("\ufeffkey,status")
    assert a.key not in sheet and f"{a.key[:6]}…{a.key[-4:]}" in sheet
    assert a.key[3:] not in sealed  # the sealed table holds masked keys only


def test_the_batch_csv_renders_only_tables_we_sealed(client):
    """A forged or damaged table is refused (400), so the endpoint reflects nothing."""
    forged = URLSafeSerializer("not our secret", salt="relaydash.batch-csv").dumps([["x"] * 10])
    for table in ("", "garbage", forged):
        assert client.post("/batch.csv", data={"table": table}).status_code == 400
    assert client.get("/batch/anything.csv").status_code == 404


def test_it_streams_batch_rows_as_ndjson(client, provider, fake):
    """With Accept: application/x-ndjson: the empty table, one line per key, then the CSV form."""
    keys = [fake.add_token().key for _ in range(3)]
    response = client.post(
        "/batch",
        data={"provider": "fake", "keys": "\n".join(keys)},
        headers={"Accept": "application/x-ndjson"},
    )
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert lines[0]["start"] is True and lines[0]["html"].count("checking") == 3
    assert sorted(line["i"] for line in lines[1:-1]) == [0, 1, 2]
    assert [(line["row"]["status"], line["row"]["reason"]) for line in lines[1:-1]] == [
        ("active", None)
    ] * 3
    assert 'action="/batch.csv"' in lines[-1]["html"] and 'name="table"' in lines[-1]["html"]
    assert not any(key in response.get_data(as_text=True) for key in keys)


def _with_logs(fake, n=45, start=None):
    start = start or int(time.time()) - 3 * 86400
    return fake.add_token(logs=make_logs(n, start=start, step=3600))


def test_it_loads_the_request_log_with_sums(client, provider, fake):
    """The lazy log: rows, per-model and per-day sums, money units."""
    token = _with_logs(fake)
    response = client.post("/lookup/log", data={"provider": "fake", "key": token.key}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert "45 requests" in html
    assert html.count("<tr>") >= 20
    assert 'data-testid="by-model"' in html and 'data-testid="by-day"' in html
    assert "Page 1 of 3" in html


def test_it_sorts_and_pages_the_log_without_calling_the_relay_again(client, provider, fake):
    """Sorting and paging are served from the cached rows."""
    token = _with_logs(fake)
    form = {"provider": "fake", "key": token.key}
    client.post("/lookup/log", data=form, headers=HX)
    calls = len(fake.requests_to("/api/log/token"))
    html = client.post(
        "/lookup/log", data={**form, "sort": "cost", "dir": "asc", "page": "2", "size": "10"}
    ).get_data(as_text=True)
    assert "Page 2 of 5" in html
    assert "sort--asc" in html
    assert len(fake.requests_to("/api/log/token")) == calls


def test_it_sums_days_in_the_viewers_time_zone(client, provider, fake):
    """Per-day totals follow the tz field: 23:30 UTC is the next day in Shanghai."""
    day = calendar.timegm(time.strptime("2026-11-20 23:30:00", "%Y-%m-%d %H:%M:%S"))
    token = fake.add_token(logs=make_logs(1, start=day))
    form = {"provider": "fake", "key": token.key}
    utc = client.post("/lookup/log", data={**form, "tz": "UTC"}).get_data(as_text=True)
    shanghai = client.post("/lookup/log", data={**form, "tz": "Asia/Shanghai"})
    assert "2026-11-20" in utc
    assert "2026-11-21" in shanghai.get_data(as_text=True)


def test_it_exports_the_log_as_csv_in_money_units(client, provider, fake):
    """CSV via POST, UTF-8 with BOM, cost in USD (not raw quota)."""
    token = _with_logs(fake, n=5)
    response = client.post("/lookup/log.csv", data={"provider": "fake", "key": token.key})
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 5 and rows[0]["unit"] == "USD"
    quotas = {row["quota"] for row in token.logs}
    assert all(float(row["cost"]) < 1 for row in rows)
    assert not any(row["cost"] == str(q) for row in rows for q in quotas)


def test_it_filters_the_log_by_days_in_the_viewers_zone(client, provider, fake):
    """from/to pick calendar days in the viewer's zone; sums, pages and the CSV follow the range."""
    start = calendar.timegm(time.strptime("2026-11-20 00:30:00", "%Y-%m-%d %H:%M:%S"))
    token = fake.add_token(logs=make_logs(72, start=start, step=3600))  # 20, 21, 22 Nov (UTC)
    form = {"provider": "fake", "key": token.key, "tz": "UTC"}
    one_day = client.post("/lookup/log", data={**form, "from": "2026-11-21", "to": "2026-11-21"})
    html = one_day.get_data(as_text=True)
    assert one_day.status_code == 200 and "24 requests" in html
    assert "Only requests made from 2026-11-21 to 2026-11-21." in html
    assert 'value="2026-11-21"' in html and "2026-11-20" not in html.split("by-day")[1]
    # The wrong way round means the same days; in Shanghai (UTC+8) 20-21 Nov hold 16 + 24 rows.
    swapped = {**form, "from": "2026-11-21", "to": "2026-11-20", "tz": "Asia/Shanghai"}
    assert "40 requests" in client.post("/lookup/log", data=swapped).get_data(as_text=True)
    after = client.post("/lookup/log", data={**form, "from": "2026-11-22"}).get_data(as_text=True)
    assert "24 requests" in after and "on or after 2026-11-22" in after
    nothing = client.post("/lookup/log", data={**form, "to": "2026-11-01"}).get_data(as_text=True)
    assert 'data-testid="log-none-in-range"' in nothing and 'data-testid="log-range"' in nothing
    csv_text = client.post("/lookup/log.csv", data={**form, "from": "2026-11-22"}).get_data()
    assert len(list(csv.DictReader(io.StringIO(csv_text.decode("utf-8-sig"))))) == 24


@pytest.mark.parametrize(
    "bad", ["2026-13-01", "٢٠٢٦-١١-٢١", "9999-12-31", "0001-01-01", "x" * 5000]
)
def test_a_log_range_it_cannot_read_is_a_400_in_the_pages_language(client, provider, fake, bad):
    """A bad date keeps the log (all days) with the reason; the CSV refuses it outright."""
    token = _with_logs(fake, n=3)
    form = {"provider": "fake", "key": token.key, "from": bad}
    response = client.post("/lookup/log", data=form, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "3 requests" in html
    assert "must be a date written YYYY-MM-DD" in html
    zh = client.post("/lookup/log", data=form, headers={**HX, "Accept-Language": "zh-CN"})
    assert zh.status_code == 400 and "YYYY-MM-DD" in zh.get_data(as_text=True)
    assert client.post("/lookup/log.csv", data=form).status_code == 400


def test_it_says_when_a_relay_has_no_request_log(app, client, relays):
    """one-api has no per-key log endpoint: say so instead of failing."""
    fake = relays("one-api")
    with app.app_context():
        add_provider("oa", fake.url)
    token = fake.add_token()
    lookup(client, token.key, provider="oa", **HX)
    html = client.post("/lookup/log", data={"provider": "oa", "key": token.key}).get_data()
    assert b'data-testid="log-unavailable"' in html
    assert fake.requests_to("/api/log/token") == []


def test_it_publishes_an_openapi_document(client):
    """/api/v1/openapi.json describes both endpoints."""
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/lookup", "/api/v1/lookup/batch"} <= set(spec["paths"])
    statuses = spec["components"]["schemas"]["Result"]["properties"]["status"]["enum"]
    assert "rate_limited" in statuses


def _body(spec: dict, path: str) -> dict:
    return spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "body,valid",
    [
        ({"provider": "fake", "key": "sk-" + "a" * 48}, True),
        ({"provider": "", "key": "sk-" + "a" * 48}, False),  # 400 missing_provider
        ({"provider": "fake", "key": "not a key"}, False),  # 400 bad_key
        ({"provider": "fake", "key": ""}, False),  # 400 missing_key
    ],
)
def test_the_openapi_document_says_what_the_api_refuses(client, provider, body, valid):
    """Every body the document allows is accepted, every body the API refuses breaks it."""
    schema = _body(client.get("/api/v1/openapi.json").get_json(), "/api/v1/lookup")
    assert jsonschema.Draft202012Validator(schema).is_valid(body) is valid
    assert (api(client, body).status_code != 400) is valid


@pytest.mark.parametrize(
    "keys,valid",
    [(["sk-" + "a" * 48, "junk"], True), (["junk"], False), ([], False)],
)
def test_the_openapi_document_says_a_batch_needs_one_key(client, provider, keys, valid):
    """Pieces that are not keys are skipped, but at least one must be a key."""
    schema = _body(client.get("/api/v1/openapi.json").get_json(), "/api/v1/lookup/batch")
    body = {"provider": "fake", "keys": keys}
    assert jsonschema.Draft202012Validator(schema).is_valid(body) is valid
    response = client.post("/api/v1/lookup/batch", json=body)
    assert (response.status_code != 400) is valid


@pytest.mark.parametrize(
    "method,path,allowed",
    [("GET", "/lookup", "POST"), ("GET", "/api/v1/lookup", "POST"), ("POST", "/", "GET")],
)
def test_a_wrong_method_gets_405_with_allow(client, method, path, allowed):
    """RFC 9110: a 405 lists the methods the address accepts."""
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert allowed in [m.strip() for m in response.headers["Allow"].split(",")]


def test_a_web_page_where_the_api_should_be_is_not_called_a_404(app, client, relays):
    """An SPA catch-all answers 200 with HTML: the card says so, with the real status."""
    fake = relays("new-api-2026", html_fallback=True)
    with app.app_context():
        add_provider("site", fake.url + "/panel")
    html = lookup(client, fake.add_token().key, provider="site").get_data(as_text=True)
    assert "it sent a web page (HTTP 200)" in html
    assert "(404)" not in html


def test_a_batch_past_its_limit_gets_a_card_not_a_whole_page(tmp_path, fake):
    """Our script sends HX-Request with the batch: the 429 comes back as the error card alone
    (no header, nav and footer inside the results), in the page's language."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, BATCH_RATE_LIMIT="1/minute")
    with app.app_context():
        add_provider("fake", fake.url)
    client = app.test_client()
    client.set_cookie("lang", "zh_CN")
    headers = {"Accept": "application/x-ndjson", "HX-Request": "true"}
    form = {"provider": "fake", "keys": fake.add_token().key}
    assert client.post("/batch", data=form, headers=headers).status_code == 200
    limited = client.post("/batch", data=form, headers=headers)
    body = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert "<html" not in body and 'class="top"' not in body and "<footer" not in body
    assert "请求过于频繁" in body and 'data-status="429"' in body


def test_a_nul_in_the_json_body_is_refused_only_where_it_is_read(client, provider, fake):
    """A NUL in the provider's name: no such provider (404, never a 500 on PostgreSQL); in the
    key: not a key; in a member the API does not read: the request is answered as usual."""
    named = api(client, {"provider": "fa\x00ke", "key": "sk-" + "a" * 48})
    assert named.status_code == 404 and named.get_json()["error"]["code"] == "unknown_provider"
    keyed = api(client, {"provider": "fake", "key": "sk-" + "a" * 20 + "\x00" + "a" * 27})
    assert keyed.status_code == 400 and keyed.get_json()["error"]["code"] != "bad_request"
    token = fake.add_token()
    extra = api(client, {"provider": "fake", "key": token.key, "$\x00note": {"\x00": 1}})
    assert extra.status_code == 200 and extra.get_json()["status"] == "active"
