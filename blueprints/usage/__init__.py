"""Usage: hourly and daily rollups of balance samples and request logs, their queries and KPIs."""

# Importing rollups connects its receivers to keys.signals (key_polled, usage_ingested); importing
# daily registers its `flask setup` step (the stored day zones).
from . import cli, daily, models, rollups
from .routes import bp

__all__ = ["bp", "cli", "daily", "models", "rollups"]
