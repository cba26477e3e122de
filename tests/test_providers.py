"""Providers: the CLI, URL normalisation, seeding, and use by the public lookup."""

from __future__ import annotations

import pytest

from blueprints.providers.service import ProviderError, add_provider, list_providers


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
