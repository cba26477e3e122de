"""`flask providers monitor NAME …`: watch a provider (the probe key comes from stdin only).

The command sits in the `providers` group, where people look for it, but its code is status's:
it changes status's monitor settings, and providers is the feature every other one may import,
so providers/cli.py may not import status (that would be a circle). Status adds the command to
providers' group instead, the way a feature's CLI lives in the feature it changes.
"""

from __future__ import annotations

import sys

import click

from blueprints.providers.cli import bp as providers_cli
from blueprints.providers.service import find_provider

from .settings import LIMITS, SettingsError, configure, parse_models

MESSAGES = {
    "too_many_models": "At most 10 probe models.",
    "bad_model": "A probe model name has characters a model id cannot have.",
    "out_of_range": "{field} must be a whole number from {low} to {high}.",
    "missing_key": "No probe key on stdin.",
    "bad_key": "That does not look like a relay key.",
}


def _fail(error: SettingsError) -> None:
    low, high = LIMITS.get(error.field, (0, 0))
    text = MESSAGES.get(error.code, error.code).format(field=error.field, low=low, high=high)
    raise click.ClickException(text)


@providers_cli.cli.command("monitor")
@click.argument("name")
@click.option(
    "--probe-models", default=None, help="Comma-separated models to probe (light, stream)."
)
@click.option("--public/--private", default=None, help="Show it on the public status page.")
@click.option("--off", is_flag=True, help="Stop probing this provider (history is kept).")
@click.option("--probe-key-stdin", is_flag=True, help="Read the probe key from stdin.")
@click.option("--clear-probe-key", is_flag=True, help="Forget the probe key.")
@click.option("--interval", type=int, default=None, help="Seconds between reachability probes.")
@click.option("--light-interval", type=int, default=None, help="Seconds between light chats.")
@click.option("--stream-interval", type=int, default=None, help="Seconds between stream probes.")
@click.option("--slow-ms", type=int, default=None, help="Slower than this is degraded.")
@click.option("--ttft-slow-ms", type=int, default=None, help="A later first token is degraded.")
@click.option("--down-after", type=int, default=None, help="Failures in a row before down.")
@click.option("--up-after", type=int, default=None, help="Successes in a row before up.")
def monitor_command(
    name: str,
    probe_models,
    public,
    off,
    probe_key_stdin,
    clear_probe_key,
    interval,
    light_interval,
    stream_interval,
    slow_ms,
    ttft_slow_ms,
    down_after,
    up_after,
) -> None:
    """Turn monitoring of provider NAME on (or --off) and set its probes."""
    provider = find_provider(name, include_hidden=True)
    if provider is None:
        raise click.ClickException("No provider has that name.")
    key = None
    if clear_probe_key:
        key = ""
    elif probe_key_stdin or not sys.stdin.isatty():
        key = sys.stdin.readline().strip() or None
        if probe_key_stdin and key is None:
            _fail(SettingsError("missing_key", "probe_key"))
    try:
        monitor = configure(
            provider,
            enabled=not off,
            public=public,
            probe_key=key,
            models=parse_models(probe_models) if probe_models is not None else None,
            status_seconds=interval,
            light_seconds=light_interval,
            stream_seconds=stream_interval,
            slow_ms=slow_ms,
            ttft_slow_ms=ttft_slow_ms,
            down_after=down_after,
            up_after=up_after,
        )
    except SettingsError as error:
        _fail(error)
    state = "monitored" if monitor.enabled else "not monitored"
    shown = "public" if monitor.public else "private"
    models = ", ".join(monitor.models) or "no probe models"
    key_text = monitor.probe_masked or "no probe key"
    click.echo(f"{provider.name}: {state}, {shown}, {models}, {key_text}")
