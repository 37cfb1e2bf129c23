"""A round trip through the broker and the database: proof that the stack answers, end to end."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rekap.access import Topic
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres.connection import connect as postgres_connect
from rekap.config import Settings
from rekap.errors import RekapError, UnavailableError

CHECK_TOPIC = "rekap.stack-check"
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class CheckResult:
    kafka_offset: int
    kafka_round_trip_ms: float
    postgres_version: str


async def check_stack(settings: Settings) -> CheckResult:
    """Produce a record and read it back; ask PostgreSQL for its version. Raises if either fails."""
    try:
        offset, round_trip_ms = await asyncio.wait_for(_kafka_round_trip(settings), TIMEOUT_SECONDS)
    except (TimeoutError, OSError) as error:
        raise UnavailableError(f"Kafka at {settings.bootstrap_servers} did not answer: {error!r}") from None
    try:
        conn = await postgres_connect(settings.dsn_for("operator"), timeout=TIMEOUT_SECONDS)
    except RekapError as error:
        said = error.__cause__ or error  # what the driver said
        raise UnavailableError(f"PostgreSQL at {settings.dsn_for_display} did not answer: {said}") from None
    try:
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return CheckResult(offset, round_trip_ms, str(version))


async def _kafka_round_trip(settings: Settings) -> tuple[int, float]:
    admin = settings.kafka("admin")
    await ensure_topics(admin, [Topic(CHECK_TOPIC, 1)])
    payload = uuid.uuid4().bytes
    loop = asyncio.get_running_loop()
    producer = AIOKafkaProducer(**admin.options(), acks="all")
    await producer.start()
    try:
        started = loop.time()
        sent = await producer.send_and_wait(CHECK_TOPIC, payload, key=b"check")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**admin.options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(CHECK_TOPIC, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    if record.value != payload:
        raise UnavailableError(f"Kafka returned another record at offset {sent.offset} of {CHECK_TOPIC}")
    return sent.offset, (loop.time() - started) * 1000
