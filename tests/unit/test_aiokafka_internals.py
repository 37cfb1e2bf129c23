"""Every aiokafka internal Rekap relies on, pinned for the next upgrade of aiokafka (0.14 today).

aiokafka has no public word for some things Rekap needs, so a little of its code leans on internals:

- services/rekap/adapters/kafka/records.py replaces the fetcher's `MemoryRecords` with TolerantRecords (a
  header name that is not UTF-8 must not stop a partition), reads batches with aiokafka's own parsers and,
  for the one batch they refuse, with the internals of its pure-Python batch (`_maybe_uncompress`,
  `_buffer`, `_pos`, `_num_records`) and its `decode_varint`, handing the fetcher records it takes for its
  own (`PartitionRecords._consumer_record` reads them);
- services/rekap/adapters/kafka/consumer.py (`connected`) reads `AIOKafkaConsumer._coordinator` and its
  `coordinator_id`;
- services/rekap/logs.py (ExpectedWhileGroupForms) recognises one log line of the group coordinator;
- tests/integration/test_hostile_records.py writes header names that are not UTF-8 with the pure-Python
  batch builder, patched into the producer.

An upgrade that moves one of them fails here, by name, rather than in production (or, for `connected`,
silently: it says True when it cannot tell). Then read the Rekap code named against the new aiokafka,
mend it, and only then this test. `test_the_check_names_what_an_upgrade_removed` shows that the check
fails when one of them is gone.
"""

from __future__ import annotations

import dis
import inspect
import struct
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import aiokafka.consumer.fetcher as aiokafka_fetcher
import aiokafka.producer.message_accumulator
import aiokafka.producer.producer
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.consumer import group_coordinator
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.record import default_records, legacy_records, memory_records, util

from rekap.adapters.kafka.records import LenientRecord, TolerantBatch, TolerantRecords, lenient_records
from rekap.logs import ExpectedWhileGroupForms
from tests.raw_names import RawName


def loads_global(owner: type | types.ModuleType, name: str) -> bool:
    """Whether any function of `owner` (methods, nested functions) looks `name` up as a global when it runs
    (so that replacing the module's attribute reaches it)."""
    return any(
        instruction.opname == "LOAD_GLOBAL" and instruction.argval == name
        for code in _codes(owner)
        for instruction in dis.get_instructions(code)
    )


def _codes(owner: type | types.ModuleType) -> Iterator[types.CodeType]:
    stack = [f.__code__ for f in vars(owner).values() if isinstance(f, types.FunctionType)]
    while stack:
        code = stack.pop()
        yield code
        stack += [const for const in code.co_consts if isinstance(const, types.CodeType)]


def names_used(function: Any) -> set[str]:
    """The global and attribute names a function's code uses."""
    return set(function.__code__.co_names)


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@dataclass(frozen=True)
class Internal:
    name: str  # as aiokafka spells it
    relied_on_by: str  # Rekap's code that must change with it
    present: Callable[[], bool]


RECORDS = "adapters/kafka/records.py"
BATCH_PY = default_records._DefaultRecordBatchPy


def fetcher_calls_on_records() -> set[str]:
    """What the fetcher calls on what MemoryRecords(...) returns (names of aiokafka's MemoryRecords it uses)."""
    used = names_used(aiokafka_fetcher.PartitionRecords._unpack_records)
    used |= {name for code in _codes(aiokafka_fetcher.Fetcher) for name in code.co_names}
    return used & set(dir(memory_records.MemoryRecords))


def fetcher_reads_of_a_record() -> set[str]:
    """What the fetcher reads of each record a batch yields (names of aiokafka's DefaultRecord it uses)."""
    return names_used(aiokafka_fetcher.PartitionRecords._consumer_record) & set(dir(default_records.DefaultRecord))


