"""Alerts: low balance, expiry, bad status and recovery, sent once per crossing."""

# Importing evaluate connects its receiver to keys.signals.key_polled.
from . import deliver, evaluate, models
from .routes import bp

__all__ = ["bp", "deliver", "evaluate", "models"]
