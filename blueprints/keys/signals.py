"""Signals the keys feature sends, so others (alerts, usage) listen without being imported."""

from blinker import Namespace

_signals = Namespace()

# After a poll stored a sample. sender=app; kwargs: key (TrackedKey), sample (BalanceSample),
# previous (the status before this poll, or None).
key_polled = _signals.signal("key-polled")

# After ingested request-log rows were committed. sender=app; kwargs: key_id (int), rows (list of
# (created_at, model) for the new UsageRecords).
usage_ingested = _signals.signal("usage-ingested")
