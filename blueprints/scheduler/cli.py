"""`flask poll-once` and `flask scheduler`."""

from __future__ import annotations

import logging

import click
from flask import Blueprint, current_app

from blueprints.keys import poll_once
from blueprints.status import probe_once

from .lease import acquire, holder_of, release
from .runner import LEASE, lease_ttl, make_holder, run_forever, stop_in_process

bp = Blueprint("scheduler", __name__, cli_group=None)


@bp.cli.command("poll-once")
@click.option("--force", is_flag=True, help="Poll every key and run every probe now, due or not.")
def poll_once_command(force: bool) -> None:
    """Poll due keys and run due status probes once now (taking the lease); print summaries."""
    app = current_app._get_current_object()
    stop_in_process(app)
    holder = make_holder()
    if not acquire(LEASE, holder, lease_ttl(app)):
        # Two passes at once would double the relay calls and the alerts.
        raise click.ClickException(f"a scheduler is running ({holder_of(LEASE)}); it polls already")
    try:
        click.echo(poll_once(force=force).summary())
        click.echo(probe_once(force=force).summary())
    finally:
        release(LEASE, holder)


@bp.cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler in the foreground (a lease keeps any second one idle)."""
    if not logging.getLogger().handlers:
        # Job summaries and lease changes at INFO on stderr, unless logging is set up already.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    run_forever(current_app._get_current_object())
