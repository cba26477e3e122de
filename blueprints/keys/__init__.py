"""Tracked keys: stored encrypted, polled on a schedule, history kept."""

from . import models
from .routes import bp

__all__ = ["bp", "models"]
