"""Dead letters: each rejected record is copied, as it came, to a topic of its own, with the reason
in its headers. At least once: a copy sent before a crash may be sent again (`rekap-source` tells).

The database keeps every record's raw bytes whole. A copy here always fits any broker's limits
(at most about 82 KiB), so that no record can block the topic: the value is cut at 64 KiB
(`rekap-truncated` then gives its original length), the key at 1 KiB (`rekap-truncated-key`), and
the record's own headers are kept while they add up to 16 KiB; those left out, and any whose name
was not UTF-8 (which no client here can send), are counted in `rekap-omitted-headers`. The copy of
an `unstorable_record` carries none of its own headers: one of them may be what was refused."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from rekap.domain.batch import BatchChanges, RecordOutcome
from rekap.domain.decode import MAX_VALUE_BYTES, is_utf8_name
from rekap.domain.reasons import RejectReason
from rekap.errors import RekapError, UnavailableError

MAX_KEY_BYTES = 1024
MAX_HEADER_BYTES = 16 * 1024


class DeadLetterRefusedError(RekapError):
    """The broker or the producer refused a dead letter: the same batch would be refused again."""


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
                key, value, headers = copy_of(outcome)
                sent.append(await self._producer.send(self.topic, value, key=key, headers=headers))
            await asyncio.gather(*sent)
        except KafkaError as error:
            if error.retriable:
                raise UnavailableError(f"Kafka (dead letters): {error!r}") from error
            raise DeadLetterRefusedError(f"Kafka refused a dead letter for {self.topic}: {error!r}") from error
        except (ValueError, TypeError) as error:
            raise DeadLetterRefusedError(f"a dead letter for {self.topic} could not be sent: {error!r}") from error


def copy_of(outcome: RecordOutcome) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]:
    """Key, value and headers of a rejected record's dead-letter copy."""
    record, reason = outcome.record, outcome.judgement.reason
    assert reason is not None
    own = [] if reason is RejectReason.UNSTORABLE_RECORD else list(record.headers)
    kept: list[tuple[str, bytes | None]] = []
    budget, omitted = MAX_HEADER_BYTES, len(record.headers) - len(own)
    for name, header_value in own:
        size = len(name.encode(errors="surrogateescape")) + len(header_value or b"")
        if size > budget or not is_utf8_name(name):
            omitted += 1
            continue
        budget -= size
        kept.append((name, header_value))
    headers: list[tuple[str, bytes | None]] = [
        *kept,
        ("rekap-reason", reason.value.encode()),
        ("rekap-detail", (outcome.detail or "").encode()),
        ("rekap-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
    ]
    if omitted:
        headers.append(("rekap-omitted-headers", str(omitted).encode()))
    key, value = record.key, record.value
    if key is not None and len(key) > MAX_KEY_BYTES:
        headers.append(("rekap-truncated-key", str(len(key)).encode()))
        key = key[:MAX_KEY_BYTES]
    if value is not None and len(value) > MAX_VALUE_BYTES:
        headers.append(("rekap-truncated", str(len(value)).encode()))
        value = value[:MAX_VALUE_BYTES]
    return key, value, headers
