"""Accounts: users, log in/out, who may see what (Flask-Login)."""

from . import access, cli
from .routes import bp

__all__ = ["access", "bp", "cli"]
