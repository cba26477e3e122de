"""A custom prometheus_client Collector over the stored figures, exposed per request.

Everything comes from the database (queries.py), so every web worker answers the same figures
and a scrape calls no relay. Labels name a key by id, owner, provider and its masked ends
(`sk-abc…wxyz`), never the key; prometheus_client escapes the label values.
"""

from __future__ import annotations

import math
from collections import defaultdict

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from blueprints.status import BINS

from . import queries

KEY_LABELS = ["key_id", "key", "provider", "unit", "owner"]
UP = {"up": 1.0, "degraded": 0.5, "down": 0.0}  # "unknown" (never probed) is left out
# The latency histogram's upper bounds in seconds, from the status feature's bins (ms).
LE = [("+Inf" if math.isinf(b) else repr(b / 1000)) for b in BINS]
# A provider's day buckets hold its status and /v1/models probes, a model's its chat probes.
TIER_OF = {True: "provider", False: "model"}


class StoredCollector:
    """Builds every family from a few aggregate queries at collect() time."""

    def collect(self):
        """The families of one scrape."""
        yield from _keys()
        yield from _providers()
        yield from _passes()


def exposition() -> bytes:
    """The text exposition (format 0.0.4) of a fresh registry holding only our collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredCollector())
    return generate_latest(registry)


def _keys():
    remaining = GaugeMetricFamily(
        "relaydash_key_remaining", "Remaining balance in the key's unit.", labels=KEY_LABELS
    )
    state = GaugeMetricFamily(
        "relaydash_key_status",
        "1 for the key's current status.",
        labels=[*KEY_LABELS, "status"],
    )
    expires = GaugeMetricFamily(
        "relaydash_key_expires_timestamp_seconds",
        "When the key expires (Unix time), when the relay states it.",
        labels=KEY_LABELS,
    )
    polled = GaugeMetricFamily(
        "relaydash_key_last_poll_timestamp_seconds",
        "When the key was last polled (Unix time).",
        labels=KEY_LABELS,
    )
    spend = CounterMetricFamily(
        "relaydash_key_spend",
        "Cost of the key's logged requests, in the log's unit.",
        labels=KEY_LABELS,
    )
    labels_of = {}
    for row in queries.key_rows():
        labels = [str(row.id), f"{row.head}…{row.last4}", row.provider, row.unit or "", row.owner]
        labels_of[row.id] = labels
        if row.remaining is not None and not row.unlimited:
            remaining.add_metric(labels, row.remaining)
        if row.status:
            state.add_metric([*labels, row.status], 1.0)
        if row.expires_at is not None:
            expires.add_metric(labels, row.expires_at.timestamp())
        if row.last_polled_at is not None:
            polled.add_metric(labels, row.last_polled_at.timestamp())
    for key_id, unit, cost in queries.spend_rows():
        labels = labels_of.get(key_id)
        if labels is not None:
            spend.add_metric([*labels[:3], unit or "", labels[4]], cost or 0.0)
    return remaining, state, expires, polled, spend


def _providers():
    up = GaugeMetricFamily(
        "relaydash_provider_up",
        "Provider state from its probes: 1 up, 0.5 degraded, 0 down.",
        labels=["provider"],
    )
    ttft = GaugeMetricFamily(
        "relaydash_model_ttft_seconds",
        "Median time to first token over the last 24 h of stream probes.",
        labels=["provider", "model"],
    )
    tps = GaugeMetricFamily(
        "relaydash_model_tokens_per_second",
        "Median streamed tokens per second over the last 24 h of stream probes.",
        labels=["provider", "model"],
    )
    for name, model, state, ttft_ms, tokens in queries.health_rows():
        if not model:
            if state in UP:
                up.add_metric([name], UP[state])
            continue
        if ttft_ms is not None:
            ttft.add_metric([name, model], ttft_ms / 1000)
        if tokens is not None:
            tps.add_metric([name, model], tokens)
    yield from (up, ttft, tps)
    yield from _probes()


def _probes():
    latency = HistogramMetricFamily(
        "relaydash_probe_latency_seconds",
        "Latency of useful probe answers since 00:00 UTC (resets daily); tier provider: "
        "reachability and /v1/models probes, tier model: chat probes.",
        labels=["provider", "tier"],
    )
    calls = defaultdict(float)  # (provider, outcome) -> probes today
    merged = {}  # (provider, tier) -> [bin counts, sum ms]
    for name, model, total, ok, _n, latency_sum, histogram in queries.today_buckets():
        calls[(name, "ok")] += ok
        calls[(name, "failed")] += total - ok
        counts, ms = merged.setdefault((name, TIER_OF[not model]), [[0] * len(BINS), 0.0])
        for i, count in enumerate(histogram.split(",") if histogram else ()):
            counts[i] += int(count)
        merged[(name, TIER_OF[not model])][1] = ms + (latency_sum or 0.0)
    for (name, tier), (counts, ms) in sorted(merged.items()):
        running, buckets = 0, []
        for le, count in zip(LE, counts, strict=True):
            running += count
            buckets.append((le, running))
        latency.add_metric([name, tier], buckets, ms / 1000)
    yield latency
    yield _counter(
        "relaydash_probe_calls",
        "Probes since 00:00 UTC (resets daily) by outcome (ok: a useful answer, slow included).",
        ["provider", "outcome"],
        ((list(k), v) for k, v in sorted(calls.items())),
    )


def _passes():
    facts = queries.facts()
    names = queries.provider_names()

    def one(name: str) -> float:
        return facts.get((name, 0, ""), 0.0)

    yield _gauge(
        "relaydash_poll_pass_duration_seconds",
        "Duration of the last poll pass.",
        one("poll_last_seconds"),
    )
    yield _gauge(
        "relaydash_poll_pass_keys", "Keys polled by the last poll pass.", one("poll_last_keys")
    )
    if ("poll_last_at", 0, "") in facts:
        yield _gauge(
            "relaydash_poll_last_pass_timestamp_seconds",
            "When the last poll pass ended (Unix time).",
            one("poll_last_at"),
        )
    yield _counter("relaydash_poll_passes", "Poll passes run.", [], [([], one("poll_passes"))])
    yield _counter(
        "relaydash_poll_keys_polled", "Keys polled, all passes.", [], [([], one("poll_keys"))]
    )
    yield _counter(
        "relaydash_budget_waits",
        "Due keys a pass left for later: the relay's request budget was full or it said 429.",
        [],
        [([], one("budget_waits"))],
    )
    relay_calls = (
        ([names.get(p, str(p)), outcome], value)
        for (name, p, outcome), value in sorted(facts.items())
        if name == "relay_calls"
    )
    yield _counter(
        "relaydash_relay_calls",
        "Balance polls by provider and outcome (the status the poll stored).",
        ["provider", "outcome"],
        relay_calls,
    )
    holder = GaugeMetricFamily(
        "relaydash_scheduler_lease_holder",
        "1 for the process holding the scheduler lease, 0 for an expired holder.",
        labels=["lease", "holder"],
    )
    for name, who, live in queries.lease_rows():
        holder.add_metric([name, who], 1.0 if live else 0.0)
    yield holder


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, labels: list[str], samples) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family
