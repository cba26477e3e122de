"""`flask providers add|edit|list|remove`.

`flask providers monitor` is status's command (blueprints/status/cli.py), added to this group.
"""

from __future__ import annotations

import click
from flask import Blueprint

import relay

from .service import (
    ProviderError,
    add_provider,
    budget_text,
    delete_provider,
    edit_provider,
    find_provider,
    keys_using,
    kind_text,
    list_providers,
    parse_budget,
)

bp = Blueprint("providers", __name__, cli_group="providers")

MESSAGES = {
    "bad_name": "The name must be 1-80 characters.",
    "duplicate_name": "A provider with that name exists already.",
    "bad_url": "The base URL must be an http(s) URL with a host, e.g. https://api.juheai.top",
    "private_address": (
        "This address is on a private or local network (or stands for one), and keys are sent "
        "to it. Relays on the local network need ALLOW_PRIVATE_PROVIDERS = True in the config "
        "(RELAYDASH_ALLOW_PRIVATE_PROVIDERS=true)."
    ),
    "bad_rate": "--cny-rate must be a positive number (CNY paid per 1 USD of quota).",
    "bad_budget": (
        "--request-budget must be N/SECONDS with positive whole numbers (e.g. 150/180), "
        "or 0 for no limit."
    ),
    "bad_kind": "--kind must be one of: " + ", ".join(relay.KINDS) + ".",
    "unknown_provider": "No provider has that name.",
}


def _fail(error: ProviderError) -> None:
    raise click.ClickException(MESSAGES.get(error.code, error.code))


def _budget(_ctx, _param, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        return parse_budget(value)
    except ProviderError as error:
        raise click.BadParameter(
            MESSAGES["bad_budget"].removeprefix("--request-budget ")
        ) from error


def _provider(name: str):
    provider = find_provider(name, include_hidden=True)
    if provider is None:
        raise click.ClickException(MESSAGES["unknown_provider"])
    return provider


def kind_option(default: str | None):
    """--kind: the relay family, or auto to detect it (on edit, absent = unchanged)."""
    return click.option(
        "--kind",
        type=click.Choice(relay.KINDS, case_sensitive=False),
        default=default,
        show_default=default is not None,
        help="The relay family; auto detects it from what the relay answers.",
    )


budget_option = click.option(
    "--request-budget",
    "budget",
    callback=_budget,
    metavar="N/SECONDS|0",
    help="Calls per window to this relay's rate-limited paths (default 150/180); 0 = no limit.",
)


@bp.cli.command("add")
@click.argument("name")
@click.argument("base_url")
@click.option("--hidden", is_flag=True, help="Keep it out of the public lookup.")
@click.option("--cny-rate", type=float, default=None, help="CNY paid per 1 USD of quota.")
@budget_option
@kind_option(relay.AUTO)
def add_command(name: str, base_url: str, hidden: bool, cny_rate, budget, kind: str) -> None:
    """Add a relay provider (the base URL is normalised: /v1 etc. stripped)."""
    try:
        provider = add_provider(
            name, base_url, hidden=hidden, cny_rate=cny_rate, budget=budget, kind=kind
        )
    except ProviderError as error:
        _fail(error)
    click.echo(f"added {provider.name} → {provider.base_url} ({_summary(provider)})")


@bp.cli.command("edit")
@click.argument("name")
@click.option("--base-url", default=None, help="A new base URL (normalised like on add).")
@click.option("--cny-rate", type=float, default=None, help="CNY paid per 1 USD of quota.")
@budget_option
@click.option("--hidden/--shown", "hidden", default=None, help="Hide from or show in the lookup.")
@click.option("--rename", default=None, help="A new name.")
@kind_option(None)
def edit_command(name: str, base_url, cny_rate, budget, hidden, rename, kind) -> None:
    """Change a provider; options not given stay as they are."""
    given = {
        "base_url": base_url,
        "cny_rate": cny_rate,
        "budget": budget,
        "hidden": hidden,
        "kind": kind,
    }
    changes = {field: value for field, value in given.items() if value is not None}
    if rename is not None:
        changes["name"] = rename
    if not changes:
        raise click.UsageError("Nothing to change: give at least one option.")
    try:
        provider = edit_provider(_provider(name), **changes)
    except ProviderError as error:
        _fail(error)
    click.echo(f"edited {provider.name} → {provider.base_url} ({_summary(provider)})")


def _summary(provider) -> str:
    return f"{budget_text(provider)}, kind {kind_text(provider)}"


@bp.cli.command("list")
def list_command() -> None:
    """List providers: name, base URL, public/hidden, CNY rate, request budget, relay family."""
    for p in list_providers():
        rate = f"{p.cny_rate:g} CNY/USD" if p.cny_rate else "-"
        flag = "hidden" if p.hidden else "public"
        click.echo(f"{p.name}\t{p.base_url}\t{flag}\t{rate}\t{budget_text(p)}\t{kind_text(p)}")


@bp.cli.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also delete the tracked keys using it, with history.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting tracked keys.")
def remove_command(name: str, force: bool, yes: bool) -> None:
    """Remove a provider; refused while tracked keys use it unless --force."""
    provider = _provider(name)
    count = keys_using(provider)
    if count and not force:
        raise click.ClickException(
            f"{count} tracked key(s) use {provider.name}. Remove them first, or use --force "
            "to delete them and all their history too."
        )
    if count and not yes:
        click.confirm(
            f"Delete {provider.name} and its {count} tracked key(s) with all their history?",
            abort=True,
        )
    delete_provider(provider, force=True)
    click.echo(f"removed {name}" + (f" and {count} tracked key(s)" if count else ""))
