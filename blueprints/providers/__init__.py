"""Relay providers: the base URLs an admin configured (the only ones lookups may call)."""

from flask.blueprints import BlueprintSetupState

from relay import guard

from .cli import bp

__all__ = ["bp"]


@bp.record
def _address_rule(state: BlueprintSetupState) -> None:
    """Relay calls reach private addresses only with ALLOW_PRIVATE_PROVIDERS (one app a process)."""
    guard.PROVIDERS.allowed = bool(state.app.config.get("ALLOW_PRIVATE_PROVIDERS", False))