INTERNALS = [
    Internal("aiokafka.consumer.fetcher.MemoryRecords", RECORDS,
             lambda: hasattr(aiokafka_fetcher, "MemoryRecords")),
    Internal("the fetcher looks MemoryRecords up when it fetches (replacing it reaches the fetcher)", RECORDS,
             lambda: loads_global(aiokafka_fetcher.Fetcher, "MemoryRecords")),
    Internal("MemoryRecords: has_next, next_batch, size_in_bytes, all the fetcher calls of it", RECORDS,
             lambda: fetcher_calls_on_records() == {"has_next", "next_batch", "size_in_bytes"}
             and all(hasattr(TolerantRecords, name) for name in fetcher_calls_on_records())),
    Internal("PartitionRecords._consumer_record(self, tp, record) reads only what LenientRecord holds", RECORDS,
             lambda: parameters(aiokafka_fetcher.PartitionRecords._consumer_record) == ["self", "tp", "record"]
             and bool(fetcher_reads_of_a_record())
             and fetcher_reads_of_a_record() <= {f.name for f in fields(LenientRecord)}),
    Internal("aiokafka.record.default_records.DefaultRecordBatch", RECORDS,
             lambda: hasattr(default_records, "DefaultRecordBatch")),
    Internal("aiokafka.record.default_records._DefaultRecordBatchPy(buffer)", RECORDS,
             lambda: parameters(default_records._DefaultRecordBatchPy) == ["buffer"]),
    Internal("_DefaultRecordBatchPy._maybe_uncompress(self)", RECORDS,
             lambda: parameters(BATCH_PY._maybe_uncompress) == ["self"]),
    Internal("_DefaultRecordBatchPy's _buffer, _pos and _num_records, set when it is made", RECORDS,
             lambda: {"_buffer", "_pos", "_num_records"} <= names_used(BATCH_PY.__init__)),
    Internal("_DefaultRecordBatchPy's base_offset, timestamp_type, first_timestamp, max_timestamp, "
             "LOG_APPEND_TIME", RECORDS,
             lambda: all(hasattr(BATCH_PY, name) for name in ("base_offset", "timestamp_type", "first_timestamp",
                                                               "max_timestamp", "LOG_APPEND_TIME"))),
    Internal("aiokafka.record.legacy_records.LegacyRecordBatch", RECORDS,
             lambda: hasattr(legacy_records, "LegacyRecordBatch")),
    Internal("aiokafka.record.util.decode_varint(buffer, pos)", RECORDS,
             lambda: parameters(util.decode_varint)[:2] == ["buffer", "pos"]),
    Internal("AIOKafkaConsumer._coordinator", "adapters/kafka/consumer.py (connected)",
             lambda: "_coordinator" in names_used(AIOKafkaConsumer.__init__)
             and "_coordinator" in names_used(AIOKafkaConsumer.start)),
    Internal("GroupCoordinator.coordinator_id (None until the coordinator is known)",
             "adapters/kafka/consumer.py (connected)",
             lambda: all("coordinator_id" in names_used(getattr(group_coordinator.GroupCoordinator, method))
                         for method in ("__init__", "ensure_coordinator_known", "coordinator_dead"))),
    Internal("aiokafka.consumer.group_coordinator logs 'Group Coordinator Request failed: %s'",
             "logs.py (ExpectedWhileGroupForms)",
             lambda: group_coordinator.log.name == ExpectedWhileGroupForms.LOGGER
             and f'"{ExpectedWhileGroupForms.MESSAGE}"' in inspect.getsource(group_coordinator)),
    Internal("GroupCoordinatorNotAvailableError.errno == 15", "logs.py (ExpectedWhileGroupForms)",
             lambda: GroupCoordinatorNotAvailableError.errno == ExpectedWhileGroupForms.COORDINATOR_NOT_AVAILABLE),
    Internal("ConsumerRebalanceListener.on_partitions_revoked/on_partitions_assigned(self, partitions)",
             "adapters/kafka/consumer.py (_Listener)",
             lambda: all(len(parameters(getattr(ConsumerRebalanceListener, name))) == 2
                         for name in ("on_partitions_revoked", "on_partitions_assigned"))),
    Internal("aiokafka.record.default_records._DefaultRecordBatchBuilderPy, and DefaultRecordBatchBuilder in "
             "aiokafka.producer.message_accumulator and aiokafka.producer.producer",
             "tests/integration/test_hostile_records.py (raw_header_names)",
             lambda: hasattr(default_records, "_DefaultRecordBatchBuilderPy")
             and hasattr(aiokafka.producer.message_accumulator, "DefaultRecordBatchBuilder")
             and hasattr(aiokafka.producer.producer, "DefaultRecordBatchBuilder")),
]  # fmt: skip


