"""Signals the keys feature sends, so others (alerts) can listen without being imported here."""

from blinker import Namespace

_signals = Namespace()

# After a poll stored a sample. sender=app; kwargs: key (TrackedKey), sample (BalanceSample),
# previous (the status before this poll, or None).
key_polled = _signals.signal("key-polled")
