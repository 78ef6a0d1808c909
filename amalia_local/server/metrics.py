"""/metrics: the server's health and use in Prometheus' text format.

Made with ``prometheus_client``, the ecosystem's own library, so the format (escaping,
``_total``/``_bucket`` names, HELP and TYPE lines) is what every scraper expects. Each
app has its own :class:`CollectorRegistry`: nothing global, so two servers in one process
(the tests) never count each other's requests.

Counters and histograms move when a request ends (accounting.py); the gauges (queue
depth, busy slots) are read from the host when Prometheus scrapes, without its lock.
Labels are bounded: ``endpoint`` is a route of this app or ``other``, ``key`` a name
from the keys file or ``-``, ``status`` an HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from amalia_local.server.usage import Usage

CONTENT_TYPE = CONTENT_TYPE_LATEST
NO_KEY = "-"

# Seconds: a cached short prompt answers in tens of ms, a long document on a CPU in minutes.
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Prompt tokens evaluated per second: a 9B model on a laptop CPU reads tens, a GPU thousands.
SPEED_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    def __init__(
        self, host_status: Callable[[], dict[str, Any]], audit_lost: Callable[[], int] | None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self.requests = Counter(
            "amalia_requests",
            "HTTP requests answered, by endpoint, status and key name.",
            ["endpoint", "status", "key"],
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "amalia_prompt_tokens",
            "Prompt tokens of answered requests (cached ones included), by key name.",
            ["key"],
            registry=registry,
        )
        self.cached_tokens = Counter(
            "amalia_prompt_tokens_cached",
            "Prompt tokens reused from the cache instead of evaluated again, by key name.",
            ["key"],
            registry=registry,
        )
        self.completion_tokens = Counter(
            "amalia_completion_tokens",
            "Tokens generated, by key name.",
            ["key"],
            registry=registry,
        )
        self.ttft = Histogram(
            "amalia_time_to_first_token_seconds",
            "From a request's arrival to its first generated token.",
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.prompt_speed = Histogram(
            "amalia_prompt_tokens_per_second",
            "Prompt evaluation speed of each request that evaluated tokens.",
            buckets=SPEED_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "amalia_request_duration_seconds",
            "From a request's arrival to the end of its answer, by endpoint.",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        registry.register(_HostCollector(host_status, audit_lost))

    def observe(
        self, endpoint: str, status: int, key: str | None, duration_s: float, used: Usage
    ) -> None:
        name = key or NO_KEY
        self.requests.labels(endpoint, str(status), name).inc()
        self.duration.labels(endpoint).observe(duration_s)
        if used.prompt_tokens or used.completion_tokens:
            self.prompt_tokens.labels(name).inc(used.prompt_tokens)
            self.cached_tokens.labels(name).inc(used.cached_tokens)
            self.completion_tokens.labels(name).inc(used.completion_tokens)
        if used.time_to_first_token_s is not None:
            self.ttft.observe(used.time_to_first_token_s)
        if used.evaluated_tokens > 0 and used.prompt_seconds > 0:
            self.prompt_speed.observe(used.evaluated_tokens / used.prompt_seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _HostCollector(Collector):
    """The host's live figures, read at scrape time (ModelHost.status never waits)."""

    def __init__(
        self, host_status: Callable[[], dict[str, Any]], audit_lost: Callable[[], int] | None
    ) -> None:
        self._status = host_status
        self._audit_lost = audit_lost

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        gauges = (
            ("amalia_model_loaded", "1 when the model is in memory.", int(bool(status["loaded"]))),
            ("amalia_slots_total", "Requests that can be decoded together.", status["slots_total"]),
            ("amalia_slots_busy", "Requests being decoded now.", status["slots_processing"]),
            (
                "amalia_queue_depth",
                "Requests waiting for a free slot.",
                status["requests_waiting"],
            ),
        )
        for name, help_text, value in gauges:
            yield GaugeMetricFamily(name, help_text, value=value)
        if self._audit_lost is not None:
            yield CounterMetricFamily(
                "amalia_audit_entries_lost",
                "Audit log entries that could not be written (disk full, writer behind).",
                value=self._audit_lost(),
            )
