"""`flask poll-once` and `flask scheduler`."""

from __future__ import annotations

import logging

import click
from flask import Blueprint, current_app

from blueprints.keys.poller import poll_once

from .runner import run_forever, stop_in_process

bp = Blueprint("scheduler", __name__, cli_group=None)


@bp.cli.command("poll-once")
def poll_once_command() -> None:
    """Poll every due key once now and print a one-line summary."""
    stop_in_process(current_app._get_current_object())
    click.echo(poll_once().summary())


@bp.cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler in the foreground (a lease keeps any second one idle)."""
    if not logging.getLogger().handlers:
        # Job summaries and lease changes at INFO on stderr, unless logging is set up already.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    run_forever(current_app._get_current_object())
