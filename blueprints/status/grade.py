"""The page's headline grade over every public provider, and why a provider is not up.

Graded the way Uptime Kuma and Statuspage do: all up; degraded (naming who); a partial outage
when some but not all are down (naming who); a major outage only when every provider outside
maintenance is down. One provider of seven down is a partial outage of that provider.
"""

from __future__ import annotations

from typing import NamedTuple

SHOWN = 3  # names in the headline before "and N more"


class Reason(NamedTuple):
    """Why a pill is not green: the provider itself ("") or a model, its state and cause."""

    model: str
    state: str
    cause: str | None


def overall(states: dict[str, str]) -> tuple[str, list[str]]:
    """(grade, the providers it names) from {provider name: state}.

    grade: up | degraded | partial | down (major) | maintenance | unknown (no data at all).
    """
    down = sorted(n for n, s in states.items() if s == "down")
    degraded = sorted(n for n, s in states.items() if s == "degraded")
    watched = [s for s in states.values() if s != "maintenance"]
    if down:
        return ("down", down) if len(down) == len(watched) else ("partial", down)
    if degraded:
        return "degraded", degraded
    if "maintenance" in states.values():
        return "maintenance", sorted(n for n, s in states.items() if s == "maintenance")
    if "up" in states.values():
        return "up", []
    return "unknown", []


def reasons(own, models: list, causes: dict[str, str | None]) -> list[Reason]:
    """The provider's own row and each model that is down, degraded or failing (not yet down).

    `causes` holds the cause of each open incident by model: steadier than the last error,
    which a single good probe clears while the state waits for `up_after`.
    """
    out = []
    for health in ([own] if own is not None else []) + models:
        if health.state in ("down", "degraded") or failing(health):
            cause = causes.get(health.model) or health.last_error
            out.append(Reason(health.model, health.state, cause))
    return out


def failing(health) -> bool:
    """Probed, but only failures so far (fewer than down_after): not "no data"."""
    return health is not None and health.state == "unknown" and health.last_error is not None
