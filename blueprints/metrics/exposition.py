"""/metrics: a custom prometheus_client Collector over the stored figures, per request.

Everything comes from the database (queries.py), so every web worker answers the same figures
and a scrape calls no relay. Labels name a key by id, owner, provider and its masked ends
(`sk-abc…wxyz`), never the key. The small families go through a per-request CollectorRegistry
and generate_latest; the large blocks (per key, per model, per provider, the latency histogram)
are written as text by bulk.py: the same format, several times faster.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import bulk, queries

UP = {"up": 1.0, "degraded": 0.5, "down": 0.0}  # "unknown" (never probed) is left out


class StoredCollector:
    """The families of one scrape besides bulk.py's, from a few aggregate queries."""

    def __init__(self, health: list, facts: dict) -> None:
        self.health = health  # shared with bulk.py's model figures
        self.facts = facts  # shared with bulk.py's relay calls

    def collect(self):
        """Provider states, the last pass's figures and counters, the lease."""
        yield from _providers(self.health)
        yield from _passes(self.facts)


def exposition() -> bytes:
    """The text exposition (format 0.0.4): the bulk blocks, then a fresh registry's output."""
    health, buckets, facts = queries.health_rows(), queries.today_buckets(), queries.facts()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredCollector(health, facts))
    text = "".join(
        (
            bulk.keys(),
            bulk.models(health),
            bulk.probe_latency(buckets),
            bulk.probe_calls(buckets),
            bulk.relay_calls(facts, queries.provider_names()),
        )
    )
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


def _passes(facts: dict):

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
