"""`flask setup`: migrate the database and seed the default providers on first run."""

import click

from .routes import bp
from .setup import setup_database


@bp.cli.command("setup")
def setup_command() -> None:
    """Apply migrations; on the very first run, add the DEFAULT_PROVIDERS."""
    seeded = setup_database()
    click.echo(f"database ready; seeded {seeded} provider(s)" if seeded else "database ready")
