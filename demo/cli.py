"""`flask demo`: a throw-away instance in a temp directory, filled, served until Ctrl-C."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from werkzeug.serving import run_simple

from database import db

from .fill import Demo, config, fill
from .relay import DemoRelay


@contextmanager
def instance_env(instance: Path):
    """RELAYDASH_INSTANCE pointing at the temp instance while the factory runs (its only input
    for instance_path), then back to what it was."""
    before = os.environ.get("RELAYDASH_INSTANCE")
    os.environ["RELAYDASH_INSTANCE"] = str(instance)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RELAYDASH_INSTANCE", None)
        else:
            os.environ["RELAYDASH_INSTANCE"] = before


def build(factory: Callable[[dict], Flask], instance: Path, relay: DemoRelay) -> tuple[Flask, Demo]:
    """Fill a new instance in `instance` from the demo relay; return the app to serve (with the
    scheduler on, like `make run`) and the login."""
    settings = config(instance)
    with instance_env(instance):
        filler = factory(settings)
        with filler.app_context():
            demo = fill(relay)
            db.engine.dispose()
        app = factory({**settings, "SCHEDULER_ENABLED": True})
    return app, demo


def banner(url: str, demo: Demo, instance: Path) -> str:
    """What the terminal shows: where to go, the login, a key to paste, how to stop."""
    return "\n".join(
        [
            "",
            f"relaydash demo: {url}",
            f"  log in as {demo.username} / {demo.password}",
            f"  a demo key for the lookup page ({demo.provider}): {demo.lookup_key}",
            f"  throw-away instance: {instance} (removed on Ctrl-C)",
            "",
        ]
    )


def _interrupt(signum, frame) -> None:
    """SIGTERM: stop like Ctrl-C, so the temp instance is removed."""
    raise KeyboardInterrupt


def remove(instance: Path) -> None:
    """Delete the throw-away instance."""
    shutil.rmtree(instance, ignore_errors=True)
    click.echo(f"demo stopped; {instance} removed")


def demo_command(factory: Callable[[dict], Flask]) -> click.Command:
    """The `demo` command for an app built by `factory` (the app factory, given by app.py)."""

    @click.command("demo")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5000, show_default=True, type=int)
    def command(host: str, port: int) -> None:
        """Serve a filled throw-away instance on a local demo relay (nothing real is called)."""
        # Ctrl-C and a plain kill both end the demo through the cleanup below, even when started
        # in the background (where SIGINT arrives ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        instance = Path(tempfile.mkdtemp(prefix="relaydash-demo-"))
        # At exit, after the scheduler's own handler (registered later, run earlier) let go.
        atexit.register(remove, instance)
        relay = DemoRelay().start()
        try:
            click.echo("filling a throw-away instance (a week of history)…")
            app, demo = build(factory, instance, relay)
            click.echo(banner(f"http://{host}:{port}", demo, instance))
            run_simple(host, port, app, threaded=True)
        except KeyboardInterrupt:
            pass
        finally:
            relay.stop()

    return command
