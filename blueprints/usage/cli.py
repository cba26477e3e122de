"""`flask usage rebuild`: recompute the hourly and daily rollups from the raw rows."""

from __future__ import annotations

import click

from .rollups import rebuild
from .routes import bp


@bp.cli.command("rebuild")
@click.option("--key", "key_id", type=int, default=None, help="Only this tracked key id.")
def rebuild_command(key_id: int | None) -> None:
    """Recompute balance and usage hours and days from the raw rows (safe to re-run)."""
    hours, usage = rebuild(key_id)
    click.echo(f"rebuilt {hours} balance hours and {usage} usage hours")
