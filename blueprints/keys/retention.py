"""Raw balance samples are kept SAMPLE_RETENTION_DAYS; the nightly job prunes older ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete

from database import db, utcnow

from .models import BalanceSample


def prune_samples(now: datetime | None = None) -> int:
    """Delete samples older than the retention period; returns how many went."""
    days = int(current_app.config.get("SAMPLE_RETENTION_DAYS", 90))
    if days <= 0:
        return 0  # 0 keeps everything
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.session.execute(delete(BalanceSample).where(BalanceSample.taken_at < cutoff))
    db.session.commit()
    return result.rowcount or 0
