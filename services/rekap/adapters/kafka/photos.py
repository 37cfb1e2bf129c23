"""The photo topic's clients: the consumer of `rekap photos run` (a member of its own group, apart from the
tabulators': photos never slow the count), and the producer terminals send photos with. A record is a photo:
key the SHA-256 of its bytes in lowercase hex, value the bytes, up to 2 MiB (the topic takes a little more)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from rekap.access import KafkaAccess
from rekap.adapters.kafka import records
from rekap.adapters.kafka.producing import TerminalProducer
from rekap.domain.batch import ConsumedRecord
from rekap.errors import RekapError, UnavailableError

log = structlog.get_logger(__name__)

FETCH_BYTES = 8 * 1024 * 1024  # per partition and per fetch: a few photos, never less than one whole
MAX_REQUEST_BYTES = 3 * 1024 * 1024  # a photo of 2 MiB with its key and headers, alone in its request


class PhotoConsumer:
    def __init__(self, access: KafkaAccess, topic: str, group_id: str, *, max_records: int = 32) -> None:
        records.install()  # a header name that is not UTF-8 must not stop the fetch (see records.py)
        self.topic = topic
        self._max_records = max_records
        self._consumer = AIOKafkaConsumer(
            **access.options(),
            group_id=group_id,
            client_id=f"{group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=2 * FETCH_BYTES,
        )

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe([self.topic])

    async def stop(self) -> None:
        await self._consumer.stop()

    async def fetch(self, timeout_ms: int = 500) -> list[ConsumedRecord]:
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
        return [
            ConsumedRecord(tp.topic, tp.partition, m.offset, m.timestamp, m.key, m.value, tuple(m.headers))
            for tp, messages in sorted(fetched.items(), key=lambda item: item[0].partition)
            for m in messages
        ]

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """The next offset to read of each partition: what is indexed is not read again by the group."""
        if not offsets:
            return
        try:
            await self._consumer.commit({TopicPartition(self.topic, p): offset for p, offset in offsets.items()})
        except KafkaError as error:  # lost the partitions meanwhile: their next owner reads them again, harmless
            log.info("kafka_commit_skipped", error=repr(error))


class PhotoPublisher(TerminalProducer):
    """Sends photos, keyed by their digests."""

    def __init__(self, access: KafkaAccess, topic: str, *, client_id: str = "rekap-photos") -> None:
        super().__init__(access, topic, client_id=client_id, max_request_size=MAX_REQUEST_BYTES)

    async def publish(self, photos: Sequence[tuple[str, bytes]]) -> list[tuple[int, int]]:
        """Send photos (digest, bytes), all queued at once; each one's (partition, offset) once the broker has it."""
        try:
            futures = [await self._producer.send(self.topic, data, key=sha256.encode()) for sha256, data in photos]
            sent = await asyncio.gather(*futures)
        except KafkaError as error:
            if not error.retriable and not isinstance(error, KafkaConnectionError):
                raise RekapError(f"Kafka refused a photo: {error!r}") from error
            raise UnavailableError(f"Kafka did not take the photos: {error!r}") from error
        return [(metadata.partition, metadata.offset) for metadata in sent]
