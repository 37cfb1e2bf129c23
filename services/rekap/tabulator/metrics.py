"""The tabulator's Prometheus metrics, observed at the edges of the loop (once per batch), and the
HTTP endpoints a supervisor reads: /metrics, /healthz (alive), /readyz (Kafka and PostgreSQL answer,
partitions assigned).

With several replicas each exposes its own. Progress gauges cover only the partitions a replica owns
(totals are kept per partition), and the expected counts come from the owner of partition 0 alone, so
sums over replicas never double; so do the kabupaten/kota names (rekap_region_info), which dashboards
join to the gauges to show names instead of codes.
"""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, make_wsgi_app

from rekap import __version__
from rekap.domain.batch import BatchChanges
from rekap.domain.decode import Authentic
from rekap.domain.masterdata import Dataset

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SUBMITTED_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600)


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """Observe each value, as `histogram.observe` would one by one, with one increment per bucket: a batch's
    records, thousands, cost a bucket search each instead of a locked increment of the bucket and the sum
    each. It uses prometheus_client's histogram internals (its bounds, buckets and sum);
    tests/unit/tabulator/test_metrics.py checks the result equals `observe`'s, value for value."""
    if not values:
        return
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect_left(bounds, value)] += 1  # the first bound at or above it, as observe's `amount <= bound`
    histogram._sum.inc(sum(values))
    for bucket, n in zip(histogram._buckets, counts, strict=True):
        if n:
            bucket.inc(n)


@dataclass
class Health:
    """What /readyz reports, kept up to date by the loop."""

    kafka: bool = False
    postgres: bool = False
    partitions: int = 0

    @property
    def ready(self) -> bool:
        return self.kafka and self.postgres and self.partitions > 0


class TabulatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.health = Health()
        self.records = Counter(
            "rekap_records", "Records tabulated, by outcome and reason", ["outcome", "reason"], registry=r
        )
        self.batch_records = Histogram(
            "rekap_batch_records",
            "Records per committed batch",
            registry=r,
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
        )
        self.batch_seconds = Histogram(
            "rekap_batch_seconds", "Time to decode, judge and commit a batch", registry=r, buckets=LATENCY_BUCKETS
        )
        self.db_seconds = Histogram(
            "rekap_db_transaction_seconds",
            "Time of the batch transaction in PostgreSQL",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.db_errors = Counter(
            "rekap_db_errors", "Batch transactions that failed, by kind: retried, fenced, refused", ["kind"], registry=r
        )
        for kind in ("retried", "fenced", "refused"):  # present from the start, at 0: rate() and alerts see them
            self.db_errors.labels(kind)
        self.produce_to_commit = Histogram(
            "rekap_produce_to_commit_seconds",
            "From a record's Kafka timestamp to the commit that counted it",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.submitted_to_commit = Histogram(
            "rekap_submitted_to_commit_seconds",
            "From a form's submitted_at to the commit that recorded it",
            registry=r,
            buckets=SUBMITTED_BUCKETS,
        )
        self.committed_offset = Gauge(
            "rekap_committed_offset", "Next offset applied, per owned partition", ["partition"], registry=r
        )
        self.lag = Gauge("rekap_consumer_lag", "Records in the partition not yet applied", ["partition"], registry=r)
        self.tps_counted = Gauge(
            "rekap_tps_counted",
            "TPS counted, in the partitions this replica owns",
            ["kabupaten_kota", "contest"],
            registry=r,
        )
        self.tps_quarantined = Gauge(
            "rekap_tps_quarantined",
            "TPS held for review, in the partitions owned",
            ["kabupaten_kota", "contest"],
            registry=r,
        )
        self.tps_expected = Gauge(
            "rekap_tps_expected",
            "TPS that hold the contest (from the owner of partition 0)",
            ["kabupaten_kota", "contest"],
            registry=r,
        )
        self.regions = Info(
            "rekap_region",
            "A kabupaten/kota's name, by code (from the owner of partition 0)",
            ["kabupaten_kota"],
            registry=r,
        )
        self.missing_records = Gauge(
            "rekap_missing_records",
            "Records gone from an owned partition before they were applied: the "
            "partition is held until an operator accepts the gap",
            ["partition"],
            registry=r,
        )
        self.ready = Gauge(
            "rekap_ready", "1 when connected to Kafka and PostgreSQL with partitions assigned", registry=r
        )
        Info("rekap_build", "The running version", registry=r).info({"version": __version__})
        self.master_data = Info(
            "rekap_master_data",
            'The master data the database holds; synthetic="true": made up, not an election\'s',
            registry=r,
        )

    def show_master_data(self, dataset: Dataset) -> None:
        synthetic = "true" if dataset.synthetic else "false"
        self.master_data.info({"name": dataset.name, "tps_source": dataset.tps_source, "synthetic": synthetic})

    def observe_batch(self, changes: BatchChanges, *, seconds: float, db_seconds: float) -> None:
        now = time.time()
        self.batch_records.observe(len(changes.outcomes))
        self.batch_seconds.observe(seconds)
        self.db_seconds.observe(db_seconds)
        counts: dict[tuple[str, str], int] = {}
        produced: list[float] = []
        submitted: list[float] = []
        for outcome in changes.outcomes:
            judgement = outcome.judgement
            key = (judgement.outcome.value, judgement.reason.value if judgement.reason else "")
            counts[key] = counts.get(key, 0) + 1
            if outcome.record.timestamp_ms is not None:
                produced.append(max(0.0, now - outcome.record.timestamp_ms / 1000))
            if isinstance(judgement.decoded, Authentic):
                submitted.append(max(0.0, now - judgement.decoded.tally.submitted_at.timestamp()))
        observe_many(self.produce_to_commit, produced)
        observe_many(self.submitted_to_commit, submitted)
        for (outcome_value, reason), n in counts.items():
            self.records.labels(outcome_value, reason).inc(n)

    def set_positions(self, committed: dict[int, int], highwater: dict[int, int]) -> None:
        self.committed_offset.clear()
        self.lag.clear()
        for partition, offset in committed.items():
            self.committed_offset.labels(str(partition)).set(offset)
            if partition in highwater:
                self.lag.labels(str(partition)).set(max(0, highwater[partition] - offset))

    def set_gaps(self, missing: dict[int, int]) -> None:
        """partition -> records missing before its next record; partitions without a gap are not listed."""
        self.missing_records.clear()
        for partition, n in missing.items():
            self.missing_records.labels(str(partition)).set(n)

    def set_progress(
        self, counted: Iterable[tuple[str, str, int, int]], expected: Iterable[tuple[str, str, int]]
    ) -> None:
        """Replace the progress gauges: (kabupaten_kota, contest, counted, held) and (kab, contest, expected)."""
        self.tps_counted.clear()
        self.tps_quarantined.clear()
        self.tps_expected.clear()
        for kabupaten, contest, n, held in counted:
            self.tps_counted.labels(kabupaten, contest).set(n)
            self.tps_quarantined.labels(kabupaten, contest).set(held)
        for kabupaten, contest, n in expected:
            self.tps_expected.labels(kabupaten, contest).set(n)

    def set_regions(self, names: Mapping[str, str]) -> None:
        """Replace rekap_region_info: kabupaten/kota code -> name (none unless this replica owns partition 0)."""
        self.regions.clear()
        for code, name in sorted(names.items()):
            self.regions.labels(code).info({"name": name})

    def set_health(self, *, kafka: bool, postgres: bool, partitions: int) -> None:
        self.health = Health(kafka, postgres, partitions)
        self.ready.set(1 if self.health.ready else 0)


class _QuietHandler(WSGIRequestHandler):
    timeout = 10  # seconds a client may keep a connection silent (each has a thread of its own)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """Scrapes every few seconds are not news."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A thread per connection: one client that connects and says nothing cannot block the scrapes."""

    daemon_threads = True


class Observed(Protocol):
    """What a service's endpoints show: its metrics, and its health."""

    registry: CollectorRegistry
    health: Health


class MetricsServer:
    """/metrics, /healthz and /readyz on a thread of their own, so a busy loop never delays a scrape."""

    def __init__(self, metrics: Observed, host: str, port: int) -> None:
        self._metrics = metrics
        self._server: WSGIServer = make_server(
            host, port, self._app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._prometheus = make_wsgi_app(metrics.registry)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            health = self._metrics.health
            body = json.dumps(
                {
                    "ready": health.ready,
                    "kafka": health.kafka,
                    "postgres": health.postgres,
                    "partitions": health.partitions,
                }
            ).encode()
            start_response(
                "200 OK" if health.ready else "503 Service Unavailable", [("Content-Type", "application/json")]
            )
            return [body]
        result: Iterable[bytes] = self._prometheus(environ, start_response)
        return result
