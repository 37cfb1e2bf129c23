"""Records any Kafka client may send, on the real broker and database: each gets one recorded outcome,
its raw bytes are kept, and the valid form right behind it on the same partition is counted."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

import aiokafka.producer.message_accumulator
import aiokafka.producer.producer
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from rekap.access import KafkaAccess
from rekap.bootstrap import tabulator_service
from rekap.simulation.forms import consistent_form
from tests.integration.election import MASTER, register_all_terminals, sample_tps, settings_for, signed, wait_applied
from tests.raw_names import RawName
from tests.servers import BrokerAccess

Header = tuple[str, bytes | None]


@pytest.fixture
def raw_header_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (aiokafka.producer.message_accumulator, aiokafka.producer.producer):
        monkeypatch.setattr(module, "DefaultRecordBatchBuilder", _DefaultRecordBatchBuilderPy)


def signed_form(tps_index: int, **changes: Any) -> tuple[bytes, bytes, list[Header]]:
    """A valid governor form for one TPS (with these fields changed), signed by the terminal it names."""
    tps = sample_tps(40)[tps_index]
    contest = MASTER.contests_at(tps.tps_id)[0]
    form = consistent_form(tps, contest, random.Random(tps_index))
    form.update(changes)
    return signed(form)


# Each: what is sent (key, value, headers), and the outcome it must get.
def hostile_records() -> list[tuple[str, tuple[bytes | None, bytes | None, list[Header]], tuple[str, str | None]]]:
    key, body, headers = signed_form(0)
    nul_field = body.replace(b"{", b'{"\\u0000":1,', 1)
    nul_vote = body.replace(b'"votes":{', b'"votes":{"\\u0000":1,', 1)
    assert nul_field != body, "the form's JSON is compact: the edit must apply"
    assert nul_vote != body
    # The broker takes batches up to 1,048,588 bytes (message.max.bytes): this record's is about 100 bytes
    # below that, so a copy that adds Rekap's headers to everything it had would not fit.
    big_header = ("x-padding", b"p" * 1_048_388)
    tps2 = sample_tps(40)[2].tps_id
    third = sample_tps(40)[3]
    other_dpt = {**consistent_form(third, MASTER.contests_at(third.tps_id)[0], random.Random(3))["voters"]}  # type: ignore[dict-item]
    # the same total, split otherwise between the sexes: breaks no arithmetic, disagrees with the DPT
    other_dpt["registered"] = {"male": third.registered_male + 1, "female": third.registered_female - 1}
    return [
        ("a null header value", (key, body, [*headers, ("x-null", None)]), ("accepted", None)),
        ("a NUL in a header name", (*signed_form(1)[:2], [*signed_form(1)[2], ("nul\x00name", b"v")]),
         ("accepted", None)),
        ("a header name that is not UTF-8", (b"k", b"{}", [(RawName(b"bad-\xff\xfe"), b"v")]),
         ("rejected", "unreadable_record")),
        ("a field named NUL", (key, nul_field, headers), ("rejected", "schema_violation")),
        ("a votes key NUL", (key, nul_vote, headers), ("rejected", "schema_violation")),
        ("a repeated key", (key, body.replace(b'"valid":', b'"valid":0,"valid":', 1), headers),
         ("rejected", "duplicate_key")),
        ("a KPPS form with revision 2,147,483,647", signed_form(2, revision=2_147_483_647),
         ("quarantined", "revision_jump")),
        ("the PPK's correction of that TPS, revision 1", signed_form(2, terminal_id=f"ppk-{tps2[:6]}"),
         ("accepted", None)),
        ("registered voters other than the TPS's DPT", signed_form(3, voters=other_dpt), ("quarantined",
         "registered_ne_master_data")),
        ("a record whose dead-letter copy would pass the broker's limit", (b"k", b"not json", [big_header]),
         ("rejected", "malformed_json")),
    ]  # fmt: skip


async def test_each_hostile_record_gets_its_outcome_and_the_next_form_is_counted(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection, raw_header_names: None
) -> None:
    await register_all_terminals(conn, sample_tps(40))
    cases = hostile_records()
    settings = settings_for(kafka, election_database_url, topic)
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        producer = AIOKafkaProducer(**kafka.terminals.options(), max_request_size=1_100_000, linger_ms=0)
        await producer.start()
        sent: list[tuple[str, int, tuple[str, str | None]]] = []
        try:
            for n, (name, (key, value, headers), outcome) in enumerate(cases):
                sent.append((name, await send(producer, topic, key, value, headers), outcome))
                follower = signed_form(10 + n)  # a valid form right behind it, on the same partition
                sent.append((f"the form after {name}", await send(producer, topic, *follower), ("accepted", None)))
        finally:
            await producer.stop()
        await wait_applied(election_database_url, topic, {0: len(sent)}, timeout=60, watch=running)
        stop.set()
        await running

    rows = {r["offset"]: r for r in await conn.fetch("SELECT * FROM rekap.record WHERE topic = $1", topic)}
    assert sorted(rows) == list(range(len(sent))), "one outcome row per record"
    for name, offset, (outcome, reason) in sent:
        assert (rows[offset]["outcome"], rows[offset]["reason"]) == (outcome, reason), name
    # nothing lost for audit: the raw bytes of every record, headers whole (names and values base64)
    for (name, (key, value, headers), _), (_, offset, _) in zip(cases, sent[::2], strict=True):
        row = rows[offset]
        assert (row["record_key"], row["value"]) == (key, value), name
        stored = [
            (base64.b64decode(n), None if v is None else base64.b64decode(v)) for n, v in json.loads(row["headers"])
        ]
        assert stored == [(n.encode(), v) for n, v in headers], name
    counted = await conn.fetchval("SELECT count(*) FROM rekap.form WHERE status = 'accepted'")
    assert counted == sum(1 for _, _, (outcome, _) in sent if outcome == "accepted")

    letters = await dead_letters(kafka.admin, settings.dead_letter_topic, expected=5)
    assert sorted(letters) == sorted(f"{topic}/0/{offset}" for _, offset, (o, _) in sent if o == "rejected")
    big = letters[f"{topic}/0/{sent[-2][1]}"]
    assert big["rekap-omitted-headers"] == b"1"


async def send(producer: AIOKafkaProducer, topic: str, key: bytes | None, value: bytes | None,
               headers: list[Header]) -> int:  # fmt: skip
    metadata = await (await producer.send(topic, value, key=key, headers=headers, partition=0))
    return int(metadata.offset)


async def dead_letters(admin: KafkaAccess, topic: str, expected: int) -> dict[str, dict[str, Any]]:
    """rekap-source -> the copy's headers."""
    consumer = AIOKafkaConsumer(topic, **admin.options(), auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    found: dict[str, dict[str, Any]] = {}
    try:
        while len(found) < expected:
            batches = await consumer.getmany(timeout_ms=5000)
            assert batches, f"only {len(found)} of {expected} dead letters arrived"
            for messages in batches.values():
                for m in messages:
                    headers = dict(m.headers)
                    found[headers["rekap-source"].decode()] = headers
    finally:
        await consumer.stop()
    return found
