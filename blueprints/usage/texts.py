"""What the reconcile card says for each outcome (zh-CN and en)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

RECONCILE = {
    "no_logs": _l("No request log for this key in the range, so nothing to compare."),
    "no_balance": _l("No balance readings in this range yet."),
    "match": _l("The request log and the balance agree."),
    "rounding": _l("The small gap is the relay's rounding."),
    "topup": _l("Top-ups inside the range explain the gap."),
    "logs_capped": _l(
        "Our copy of the request log starts after the range does (the relay keeps only its "
        "newest 1,000 requests), so part of the spend has no log rows."
    ),
    "tracking_late": _l(
        "Balance tracking started after the first logged requests: what they cost left the "
        "balance before our first reading, so no balance drop can show it."
    ),
    "untracked_keys": _l(
        "The balance belongs to the whole account: other keys of the account spend from it too."
    ),
    "unexplained": _l(
        "The gap has no known cause. Compare with the relay console; requests may be billed late."
    ),
}


def reconcile_text(code: str) -> str:
    """The explanation for a reconcile outcome code."""
    return str(RECONCILE.get(code, RECONCILE["unexplained"]))


# What the spend figures are computed from (kpis.BALANCE or kpis.LOGS).
SOURCE_NOTE = {
    "balance": _l("Spend figures are the drops of the balance between polls."),
    "logs": _l(
        "The balance has not dropped since tracking started, so spend figures are the sum of "
        "the logged request costs."
    ),
}
SOURCE_TAG = {
    "balance": _l("from balance drops"),
    "logs": _l("from logged request costs"),
}


def source_note(source: str) -> str:
    """The sentence saying what the spend figures are computed from."""
    return str(SOURCE_NOTE.get(source, SOURCE_NOTE["balance"]))


def source_tag(source: str) -> str:
    """The short 'from …' tag for a spend figure's heading."""
    return str(SOURCE_TAG.get(source, SOURCE_TAG["balance"]))
