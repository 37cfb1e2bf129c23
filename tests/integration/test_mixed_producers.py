"""One TPS's records on two partitions (terminals on other client libraries, other partitioners):
two tabulators judge them at once, and every TPS is still counted once, with its latest revision."""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rekap.access import KafkaAccess
from rekap.bootstrap import tabulator_service
from rekap.simulation.forms import consistent_form
from rekap.simulation.night import corrected
from tests.integration.election import MASTER, register_all_terminals, sample_tps, settings_for, signed, wait_applied
from tests.servers import BrokerAccess


def librdkafka_partition(key: bytes, partitions: Sequence[int]) -> int:
    """librdkafka's default for keyed records (C, Go, .NET, Node, confluent-kafka): CRC-32 of the key."""
    return partitions[zlib.crc32(key) % len(partitions)]


async def test_revisions_on_different_partitions_count_each_tps_once(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection
) -> None:
    tps = sample_tps(900)
    await register_all_terminals(conn, tps)
    rng = random.Random(9)
    firsts = [consistent_form(t, MASTER.contests_at(t.tps_id)[0], rng) for t in tps]
    seconds = [corrected(f, rng, 2) for f in firsts]
    settings = settings_for(kafka, election_database_url, topic).model_copy(update={"batch_max_records": 20})
    java_like = AIOKafkaProducer(**kafka.terminals.options(), linger_ms=20)  # murmur2, as Java's default
    librdkafka_like = AIOKafkaProducer(**kafka.terminals.options(), linger_ms=20,
                                       partitioner=lambda key, every, _: librdkafka_partition(key, every))  # fmt: skip
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as a, tabulator_service(settings, stop) as b:
        running = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
        for _ in range(300):  # both in the group, each with its partitions, before anything is sent
            if a.metrics.health.partitions and b.metrics.health.partitions:
                break
            await asyncio.sleep(0.1)
        await java_like.start()
        await librdkafka_like.start()
        try:
            # Revision 1 from one library, revision 2 from the other, one right after the other; then
            # a copy of each revision 1 put by hand on the third partition.
            sent = []
            for first, second in zip(firsts, seconds, strict=True):
                sent.append(
                    await java_like.send(topic, signed(first)[1], key=signed(first)[0], headers=signed(first)[2])
                )
                sent.append(await librdkafka_like.send(topic, signed(second)[1], key=signed(second)[0],
                                                       headers=signed(second)[2]))  # fmt: skip
            placed = [await f for f in sent]
            moved = sum(1 for one, two in zip(placed[::2], placed[1::2], strict=True) if one.partition != two.partition)
            assert moved > len(tps) // 2, "most TPS must have their two revisions on two partitions"
            for first, metadata in zip(firsts, placed[::2], strict=True):
                key, value, headers = signed(first)
                await java_like.send(topic, value, key=key, headers=headers, partition=(metadata.partition + 1) % 3)
            await java_like.flush()
        finally:
            await java_like.stop()
            await librdkafka_like.stop()
        await wait_applied(election_database_url, topic, await partition_ends(kafka.admin, topic), timeout=120)
        stop.set()
        await asyncio.gather(*running)

    forms = {(r["tps_id"], r["revision"]) for r in await conn.fetch("SELECT tps_id, revision FROM rekap.form")}
    assert forms == {(t.tps_id, 2) for t in tps}, "each TPS decided by its revision 2, once"
    summary = await conn.fetchrow(
        "SELECT sum(valid) AS valid, sum(tps_counted) AS counted FROM hasil.summary WHERE level = 'provinsi'"
    )
    assert summary is not None
    assert (summary["counted"], summary["valid"]) == (len(tps), sum(int(f["valid"]) for f in seconds))
    votes = await conn.fetchval("SELECT sum(votes) FROM hasil.votes WHERE level = 'provinsi'")
    assert votes == sum(sum(f["votes"].values()) for f in seconds)  # type: ignore[union-attr]


async def partition_ends(admin: KafkaAccess, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**admin.options())
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    finally:
        await consumer.stop()
    return {tp.partition: end for tp, end in ends.items() if end}
