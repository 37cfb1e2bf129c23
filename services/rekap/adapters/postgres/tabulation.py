"""The tabulator's writes: one transaction per batch, fenced by a compare-and-set on each partition's
stored offset, holding every outcome row, the deciding forms, the totals and the next offsets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary, driver_error
from rekap.adapters.postgres.readings import stored_offsets
from rekap.adapters.postgres.stored import stored_headers
from rekap.domain.batch import BatchChanges, FormKey, FormState, NewForm, PartitionAdvance, RecordOutcome
from rekap.domain.decode import Authentic
from rekap.domain.ledger import Anchored, LedgerStart
from rekap.domain.merkle import Frontier
from rekap.domain.revisions import Authority
from rekap.domain.tally import SECTION_NAMES, TallyV1
from rekap.errors import RekapError

# The fence: only the consumer that knows where a partition stands may move it (0012: one round trip for
# all the batch's partitions, each said moved or not, with its ledger as it stands). The row locks it
# takes are held to commit, so a zombie behind them waits, then finds the offsets moved, and rolls back.
ADVANCE_LEDGERS = """
SELECT partition, moved, ledger FROM rekap.advance_ledgers($1, $2::integer[], $3::bigint[], $4::bigint[], $5)
"""
# Who moved a partition the fence found moved: this very batch (its commit's reply was lost), or another.
SELECT_MOVED = """
SELECT partition, next_offset, batch_id FROM rekap.partition_offset WHERE topic = $1 AND partition = ANY($2)
"""
# One TPS's records may come on two partitions (another partitioner, more partitions), so two
# tabulators may judge the same (TPS, contest) at once. The deciding forms a batch reads are locked
# until it commits, so the other waits, then reads what the first wrote. A form that did not exist yet
# has no row to lock: its insert is the check. If another batch inserted it meanwhile, the insert waits
# for that batch, then fails on the key, and the batch is judged again (FormRaceError).
SELECT_FORMS = """
SELECT f.tps_id, f.contest_id, f.revision, f.digest, f.status, f.valid, f.invalid, f.ballots_used, f.votes,
       f.authority, f.topic, f.partition, f."offset"
FROM unnest($1::text::text[], $2::text::text[]) AS k(tps_id, contest_id)
JOIN rekap.form f ON f.tps_id = k.tps_id AND f.contest_id = k.contest_id
ORDER BY f.tps_id, f.contest_id
FOR UPDATE OF f
"""
RECORD_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "outcome",
    "reason",
    "detail",
    "tps_id",
    "contest_id",
    "revision",
    "terminal_id",
    "kafka_timestamp",
    "record_key",
    "value",
    "headers",
    # the ledger (0012): what its leaf holds beyond the columns above, its hash, the tree after a batch
    "skipped",
    "registry_size",
    "judged_at_ms",
    "verified",
    "prior_topic",
    "prior_partition",
    "prior_offset",
    "leaf_hash",
    "ledger",
)
# A form's columns with their types (for unnest), in the order _form_row gives them.
FORM_TYPES = {
    "tps_id": "text",
    "contest_id": "text",
    "revision": "integer",
    "digest": "bytea",
    "status": "text",
    "reasons": "text",
    "valid": "integer",
    "invalid": "integer",
    "ballots_used": "integer",
    "votes": "jsonb",
    "terminal_id": "text",
    "submitted_at": "timestamptz",
    "topic": "text",
    "partition": "integer",
    "offset": "bigint",
    "authority": "smallint",
    **dict.fromkeys(SECTION_NAMES, "integer"),
    "first_counted_at": "timestamptz",
    "photos": "text",  # JSON: a list in a jsonb[] would be read as a dimension of the array
}
FORM_COLUMNS = tuple(FORM_TYPES)
_SET_FORM = {
    "reasons": "string_to_array(u.reasons, ',')",
    "first_counted_at": "coalesce(f.first_counted_at, u.first_counted_at)",  # the first time only
    "photos": "u.photos::jsonb",
}
_FORM_SET = ", ".join(f'"{c}" = ' + _SET_FORM.get(c, f'u."{c}"') for c in FORM_COLUMNS[2:])
# A deciding form only ever moves forward (authority, then revision): the batch judged it under its
# row lock, so a row the WHERE leaves alone means a race the lock should have prevented; the caller
# checks the count and rolls back. (New forms are copied in: COPY, no conflict allowed.)
UPDATE_FORMS = f"""
UPDATE rekap.form AS f SET
    {_FORM_SET}, updated_at = now()
FROM unnest({", ".join(f"${i}::{t}[]" for i, t in enumerate(FORM_TYPES.values(), 1))})
     AS u({", ".join(f'"{c}"' for c in FORM_COLUMNS)})
