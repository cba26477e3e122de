"""The scheduler: one lease-holding process runs the poller and the nightly jobs."""

from . import models
from .cli import bp

__all__ = ["bp", "models"]
