"""Relay providers: the base URLs an admin configured (the only ones lookups may call)."""

from .cli import bp

__all__ = ["bp"]
