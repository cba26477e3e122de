"""Alerts: low balance, expiry, bad status and recovery, sent once per crossing."""

# Importing evaluate connects its receiver to keys.signals.key_polled, importing status_changes
# its receiver to providers.signals.state_changed: every process that builds the app listens.
from . import deliver, evaluate, models, status_changes
from .deliver import deliver_due_job
from .routes import bp

__all__ = ["bp", "deliver", "deliver_due_job", "evaluate", "models", "status_changes"]
