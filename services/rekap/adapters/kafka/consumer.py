"""The tally consumer: a member of the tabulators' consumer group whose positions come from
PostgreSQL, not from Kafka. On every assignment it seeks each partition to the offset the database
says is next; it remembers where it believes each partition stands, so the store can fence it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from rekap.access import KafkaAccess
from rekap.adapters.kafka import records
from rekap.domain.batch import ConsumedRecord, OffsetGap, PartitionAdvance
from rekap.retry import until_available

log = structlog.get_logger(__name__)

StoredOffsets = Callable[[list[int]], Awaitable[dict[int, int]]]


@dataclass(frozen=True, slots=True)
class Fetched:
    """Records as fetched, and how often each partition had been sought when they were."""

    records: list[ConsumedRecord]
    seeks: dict[int, int]


@dataclass(frozen=True)
class ConsumerOptions:
    """How the consumer takes part in its group, and how much it reads at a time."""

    group_id: str
    max_records: int  # per fetch: a batch
    session_timeout_ms: int = 10_000  # how soon the group gives a silent member's partitions to others
    fetch_timeout_ms: int = 500
    group_instance_id: str | None = None  # static membership: a restarted member gets its partitions back


class TallyConsumer:
    def __init__(self, access: KafkaAccess, topic: str, stored: StoredOffsets, options: ConsumerOptions) -> None:
        records.install()  # a header name that is not UTF-8 must not stop the fetch (see records.py)
        self.topic = topic
        self._stored_offsets = stored
        self._max_records = options.max_records
        self._fetch_timeout_ms = options.fetch_timeout_ms
        self._consumer = AIOKafkaConsumer(
            **access.options(),
            group_id=options.group_id,
            client_id=f"{options.group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=options.session_timeout_ms // 3,
            group_instance_id=options.group_instance_id,
        )
        # Where each assigned partition stands, as far as this consumer knows: the next offset the
        # database holds, or None when the partition was never applied.
        self._believed: dict[int, int | None] = {}
        self._seeks: dict[int, int] = {}  # per partition: how often it was sought (a fetch before is stale)
        self._in_flight = asyncio.Lock()
        self.gaps: dict[int, OffsetGap] = {}  # held partitions: records missing before the next to apply

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=_Listener(self))

    async def stop(self) -> None:
        """Leave the group (its partitions go to the others at once)."""
        await self._consumer.stop()

    @property
    def connected(self) -> bool:
        """Whether the group coordinator is known: the broker answers and this member is in the group.
        aiokafka has no public word for it; if its internals change, this says True rather than lie."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        if coordinator is None or not hasattr(coordinator, "coordinator_id"):
            return True
        return coordinator.coordinator_id is not None

    @property
    def assigned(self) -> list[int]:
        return sorted(self._believed)

    async def fetch(self) -> Fetched:
        """The next records, at most max_records, partition by partition in offset order, as Kafka gave
        them: `admit` says which of them to apply once the batch before them is committed."""
        fetched = await self._consumer.getmany(timeout_ms=self._fetch_timeout_ms, max_records=self._max_records)
        records: list[ConsumedRecord] = []
        for tp, messages in sorted(fetched.items(), key=lambda item: item[0].partition):
            records.extend(
                ConsumedRecord(tp.topic, tp.partition, m.offset, m.timestamp, m.key, m.value, tuple(m.headers))
                for m in messages
            )
        return Fetched(records, dict(self._seeks))

    async def admit(self, fetched: Fetched) -> dict[int, int]:
        """From which offset each partition's fetched records are to be applied, judged now (the batch
        before them committed, or was not): a partition sought again since the fetch (a rebalance, a
        fenced batch, a gap accepted) is left out, since its records are read again from where it was
        sought; records before where the partition stands were applied already, never twice; a partition
        whose records do not start where the database says it stands is held (see `gaps`)."""
        first: dict[int, int] = {}
        for record in fetched.records:
            believed = self._believed.get(record.partition)
            if record.offset >= (believed or 0) and record.partition not in first:
                first[record.partition] = record.offset
        starts: dict[int, int] = {}
        for partition, offset in first.items():
            if (partition not in self._believed or partition in self.gaps
                    or self._seeks.get(partition) != fetched.seeks.get(partition)):  # fmt: skip
                # Fetched before this consumer positioned the partition (an assignment or a seek is
                # being handled, and reads it again from there), or held: not ours to apply from here.
                continue
            believed = self._believed[partition] or 0
            if offset > believed and await self._records_missing(TopicPartition(self.topic, partition), believed):
                continue
            starts[partition] = believed
        return starts

    async def _records_missing(self, tp: TopicPartition, believed: int) -> bool:
        """The first record is past where the partition stands. Transaction markers take offsets too,
        harmlessly; records are missing only if the log now starts past that point (deleted, expired)."""
        starts = await self._consumer.beginning_offsets([tp])
        log_start = starts.get(tp, 0)
        if log_start <= believed:
            return False
        self.gaps[tp.partition] = OffsetGap(tp.partition, believed, log_start)
        self._consumer.pause(tp)
        log.error("records_missing", partition=tp.partition, missing_from=believed, missing_to=log_start - 1,
                  records=log_start - believed,
                  action="the partition is held; `rekap tabulator accept-gap` after a review")  # fmt: skip
        return True

    async def recheck_gaps(self) -> None:
        """Resume the held partitions whose stored offset an operator moved past the gap."""
        if not self.gaps:
            return
        stored = await self._stored_offsets(sorted(self.gaps))
        resumed = [gap for gap in self.gaps.values() if stored.get(gap.partition, 0) >= gap.next_offset]
        for gap in resumed:
            del self.gaps[gap.partition]
            tp = TopicPartition(self.topic, gap.partition)
            self._consumer.seek(tp, stored[gap.partition])
            self._sought(gap.partition)
            self._believed[gap.partition] = stored[gap.partition]
            self._consumer.resume(tp)
            log.warning("gap_accepted", partition=gap.partition, resumed_at=stored[gap.partition])

    def positioned(self) -> dict[int, int]:
        """Each owned partition with how often it was sought: a change means it was positioned anew."""
        return {p: self._seeks.get(p, 0) for p in self._believed}

    def positions(self) -> dict[int, int]:
        """Where each owned partition stands (applied up to), as far as this consumer knows."""
        return {p: offset for p, offset in self._believed.items() if offset is not None}

    def highwater(self) -> dict[int, int]:
        """The end of each owned partition, as of the last fetch."""
        ends = {}
        for partition in self._believed:
            end = self._consumer.highwater(TopicPartition(self.topic, partition))
            if end is not None:
                ends[partition] = end
        return ends

    def advances(self, records: list[ConsumedRecord]) -> list[PartitionAdvance]:
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = record.offset
        return [PartitionAdvance(p, self._believed.get(p), offset + 1) for p, offset in sorted(last.items())]

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Held while a batch is being written: a rebalance waits for it before giving partitions up."""
        async with self._in_flight:
            yield

    def advanced(self, advances: list[PartitionAdvance]) -> None:
        for advance in advances:
            if advance.partition in self._believed:
                self._believed[advance.partition] = advance.next_offset

    async def commit_to_kafka(self, advances: list[PartitionAdvance]) -> None:
        """Mirror the database's offsets in Kafka, for lag tools only: a failure here loses nothing."""
        offsets = {
            TopicPartition(self.topic, a.partition): a.next_offset for a in advances if a.partition in self._believed
        }
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:
            log.info("kafka_commit_skipped", error=repr(error))

    async def reseek(self, partitions: list[int]) -> None:
        """Go back to what the database holds (after a batch that was not written)."""
        owned = [p for p in partitions if p in self._believed]
        if owned:
            await self._seek_to_stored(owned)

    async def _seek_to_stored(self, partitions: list[int]) -> None:
        stored = await until_available("PostgreSQL (stored offsets)", lambda: self._stored_offsets(partitions))
        for partition in partitions:
            tp = TopicPartition(self.topic, partition)
            if partition in stored:
                self._consumer.seek(tp, stored[partition])
            else:
                await self._consumer.seek_to_beginning(tp)
            self._sought(partition)
            self._believed[partition] = stored.get(partition)
        log.info("partitions_positioned", positions={p: stored.get(p, "beginning") for p in partitions})

    def _sought(self, partition: int) -> None:
        self._seeks[partition] = self._seeks.get(partition, 0) + 1

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._in_flight:  # let the batch being written finish first
            for tp in revoked:
                self._sought(tp.partition)
                self._believed.pop(tp.partition, None)
                self.gaps.pop(tp.partition, None)  # whoever gets it finds the gap again
        log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = sorted(tp.partition for tp in assigned if tp.topic == self.topic)
        log.info("partitions_assigned", partitions=partitions)
        if partitions:
            await self._seek_to_stored(partitions)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: TallyConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._consumer._on_assigned(assigned)
