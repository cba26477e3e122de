"""Usage: hourly rollups of balance samples and request logs, and the queries and KPIs on them."""

# Importing rollups connects its receivers to keys.signals (key_polled, usage_ingested).
from . import cli, models, rollups
from .routes import bp

__all__ = ["bp", "cli", "models", "rollups"]