WHERE f.tps_id = u.tps_id AND f.contest_id = u.contest_id AND (f.authority, f.revision) < (u.authority, u.revision)
"""  # noqa: S608 (column names, fixed above)
# Totals and votes in one statement (one round trip). Each column comes as one array literal (text, see
# `array_literal`), which PostgreSQL reads in C: thousands of rows a batch, each value otherwise a few Python
# type checks in the driver's array encoder.
ADD_TOTALS = """
WITH totals AS (
    INSERT INTO rekap.tally AS t (contest_id, kecamatan_code, shard, valid, invalid, ballots_used, tps_counted,
                                  tps_quarantined)
    SELECT * FROM unnest($1::text::text[], $2::text::text[], $3::text::integer[], $4::text::bigint[],
                         $5::text::bigint[], $6::text::bigint[], $7::text::integer[], $8::text::integer[])
    ON CONFLICT (contest_id, kecamatan_code, shard) DO UPDATE SET
        valid = t.valid + excluded.valid, invalid = t.invalid + excluded.invalid,
        ballots_used = t.ballots_used + excluded.ballots_used, tps_counted = t.tps_counted + excluded.tps_counted,
        tps_quarantined = t.tps_quarantined + excluded.tps_quarantined
)
INSERT INTO rekap.tally_votes AS t (contest_id, kecamatan_code, shard, choice, votes)
SELECT * FROM unnest($9::text::text[], $10::text::text[], $11::text::integer[], $12::text::text[],
                     $13::text::bigint[])
ON CONFLICT (contest_id, kecamatan_code, shard, choice) DO UPDATE SET votes = t.votes + excluded.votes
"""

# Progress of partitions a replica takes (totals are kept per partition: sums never double).
SELECT_PROGRESS = """
SELECT shard, left(kecamatan_code, 4) AS kabupaten_kota, contest_id, sum(tps_counted)::int AS counted,
       sum(tps_quarantined)::int AS held
FROM rekap.tally WHERE shard = ANY($1) GROUP BY 1, 2, 3
"""
SELECT_EXPECTED = """
SELECT left(kecamatan_code, 4) AS kabupaten_kota, contest_id, sum(tps_expected)::int AS expected
FROM rekap.contest_kecamatan GROUP BY 1, 2
"""
# The names the dashboards show instead of codes: as the read contract's (hasil.summary) region_name.
SELECT_REGION_NAMES = "SELECT code, initcap(kind) || ' ' || name AS name FROM rekap.kabupaten_kota"


class FormRaceError(RekapError):
    """A deciding form changed between reading it and writing its successor: the batch is judged again."""

    retriable = True


class AlreadyCommittedError(RekapError):
    """This batch was committed already: an earlier attempt's commit went through, its reply was lost."""


class OffsetFencedError(RekapError):
    """Another consumer moved these partitions on: this one lost them, and its batch was not written."""

    def __init__(self, topic: str, expected: dict[int, int | None]) -> None:
        self.topic = topic
        self.expected = expected
        self.partitions = sorted(expected)
        super().__init__(f"partitions {self.partitions} of {topic} are not where this consumer believed: {expected}")


