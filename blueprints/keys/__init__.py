"""Tracked keys: stored encrypted, polled on a schedule, history kept."""

from . import cli, models
from .routes import bp

__all__ = ["bp", "cli", "models"]
