"""The large blocks of a scrape, written as text directly: per-key, per-model, histograms.

generate_latest builds a Sample and escapes every label of it one by one (~12 µs a sample here):
5,000 keys × 5 families plus a 22-bucket histogram per provider and tier is ~50,000 samples,
600 ms. Here a key's labels are escaped once and reused by its five lines, with the same escaping
(backslash, newline, double quote) and number format (floatToGoString) as prometheus_client;
tests/test_metrics.py parses the result with prometheus_client's parser.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache

from prometheus_client.utils import floatToGoString as number

from blueprints.status import BINS

from . import queries

# The latency histogram's upper bounds in seconds, from the status feature's bins (ms).
LE = tuple("+Inf" if math.isinf(b) else repr(b / 1000) for b in BINS)
# A provider's day buckets hold its status and /v1/models probes, a model's its chat probes.
TIER_OF = {True: "provider", False: "model"}


def escape(value: str) -> str:
    """A label value as the text format wants it (prometheus_client's own escaping)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@lru_cache(maxsize=4096)
def count_text(count: int) -> str:
    """A count as floatToGoString writes it (counts repeat a lot across a histogram)."""
    return number(count)


def family(name: str, kind: str, documentation: str, lines: list[str]) -> str:
    """HELP, TYPE and the sample lines of one family."""
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n" + "".join(lines)


def keys() -> str:
    """remaining, status (1 for the current one), expiry, last poll and spend of every key."""
    remaining, state, expires, polled, spend = [], [], [], [], []
    labels_of = {}
    names: dict[str, str] = {}  # provider and owner names repeat: escaped once each
    for row in queries.key_rows():
        for name in (row.provider, row.owner):
            if name not in names:
                names[name] = escape(name)
        start = f'{{key_id="{row.id}",key="{escape(f"{row.head}…{row.last4}")}"'
        start += f',provider="{names[row.provider]}"'
        owner = f',owner="{names[row.owner]}"'
        labels_of[row.id] = (start, owner)
        ls = f'{start},unit="{escape(row.unit or "")}"{owner}}}'
        if row.remaining is not None and not row.unlimited:
            remaining.append(f"relaydash_key_remaining{ls} {number(row.remaining)}\n")
        if row.status:
            status = f'{ls[:-1]},status="{escape(row.status)}"}}'
            state.append(f"relaydash_key_status{status} 1.0\n")
        if row.expires_at is not None:
            seconds = number(row.expires_at.timestamp())
            expires.append(f"relaydash_key_expires_timestamp_seconds{ls} {seconds}\n")
        if row.last_polled_at is not None:
            seconds = number(row.last_polled_at.timestamp())
            polled.append(f"relaydash_key_last_poll_timestamp_seconds{ls} {seconds}\n")
    for key_id, unit, cost in queries.spend_rows():
        if key_id in labels_of:
            start, owner = labels_of[key_id]
            ls = f'{start},unit="{escape(unit or "")}"{owner}}}'
            spend.append(f"relaydash_key_spend_total{ls} {number(cost or 0.0)}\n")
    return "".join(
        (
            family(
                "relaydash_key_remaining",
                "gauge",
                "Remaining balance in the key's unit.",
                remaining,
            ),
            family("relaydash_key_status", "gauge", "1 for the key's current status.", state),
            family(
                "relaydash_key_expires_timestamp_seconds",
                "gauge",
                "When the key expires (Unix time), when the relay states it.",
                expires,
            ),
            family(
                "relaydash_key_last_poll_timestamp_seconds",
                "gauge",
                "When the key was last polled (Unix time).",
                polled,
            ),
            family(
                "relaydash_key_spend_total",
                "counter",
                "Cost of the key's logged requests, in the log's unit.",
                spend,
            ),
        )
    )


def models(health: list) -> str:
    """Median TTFT and tokens/s of each probed model (its health row; model "" is a provider)."""
    ttft, tps = [], []
    for name, model, _state, ttft_ms, tokens in health:
        if not model:
            continue
        ls = f'{{provider="{escape(name)}",model="{escape(model)}"}}'
        if ttft_ms is not None:
            ttft.append(f"relaydash_model_ttft_seconds{ls} {number(ttft_ms / 1000)}\n")
        if tokens is not None:
            tps.append(f"relaydash_model_tokens_per_second{ls} {number(tokens)}\n")
    return family(
        "relaydash_model_ttft_seconds",
        "gauge",
        "Median time to first token over the last 24 h of stream probes.",
        ttft,
    ) + family(
        "relaydash_model_tokens_per_second",
        "gauge",
        "Median streamed tokens per second over the last 24 h of stream probes.",
        tps,
    )


def probe_latency(buckets: list) -> str:
    """The probe latency histogram per provider and tier, from today's day buckets."""
    merged: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for name, model, _total, _ok, _n, latency_sum, histogram in buckets:
        counts, total_ms = merged.setdefault((name, TIER_OF[not model]), ([0] * len(BINS), [0.0]))
        for i, count in enumerate(histogram.split(",") if histogram else ()):
            counts[i] += int(count)
        total_ms[0] += latency_sum or 0.0
    lines = []
    head = "relaydash_probe_latency_seconds"
    for (name, tier), (counts, total_ms) in sorted(merged.items()):
        base = f'provider="{escape(name)}",tier="{tier}"'
        running = 0
        for le, count in zip(LE, counts, strict=True):
            running += count
            lines.append(f'{head}_bucket{{{base},le="{le}"}} {count_text(running)}\n')
        lines.append(f"{head}_count{{{base}}} {count_text(running)}\n")
        lines.append(f"{head}_sum{{{base}}} {number(total_ms[0] / 1000)}\n")
    documentation = (
        "Latency of useful probe answers since 00:00 UTC (resets daily); tier provider: "
        "reachability and /v1/models probes, tier model: chat probes."
    )
    return family(head, "histogram", documentation, lines)


def table(name: str, kind: str, documentation: str, labels: tuple, items) -> str:
    """A family from (label values, value) pairs; a counter's samples end in _total."""
    sample = f"{name}_total" if kind == "counter" else name
    lines = []
    for values, value in items:
        ls = ",".join(f'{n}="{escape(v)}"' for n, v in zip(labels, values, strict=True))
        lines.append(f"{sample}{{{ls}}} {number(value)}\n")
    return family(sample, kind, documentation, lines)


def probe_calls(buckets: list) -> str:
    """Probes per provider since 00:00 UTC, ok or failed, from today's day buckets."""
    calls: dict[tuple[str, str], float] = defaultdict(float)
    for name, _model, total, ok, *_ in buckets:
        calls[(name, "ok")] += ok
        calls[(name, "failed")] += total - ok
    return table(
        "relaydash_probe_calls",
        "counter",
        "Probes since 00:00 UTC (resets daily) by outcome (ok: a useful answer, slow included).",
        ("provider", "outcome"),
        sorted(calls.items()),
    )


def relay_calls(facts: dict, names: dict[int, str]) -> str:
    """Balance polls per provider and stored status, counted by the poll passes."""
    items = (
        ((names.get(p, str(p)), outcome), value)
        for (name, p, outcome), value in sorted(facts.items())
        if name == "relay_calls"
    )
    return table(
        "relaydash_relay_calls",
        "counter",
        "Balance polls of the poll passes by provider and outcome (the status each stored).",
        ("provider", "outcome"),
        items,
    )
