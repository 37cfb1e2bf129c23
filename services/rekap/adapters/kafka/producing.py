"""A terminal's producer, as both kinds of record are sent (forms, photos): idempotent, acks=all, started on
entering (a broker that does not answer is an UnavailableError) and stopped on leaving."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from rekap.access import KafkaAccess
from rekap.errors import UnavailableError


class TerminalProducer:
    def __init__(self, access: KafkaAccess, topic: str, *, client_id: str, **options: Any) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(
            **access.options(), acks="all", enable_idempotence=True, linger_ms=5, client_id=client_id, **options
        )

    async def __aenter__(self) -> Self:
        try:
            await self._producer.start()
        except KafkaError as error:
            await self._producer.stop()
            raise UnavailableError(f"Kafka did not answer: {error!r}") from error
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._producer.stop()
