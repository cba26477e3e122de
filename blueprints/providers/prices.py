"""The per-provider price table: parsed from "model input output" lines, read by the playground."""

from __future__ import annotations

import math
import re

from sqlalchemy import delete, select

from database import db

from .models import ModelPrice, Provider
from .service import ProviderError

MAX_PRICES = 500
MAX_PRICE = 1_000_000.0  # per million tokens; anything above is a typo
_LINE = re.compile(r"(\S{1,128})\s+([0-9][0-9.eE+-]{0,20})\s+([0-9][0-9.eE+-]{0,20})")


def parse_prices(text: str | None) -> dict[str, tuple[float, float]]:
    """{model: (input, output)} from lines "model input output" (per 1M tokens); # comments."""
    prices: dict[str, tuple[float, float]] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or len(prices) >= MAX_PRICES:
            raise ProviderError("bad_prices", str(number))
        try:
            pair = (float(match[2]), float(match[3]))
        except ValueError as exc:
            raise ProviderError("bad_prices", str(number)) from exc
        if not all(math.isfinite(p) and 0 <= p <= MAX_PRICE for p in pair):
            raise ProviderError("bad_prices", str(number))
        prices[match[1]] = pair
    return prices


def set_prices(provider: Provider, prices: dict[str, tuple[float, float]]) -> None:
    """Replace the provider's price table (commits)."""
    db.session.execute(delete(ModelPrice).where(ModelPrice.provider_id == provider.id))
    db.session.add_all(
        ModelPrice(provider_id=provider.id, model=m, input_per_m=i, output_per_m=o)
        for m, (i, o) in prices.items()
    )
    db.session.commit()


def prices_of(provider_id: int) -> dict[str, tuple[float, float]]:
    """The provider's price table, {model: (input, output)} per 1M tokens."""
    rows = db.session.execute(
        select(ModelPrice.model, ModelPrice.input_per_m, ModelPrice.output_per_m)
        .where(ModelPrice.provider_id == provider_id)
        .order_by(ModelPrice.model)
    )
    return {model: (i, o) for model, i, o in rows}


def prices_text(provider_id: int) -> str:
    """The table as the form shows it, one "model input output" line per model."""
    return "\n".join(f"{m} {i:g} {o:g}" for m, (i, o) in prices_of(provider_id).items())
