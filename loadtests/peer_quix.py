"""The Quix Streams peer of the peer benchmark (peer.py): Rekap's job done as a competent Quix Streams
3.x user would do it, to see what a general stream-processing library gives on the same backlog.

It runs in a virtualenv of its own (Quix pins pydantic, pydantic-settings and confluent-kafka below
Rekap's), with Rekap's services/ on PYTHONPATH for the domain model only; peer.py makes that venv.

The pipeline, one process, one StreamingDataFrame:

  1. consume the tally topic (SASL/SCRAM through quixstreams' ConnectionConfig), key and value as bytes;
  2. validate each value with Rekap's own pydantic model (`rekap.domain.tally.TallyV1`, the same model,
     not a copy) and hold a form whose arithmetic does not add up (`rekap.domain.rules.arithmetic_
     problems`: the counts must agree with each other). Signatures are NOT verified, and the terminal,
     its scope and the master data are not checked: a forged or out-of-scope form with the right
     numbers is accepted (and the authentic one after it is then a duplicate);
  3. per message key (the TPS) and contest, keep in Quix's RocksDB state store the latest revision, the
     content digest of its numbers and the numbers it counted. A record is
       rejected     when the model refuses it, or its key is not its tps_id,
       stale        when its revision is below the latest,
       duplicate    when it is the latest revision again with the same numbers (changes nothing),
       rejected     (revision_conflict) when it is the latest revision again with other numbers,
       quarantined  when it is newer but its arithmetic is wrong (it replaces the latest, counts nothing),
       accepted     when it is newer and consistent: the totals move by the difference from the form it
                    replaces;
  4. sink into PostgreSQL (schema `peer`) with a BatchingSink, through asyncpg: per partition and
     checkpoint, one transaction holding
       - one row per record, as Rekap's `rekap.record` keeps it: its coordinates, outcome and reason, the
         form's TPS, contest, revision and terminal, the Kafka timestamp, and the record's raw key, value
         and headers, all COPYed in (binary);
       - the (contest, kecamatan) totals' and votes' differences of the batch, summed in Python first,
         then added in one statement each (INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE).

What makes it strong, each measured on the 12-province backlog (see docs/load-tests.md): asyncpg instead
of psycopg2 (binary COPY, one round trip per statement); the batch's totals summed before they are sent;
the record table with no key and no index (a replay writes its rows again: at least once, as below),
which costs PostgreSQL less per row than Rekap's keyed table.

Guarantees, as Quix gives them by default (processing_guarantee="at-least-once", commit_interval 5 s):

  - at least once, not exactly once into PostgreSQL. A checkpoint flushes the sink (the PostgreSQL
    transactions commit), then commits the consumer offsets and the state. A crash between the two
    replays the records since the last commit from the state as it was then: their rows are written
    again and their differences added to the totals again, so the totals count them twice. Nothing in
    PostgreSQL can tell (the sink has no record of which offsets it applied). Quix's exactly-once
    guarantee covers Kafka output topics and the state's changelog, not an external sink.
  - per partition, one transaction per checkpoint, not one for all partitions: a failure half-way
    through a flush leaves some partitions' batches in and the checkpoint aborted (and replayed).
  - the state survives a restart through its changelog topic (which Quix creates and writes beside the
    state); the totals in PostgreSQL are only ever added to.

Environment: PEER_TOPIC, PEER_GROUP (a consumer group of its own), PEER_KAFKA (librdkafka connection
settings as JSON), PEER_DSN (PostgreSQL, a login that may create the schema), PEER_STATE_DIR.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError
from quixstreams import Application, State
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.sinks import BatchingSink, SinkBatch

from rekap.adapters.postgres.stored import stored_headers
from rekap.domain.rules import arithmetic_problems
from rekap.domain.tally import TallyV1

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS peer;
CREATE TABLE IF NOT EXISTS peer.record (
    topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, outcome text NOT NULL, reason text,
    tps_id text, contest_id text, revision integer, terminal_id text, kafka_timestamp timestamptz,
    record_key bytea, value bytea, headers jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS peer.total (
    contest_id text, kecamatan text, valid bigint NOT NULL, invalid bigint NOT NULL, ballots_used bigint NOT NULL,
    tps_counted bigint NOT NULL, tps_quarantined bigint NOT NULL, PRIMARY KEY (contest_id, kecamatan)
);
CREATE TABLE IF NOT EXISTS peer.votes (
    contest_id text, kecamatan text, choice text, votes bigint NOT NULL, PRIMARY KEY (contest_id, kecamatan, choice)
);
"""
RECORD_COLUMNS = ("topic", "partition", "offset", "outcome", "reason", "tps_id", "contest_id", "revision",
                  "terminal_id", "kafka_timestamp", "record_key", "value", "headers")  # fmt: skip
ADD_TOTALS = """
INSERT INTO peer.total AS t (contest_id, kecamatan, valid, invalid, ballots_used, tps_counted, tps_quarantined)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
ON CONFLICT (contest_id, kecamatan) DO UPDATE SET
    valid = t.valid + EXCLUDED.valid, invalid = t.invalid + EXCLUDED.invalid,
    ballots_used = t.ballots_used + EXCLUDED.ballots_used, tps_counted = t.tps_counted + EXCLUDED.tps_counted,
    tps_quarantined = t.tps_quarantined + EXCLUDED.tps_quarantined
"""
ADD_VOTES = """
INSERT INTO peer.votes AS v (contest_id, kecamatan, choice, votes)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (contest_id, kecamatan, choice) DO UPDATE SET votes = v.votes + EXCLUDED.votes
"""
TOTALS = ("valid", "invalid", "ballots_used", "tps_counted", "tps_quarantined")


