"""Dead letters: each rejected record is copied, as it came, to a topic of its own, with the reason
in its headers. At least once: a copy sent before a crash may be sent again (`rekap-source` tells).
The database keeps every record's raw bytes whole; a copy here is cut at 64 KiB (`rekap-truncated`
then gives the original length), so that an oversize record can never block the topic."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from rekap.domain.decode import MAX_VALUE_BYTES
from rekap.errors import RekapError, UnavailableError
from rekap.tabulator.batch import BatchChanges, RecordOutcome


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    async def send(self, changes: BatchChanges) -> None:
        """Copy the batch's rejected records and wait until the broker has them all."""
        rejected = changes.rejected()
        if not rejected:
            return
        try:
            sent = []
            for outcome in rejected:
                value, headers = copy_of(outcome)
                sent.append(await self._producer.send(self.topic, value, key=outcome.record.key, headers=headers))
            await asyncio.gather(*sent)
        except KafkaError as error:
            if error.retriable:
                raise UnavailableError(f"Kafka (dead letters): {error!r}") from error
            raise RekapError(f"Kafka refused a dead letter for {self.topic}: {error!r}") from error


def copy_of(outcome: RecordOutcome) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    record, reason = outcome.record, outcome.judgement.reason
    assert reason is not None
    headers = [
        *record.headers,
        ("rekap-reason", reason.value.encode()),
        ("rekap-detail", (outcome.detail or "").encode()),
        ("rekap-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
    ]
    value = record.value
    if value is not None and len(value) > MAX_VALUE_BYTES:
        headers.append(("rekap-truncated", str(len(value)).encode()))
        value = value[:MAX_VALUE_BYTES]
    return value, headers
