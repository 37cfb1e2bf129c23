"""The photo consumer's Prometheus metrics, served like the tabulator's (/metrics, /healthz, /readyz)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from rekap.tabulator.metrics import LATENCY_BUCKETS, Health


class PhotoMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.health = Health(partitions=1)  # ready once Kafka and PostgreSQL answer
        self.records = Counter(
            "rekap_photo_records", "Photo records read, by outcome and reason", ["outcome", "reason"], registry=r
        )
        self.stored_bytes = Counter("rekap_photo_stored_bytes", "Bytes of the photos stored", registry=r)
        self.batch_seconds = Histogram(
            "rekap_photo_batch_seconds",
            "Time to inspect, keep and index a batch of photos",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
