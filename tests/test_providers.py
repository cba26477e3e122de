"""Providers: the CLI, URL normalisation, seeding, and use by the public lookup."""

from __future__ import annotations

import pytest

import relay
from blueprints.auth.service import find_user
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.service import add_key
from blueprints.providers.service import (
    ProviderError,
    add_provider,
    find_provider,
    list_providers,
    parse_budget,
)
from database import db


def run(app, *args: str):
    """Run `flask providers …` in-process."""
    return app.test_cli_runner().invoke(args=["providers", *args])


@pytest.mark.parametrize(
    "pasted",
    [
        "https://api.juheai.top",
        "https://api.juheai.top/",
        "https://api.juheai.top/v1",
        "https://api.juheai.top/v1/",
        "https://API.juheai.top/v1/chat/completions",
        " https://api.juheai.top/v1/chat/completions/ ",
    ],
)
def test_it_normalises_base_urls_as_people_paste_them(app, pasted):
    """/v1, /v1/chat/completions and trailing slashes go; the rest stays."""
    result = run(app, "add", "juhe", pasted)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert list_providers()[0].base_url == "https://api.juheai.top"


@pytest.mark.parametrize(
    "bad", ["ftp://x.example", "javascript:alert(1)", "api.juheai.top", "", "https://u:p@x.io"]
)
def test_it_refuses_urls_that_are_not_http(app, bad):
    """Anything but an http(s) URL with a host is refused with a clear error."""
    result = run(app, "add", "x", bad)
    assert result.exit_code != 0
    assert "http(s) URL" in result.output
    with app.app_context():
        assert list_providers() == []


def test_it_adds_lists_and_removes_providers(app):
    """add (with --hidden and --cny-rate), list, remove."""
    assert (
        run(app, "add", "聚合AI", "https://api.juheai.top/v1", "--cny-rate", "3.5").exit_code == 0
    )
    assert run(app, "add", "mine", "http://10.0.0.5:3000", "--hidden").exit_code == 0
    listing = run(app, "list").output
    assert "聚合AI\thttps://api.juheai.top\tpublic\t3.5 CNY/USD" in listing
    assert "mine\thttp://10.0.0.5:3000\thidden\t-" in listing
    duplicate = run(app, "add", "聚合ai", "https://other.example")
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    assert run(app, "remove", "mine").exit_code == 0
    assert "mine" not in run(app, "list").output
    missing = run(app, "remove", "mine")
    assert missing.exit_code != 0 and "No provider" in missing.output


def test_it_refuses_a_nonsense_rate(app):
    """--cny-rate must be positive."""
    result = run(app, "add", "x", "https://x.example", "--cny-rate", "-1")
    assert result.exit_code != 0 and "--cny-rate" in result.output
    with app.app_context(), pytest.raises(ProviderError):
        add_provider("y", "https://y.example", cny_rate=0)


def test_it_makes_a_new_provider_usable_by_the_lookup_at_once(app, client, fake):
    """A provider added from the CLI shows up in the lookup and answers at once."""
    assert run(app, "add", "fresh", fake.url + "/v1/chat/completions").exit_code == 0
    assert "fresh — " in client.get("/").get_data(as_text=True)
    token = fake.add_token()
    body = client.post("/api/v1/lookup", json={"provider": "fresh", "key": token.key}).get_json()
    assert body["status"] == "active"


@pytest.mark.parametrize(
    "given,listed",
    [("150/180", "150/180s"), ("20/1200s", "20/1200s"), (" 5 / 60 ", "5/60s"), ("0", "unlimited")],
)
def test_it_takes_a_request_budget_on_add(app, given, listed):
    """--request-budget N/SECONDS (or 0); the list shows it (then the kind); default 150/180s."""
    assert run(app, "add", "a", "https://a.example", "--request-budget", given).exit_code == 0
    assert run(app, "add", "b", "https://b.example").exit_code == 0
    listing = run(app, "list").output
    assert f"a\thttps://a.example\tpublic\t-\t{listed}\tauto\n" in listing
    assert "b\thttps://b.example\tpublic\t-\t150/180s\tauto\n" in listing


@pytest.mark.parametrize("bad", ["150", "0/180", "150/0", "-1/60", "1.5/60", "150/3m", "x", ""])
def test_it_refuses_a_malformed_request_budget(app, bad):
    """Anything but positive N/SECONDS or 0 is a usage error naming the option; nothing added."""
    result = run(app, "add", "a", "https://a.example", "--request-budget", bad)
    assert result.exit_code == 2
    assert "--request-budget" in result.output and "N/SECONDS" in result.output
    with app.app_context():
        assert list_providers() == []


