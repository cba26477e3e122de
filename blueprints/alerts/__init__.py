"""Alerts: low balance, expiry, bad status and recovery, sent once per crossing."""

from . import models
from .routes import bp

__all__ = ["bp", "models"]
