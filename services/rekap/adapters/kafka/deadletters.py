"""Dead letters: each rejected record is copied, as it came, to a topic of its own, with the reason
in its headers. At least once: a copy sent before a crash may be sent again (`rekap-source` tells)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from rekap.errors import UnavailableError
from rekap.tabulator.batch import BatchChanges


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
                record, judgement = outcome.record, outcome.judgement
                assert judgement.reason is not None
                headers = [
                    *record.headers,
                    ("rekap-reason", judgement.reason.value.encode()),
                    ("rekap-detail", (outcome.detail or "").encode()),
                    ("rekap-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                ]
                sent.append(await self._producer.send(self.topic, record.value, key=record.key, headers=headers))
            await asyncio.gather(*sent)
        except KafkaError as error:
            raise UnavailableError(f"Kafka (dead letters): {error!r}") from error
