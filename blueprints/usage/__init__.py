"""Usage: hourly and daily rollups of balance samples and request logs, their queries and KPIs."""

# Importing rollups connects its receivers to keys.signals (key_polled, usage_ingested).
from . import cli, models, rollups
from .routes import bp

__all__ = ["bp", "cli", "models", "rollups"]
