"""Tracked keys: stored encrypted, polled on a schedule, history kept."""

from . import cli, models
from .models import TrackedKey, UsageRecord
from .poller import poll_once
from .retention import prune_samples
from .routes import bp

__all__ = [
    "TrackedKey",
    "UsageRecord",
    "bp",
    "cli",
    "models",
    "poll_once",
    "prune_samples",
]
