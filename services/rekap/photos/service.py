"""The photo consumer's loop: fetch → inspect → keep → index → commit.

At least once, and harmless twice: a photo is kept under its digest (the same bytes twice are one file) and
each record's row is keyed by its coordinates, so a record read again after a crash changes nothing. The
offsets are committed to Kafka after the index: what is indexed is never lost, what is not is read again.
A record that breaks a rule is refused (its reason recorded, its bytes kept privately); no record stops the
loop. It runs in its own consumer group, apart from the tabulators: a backlog of photos never slows a count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import structlog

from rekap.app.photos import PhotoRecord, PhotoStore, keep, outcome_of
from rekap.domain.batch import ConsumedRecord
from rekap.domain.photos import Inspected, inspect
from rekap.errors import RekapError
from rekap.photos.metrics import PhotoMetrics
from rekap.retry import until_available

log = structlog.get_logger(__name__)


class PhotoSource(Protocol):
    topic: str

    async def fetch(self) -> list[ConsumedRecord]: ...

    async def commit(self, offsets: dict[int, int]) -> None: ...


class PhotoIndex(Protocol):
    async def known(self, digests: Sequence[str]) -> dict[str, str]: ...

    async def record(self, records: Sequence[PhotoRecord]) -> None: ...


class PhotoService:
    def __init__(
        self, *, source: PhotoSource, index: PhotoIndex, store: PhotoStore, metrics: PhotoMetrics | None = None
    ) -> None:
        self._source = source
        self._index = index
        self._store = store
        self.metrics = metrics or PhotoMetrics()
        self.metrics_address: str | None = None  # where /metrics listens, when it does

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set (the batch in hand is finished first). Each turn:

        1. fetch: the next photo records;
        2. inspect: each judged by the rules (domain/photos.py), in a thread: decoding takes milliseconds;
        3. keep: each photo's bytes in the store, by digest (a stored one's thumbnail too);
        4. index: the photos and every record's outcome, in one transaction (retried while PostgreSQL is away);
        5. commit: the offsets to Kafka; then the counts."""
        log.info("photos_started", topic=self._source.topic)
        self.metrics.health.kafka = self.metrics.health.postgres = True  # both answered as it started
        while not stop.is_set():
            consumed = await self._source.fetch()  # 1. fetch
            if not consumed:
                continue
            started = time.monotonic()
            inspected = await asyncio.to_thread(_inspect_all, consumed)  # 2. inspect
            for record, verdict in zip(consumed, inspected, strict=True):  # 3. keep
                await keep(self._store, verdict, record.value)
            rows = await self._index_all(consumed, inspected, stop)  # 4. index
            if rows is None:
                return  # stopped while PostgreSQL was away: nothing committed, read again next time
            offsets: dict[int, int] = {}
            for record in consumed:
                offsets[record.partition] = max(offsets.get(record.partition, 0), record.offset + 1)
            await self._source.commit(offsets)  # 5. commit
            self._count(rows, time.monotonic() - started)

    async def _index_all(
        self, consumed: list[ConsumedRecord], inspected: list[Inspected], stop: asyncio.Event
    ) -> list[PhotoRecord] | None:
        async def attempt() -> list[PhotoRecord]:
            digests = sorted({i.sha256 for i in inspected if i.sha256 is not None})
            known = await self._index.known(digests)
            rows = []
            for record, verdict in zip(consumed, inspected, strict=True):
                outcome = outcome_of(verdict, known.get(verdict.sha256 or ""))
                if outcome == "stored" and verdict.sha256 is not None:
                    known[verdict.sha256] = "stored"  # the same photo twice in a batch: the second a duplicate
                coordinates = (record.topic, record.partition, record.offset)
                rows.append(PhotoRecord(*coordinates, record.kafka_time, record.key, verdict, outcome))
            await self._index.record(rows)
            return rows

        try:
            rows = await until_available("PostgreSQL (photo index)", attempt, stop=stop)
        except RekapError as error:
            if not error.retriable or not stop.is_set():
                raise
            log.warning("photos_abandoned_on_shutdown", records=len(consumed), error=str(error))
            return None
        self.metrics.health.postgres = True
        return rows

    def _count(self, rows: list[PhotoRecord], seconds: float) -> None:
        for row in rows:
            self.metrics.records.labels(row.outcome, row.reason or "").inc()
            if row.outcome == "stored":
                self.metrics.stored_bytes.inc(row.inspected.size)
            if row.outcome == "refused":
                log.warning(
                    "photo_refused",
                    partition=row.partition,
                    offset=row.offset,
                    sha256=row.inspected.sha256,
                    reason=row.reason,
                    detail=row.inspected.detail,
                )
        self.metrics.batch_seconds.observe(seconds)
        log.info("photos_indexed", records=len(rows), outcomes=dict(Counter(r.outcome for r in rows)))


def _inspect_all(consumed: list[ConsumedRecord]) -> list[Inspected]:
    return [inspect(record.key, record.value) for record in consumed]
