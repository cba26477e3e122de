"""One key's logged requests, a page at a time, with totals over every stored request."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select

from blueprints.shared.inputs import whole_number
from database import db

from .models import UsageRecord

PAGE_SIZE = 20
MAX_PAGE = 99_999


class Totals(NamedTuple):
    """Every stored request of a key: how many, their tokens, their cost per unit."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: dict[str, float]  # unit → cost; keys change units rarely, but the sums never mix


class RequestsPage(NamedTuple):
    """One page of a key's requests, newest first, and where it sits among the pages."""

    rows: list[UsageRecord]
    page: int
    pages: int
    first: int  # 1-based position of the first row shown (0 when there are none)
    last: int
    totals: Totals


def requests_page(key_id: int, asked: object) -> RequestsPage:
    """The asked page (?page=; not a whole number from 1 → 400; past the end → the last page)."""
    number = whole_number(asked, "page", low=1, high=MAX_PAGE, default=1)
    totals = _totals(key_id)
    pages = max(1, -(-totals.requests // PAGE_SIZE))
    number = min(number, pages)
    rows = db.session.scalars(
        select(UsageRecord)
        .where(UsageRecord.key_id == key_id)
        .order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
        .limit(PAGE_SIZE)
        .offset((number - 1) * PAGE_SIZE)
    ).all()
    first = (number - 1) * PAGE_SIZE + 1 if rows else 0
    return RequestsPage(
        list(rows), number, pages, first, first + len(rows) - 1 if rows else 0, totals
    )


def _totals(key_id: int) -> Totals:
    query = (
        select(
            UsageRecord.unit,
            func.count(),
            func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
            func.coalesce(func.sum(UsageRecord.completion_tokens), 0),
            func.coalesce(func.sum(UsageRecord.cost), 0.0),
        )
        .where(UsageRecord.key_id == key_id)
        .group_by(UsageRecord.unit)
    )
    count = prompt = completion = 0
    cost: dict[str, float] = {}
    for unit, rows, prompt_sum, completion_sum, cost_sum in db.session.execute(query):
        count, prompt, completion = count + rows, prompt + prompt_sum, completion + completion_sum
        cost[unit or ""] = cost.get(unit or "", 0.0) + cost_sum
    return Totals(count, prompt, completion, cost)
