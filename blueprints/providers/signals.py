"""Signals about providers, so status announces and alerts listens without importing each other.

Both may import providers (the feature every other one stands on); neither may import the other.
"""

from blinker import Namespace

_signals = Namespace()

# A provider (model "") or one of its probe models changed state, outside maintenance and not a
# first reading. Sent inside the prober's pass: receivers add rows, the prober commits them.
# sender=app; kwargs: provider_id (int), model (str), old, new (state names), cause (str or
# None), at (datetime, UTC). A receiver returns how many deliveries it queued.
state_changed = _signals.signal("state-changed")
