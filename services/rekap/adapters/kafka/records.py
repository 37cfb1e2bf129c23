"""Reading record batches that aiokafka's own parser refuses.

Kafka's protocol says a header name is a UTF-8 string, but nothing checks it: any client may send a
name that is not UTF-8. aiokafka decodes header names strictly while it unpacks a fetched batch, so
such a record raises inside `getmany`, before Rekap sees it, and every later fetch of the partition
raises again: one record would stop its partition for good.

`TolerantRecords` replaces aiokafka's `MemoryRecords` in its fetcher. It walks the fetched batches
itself (the v2 framing: base offset, length) and hands each to aiokafka's fast parser; only a batch
that fails on a name that is not UTF-8 is read again here, record by record, with the name decoded
with `surrogateescape`, so that its exact bytes survive (`name.encode("utf-8", "surrogateescape")`)
and the decoder can reject the record as `unreadable_record`. Every other record of that batch reads
as usual. Anything else the parser refuses (a bad CRC, a truncated batch) stays aiokafka's business.

It relies on aiokafka 0.14's fetcher looking up `MemoryRecords` at call time, and on its pure-Python
batch class for decompression; `install()` checks both and fails loudly if they moved, and
tests/unit/test_aiokafka_internals.py pins every internal this module touches for the next upgrade.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiokafka.consumer.fetcher as aiokafka_fetcher
from aiokafka.record import default_records
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint

# A batch: BaseOffset int64, then Length int32 (of what follows), then the rest; magic is byte 16.
LOG_OVERHEAD = 12
MAGIC_OFFSET = 16


@dataclass(frozen=True, slots=True)
class LenientRecord:
    """A record read here: what aiokafka's fetcher needs of one (see its `_consumer_record`)."""

    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    checksum: None = None


class TolerantBatch:
    """One v2 batch: aiokafka's (C) parser first; from the record it cannot read on, the lenient one."""

    def __init__(self, data: memoryview) -> None:
        self._data = data
        self._batch: Any = default_records.DefaultRecordBatch(data)
        self._records: Iterator[Any] | None = None

    def __getattr__(self, name: str) -> Any:  # base_offset, next_offset, validate_crc, is_control_batch, ...
        return getattr(self._batch, name)

    def __iter__(self) -> TolerantBatch:
        return self

    def __next__(self) -> Any:
        if self._records is None:
            self._records = self._read()
        return next(self._records)

    def _read(self) -> Iterator[Any]:
        read = 0
        try:
            for record in self._batch:
                yield record
                read += 1
        except UnicodeDecodeError:
            yield from lenient_records(self._data, skip=read)


def lenient_records(data: memoryview, *, skip: int = 0) -> Iterator[LenientRecord]:
    """The records of one v2 batch, header names that are not UTF-8 kept as surrogate escapes."""
    batch: Any = default_records._DefaultRecordBatchPy(data)
    batch._maybe_uncompress()
    buffer, pos = batch._buffer, batch._pos
    log_append = batch.timestamp_type == batch.LOG_APPEND_TIME
    for index in range(batch._num_records):
        record, pos = _read_record(buffer, pos, batch, log_append=log_append)
        if index >= skip:
            yield record


def _read_record(buffer: bytearray, pos: int, batch: Any, *, log_append: bool) -> tuple[LenientRecord, int]:
    length, pos = decode_varint(buffer, pos)
    end = pos + length
    _, pos = decode_varint(buffer, pos)  # attributes, unused
    timestamp_delta, pos = decode_varint(buffer, pos)
    offset_delta, pos = decode_varint(buffer, pos)
    key, pos = _read_bytes(buffer, pos)
    value, pos = _read_bytes(buffer, pos)
    count, pos = decode_varint(buffer, pos)
    headers: list[tuple[str, bytes | None]] = []
    for _ in range(count):
        name, pos = _read_bytes(buffer, pos)
        header_value, pos = _read_bytes(buffer, pos)
        headers.append(((name or b"").decode("utf-8", "surrogateescape"), header_value))
    timestamp = batch.max_timestamp if log_append else batch.first_timestamp + timestamp_delta
    record = LenientRecord(batch.base_offset + offset_delta, timestamp, batch.timestamp_type, key, value, headers)
    return record, end


def _read_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    length, pos = decode_varint(buffer, pos)
    if length < 0:
        return None, pos
    return bytes(buffer[pos : pos + length]), pos + length


class TolerantRecords:
    """aiokafka's MemoryRecords (the batches of one fetched partition), with TolerantBatch for v2."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def size_in_bytes(self) -> int:
        return len(self._data)

    def has_next(self) -> bool:
        return self._next_end() is not None

    def next_batch(self) -> Any:
        end = self._next_end()
        if end is None:
            return None
        data, self._pos = self._data[self._pos : end], end
        if len(data) > MAGIC_OFFSET and data[MAGIC_OFFSET] >= 2:
            return TolerantBatch(data)
        return LegacyRecordBatch(data, data[MAGIC_OFFSET] if len(data) > MAGIC_OFFSET else 0)

    def _next_end(self) -> int | None:
        """Where the next whole batch ends; None if what is left is not a whole batch (a partial one
        at the end of a fetch is normal: the next fetch gets it whole)."""
        if len(self._data) - self._pos < LOG_OVERHEAD:
            return None
        (length,) = struct.unpack_from(">i", self._data, self._pos + 8)
        end = self._pos + LOG_OVERHEAD + length
        return end if end <= len(self._data) else None


def install() -> None:
    """Make aiokafka's fetcher read batches with TolerantRecords (process-wide, idempotent)."""
    if not hasattr(aiokafka_fetcher, "MemoryRecords") or not hasattr(default_records, "_DefaultRecordBatchPy"):
        raise RuntimeError("aiokafka's record parsing moved: Rekap's TolerantRecords must be updated for it")
    aiokafka_fetcher.MemoryRecords = TolerantRecords
