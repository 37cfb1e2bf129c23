"""The local broker is a real Kafka: keyed records keep their order per key, across partitions; what the
tally consumer fetched before a partition was sought again is not applied."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rekap.access import Topic
from rekap.adapters.kafka.consumer import ConsumerOptions, TallyConsumer
from rekap.adapters.kafka.topics import ensure_topics
from rekap.domain.positions import Fetched, PartitionPositions
from tests.servers import BrokerAccess


async def test_keyed_records_come_back_in_order_per_key(kafka: BrokerAccess, topic: str) -> None:
    keys = [f"16710110010{n:02d}".encode() for n in range(12)]
    producer = AIOKafkaProducer(**kafka.terminals.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for revision in range(1, 6):
            for key in keys:
                await producer.send(topic, key + b"/" + str(revision).encode(), key=key)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        **kafka.tabulator.options(),
        group_id=f"{topic}-tabulators",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    try:
        while sum(len(v) for v in seen.values()) < len(keys) * 5:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, "the broker returned nothing within 10 s"
            for tp, records in batches.items():
                for record in records:
                    assert record.key is not None
                    assert record.value is not None
                    seen[record.key].append(int(record.value.split(b"/")[1]))
                    partitions[record.key].add(tp.partition)
    finally:
        await consumer.stop()

    assert set(seen) == set(keys)
    assert all(revisions == [1, 2, 3, 4, 5] for revisions in seen.values())
    assert all(len(p) == 1 for p in partitions.values()), "a key's records must share one partition"
    assert len({p for ps in partitions.values() for p in ps}) > 1, "12 keys should spread over 3 partitions"


async def test_ensure_topics_creates_once(kafka: BrokerAccess, topic: str) -> None:
    # `topic` exists already; a second call creates only what is missing.
    other = f"{topic}-dead-letters"
    assert await ensure_topics(kafka.admin, [Topic(topic, 3), Topic(other, 1)]) == [other]
    assert await ensure_topics(kafka.admin, [Topic(topic, 3), Topic(other, 1)]) == []


async def test_records_fetched_before_their_partition_is_sought_again_are_not_applied(
    kafka: BrokerAccess, topic: str
) -> None:
    """The tabulator fetches the next batch while the one before commits. If that commit is fenced (or a
    rebalance moves the partition), the partition is sought back to where the database says it stands:
    what was fetched before must not be applied from there, or the records in between would be skipped."""
    producer = AIOKafkaProducer(**kafka.terminals.options(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n in range(10):
            await producer.send(topic, b"form %d" % n, key=b"1601072001001", partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    stored: dict[int, int] = {}  # what "the database" holds: nothing applied yet
    positions = PartitionPositions()  # driven here as the tabulator's loop drives it

    async def seek_stored(partitions: list[int]) -> None:
        for seek in list(positions.seeks(partitions, stored)):
            await consumer.seek(seek.partition, seek.offset)
            positions.sought(seek)

    async def assigned(partitions: list[int]) -> None:
        await seek_stored(positions.assign(partitions))

    async def revoked(partitions: list[int]) -> None:
        positions.revoke(partitions)

    consumer = TallyConsumer(kafka.tabulator, topic, ConsumerOptions(f"{topic}-tabulators", max_records=4))
    await consumer.start()
    consumer.subscribe(assigned=assigned, revoked=revoked)
    try:
        first = await _fetch_some(consumer, positions)
        assert positions.admit(first).starts == {0: 0}
        positions.advanced(positions.advances(first.records))  # the first four, committed
        second = await _fetch_some(consumer, positions)  # fetched while the first commits...
        assert [r.offset for r in second.records] == [4, 5, 6, 7]
        stored[0] = 2  # ...but the database says otherwise (another consumer's view, say): sought back
        await seek_stored(positions.fenced([0]))
        assert positions.admit(second).starts == {}, "fetched before the seek: not applied from there"
        third = await _fetch_some(consumer, positions)
        assert third.records[0].offset == 2
        assert positions.admit(third).starts == {0: 2}
    finally:
        await consumer.stop()


async def _fetch_some(consumer: TallyConsumer, positions: PartitionPositions) -> Fetched:
    for _ in range(100):
        fetched = positions.fetched(await consumer.fetch())
        if fetched.records:
            return fetched
    raise AssertionError("nothing fetched")