def test_it_edits_a_provider_from_the_cli(app):
    """edit: rename, move, rate, budget, hide and show; options not given stay."""
    assert run(app, "add", "old", "https://old.example", "--cny-rate", "3").exit_code == 0
    edited = run(
        app, "edit", "OLD", "--rename", "new", "--base-url", "https://new.example/v1/",
        "--request-budget", "60/60", "--hidden",
    )  # fmt: skip
    assert edited.exit_code == 0, edited.output
    assert "new\thttps://new.example\thidden\t3 CNY/USD\t60/60s" in run(app, "list").output
    assert run(app, "edit", "new", "--shown", "--cny-rate", "7.1").exit_code == 0
    assert run(app, "edit", "new", "--request-budget", "0").exit_code == 0
    assert "new\thttps://new.example\tpublic\t7.1 CNY/USD\tunlimited" in run(app, "list").output


@pytest.mark.parametrize(
    "args,message",
    [
        (["edit", "ghost", "--hidden"], "No provider"),
        (["edit", "a"], "Nothing to change"),
        (["edit", "a", "--rename", "B"], "exists already"),
        (["edit", "a", "--base-url", "ftp://x"], "http(s) URL"),
        (["edit", "a", "--cny-rate", "0"], "--cny-rate"),
        (["edit", "a", "--request-budget", "9"], "N/SECONDS"),
    ],
)
def test_it_refuses_bad_edits(app, args, message):
    """Each refusal is a clear message and changes nothing."""
    run(app, "add", "a", "https://a.example")
    run(app, "add", "b", "https://b.example")
    before = run(app, "list").output
    result = run(app, *args)
    assert result.exit_code != 0 and message in result.output
    assert run(app, "list").output == before


def test_it_refuses_to_remove_a_provider_with_tracked_keys(app, make_user, provider, fake):
    """remove: refused while keys use it; --force asks, and deletes keys and history on yes."""
    make_user("alice")
    with app.app_context():
        key = add_key(find_user("alice"), find_provider("fake"), fake.add_token().key)
        db.session.add(BalanceSample(key_id=key.id, status="active", remaining=1.0))
        db.session.commit()
    refused = run(app, "remove", "fake")
    assert refused.exit_code == 1 and "1 tracked key(s) use fake" in refused.output
    assert "--force" in refused.output and "Traceback" not in refused.output
    declined = app.test_cli_runner().invoke(
        args=["providers", "remove", "fake", "--force"], input="n\n"
    )
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert "fake\t" in run(app, "list").output
    removed = app.test_cli_runner().invoke(
        args=["providers", "remove", "fake", "--force"], input="y\n"
    )
    assert removed.exit_code == 0 and "removed fake and 1 tracked key(s)" in removed.output
    with app.app_context():
        assert list_providers() == []
        assert db.session.scalar(db.select(db.func.count()).select_from(TrackedKey)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(BalanceSample)) == 0


def test_it_applies_a_budget_change_at_once_keeping_the_count(app, fake):
    """add/edit set the relay budget for the URL; calls already made still count."""
    assert run(app, "add", "r", fake.url, "--request-budget", "3/60").exit_code == 0
    assert relay.BUDGETS.room(fake.url, "/api/status") == 3
    relay.relay_info(fake.url)
    assert relay.BUDGETS.room(fake.url, "/api/status") == 2
    assert run(app, "edit", "r", "--request-budget", "2/60").exit_code == 0
    assert relay.BUDGETS.room(fake.url, "/api/status") == 1
    assert run(app, "edit", "r", "--request-budget", "0").exit_code == 0
    assert relay.BUDGETS.room(fake.url, "/api/status") is None
    moved = run(app, "edit", "r", "--base-url", fake.url + "/v1", "--request-budget", "5/60")
    assert moved.exit_code == 0
    assert relay.BUDGETS.room(fake.url, "/api/status") == 4


def test_it_parses_budgets_for_the_web_form_too(app):
    """parse_budget is the one parser: (calls, seconds), and 0 keeps a window but means none."""
    assert parse_budget("150/180") == (150, 180)
    assert parse_budget("20/1200S") == (20, 1200)
    assert parse_budget("0") == (0, 180)
    with pytest.raises(ProviderError) as refused:
        parse_budget("100001/60")
    assert refused.value.code == "bad_budget"
