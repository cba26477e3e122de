"""Public key lookup: paste a key, see what is left (HTML pages and the JSON API)."""

from . import api
from .views import bp

__all__ = ["api", "bp"]