def missing() -> list[str]:
    """The internals not (or no longer) as Rekap relies on them, each with the code that relies on it."""
    gone = []
    for internal in INTERNALS:
        try:
            present = internal.present()
        except (AttributeError, TypeError, ValueError, OSError):  # removed, or no longer a function
            present = False
        if not present:
            gone.append(f"{internal.name} (relied on by {internal.relied_on_by})")
    return gone


def test_every_aiokafka_internal_rekap_relies_on_is_there() -> None:
    assert missing() == []


@pytest.mark.parametrize(
    ("owner", "attribute", "named"),
    [
        (aiokafka_fetcher, "MemoryRecords", "aiokafka.consumer.fetcher.MemoryRecords"),
        (aiokafka_fetcher.PartitionRecords, "_consumer_record", "PartitionRecords._consumer_record"),
        (default_records, "_DefaultRecordBatchPy", "aiokafka.record.default_records._DefaultRecordBatchPy"),
        (BATCH_PY, "_maybe_uncompress", "_DefaultRecordBatchPy._maybe_uncompress"),
        (util, "decode_varint", "aiokafka.record.util.decode_varint"),
        (group_coordinator.GroupCoordinator, "coordinator_dead", "GroupCoordinator.coordinator_id"),
        (ConsumerRebalanceListener, "on_partitions_assigned", "ConsumerRebalanceListener"),
    ],
)
def test_the_check_names_what_an_upgrade_removed(
    monkeypatch: pytest.MonkeyPatch, owner: Any, attribute: str, named: str
) -> None:
    monkeypatch.delattr(owner, attribute)  # as an upgrade that removed or renamed it
    assert [line for line in missing() if line.startswith(named)] != [], missing()


def test_the_check_sees_a_fetcher_that_no_longer_looks_memory_records_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that imports the class where it is used: replacing the module's name would reach nothing."""
    for name, function in vars(aiokafka_fetcher.Fetcher).items():
        if isinstance(function, types.FunctionType) and "MemoryRecords" in function.__code__.co_names:
            code = function.__code__.replace(co_names=tuple(
                "memory_records" if n == "MemoryRecords" else n for n in function.__code__.co_names))  # fmt: skip
            monkeypatch.setattr(aiokafka_fetcher.Fetcher, name, types.FunctionType(code, function.__globals__))
    assert "the fetcher looks MemoryRecords up when it fetches" in " ".join(missing())


async def test_a_consumer_made_has_its_coordinator_none_until_started() -> None:
    """What `connected` reads, on a real consumer: `_coordinator`, None before start (`connected`: True)."""
    consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1")
    try:
        assert consumer._coordinator is None
    finally:
        await consumer.stop()


# -- records.py's reading, against aiokafka's own ------------------------------------------------------------


ATTRIBUTES_AT, CRC_AT = 21, 17  # a v2 batch's attributes (int16) and CRC-32C of what follows them (uint32)
LOG_APPEND_TIME_BIT = 0x08


def batch(*, codec: int = 0, bad_name: bool = False, log_append_time: bool = False) -> bytes:
    builder = default_records._DefaultRecordBatchBuilderPy(
        magic=2, compression_type=codec, is_transactional=False, producer_id=-1, producer_epoch=-1,
        base_sequence=-1, batch_size=1 << 20,
    )  # fmt: skip
    builder.append(10, timestamp=1_000, key=b"k0", value=b"v0", headers=[("ok", b"1")])
    builder.append(11, timestamp=1_007, key=None, value=b"v1",
                   headers=[(RawName(b"bad-\xff") if bad_name else "fine", b"2"), ("n", None)])  # fmt: skip
    builder.append(12, timestamp=1_003, key=b"k2", value=None, headers=[])
    data = bytearray(builder.build())
    if log_append_time:  # as a broker with message.timestamp.type=LogAppendTime writes it
        (attributes,) = struct.unpack_from(">h", data, ATTRIBUTES_AT)
        struct.pack_into(">h", data, ATTRIBUTES_AT, attributes | LOG_APPEND_TIME_BIT)
        struct.pack_into(">I", data, CRC_AT, default_records.calc_crc32c(bytes(data[ATTRIBUTES_AT:])))
    return bytes(data)


