"""`flask poll-once` and `flask scheduler`."""

from __future__ import annotations

import logging

import click
from flask import Blueprint, current_app

from blueprints.keys import poll_once
from blueprints.shared.fence import FencedOut, fenced
from blueprints.status import probe_once
from database import db

from .lease import holder_of
from .runner import LEASE, held, make_holder, run_forever, stop_in_process

bp = Blueprint("scheduler", __name__, cli_group=None)


@bp.cli.command("poll-once")
@click.option("--force", is_flag=True, help="Poll every key and run every probe now, due or not.")
def poll_once_command(force: bool) -> None:
    """Poll due keys and run due status probes once now, holding the lease; print summaries.

    The lease is taken like a scheduler's (refused while a scheduler holds it), renewed while the
    passes run and released after; their writes are fenced like a scheduler's passes.
    """
    app = current_app._get_current_object()
    stop_in_process(app)
    with held(app, make_holder()) as fence:
        if fence is None:
            # Two passes at once would double the relay calls and the alerts.
            running = holder_of(LEASE)
            raise click.ClickException(
                f"a scheduler is running ({running}); it polls already, every"
                f" {app.config['POLL_TICK_SECONDS']} s. To poll now anyway, stop it first"
                " (systemctl stop relaydash-scheduler, or Ctrl-C where it runs), run poll-once,"
                " then start it again; or wait: it picks up due keys at its next tick."
            )
        try:
            with fenced(fence):
                click.echo(poll_once(force=force).summary())
                click.echo(probe_once(force=force).summary())
        except FencedOut as out:
            db.session.rollback()
            raise click.ClickException(f"stopped: {out}") from None


@bp.cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler in the foreground (a lease keeps any second one idle)."""
    if not logging.getLogger().handlers:
        # Job summaries and lease changes at INFO on stderr, unless logging is set up already.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    run_forever(current_app._get_current_object())
