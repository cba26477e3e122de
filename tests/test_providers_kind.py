"""The relay family of a provider: --kind on the CLI, the admin form, and "Test connection"."""

from __future__ import annotations

import html
import re

import pytest

import relay
from blueprints.providers.service import (
    ProviderError,
    add_provider,
    edit_provider,
    find_provider,
    list_providers,
    seed_defaults,
)
from database import db
from tests.conftest import login
from tests.fakerelay import DEFAULT_VERSIONS
from tests.test_admin import dead_url

HX = {"HX-Request": "true"}


def run(app, *args: str):
    """Run `flask providers …` in-process."""
    return app.test_cli_runner().invoke(args=["providers", *args])


def row(app, name: str):
    """(kind, detected_kind, base_url) of a provider."""
    with app.app_context():
        provider = find_provider(name, include_hidden=True)
        return provider.kind, provider.detected_kind, provider.base_url


@pytest.fixture
def admin(app, client, make_user):
    """The test client, logged in as an admin."""
    make_user("root", admin=True)
    assert login(client, "root").status_code == 303
    return client


def connection_test(admin, app, name: str) -> str:
    """The "Test connection" fragment for the provider called `name`."""
    with app.app_context():
        pid = find_provider(name, include_hidden=True).id
    response = admin.post(f"/admin/providers/{pid}/test", headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def abilities(fragment: str) -> dict[str, str]:
    """{"balance": "yes", …} as the test card shows them."""
    found = re.findall(r'data-testid="can-(\w+)" data-can="(yes|no)"', fragment)
    return dict(found)


def text_of(fragment: str, testid: str) -> str:
    """The text of the element with that data-testid, tags stripped."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(dd|p)>', fragment, re.S)
    assert match, f"no {testid} in {fragment}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


# -- the CLI and the service ----------------------------------------------------------------


def test_it_adds_a_provider_with_a_relay_family_from_the_cli(app):
    """--kind names the family (any case); without it the provider is auto; list shows both."""
    assert run(app, "add", "proxy", "https://proxy.example", "--kind", "LiteLLM").exit_code == 0
    assert run(app, "add", "plain", "https://plain.example").exit_code == 0
    assert row(app, "proxy")[0] == "litellm" and row(app, "plain")[0] == "auto"
    listing = run(app, "list").output
    assert "proxy\thttps://proxy.example\tpublic\t-\t150/180s\tlitellm\n" in listing
    assert "plain\thttps://plain.example\tpublic\t-\t150/180s\tauto\n" in listing


def test_it_refuses_an_unknown_relay_family_on_the_cli(app):
    """A bad --kind is a usage error listing the families; nothing is added or changed."""
    result = run(app, "add", "x", "https://x.example", "--kind", "one_api")
    assert result.exit_code == 2
    assert "--kind" in result.output and "litellm" in result.output and "auto" in result.output
    with app.app_context():
        assert list_providers() == []
    assert run(app, "add", "x", "https://x.example", "--kind", "deepseek").exit_code == 0
    before = run(app, "list").output
    assert run(app, "edit", "x", "--kind", "kimi").exit_code == 2
    assert run(app, "list").output == before


def test_it_refuses_an_unknown_kind_in_the_service_too(app):
    """add_provider and edit_provider check the kind themselves (the web form uses them)."""
    with app.app_context():
        with pytest.raises(ProviderError) as refused:
            add_provider("x", "https://x.example", kind="gemini")
        assert refused.value.code == "bad_kind"
        provider = add_provider("y", "https://y.example", kind="moonshot")
        with pytest.raises(ProviderError):
            edit_provider(provider, kind="kimi", name="z")
        db.session.rollback()
        assert [(p.name, p.kind) for p in list_providers()] == [("y", "moonshot")]


def test_it_edits_the_kind_and_forgets_what_was_detected(app):
    """A new kind or base URL clears the noted family and the cached detection of both URLs."""
    assert run(app, "add", "p", "https://old.example").exit_code == 0
    with app.app_context():
        provider = find_provider("p")
        provider.detected_kind = "litellm"
        db.session.commit()
    assert "\tauto: litellm\n" in run(app, "list").output
    relay.FAMILY_CACHE.store("https://old.example", "litellm")
    relay.FAMILY_CACHE.store("https://new.example", "openai")
    assert run(app, "edit", "p", "--base-url", "https://new.example").exit_code == 0
    assert relay.FAMILY_CACHE.peek("https://old.example") == (False, None)
    assert relay.FAMILY_CACHE.peek("https://new.example") == (False, None)
    assert row(app, "p") == ("auto", None, "https://new.example")
    relay.FAMILY_CACHE.store("https://new.example", "openai")
    edited = run(app, "edit", "p", "--kind", "openrouter")
    assert edited.exit_code == 0 and "kind openrouter" in edited.output
    assert relay.FAMILY_CACHE.peek("https://new.example") == (False, None)
    relay.FAMILY_CACHE.store("https://new.example", "openai")
    assert run(app, "edit", "p", "--cny-rate", "2").exit_code == 0
    assert relay.FAMILY_CACHE.peek("https://new.example") == (True, "openai")  # unrelated edit


def test_it_seeds_default_providers_with_their_kind(app):
    """A DEFAULT_PROVIDERS entry may name its family; without one it is auto."""
    with app.app_context():
        seed_defaults(
            [
                {"name": "ds", "base_url": "https://api.deepseek.com", "kind": "deepseek"},
                {"name": "juhe", "base_url": "https://api.juheai.top"},
            ]
        )
    assert row(app, "ds")[0] == "deepseek" and row(app, "juhe")[0] == "auto"


# -- the admin form -----------------------------------------------------------------------------


def test_it_offers_every_relay_family_on_the_admin_form(admin):
    """The add form's "Relay family" select: Auto-detect (chosen), then each family by name."""
    page = admin.get("/admin/providers").get_data(as_text=True)
    select = re.search(r'<select id="p-kind" name="kind".*?</select>', page, re.S).group(0)
    values = re.findall(r'<option value="([\w-]+)"', select)
    assert values == list(relay.KINDS)
    assert re.search(r'value="auto" selected>Auto-detect<', select)
    for label in ("LiteLLM", "OpenRouter", "DeepSeek", "OpenAI-compatible", "new-api"):
        assert f">{label}<" in select


def test_it_saves_the_relay_family_chosen_on_the_admin_form(app, admin):
    """Add with a family, edit to another, and back to auto: each is saved and shown."""
    form = {"name": "gw", "base_url": "https://gw.example", "kind": "litellm"}
    assert admin.post("/admin/providers", data=form).status_code == 303
    assert row(app, "gw")[0] == "litellm"
    table = admin.get("/admin/providers").get_data(as_text=True)
    assert re.search(r'data-kind="litellm">LiteLLM <span class="muted">\(set\)', table)
    with app.app_context():
        pid = find_provider("gw").id
    edit = admin.get(f"/admin/providers/{pid}/edit").get_data(as_text=True)
    assert 'value="litellm" selected' in edit
    relay.FAMILY_CACHE.store("https://gw.example", "litellm")
    moved = {**form, "base_url": "https://gw2.example", "kind": "openai"}
    assert admin.post(f"/admin/providers/{pid}/edit", data=moved).status_code == 303
    assert row(app, "gw") == ("openai", None, "https://gw2.example")
    assert relay.FAMILY_CACHE.peek("https://gw.example") == (False, None)
    assert admin.post(f"/admin/providers/{pid}/edit", data={**moved, "kind": "auto"}).status_code
    assert row(app, "gw")[0] == "auto"
    table = admin.get("/admin/providers").get_data(as_text=True)
    assert "not detected yet" in table


def test_it_refuses_an_unknown_relay_family_on_the_admin_form(app, admin):
    """A forged kind: 400 with a message; nothing is added."""
    form = {"name": "gw", "base_url": "https://gw.example", "kind": "gemini"}
    response = admin.post("/admin/providers", data=form)
    assert response.status_code == 400
    assert "Pick a relay family" in response.get_data(as_text=True)
    with app.app_context():
        assert find_provider("gw") is None


# -- test connection ----------------------------------------------------------------------------

FAMILY_CASES = [
    # flavor, family, label, can: balance, validity, log, reachability
    ("litellm", "litellm", "LiteLLM", ("yes", "yes", "no", "yes")),
    ("openrouter", "openrouter", "OpenRouter", ("yes", "yes", "no", "yes")),
    ("deepseek", "deepseek", "DeepSeek", ("yes", "yes", "no", "yes")),
    ("moonshot", "moonshot", "Moonshot (Kimi)", ("yes", "yes", "no", "yes")),
    ("openai", "openai", "OpenAI-compatible", ("no", "yes", "no", "yes")),
    ("new-api-2026", "new-api", "new-api", ("yes", "yes", "yes", "yes")),
    ("one-api", "one-api", "one-api", ("yes", "yes", "no", "yes")),
]


@pytest.mark.parametrize("flavor,family,label,can", FAMILY_CASES)
def test_it_names_the_detected_family_and_what_it_can_answer(
    app, admin, relays, flavor, family, label, can
):
    """Test connection detects the family afresh, says what it answers, and notes it on the row."""
    fake = relays(flavor)
    with app.app_context():
        add_provider("relay", fake.base_url)
    relay.FAMILY_CACHE.store(row(app, "relay")[2], "deepseek" if family != "deepseek" else "openai")
    html = connection_test(admin, app, "relay")
    assert 'data-ok="true"' in html and f'data-family="{family}"' in html
    assert text_of(html, "probe-family") == f"{label} (detected)"
    names = ("balance", "validity", "log", "reachability")
    assert abilities(html) == dict(zip(names, can, strict=True))
    assert row(app, "relay")[1] == family
    assert "probe-error" not in html and "probe-note" not in html
    table = admin.get("/admin/providers").get_data(as_text=True)
    assert f'{label} <span class="muted">(detected)' in table


def test_it_shows_the_new_api_version_and_units_it_read_just_now(app, admin, relays):
    """For new-api: generation, version and units from a fresh /api/status, with the family."""
    fake = relays("new-api-2026", display="CNY")
    with app.app_context():
        add_provider("na", fake.url)
    html = connection_test(admin, app, "na")
    assert 'data-generation="new-api-2026"' in html
    assert text_of(html, "probe-relay") == "new-api (2026)"
    assert text_of(html, "probe-version") == DEFAULT_VERSIONS["new-api-2026"]
    assert "<dd>CNY</dd>" in html
    assert text_of(html, "can-log") == "yes"


def test_it_says_the_balance_of_an_account_family_is_the_account_s(app, admin, relays):
    """DeepSeek publishes the account's balance, not a key's: the words say so."""
    fake = relays("deepseek")
    with app.app_context():
        add_provider("ds", fake.url)
    assert "the account's balance" in text_of(connection_test(admin, app, "ds"), "can-balance")


def test_it_names_an_admin_override_as_such_beside_what_was_detected(app, admin, relays):
    """kind=litellm on a new-api relay: LiteLLM, called an override; detection says new-api."""
    fake = relays("new-api-2026")
    with app.app_context():
        add_provider("forced", fake.url, kind="litellm")
    html = connection_test(admin, app, "forced")
    assert 'data-family="litellm"' in html
    assert text_of(html, "probe-family").startswith("LiteLLM (an admin's override")
    assert text_of(html, "probe-detected") == "new-api"
    assert text_of(html, "can-log") == "no"
    assert row(app, "forced")[:2] == ("litellm", None)


def test_it_tests_an_override_of_the_right_family(app, admin, relays):
    """kind=openrouter on the OpenRouter fake: override and detection agree."""
    fake = relays("openrouter")
    with app.app_context():
        add_provider("or", fake.base_url, kind="openrouter")
    html = connection_test(admin, app, "or")
    assert 'data-ok="true"' in html
    assert text_of(html, "probe-family").startswith("OpenRouter (an admin's override")
    assert text_of(html, "probe-detected") == "OpenRouter"


def test_it_says_plainly_when_nothing_answered(app, admin):
    """A dead address: no family is named, the page says nothing answered and why."""
    with app.app_context():
        add_provider("dead", dead_url())
    html = connection_test(admin, app, "dead")
    assert 'data-ok="false"' in html and "data-family" not in html
    error = text_of(html, "probe-error")
    assert error.startswith("Nothing answered at this address") and "Cannot connect" in error
    assert row(app, "dead")[1] is None


def test_it_decides_no_family_while_the_status_page_fails(app, admin, fake):
    """/api/status answering 500 while the rest answers: maybe a one-api relay failing for now,
    so no family is decided (not "OpenAI-compatible" for an hour) and the page says why."""
    fake.set_fault("/api/status", "500")
    with app.app_context():
        add_provider("broken", fake.url)
    html = connection_test(admin, app, "broken")
    assert 'data-ok="false"' in html and "data-family" not in html
    error = text_of(html, "probe-error")
    assert error.startswith("/api/status: The relay reported a server error.")
    assert "not decided yet" in error
    fake.set_fault("/api/status", None)
    html = connection_test(admin, app, "broken")
    assert 'data-ok="true"' in html and 'data-family="new-api"' in html
