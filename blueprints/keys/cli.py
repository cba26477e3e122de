"""`flask keys add|import|list|rotate-encryption` for scripts and bulk use."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.auth.service import find_user
from blueprints.providers.service import find_provider
from database import db

from . import service
from .forms import MESSAGES
from .models import TrackedKey
from .routes import bp


def _owner(name: str) -> User:
    user = find_user(name)
    if user is None:
        raise click.ClickException("No user has that name.")
    return user


def _provider(name: str):
    provider = find_provider(name, include_hidden=True)
    if provider is None:
        raise click.ClickException("No provider has that name.")
    return provider


@bp.cli.command("add")
@click.option("--user", "username", required=True)
@click.option("--provider", "provider_name", required=True)
@click.option("--label", default="")
def add_command(username: str, provider_name: str, label: str) -> None:
    """Track one key, read from standard input (never from the command line)."""
    owner, provider = _owner(username), _provider(provider_name)
    try:
        tracked = service.add_key(owner, provider, sys.stdin.readline(), label=label)
    except service.KeyInputError as error:
        raise click.ClickException(str(MESSAGES[error.code])) from error
    click.echo(f"added #{tracked.id} {tracked.label} {tracked.masked}")


@bp.cli.command("import")
@click.option("--user", "username", required=True)
@click.option("--provider", "provider_name", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(username: str, provider_name: str, file: Path) -> None:
    """Track every key in FILE (one per line, optional ',label')."""
    owner, provider = _owner(username), _provider(provider_name)
    lines = file.read_text(encoding="utf-8-sig").splitlines()
    counts = service.import_keys(owner, provider, lines)
    click.echo(f"added {counts['added']}, duplicates {counts['duplicate']}, bad {counts['bad']}")


@bp.cli.command("list")
@click.option("--user", "username", default=None, help="Only this user's keys.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array (masked keys only).")
def list_command(username: str | None, as_json: bool) -> None:
    """List tracked keys (masked)."""
    query = select(TrackedKey).order_by(TrackedKey.id)
    if username:
        query = query.where(TrackedKey.user_id == _owner(username).id)
    keys = list(db.session.scalars(query))
    counts = service.sample_counts(keys)
    rows = [
        {
            "id": k.id,
            "label": k.label,
            "provider": k.provider.name,
            "masked": k.masked,
            "status": k.status,
            "remaining": k.remaining,
            "unlimited": k.unlimited,
            "unit": k.unit,
            "last_polled_at": k.last_polled_at.isoformat() if k.last_polled_at else None,
            "samples": counts.get(k.id, 0),
        }
        for k in keys
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['label']}\t{row['provider']}\t{row['masked']}\t"
            f"{row['status'] or '-'}\t{_remaining(row)}\t{row['unit'] or '-'}"
        )


def _remaining(row: dict) -> str:
    """'unlimited', '-' before the first answer, else the number (never Python's None)."""
    if row["unlimited"]:
        return "unlimited"
    return "-" if row["remaining"] is None else str(row["remaining"])


@bp.cli.command("rotate-encryption")
def rotate_command() -> None:
    """Re-encrypt every stored secret under the first key in RELAYDASH_FERNET_KEYS."""
    click.echo(f"re-encrypted {service.rotate_encryption()} row(s)")
