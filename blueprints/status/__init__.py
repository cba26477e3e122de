"""Status: probe every provider, keep honest history, publish a status page, badges and JSON."""

from . import cli, models
from .routes import bp

__all__ = ["bp", "cli", "models"]
