"""The terminals' side of the contract: a form's exact bytes, signed, sent to the tally topic with an
idempotent producer (acks=all), keyed by its TPS so that its revisions stay in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaError

from rekap.access import KafkaAccess
from rekap.adapters.kafka.producing import TerminalProducer
from rekap.domain.signing import SigningKey, signed_headers
from rekap.errors import RekapError, UnavailableError
from rekap.simulation.night import Planned

Headers = Sequence[tuple[str, bytes]]


class Publisher(TerminalProducer):
    def __init__(self, access: KafkaAccess, topic: str, *, client_id: str = "rekap-publisher") -> None:
        super().__init__(access, topic, client_id=client_id)

    async def enqueue(self, tps_id: str | None, value: bytes, headers: Headers) -> Any:
        """Queue a record (keyed by its TPS; None: no key); returns a future of its RecordMetadata."""
        record_key = tps_id.encode() if tps_id is not None else None
        return await self._producer.send(self.topic, value, key=record_key, headers=list(headers))

    async def publish(self, tps_id: str | None, value: bytes, key: SigningKey) -> Any:
        """Sign the exact bytes and send them; returns the RecordMetadata once the broker has them."""
        try:
            return await (await self.enqueue(tps_id, value, signed_headers(value, key)))
        except KafkaError as error:
            if not error.retriable and not isinstance(error, KafkaConnectionError):
                raise RekapError(f"Kafka refused the form: {error!r}") from error
            raise UnavailableError(f"Kafka did not take the form: {error!r}") from error


async def play(
    publisher: Publisher, planned: list[Planned], duration_s: float, progress: Callable[[int], None] = lambda _: None
) -> tuple[dict[int, int], list[Any]]:
    """Send every record at `at * duration_s` after the start. Returns the end offset of each partition
    written and every record's metadata (partition, offset, timestamp), in the order sent."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    futures = []
    for index, record in enumerate(planned):
        delay = start + record.at * duration_s - loop.time()
        if delay > 0.005:
            await asyncio.sleep(delay)
        futures.append(await publisher.enqueue(record.key.decode(), record.value, record.headers))
        if index % 500 == 0:
            progress(index)
    sent = await asyncio.gather(*futures)
    progress(len(planned))
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    return ends, sent
