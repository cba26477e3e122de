"""Status: probe every provider, keep honest history, publish a status page, badges and JSON.

This package is status's door: the places that assemble features (admin's monitor form, the
scheduler) import these names from here, never status's modules.
"""

from . import cli, models
from .board import active_notices
from .history import cleanup_job
from .models import Bucket, Health
from .notices import add_note, end_notice, find_incident, publish_notice, recent_incidents
from .pages import labels
from .prober import probe_job, probe_once
from .routes import bp
from .settings import LIMITS, SettingsError, configure, monitor_of, parse_models
from .uptime import BINS

__all__ = [
    "BINS",
    "Bucket",
    "Health",
    "LIMITS",
    "SettingsError",
    "active_notices",
    "add_note",
    "cleanup_job",
    "bp",
    "cli",
    "configure",
    "end_notice",
    "find_incident",
    "labels",
    "models",
    "monitor_of",
    "parse_models",
    "probe_job",
    "probe_once",
    "publish_notice",
    "recent_incidents",
]