async def init_connection(conn: Connection) -> None:
    """jsonb in and out as Python values, on every pooled connection. Binary, so that COPY takes it:
    jsonb's binary form is a version byte (1) and the JSON text (written by orjson: a record's headers and
    a form's votes, for every record on the hot path)."""
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda data: orjson.loads(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


class TabulationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored_offsets(self, topic: str, partitions: list[int]) -> dict[int, int]:
        """The next offset to read for each partition that was ever applied."""
        with boundary():
            return await stored_offsets(self._pool, topic, partitions)

    async def progress(self, partitions: list[int]) -> list[tuple[int, str, str, int, int]]:
        """TPS counted and held per (partition, kabupaten/kota, contest) in these partitions."""
        with boundary():
            rows = await self._pool.fetch(SELECT_PROGRESS, partitions)
        return [(r["shard"], r["kabupaten_kota"], r["contest_id"], r["counted"], r["held"]) for r in rows]

    async def expected(self) -> list[tuple[str, str, int]]:
        """TPS that hold each contest, per (kabupaten/kota, contest): changes only with the master data."""
        with boundary():
            rows = await self._pool.fetch(SELECT_EXPECTED)
        return [(r["kabupaten_kota"], r["contest_id"], r["expected"]) for r in rows]

    async def region_names(self) -> dict[str, str]:
        """Kabupaten/kota code -> name ("Kabupaten Ogan Komering Ulu"): changes only with the master data."""
        with boundary():
            rows = await self._pool.fetch(SELECT_REGION_NAMES)
        return {r["code"]: r["name"] for r in rows}

    @asynccontextmanager
    async def batch(self, topic: str, batch_id: UUID) -> AsyncIterator[BatchTransaction]:
        """One batch's transaction, which the caller drives step by step (see BatchTransaction); it
        commits when the block ends, and rolls back if the block raises. Driver errors, the commit's
        included, leave as RekapErrors: UnavailableError (retriable) when PostgreSQL could not be
        reached, RefusedError when it refused something (the same batch would fail again)."""
        with boundary():
            conn = await self._pool.acquire()
        try:
            transaction = conn.transaction()
            with boundary():
                await transaction.start()
            try:
                yield BatchTransaction(conn, topic, batch_id)
            except BaseException:
                with contextlib.suppress(Exception):  # the connection may be gone: nothing was written then
                    await transaction.rollback()
                raise
            with boundary():
                await transaction.commit()
        finally:
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


class BatchTransaction:
    """The steps of a batch's transaction, in their order: fence, read the deciding forms (under their
    row locks), then, once the caller has judged the batch, write what changed."""

    def __init__(self, conn: Connection, topic: str, batch_id: UUID) -> None:
        self._conn = conn
        self._topic = topic
        self._batch_id = batch_id
        self._existing: set[FormKey] = set()  # the deciding forms read, locked until commit

    async def fence(self, advances: list[PartitionAdvance]) -> dict[int, LedgerStart]:
        """Move each partition from where this consumer believes it stands; returns each one's ledger as it
        stands, which the batch extends. Raises OffsetFencedError if another consumer moved it,
        AlreadyCommittedError if an earlier attempt of this batch did."""
        with boundary():
            return await _fence(self._conn, self._topic, advances, self._batch_id)

    async def deciding_forms(self, keys: set[FormKey]) -> dict[FormKey, FormState]:
        with boundary():
            forms = await _read_forms(self._conn, keys)
        self._existing = set(forms)
        return forms

    async def write(self, changes: BatchChanges, anchored: Anchored) -> None:
        """Outcome rows with their ledger, deciding forms, totals. Raises FormRaceError if a deciding form
        was overtaken."""
        with boundary():
            await _write(self._conn, changes, anchored, self._existing)


async def _fence(
    conn: Connection, topic: str, advances: list[PartitionAdvance], batch_id: UUID
) -> dict[int, LedgerStart]:
    ordered = sorted(advances, key=lambda a: a.partition)  # one lock order for everyone
    rows = await conn.fetch(
        ADVANCE_LEDGERS,
        topic,
        [a.partition for a in ordered],
        [a.expected for a in ordered],
        [a.next_offset for a in ordered],
        batch_id,
    )
    believed = {a.partition: a.expected for a in ordered}
    lost = {r["partition"]: believed[r["partition"]] for r in rows if not r["moved"]}
    if not lost:
        return {
            r["partition"]: LedgerStart(Frontier.from_bytes(r["ledger"]), believed[r["partition"]] or 0) for r in rows
        }
    moved = {r["partition"]: r for r in await conn.fetch(SELECT_MOVED, topic, sorted(lost))}
    wanted = {a.partition: a.next_offset for a in advances}
    if all(p in moved and moved[p]["batch_id"] == batch_id and moved[p]["next_offset"] == wanted[p] for p in lost):
        raise AlreadyCommittedError(f"batch {batch_id} of {topic} was committed by an earlier attempt")
    raise OffsetFencedError(topic, lost)


async def _read_forms(conn: Connection, keys: set[FormKey]) -> dict[FormKey, FormState]:
    if not keys:
        return {}
    ordered = sorted(keys)
    rows = await conn.fetch(
        SELECT_FORMS, array_literal([k[0] for k in ordered]), array_literal([k[1] for k in ordered])
    )
    return {
        (r["tps_id"], r["contest_id"]): FormState(
            r["revision"],
            bytes(r["digest"]),
            r["status"] == "quarantined",
            r["valid"],
            r["invalid"],
            r["ballots_used"],
            r["votes"],
            Authority(r["authority"]),
            (r["topic"], r["partition"], r["offset"]),
        )
        for r in rows
    }


async def _write(conn: Connection, changes: BatchChanges, anchored: Anchored, existing: set[FormKey]) -> None:
    ledgers = {index: anchored.frontiers[partition].to_bytes() for partition, index in anchored.last.items()}
    outcomes = zip(changes.outcomes, anchored.leaves, anchored.skipped, strict=True)
    records = [_record_row(o, skipped, leaf, ledgers.get(i)) for i, (o, leaf, skipped) in enumerate(outcomes)]
    await conn.copy_records_to_table("record", schema_name="rekap", columns=RECORD_COLUMNS, records=records)
    new_rows: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []  # forms that replace one read (and locked) by this batch
    now = datetime.now(UTC)  # when a form counted for the first time was
    for key, new in sorted(changes.forms.items()):
        if key in existing:
            rows.append(_form_row(key, new, now, reasons=",".join(new.judgement.problems), as_text=True))
        else:
            new_rows.append(_form_row(key, new, now))
    if new_rows:
        try:
            await conn.copy_records_to_table("form", schema_name="rekap", columns=FORM_COLUMNS, records=new_rows)
        except RekapError as error:
            if (raced := driver_error(error, asyncpg.UniqueViolationError)) is None:
                raise
            raise FormRaceError(f"a deciding form was inserted by another batch meanwhile: {raced}") from raced
    if rows:
        written = int((await conn.execute(UPDATE_FORMS, *as_columns(rows, len(FORM_COLUMNS)))).split()[-1])
        if written != len(rows):
            raise FormRaceError(f"{len(rows) - written} deciding form(s) were overtaken meanwhile")
    totals = sorted(changes.totals.items())
    if totals:
        sums = [(*key, c.valid, c.invalid, c.ballots_used, c.tps_counted, c.tps_quarantined) for key, c in totals]
        votes = [(*key, choice, n) for key, c in totals for choice, n in sorted(c.votes.items()) if n != 0]
        await conn.execute(ADD_TOTALS, *map(array_literal, [*as_columns(sums, 8), *as_columns(votes, 5)]))


def array_literal(values: list[object]) -> str:
    """A one-dimensional PostgreSQL array literal of these values (ints, or text), as `'{...}'::type[]`
    reads it: each text quoted, a backslash or a double quote in it escaped. (No NULLs.)"""
    if not values:
        return "{}"
    if isinstance(values[0], int):
        return "{" + ",".join(map(str, values)) + "}"
    texts: list[str] = values  # type: ignore[assignment]  # text: every value a str (join says if not)
    plain = "".join(texts)
    if "\\" in plain or '"' in plain:
        texts = [text.replace("\\", "\\\\").replace('"', '\\"') for text in texts]
    return '{"' + '","'.join(texts) + '"}'


def as_columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows as columns (the arrays unnest takes), `width` empty ones when there are no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _form_row(
    key: FormKey, new: NewForm, now: datetime, reasons: object = None, *, as_text: bool = False
) -> tuple[object, ...]:
    """A form's columns (FORM_COLUMNS); its reasons a list (COPY) unless given (text, for unnest), its photos a
    list (COPY) or JSON text (`as_text`, for unnest)."""
    decoded = new.judgement.decoded
    assert isinstance(decoded, Authentic)
    tally, state, record = decoded.tally, new.state, new.record
    return (
        *key,
        state.revision,
        state.digest,
        "quarantined" if state.quarantined else "accepted",
        list(new.judgement.problems) if reasons is None else reasons,
        state.valid,
        state.invalid,
        state.ballots_used,
        dict(state.votes),
        tally.terminal_id,
        tally.submitted_at,
        record.topic,
        record.partition,
        record.offset,
        int(state.authority),
        *tally.sections(),
        None if state.quarantined else now,
        _photos(tally, as_text=as_text) if tally.photos else None,
    )


def _photos(tally: TallyV1, *, as_text: bool) -> object:
    """The photos a form names, as rekap.form keeps them (by sheet)."""
    photos = [
        {"sheet": p.sheet, "sha256": p.sha256, "bytes": p.size, "media_type": p.media_type}
        for p in sorted(tally.photos, key=lambda p: p.sheet)
    ]
    return orjson.dumps(photos).decode() if as_text else photos


def _record_row(outcome: RecordOutcome, skipped: int, leaf: bytes, ledger: bytes | None) -> tuple[object, ...]:
    """A record's row (RECORD_COLUMNS): what it is, what became of it, and its ledger leaf's parts."""
    record, judgement, basis, prior = outcome.record, outcome.judgement, outcome.basis, outcome.prior
    tally = judgement.decoded.tally
    return (
        record.topic,
        record.partition,
        record.offset,
        judgement.outcome.value,
        judgement.reason.value if judgement.reason is not None else None,
        outcome.detail,
        tally.tps_id if tally else None,
        tally.contest_id if tally else None,
        tally.revision if tally else None,
        tally.terminal_id if tally else None,
        record.kafka_time,
        record.key,
        record.value,
        stored_headers(record.headers),
        skipped,
        basis.registry_size,
        basis.judged_at_ms,
        basis.verified,
        *(prior or _NO_PRIOR),
        leaf,
        ledger,
    )


_NO_PRIOR = (None, None, None)
