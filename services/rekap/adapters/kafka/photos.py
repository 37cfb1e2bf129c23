"""The photo topic's producer, as the terminals send photos with it (`rekap photos run` reads the topic with the
tally consumer, in a group of its own). A record is a photo: key the SHA-256 of its bytes in lowercase hex,
value the bytes, up to 2 MiB (the topic takes a little more)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import KafkaConnectionError, KafkaError

from rekap.access import KafkaAccess
from rekap.adapters.kafka.producing import TerminalProducer
from rekap.errors import RekapError, UnavailableError

PHOTO_FETCH_BYTES = 8 * 1024 * 1024  # per partition and fetch, for the photo consumer: a few photos
MAX_REQUEST_BYTES = 3 * 1024 * 1024  # a photo of 2 MiB with its key and headers, alone in its request


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
