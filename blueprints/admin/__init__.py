"""Admin: manage providers, their status monitors and users (admins only).

Admin assembles features: it may import any feature's package (its door), not its modules.
"""

from .routes import bp

__all__ = ["bp"]
