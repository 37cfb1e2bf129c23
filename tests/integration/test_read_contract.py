"""The read contract: KPU's role reads the hasil views and can write nothing, anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.migrations import load_migrations, migrate
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import migrations_dir, sumsel_master_data_dir
from tests.servers import login_url

VIEWS = {
    "votes": {"level", "region_code", "region_name", "contest_id", "choice", "candidate_name", "votes"},
    "summary": {"level", "region_code", "region_name", "contest_id", "valid", "invalid", "ballots_used",
                "tps_expected", "tps_counted", "tps_quarantined"},
    "tps": {"tps_id", "contest_id", "revision", "status", "valid", "invalid", "votes"},
    "review": {"tps_id", "contest_id", "revision", "reason", "terminal_id", "received_at"},
    "tps_status": {"kabupaten_kota_name", "kecamatan_name", "desa_code", "desa_name", "tps_id", "contest_id", "status",
                   "first_counted_at", "first_counted_local", "zone"},
    "tps_missing": {"kecamatan_code", "desa_name", "tps_id", "contest_id"},
    "history": {"tps_id", "contest_id", "revision", "outcome", "reason", "terminal_id", "received_at", "received_local"},
    "progress": {"level", "region_code", "contest_id", "minute", "minute_local", "tps_counted_so_far"},
    "contest": {"contest_id", "kind", "region_code", "name"},
}  # fmt: skip
# The columns each view had before 0009, in their order: a reader's `SELECT *` keeps working.
FIRST_COLUMNS = {
    "summary": ["level", "region_code", "region_name", "contest_id", "valid", "invalid", "ballots_used",
                "tps_expected", "tps_counted", "tps_quarantined"],
    "votes": ["level", "region_code", "region_name", "contest_id", "choice", "candidate_name", "votes"],
    "review": ["tps_id", "contest_id", "revision", "reason", "terminal_id", "received_at", "reasons", "submitted_at",
               "kecamatan_code"],
}  # fmt: skip


@pytest.fixture
async def reader(empty_database_url: str, template_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A fresh database migrated from scratch by its owner (as production is), master data loaded by an
    operator, and a session as a login in kpu_reader (made with the template: logins are server-wide)."""
    owner = await pg.connect(login_url(empty_database_url, "owner"))
    try:
        await migrate(owner, load_migrations(migrations_dir()))
    finally:
        await owner.close()
    operator = await asyncpg.connect(login_url(empty_database_url, "operator"))
    try:
        await load_master_data(operator, read_master_data_folder(sumsel_master_data_dir()))
    finally:
        await operator.close()
    conn = await asyncpg.connect(login_url(empty_database_url, "reader"))
    try:
        yield conn
    finally:
        await conn.close()


async def test_kpu_reader_reads_every_view_with_the_contract_columns(reader: asyncpg.Connection) -> None:
    for view, columns in VIEWS.items():
        await reader.fetch(f"SELECT * FROM hasil.{view} LIMIT 1")  # allowed
        found = {r["column_name"] for r in await reader.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'hasil' AND table_name = $1", view
        )}  # fmt: skip
        assert columns <= found, f"hasil.{view} lacks {columns - found}"
    for view, first in FIRST_COLUMNS.items():
        ordered = [r["column_name"] for r in await reader.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'hasil' AND table_name = $1 "
            "ORDER BY ordinal_position", view)]  # fmt: skip
        assert ordered[: len(first)] == first, f"hasil.{view} changed its first columns"
    levels = {
        r["level"]: r["n"] for r in await reader.fetch("SELECT level, count(*) AS n FROM hasil.summary GROUP BY level")
    }
    assert levels == {"kecamatan": 241 * 2, "kabupaten_kota": 17 * 2, "provinsi": 18}


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM rekap.form",
        "SELECT * FROM rekap.record",
        "SELECT * FROM public.schema_migrations",
        "INSERT INTO rekap.tally (contest_id, kecamatan_code, shard) VALUES ('pkwkp-16', '160107', 0)",
        "UPDATE hasil.tps SET valid = 0",
        "DELETE FROM hasil.tps",
        "CREATE TABLE public.mine (id int)",
        "CREATE TABLE hasil.mine (id int)",
        "CREATE SCHEMA mine",
        "CREATE TEMP TABLE mine (id int)",
        "CREATE VIEW hasil.mine AS SELECT 1",
    ],
)
async def test_kpu_reader_cannot_write_or_read_beyond_hasil(reader: asyncpg.Connection, statement: str) -> None:
    with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.ReadOnlySQLTransactionError)):
        await reader.execute(statement)


async def test_even_leaving_read_only_mode_grants_no_write(reader: asyncpg.Connection) -> None:
    await reader.execute("SET default_transaction_read_only = off")
    for statement in (
        "CREATE TEMP TABLE mine (id int)",
        "UPDATE hasil.tps SET valid = 0",
        "CREATE TABLE public.mine (id int)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute(statement)