def outcome(raw: bytes, tally: TallyV1 | None, name: str, reason: str | None = None,
            delta: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    form = (tally.tps_id, tally.contest_id, tally.revision, tally.terminal_id) if tally else (None,) * 4
    return {"raw": raw, "form": form, "outcome": name, "reason": reason, "delta": delta}


def counted_numbers(tally: TallyV1) -> dict[str, Any]:
    return {"valid": tally.valid, "invalid": tally.invalid, "ballots_used": tally.ballots.used,
            "votes": dict(tally.votes)}  # fmt: skip


def difference(before: dict[str, Any] | None, after: dict[str, Any] | None, was_held: bool, held: bool
               ) -> dict[str, Any]:  # fmt: skip
    """What the totals move by when the form `before` (counted numbers, None if none or held) is
    replaced by `after`."""
    delta: dict[str, Any] = dict.fromkeys(TOTALS, 0)
    votes: Counter[str] = Counter()
    for sign, numbers in ((-1, before), (1, after)):
        if numbers is not None:
            delta["tps_counted"] += sign
            for name in ("valid", "invalid", "ballots_used"):
                delta[name] += sign * numbers[name]
            for choice, n in numbers["votes"].items():
                votes[choice] += sign * n
    delta["tps_quarantined"] = int(held) - int(was_held)
    delta["votes"] = dict(votes)
    return delta


def judge(value: bytes, key: bytes | None, _timestamp: int, _headers: Any, state: State[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 (a return per outcome)
    """The record's outcome, and the state of its (TPS, contest) moved on."""
    try:
        tally = TallyV1.model_validate_json(value)
    except ValidationError:
        return outcome(value, None, "rejected", "invalid")
    if key is None or tally.tps_id != key.decode(errors="replace"):
        return outcome(value, tally, "rejected", "key_mismatch")
    latest = state.get(tally.contest_id)
    digest = tally.content_digest().hex()
    if latest is not None:
        if tally.revision < latest["revision"]:
            return outcome(value, tally, "stale")
        if tally.revision == latest["revision"]:
            if digest == latest["digest"]:
                return outcome(value, tally, "duplicate")
            return outcome(value, tally, "rejected", "revision_conflict")
    problems = arithmetic_problems(tally)
    held = bool(problems)
    numbers = None if held else counted_numbers(tally)
    state.set(tally.contest_id, {"revision": tally.revision, "digest": digest, "held": held, "counted": numbers})
    was_held = bool(latest and latest["held"])
    delta = difference(latest["counted"] if latest else None, numbers, was_held, held)
    if held:
        return outcome(value, tally, "quarantined", str(problems[0]), delta)
    return outcome(value, tally, "accepted", None, delta)


class TallySink(BatchingSink):
    """Each partition's batch in one PostgreSQL transaction (asyncpg, on an event loop of the sink's own:
    Quix calls sinks synchronously): the rows COPYed, the totals and votes added."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._loop = asyncio.new_event_loop()
        self._conn: Any = None

    def setup(self) -> None:
        self._conn = self._loop.run_until_complete(asyncpg.connect(self._dsn))
        self._loop.run_until_complete(self._conn.execute(SCHEMA))

    def write(self, batch: SinkBatch) -> None:
        self._loop.run_until_complete(self._write(batch))

    async def _write(self, batch: SinkBatch) -> None:
        topic, partition = batch.topic, batch.partition
        records = []
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(TOTALS))
        votes: Counter[tuple[str, str, str]] = Counter()
        for item in batch:
            v = item.value
            when = datetime.fromtimestamp(item.timestamp / 1000, UTC)
            records.append((topic, partition, item.offset, v["outcome"], v["reason"], *v["form"], when, item.key,
                            v["raw"], orjson.dumps(stored_headers(item.headers or ())).decode()))  # fmt: skip
            delta = v["delta"]
            if delta is None:
                continue
            where = (v["form"][1], v["form"][0][:6])
            sums = totals[where]
            for n, name in enumerate(TOTALS):
                sums[n] += delta[name]
            for choice, n in delta["votes"].items():
                votes[(*where, choice)] += n
        async with self._conn.transaction():
            await self._conn.copy_records_to_table("record", schema_name="peer", columns=RECORD_COLUMNS,
                                                   records=records)  # fmt: skip
            if totals:
                await self._conn.execute(ADD_TOTALS, *columns([(*where, *sums) for where, sums in totals.items()]))
            if votes:
                await self._conn.execute(ADD_VOTES, *columns([(*where, n) for where, n in votes.items()]))


def columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


def main() -> None:
    env = os.environ
    app = Application(
        broker_address=ConnectionConfig.from_librdkafka_dict(orjson.loads(env["PEER_KAFKA"])),
        consumer_group=env["PEER_GROUP"],
        auto_offset_reset="earliest",
        state_dir=env["PEER_STATE_DIR"],
        processing_guarantee="at-least-once",
    )
    topic = app.topic(env["PEER_TOPIC"], key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(judge, stateful=True, metadata=True)
    sdf.sink(TallySink(env["PEER_DSN"]))
    app.run()


if __name__ == "__main__":
    main()