def as_read(record: Any) -> tuple[Any, ...]:
    return (record.offset, record.timestamp, record.timestamp_type, record.key, record.value, list(record.headers))


@pytest.mark.parametrize("codec", [0, default_records.DefaultRecordBatch.CODEC_GZIP], ids=["plain", "gzip"])
@pytest.mark.parametrize("log_append_time", [False, True], ids=["create-time", "log-append-time"])
def test_the_lenient_reader_reads_a_batch_as_aiokafka_does(codec: int, log_append_time: bool) -> None:
    data = batch(codec=codec, log_append_time=log_append_time)
    theirs = [as_read(r) for r in default_records.DefaultRecordBatch(memoryview(data))]
    assert [as_read(r) for r in lenient_records(memoryview(data))] == theirs
    assert [r[1] for r in theirs] == ([1_007] * 3 if log_append_time else [1_000, 1_007, 1_003])


def test_aiokafka_still_refuses_a_header_name_that_is_not_utf8_which_is_why_records_py_exists() -> None:
    """If this fails, aiokafka reads such names itself now: TolerantRecords may go (see records.py)."""
    with pytest.raises(UnicodeDecodeError):
        list(default_records.DefaultRecordBatch(memoryview(batch(bad_name=True))))


@pytest.mark.parametrize("codec", [0, default_records.DefaultRecordBatch.CODEC_GZIP], ids=["plain", "gzip"])
def test_the_fetcher_takes_tolerant_records_and_hands_out_every_record(codec: int) -> None:
    """aiokafka's own PartitionRecords (what the fetcher makes of MemoryRecords(...)) over TolerantRecords:
    a name that is not UTF-8 comes out as surrogate escapes of its bytes, the other records as usual."""
    data = batch(codec=codec, bad_name=True) + batch(codec=codec)[:20]  # a partial batch at the end, as fetched
    assert parameters(aiokafka_fetcher.PartitionRecords.__init__) == [
        "self", "tp", "records", "aborted_transactions", "fetch_offset", "key_deserializer", "value_deserializer",
        "check_crcs", "isolation_level",
    ]  # fmt: skip
    records = aiokafka_fetcher.PartitionRecords(TopicPartition("tallies", 0), TolerantRecords(data), None, 10,
                                                None, None, True, aiokafka_fetcher.READ_UNCOMMITTED)  # fmt: skip
    consumed = list(records)
    assert [(r.topic, r.partition, r.offset, r.key, r.value) for r in consumed] == [
        ("tallies", 0, 10, b"k0", b"v0"), ("tallies", 0, 11, None, b"v1"), ("tallies", 0, 12, b"k2", None),
    ]  # fmt: skip
    assert consumed[1].headers == (("bad-\udcff", b"2"), ("n", None))
    assert consumed[1].headers[0][0].encode("utf-8", "surrogateescape") == b"bad-\xff"
    assert records.next_fetch_offset == 13


def test_a_tolerant_batch_answers_what_the_fetcher_asks_of_a_batch() -> None:
    data = memoryview(batch(bad_name=True))
    tolerant, theirs = TolerantBatch(data), default_records.DefaultRecordBatch(data)
    asked = names_used(aiokafka_fetcher.PartitionRecords._unpack_records) & set(dir(theirs))
    assert asked >= {"validate_crc", "producer_id", "base_offset", "is_control_batch", "is_transactional",
                     "next_offset"}  # fmt: skip
    for name in asked - {"validate_crc"}:
        assert getattr(tolerant, name) == getattr(theirs, name), name
    assert tolerant.validate_crc()
    assert next(tolerant).offset == 10, "a control batch's first record is read with next()"
