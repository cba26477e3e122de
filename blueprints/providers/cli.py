"""`flask providers add|list|remove`."""

from __future__ import annotations

import click
from flask import Blueprint

from .service import ProviderError, add_provider, list_providers, remove_provider

bp = Blueprint("providers", __name__, cli_group="providers")

MESSAGES = {
    "bad_name": "The name must be 1-80 characters.",
    "duplicate_name": "A provider with that name exists already.",
    "bad_url": "The base URL must be an http(s) URL with a host, e.g. https://api.juheai.top",
    "bad_rate": "--cny-rate must be a positive number (CNY paid per 1 USD of quota).",
    "unknown_provider": "No provider has that name.",
}


def _fail(error: ProviderError) -> None:
    raise click.ClickException(MESSAGES.get(error.code, error.code))


@bp.cli.command("add")
@click.argument("name")
@click.argument("base_url")
@click.option("--hidden", is_flag=True, help="Keep it out of the public lookup.")
@click.option("--cny-rate", type=float, default=None, help="CNY paid per 1 USD of quota.")
def add_command(name: str, base_url: str, hidden: bool, cny_rate: float | None) -> None:
    """Add a relay provider (the base URL is normalised: /v1 etc. stripped)."""
    try:
        provider = add_provider(name, base_url, hidden=hidden, cny_rate=cny_rate)
    except ProviderError as error:
        _fail(error)
    click.echo(f"added {provider.name} → {provider.base_url}")


@bp.cli.command("list")
def list_command() -> None:
    """List providers."""
    for p in list_providers():
        rate = f"{p.cny_rate:g} CNY/USD" if p.cny_rate else "-"
        flag = "hidden" if p.hidden else "public"
        click.echo(f"{p.name}\t{p.base_url}\t{flag}\t{rate}")


@bp.cli.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Remove a provider by name."""
    try:
        remove_provider(name)
    except ProviderError as error:
        _fail(error)
    click.echo(f"removed {name}")
