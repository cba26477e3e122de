"""/metrics: a custom prometheus_client Collector over the stored figures, per request.

Everything comes from the database (queries.py), so every web worker answers the same figures
and a scrape calls no relay. Labels name a key by id, owner, provider and its masked ends
(`sk-abc…wxyz`), never the key. The small families go through a per-request CollectorRegistry
and generate_latest; the large blocks (per-key series, per-model figures, the latency
histogram) are written as text by bulk.py: the same format, several times faster.
"""

from __future__ import annotations

from collections import defaultdict

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import bulk, queries

UP = {"up": 1.0, "degraded": 0.5, "down": 0.0}  # "unknown" (never probed) is left out


class StoredCollector:
    """The families of one scrape besides bulk.py's, from a few aggregate queries."""

    def __init__(self, health: list, buckets: list) -> None:
        self.health = health  # shared with bulk.py's model figures
        self.buckets = buckets  # today's day buckets, shared with the latency histogram

    def collect(self):
        """Provider and model figures, probe counts, the passes' facts, the lease."""
        yield from _providers(self.health)
        yield _probe_calls(self.buckets)
        yield from _passes()


def exposition() -> bytes:
    """The text exposition (format 0.0.4): the bulk blocks, then a fresh registry's output."""
    health, buckets = queries.health_rows(), queries.today_buckets()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredCollector(health, buckets))
    text = bulk.keys() + bulk.models(health) + bulk.probe_latency(buckets)
    return text.encode("utf-8") + generate_latest(registry)


def _providers(health: list):
    up = GaugeMetricFamily(
        "relaydash_provider_up",
        "Provider state from its probes: 1 up, 0.5 degraded, 0 down.",
        labels=["provider"],
    )
    for name, model, state, *_ in health:
        if not model and state in UP:
            up.add_metric([name], UP[state])
    yield up


def _probe_calls(buckets: list):
    calls = defaultdict(float)  # (provider, outcome) -> probes today
    for name, _model, total, ok, *_ in buckets:
        calls[(name, "ok")] += ok
        calls[(name, "failed")] += total - ok
    return _counter(
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
