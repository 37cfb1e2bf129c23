"""The tally consumer: a member of the tabulators' consumer group, and nothing but Kafka. It fetches
records, seeks a partition to an offset, pauses and resumes one, tells where a partition's log starts and
ends, mirrors offsets to Kafka, and hands the group's assignments to whoever subscribed. Where each
partition stands, and so where to seek and what to apply, is the service's business, kept by
rekap.domain.positions; the offsets themselves live in PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from rekap.access import KafkaAccess
from rekap.adapters.kafka import records
from rekap.domain.batch import ConsumedRecord

log = structlog.get_logger(__name__)

Rebalanced = Callable[[list[int]], Awaitable[None]]  # called with the partitions assigned, or revoked


@dataclass(frozen=True)
class ConsumerOptions:
    """How the consumer takes part in its group, and how much it reads at a time."""

    group_id: str
    max_records: int  # per fetch: a batch
    session_timeout_ms: int = 10_000  # how soon the group gives a silent member's partitions to others
    fetch_timeout_ms: int = 500
    group_instance_id: str | None = None  # static membership: a restarted member gets its partitions back
    fetch_bytes: int = 1_048_576  # per partition and fetch (aiokafka's default); a larger record still comes whole


class TallyConsumer:
    def __init__(self, access: KafkaAccess, topic: str, options: ConsumerOptions) -> None:
        records.install()  # a header name that is not UTF-8 must not stop the fetch (see records.py)
        self.topic = topic
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
            max_partition_fetch_bytes=options.fetch_bytes,
        )

    async def start(self) -> None:
        """Connect (the group is joined on `subscribe`)."""
        await self._consumer.start()

    def subscribe(self, *, assigned: Rebalanced, revoked: Rebalanced) -> None:
        """Join the group on the topic. `revoked` is awaited before partitions change hands (the batch in
        flight may finish first), `assigned` before the new ones are fetched (to seek them)."""
        self._consumer.subscribe([self.topic], listener=_Listener(self.topic, assigned, revoked))

    async def stop(self) -> None:
        """Leave the group (its partitions go to the others at once)."""
        await self._consumer.stop()

    @property
    def connected(self) -> bool:
        """Whether the group coordinator is known: the broker answers and this member is in the group.
        aiokafka has no public word for it; if its internals change, this says True rather than lie
        (tests/unit/test_aiokafka_internals.py says so first)."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        if coordinator is None or not hasattr(coordinator, "coordinator_id"):
            return True
        return coordinator.coordinator_id is not None

    async def fetch(self) -> list[ConsumedRecord]:
        """The next records, at most max_records, partition by partition in offset order, as Kafka gave
        them. Nothing is awaited after aiokafka hands them over: a caller that stamps them with its seek
        counts as soon as this returns sees no seek come between."""
        fetched = await self._consumer.getmany(timeout_ms=self._fetch_timeout_ms, max_records=self._max_records)
        consumed: list[ConsumedRecord] = []
        for tp, messages in sorted(fetched.items(), key=lambda item: item[0].partition):
            consumed.extend(
                ConsumedRecord(tp.topic, tp.partition, m.offset, m.timestamp, m.key, m.value, tuple(m.headers))
                for m in messages
            )
        return consumed

    async def seek(self, partition: int, offset: int | None) -> None:
        """Fetch the partition from this offset on; None: from the log's beginning."""
        tp = TopicPartition(self.topic, partition)
        if offset is None:
            await self._consumer.seek_to_beginning(tp)
        else:
            self._consumer.seek(tp, offset)

    def pause(self, partition: int) -> None:
        self._consumer.pause(TopicPartition(self.topic, partition))

    def resume(self, partition: int) -> None:
        self._consumer.resume(TopicPartition(self.topic, partition))

    async def log_starts(self, partitions: list[int]) -> dict[int, int]:
        """The first offset each partition's log still holds (records before it were deleted or expired)."""
        starts = await self._consumer.beginning_offsets([TopicPartition(self.topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in starts.items()}

    def highwater(self, partitions: list[int]) -> dict[int, int]:
        """The end of each of these partitions, as of the last fetch."""
        ends = {}
        for partition in partitions:
            end = self._consumer.highwater(TopicPartition(self.topic, partition))
            if end is not None:
                ends[partition] = end
        return ends

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Mirror the database's offsets in Kafka, for lag tools only: a failure here loses nothing."""
        if not offsets:
            return
        try:
            await self._consumer.commit({TopicPartition(self.topic, p): offset for p, offset in offsets.items()})
        except KafkaError as error:
            log.info("kafka_commit_skipped", error=repr(error))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, topic: str, assigned: Rebalanced, revoked: Rebalanced) -> None:
        self._topic = topic
        self._assigned = assigned
        self._revoked = revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._revoked(sorted(tp.partition for tp in revoked if tp.topic == self._topic))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._assigned(sorted(tp.partition for tp in assigned if tp.topic == self._topic))
