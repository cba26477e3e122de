"""Prometheus /metrics: what the poller and prober stored, for a scraper with the bearer token."""

from . import routes
from .routes import bp

__all__ = ["bp", "routes"]
