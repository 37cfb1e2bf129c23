"""Nothing disappears from the topic unnoticed: records deleted before they were applied hold their
partition (the others go on) until an operator accepts the gap, which is recorded."""

from __future__ import annotations

import asyncio
import os
import random

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from rekap.access import KafkaAccess, Topic
from rekap.adapters.kafka.topics import ensure_topics
from rekap.bootstrap import tabulator_service
from rekap.simulation.forms import consistent_form
from tests.integration.cli import rekap
from tests.integration.election import MASTER, register_all_terminals, sample_tps, settings_for, signed, wait_applied
from tests.servers import BrokerAccess, login_url


async def send_forms(terminals: KafkaAccess, topic: str, placed: list[int]) -> None:
    """A valid signed form for each entry, on that partition."""
    tps = sample_tps(len(placed))
    producer = AIOKafkaProducer(**terminals.options())
    await producer.start()
    try:
        for n, (t, partition) in enumerate(zip(tps, placed, strict=True)):
            key, value, headers = signed(consistent_form(t, MASTER.contests_at(t.tps_id)[0], random.Random(n)))
            await producer.send_and_wait(topic, value, key=key, headers=headers, partition=partition)
    finally:
        await producer.stop()


async def test_deleted_records_hold_their_partition_until_the_gap_is_accepted(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection,
) -> None:  # fmt: skip
    await register_all_terminals(conn, sample_tps(15))
    settings = settings_for(kafka, election_database_url, topic)
    # The premise, whole, before any tabulator exists (one that starts first may fetch records 0-3 ahead,
    # in the background, before they vanish): the topics as Rekap makes them, the records, the deletion.
    await ensure_topics(kafka.admin, [Topic(topic, settings.topic_partitions), Topic(settings.dead_letter_topic, 3)])
    await send_forms(kafka.terminals, topic, [0] * 10 + [1] * 5)
    admin = AIOKafkaAdminClient(**kafka.admin.options())
    await admin.start()
    try:  # records 0-3 of partition 0 vanish before the tabulator reads them (as retention would do)
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=4)})
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        await wait_applied(election_database_url, topic, {1: 5}, watch=running)  # the other partition goes on
        for _ in range(100):
            if tabulator.metrics.missing_records.labels("0")._value.get() == 4:
                break
            await asyncio.sleep(0.1)
        assert tabulator.metrics.missing_records.labels("0")._value.get() == 4
        assert await conn.fetchval("SELECT count(*) FROM rekap.record WHERE partition = 0") == 0, "held, not skipped"

        env = {**os.environ, "REKAP_KAFKA_BOOTSTRAP": kafka.bootstrap, "REKAP_TALLY_TOPIC": topic,
               "REKAP_KAFKA_USERNAME": str(kafka.tabulator.username), "REKAP_KAFKA_PASSWORD": str(kafka.tabulator.password),
               "DATABASE_URL": login_url(election_database_url, "operator")}  # fmt: skip
        args = ["tabulator", "accept-gap", "0", "--by", "Ana (KPU)", "--reason", "test: deleted records"]
        accepted = await asyncio.to_thread(rekap, env, *args)
        assert accepted.returncode == 0, accepted.stderr
        assert "offsets 0 to 3" in accepted.stdout
        assert "registry: " in accepted.stdout, "the gap accepted is a leaf of the registry"
        again = await asyncio.to_thread(rekap, env, *args)
        assert again.returncode == 1, "a second time there is nothing missing"
        assert "nothing is missing" in again.stderr
        await wait_applied(election_database_url, topic, {0: 10, 1: 5}, watch=running)
        stop.set()
        await running

    offsets = [
        r["offset"] for r in await conn.fetch('SELECT "offset" FROM rekap.record WHERE partition = 0 ORDER BY 1')
    ]
    assert offsets == [4, 5, 6, 7, 8, 9]
    gap = await conn.fetchrow("SELECT * FROM rekap.offset_gap WHERE topic = $1", topic)
    assert gap is not None
    assert (gap["partition"], gap["first_missing"], gap["next_offset"], gap["accepted_by"]) == (0, 0, 4, "Ana (KPU)")
    # and the topics were made to keep every record
    entries = {e[0]: e[1] for r in configs for *_, entries in r.resources for e in entries}
    assert (entries["retention.ms"], entries["retention.bytes"], entries["cleanup.policy"]) == ("-1", "-1", "delete")
