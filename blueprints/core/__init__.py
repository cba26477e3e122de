"""App-wide pieces: security headers, language, error pages, setup CLI."""

from . import cli, health, security
from .routes import bp

__all__ = ["bp", "cli", "health", "security"]
