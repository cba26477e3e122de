"""Admin: manage providers and users (admins only)."""

from .routes import bp

__all__ = ["bp"]
