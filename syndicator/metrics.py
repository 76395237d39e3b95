"""Prometheus metrics of one daemon: what was fetched, stored, clustered, published, alerted.

The only importer of prometheus_client. A `Metrics` object owns its own `CollectorRegistry`
(not the process-global one), so two daemons in one process, or many tests, never collide;
the daemon creates one and hands it to the pipeline and the server. It records and renders:
it measures nothing itself (callers pass durations) and serves nothing (`server` does).

Names (all prefixed `syndicator_`; counters are exposed with `_total`):

- `fetches_total{status}`: feed fetches by outcome: the HTTP status ("200", "304", "404",
  ...) or, when there was no usable response, the failure kind ("timeout", "network",
  "refused", "limit", "http" for too many redirects, "error" for anything else).
- `fetch_not_modified_ratio`: fetches answered 304 / all fetches, since start (0 before any).
- `fetch_duration_seconds`: histogram of one source's fetch, redirects and feed
  autodiscovery included (10 ms .. 60 s buckets).
- `stories_ingested_total{kind}`: stories stored, `kind` "new" or "updated".
- `clusters_created_total`: new story clusters (a story that joined none).
- `alerts_sent_total`, `alerts_failed_total`: alert deliveries (the alerts work records them).
- `publish_duration_seconds`: histogram of one publishing pass over every feed.
- `feeds_written_total`: feed files rewritten because their bytes changed.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

FETCH_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
PUBLISH_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
NOT_MODIFIED = "304"


class Metrics:
    """The daemon's metrics on a registry of their own. Record from the event loop's thread."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._fetch_count = 0
        self._not_modified_count = 0
        self._fetches = Counter(
            "syndicator_fetches",
            "Feed fetches by outcome: the HTTP status, or the failure kind without a response",
            ["status"],
            registry=self.registry,
        )
        Gauge(
            "syndicator_fetch_not_modified_ratio",
            "Share of fetches answered 304 Not Modified since start",
            registry=self.registry,
        ).set_function(self.not_modified_ratio)
        self._fetch_seconds = Histogram(
            "syndicator_fetch_duration_seconds",
            "Duration of one source's fetch, redirects and feed autodiscovery included",
            buckets=FETCH_BUCKETS_S,
            registry=self.registry,
        )
        self._stories = Counter(
            "syndicator_stories_ingested",
            "Stories stored: new ones, and changed entries updated in place",
            ["kind"],
            registry=self.registry,
        )
        self._clusters = Counter(
            "syndicator_clusters_created",
            "Story clusters created (a new story that joined no earlier one)",
            registry=self.registry,
        )
        self._alerts_sent = Counter(
            "syndicator_alerts_sent", "Alert deliveries that succeeded", registry=self.registry
        )
        self._alerts_failed = Counter(
            "syndicator_alerts_failed",
            "Alert delivery attempts that failed",
            registry=self.registry,
        )
        self._publish_seconds = Histogram(
            "syndicator_publish_duration_seconds",
            "Duration of one publishing pass over every feed",
            buckets=PUBLISH_BUCKETS_S,
            registry=self.registry,
        )
        self._feeds_written = Counter(
            "syndicator_feeds_written",
            "Feed files rewritten because their bytes changed",
            registry=self.registry,
        )
        # Series that exist from the start, so rates and ratios have a zero to start from.
        for status in ("200", NOT_MODIFIED):
            self._fetches.labels(status=status)
        for kind in ("new", "updated"):
            self._stories.labels(kind=kind)

    def record_fetch(self, status: str, seconds: float) -> None:
        """One source fetched: its outcome label (see the module docstring) and duration."""
        self._fetches.labels(status=status).inc()
        self._fetch_seconds.observe(seconds)
        self._fetch_count += 1
        if status == NOT_MODIFIED:
            self._not_modified_count += 1

    def not_modified_ratio(self) -> float:
        return self._not_modified_count / self._fetch_count if self._fetch_count else 0.0

    def record_ingest(self, new: int, updated: int, clusters_created: int) -> None:
        """One feed's stories stored."""
        if new:
            self._stories.labels(kind="new").inc(new)
        if updated:
            self._stories.labels(kind="updated").inc(updated)
        if clusters_created:
            self._clusters.inc(clusters_created)

    def record_alert(self, delivered: bool) -> None:
        """One alert delivery attempt: sent, or failed (to be retried or dead-lettered)."""
        (self._alerts_sent if delivered else self._alerts_failed).inc()

    def record_publish(self, seconds: float, feeds_written: int) -> None:
        """One publishing pass: how long it took and how many feed files it rewrote."""
        self._publish_seconds.observe(seconds)
        if feeds_written:
            self._feeds_written.inc(feeds_written)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric, served with `content_type`."""
        return generate_latest(self.registry)
