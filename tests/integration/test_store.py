"""The batch transaction in the real PostgreSQL: a retry whose earlier attempt did commit knows it (the
reply was lost), and is not taken for a consumer that lost its partition; two batches deciding one
form at once count it once; the master data that forms refer to stays."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.errors import RefusedError
from rekap.adapters.postgres.tabulation import (
    AlreadyCommittedError,
    BatchTransaction,
    FormRaceError,
    OffsetFencedError,
    TabulationStore,
    array_literal,
    init_connection,
)
from rekap.domain.batch import (
    ConsumedRecord,
    FormKey,
    FormState,
    Judged,
    PartitionAdvance,
    decode_all,
    form_keys,
    tabulate,
)
from rekap.domain.decode import Decoder
from rekap.domain.ledger import LedgerStart, anchor
from rekap.domain.signing import SigningKey
from rekap.simulation.forms import Form, consistent_form, signed_record
from rekap.simulation.night import simulated_terminals
from tests.integration.election import MASTER, SECRET, SHIPPED
from tests.servers import login_url

TPS = SHIPPED.tps[0]
CONTEST = MASTER.contests_at(TPS.tps_id)[0]
DECODER = Decoder(MASTER, {t.terminal_id: t for t in simulated_terminals([TPS], SECRET)}, verify_signatures=False)


async def commit(store: TabulationStore, advances: list[PartitionAdvance], batch_id: uuid.UUID) -> None:
    async with store.batch("t", batch_id) as transaction:
        await write(transaction, [], {}, await transaction.fence(advances))


async def write(transaction: BatchTransaction, batch: list[Judged], forms: dict[FormKey, FormState],
                ledgers: dict[int, LedgerStart]) -> None:  # fmt: skip
    """What the tabulator does once it holds the deciding forms: judge, extend the ledgers, write."""
    changes = tabulate(batch, forms)
    await transaction.write(changes, anchor(changes.entries(), ledgers))


async def test_a_retry_of_a_committed_batch_is_told_from_a_fenced_one(election_database_url: str) -> None:
    pool = await pg.create_pool(election_database_url, min_size=1, max_size=2, init=init_connection)
    try:
        store = TabulationStore(pool)
        ours = uuid.uuid4()
        advances = [PartitionAdvance(0, None, 5), PartitionAdvance(1, None, 3)]
        await commit(store, advances, ours)
        with pytest.raises(AlreadyCommittedError):  # the same batch again: its commit's reply was lost
            await commit(store, advances, ours)
        with pytest.raises(OffsetFencedError):  # another batch believing the same: a stale consumer
            await commit(store, advances, uuid.uuid4())
        assert await store.stored_offsets("t", [0, 1]) == {0: 5, 1: 3}
    finally:
        await pool.close()


def _record(partition: int, form: Form) -> Judged:
    raw = signed_record(form, SigningKey.derived(SECRET, str(form["terminal_id"])))
    return decode_all(DECODER, [ConsumedRecord("t", partition, 0, None, raw.key, raw.value, raw.headers)])[0]


async def _sums(url: str, contest_id: str) -> tuple[int, int]:
    conn = await pg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT sum(tps_counted)::int AS counted, sum(valid)::int AS valid FROM rekap.tally WHERE contest_id = $1",
            contest_id,
        )
        return row["counted"], row["valid"]
    finally:
        await conn.close()


async def test_two_batches_deciding_the_same_new_form_at_once_count_it_once(election_database_url: str) -> None:
    """One TPS's revisions 1 and 2 on two partitions, judged at once by two tabulators: both find no
    form. The first commits revision 1; the second's insert of revision 2 finds it (it would otherwise
    replace it and leave revision 1's votes in the totals), so that batch is judged again, and the TPS is
    counted once, with revision 2."""
    url = login_url(election_database_url, "tabulator")
    pool = await pg.create_pool(url, min_size=2, max_size=2, init=init_connection)
    rng = random.Random(11)
    first = _record(0, consistent_form(TPS, CONTEST, rng, revision=1))
    second = _record(1, consistent_form(TPS, CONTEST, rng, revision=2))
    keys = form_keys([first[1]])
    read_by_both, first_committed = asyncio.Event(), asyncio.Event()
    try:
        store = TabulationStore(pool)

        async def first_batch() -> None:
            async with store.batch("t", uuid.uuid4()) as transaction:
                ledgers = await transaction.fence([PartitionAdvance(0, None, 1)])
                forms = await transaction.deciding_forms(keys)
                await read_by_both.wait()
                await write(transaction, [first], forms, ledgers)
            first_committed.set()

        async def second_batch() -> None:
            async with store.batch("t", uuid.uuid4()) as transaction:
                ledgers = await transaction.fence([PartitionAdvance(1, None, 1)])
                forms = await transaction.deciding_forms(keys)
                assert forms == {}, "both batches read before either wrote"
                read_by_both.set()
                await first_committed.wait()
                await write(transaction, [second], forms, ledgers)

        racing = asyncio.gather(first_batch(), second_batch())
        with pytest.raises(FormRaceError):
            await racing
        assert await _sums(election_database_url, CONTEST.contest_id) == (1, first[1].tally.valid)
        async with store.batch("t", uuid.uuid4()) as transaction:  # the second batch, judged again
            ledgers = await transaction.fence([PartitionAdvance(1, None, 1)])
            await write(transaction, [second], await transaction.deciding_forms(keys), ledgers)
        assert await _sums(election_database_url, CONTEST.contest_id) == (1, second[1].tally.valid)
    finally:
        await pool.close()


async def test_a_tps_or_contest_with_forms_cannot_be_removed(election_database_url: str) -> None:
    pool = await pg.create_pool(election_database_url, min_size=1, max_size=1, init=init_connection)
    try:
        async with TabulationStore(pool).batch("t", uuid.uuid4()) as transaction:
            ledgers = await transaction.fence([PartitionAdvance(0, None, 1)])
            await write(transaction, [_record(0, consistent_form(TPS, CONTEST, random.Random(1)))], {}, ledgers)
        async with pool.acquire() as conn:
            for statement in (f"DELETE FROM rekap.tps WHERE tps_id = '{TPS.tps_id}'",
                              f"UPDATE rekap.tps SET tps_id = '1601072001999' WHERE tps_id = '{TPS.tps_id}'",
                              f"DELETE FROM rekap.contest WHERE contest_id = '{CONTEST.contest_id}'",
                              "TRUNCATE rekap.tps CASCADE"):  # fmt: skip
                with pytest.raises(RefusedError, match="forms") as refused:
                    await conn.execute(statement)
                assert isinstance(refused.value.__cause__, asyncpg.ForeignKeyViolationError)
            other = next(t for t in SHIPPED.tps if t.tps_id != TPS.tps_id and not t.tps_id.startswith("1601"))
            await conn.execute("DELETE FROM rekap.tps WHERE tps_id = $1", other.tps_id)  # no forms: it may go
    finally:
        await pool.close()


TEXTS = ["pkwkp-16", "kolom_kosong", 'a "quoted" one', "back\\slash", "{braces},commas", " spaced ", "NULL", "", "é✓"]


@pytest.mark.parametrize(("values", "kind"), [(TEXTS, "text"), ([0, -1, 2**62, 9_999], "bigint"), ([], "text")])
async def test_array_literals_read_back_as_the_values(election_database_url: str, values: list[object], kind: str
                                                      ) -> None:  # fmt: skip
    """The batch's totals travel as array literals: whatever a value holds, PostgreSQL reads it back unchanged."""
    conn = await asyncpg.connect(election_database_url)
    try:
        assert await conn.fetchval(f"SELECT $1::text::{kind}[]", array_literal(values)) == values
    finally:
        await conn.close()
