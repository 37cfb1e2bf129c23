"""Master data and terminals in the real PostgreSQL: loaded once, idempotent, read back the same."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.errors import RefusedError
from rekap.adapters.postgres.masterdata import count_rows, load_master_data, read_master_data
from rekap.adapters.postgres.tabulation import SELECT_EXPECTED
from rekap.adapters.postgres.terminals import (
    list_terminals,
    read_terminals,
    register_terminals,
    revoke_terminal,
    terminals_version,
)
from rekap.app.terminals import TerminalError
from rekap.domain.masterdata import MasterDataSet
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.masterdata.files import read_master_data_folder as read_folder
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_folder(sumsel_master_data_dir())
FULL = {"provinsi": 1, "kabupaten_kota": 17, "kecamatan": 241, "desa": 3258, "tps": 13206, "contest": 18, "choice": 48}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await pg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_a_load_fills_every_table_and_a_second_changes_nothing(conn: asyncpg.Connection) -> None:
    first = await load_master_data(conn, SHIPPED)
    assert await count_rows(conn) == FULL
    assert all(c.inserted == c.rows and c.updated == 0 for c in first)
    loaded_at = await conn.fetchval("SELECT loaded_at FROM rekap.dataset")
    second = await load_master_data(conn, SHIPPED)
    assert all((c.inserted, c.updated, c.removed, c.unchanged) == (0, 0, 0, c.rows) for c in second)
    assert await conn.fetchval("SELECT loaded_at FROM rekap.dataset") == loaded_at
    assert await count_rows(conn) == FULL


async def test_what_the_tabulator_reads_is_what_was_loaded(conn: asyncpg.Connection) -> None:
    await load_master_data(conn, SHIPPED)
    assert await read_master_data(conn) == SHIPPED.master_data()


async def test_parent_columns_follow_the_codes(conn: asyncpg.Connection) -> None:
    await load_master_data(conn, SHIPPED)
    row = await conn.fetchrow("SELECT * FROM rekap.tps WHERE tps_id = $1", SHIPPED.tps[0].tps_id)
    assert row is not None
    tps_id = SHIPPED.tps[0].tps_id
    assert (row["desa_code"], row["kecamatan_code"], row["kabupaten_kota_code"], row["provinsi_code"]) == (
        tps_id[:10],
        tps_id[:6],
        tps_id[:4],
        tps_id[:2],
    )


async def test_a_changed_folder_updates_what_changed_and_replaces_choices(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await load_master_data(conn, SHIPPED)
    folder = tmp_path / "md"
    shutil.copytree(sumsel_master_data_dir(), folder)
    kecamatan = folder / "kecamatan.csv"
    kecamatan.write_text(kecamatan.read_text().replace("Sosoh Buay Rayap", "Sosoh Buay Rayap Baru"))
    choices = folder / "choices.csv"
    choices.write_text(
        "\n".join(line for line in choices.read_text().splitlines() if not line.startswith("pkwkk-1603,4")) + "\n"
    )
    changed = read_folder(folder)
    assert {c.choice for c in changed.choices if c.contest_id == "pkwkk-1603"} < {
        c.choice for c in SHIPPED.choices if c.contest_id == "pkwkk-1603"
    }, "the test needs a race that loses a pair"
    result = {c.table: c for c in await load_master_data(conn, changed)}
    assert result["rekap.kecamatan"].updated == 1
    assert result["rekap.choice"].removed == 1
    assert await read_master_data(conn) == changed.master_data()


def expected_tps(dataset: MasterDataSet) -> dict[tuple[str, str], int]:
    """(contest, kecamatan) -> TPS that hold the contest, counted here from the files, TPS by TPS."""
    master = dataset.master_data()
    return dict(Counter((c.contest_id, t.tps_id[:6]) for t in dataset.tps for c in master.contests_at(t.tps_id)))


async def stored_expected(conn: asyncpg.Connection) -> dict[tuple[str, str], int]:
    rows = await conn.fetch("SELECT contest_id, kecamatan_code, tps_expected FROM rekap.contest_kecamatan")
    return {(r["contest_id"], r["kecamatan_code"]): r["tps_expected"] for r in rows}


async def test_expected_tps_follow_every_change_of_tps_and_contests(conn: asyncpg.Connection, tmp_path: Path) -> None:
    await load_master_data(conn, SHIPPED)
    assert await stored_expected(conn) == expected_tps(SHIPPED)

    folder = tmp_path / "md"
    shutil.copytree(sumsel_master_data_dir(), folder)
    with (folder / "tps.csv").open("a") as tps:
        tps.write("1601072001099,200,200\n")  # one more TPS in a desa of kecamatan 160107
    grown = read_folder(folder)
    await load_master_data(conn, grown)
    after = await stored_expected(conn)
    assert after == expected_tps(grown)
    assert after[("pkwkp-16", "160107")] == expected_tps(SHIPPED)[("pkwkp-16", "160107")] + 1

    # Whoever writes the tables (not only the loader), the counts follow in the same statement.
    await conn.execute("DELETE FROM rekap.tps WHERE tps_id = '1601072001099'")
    assert await stored_expected(conn) == expected_tps(SHIPPED)
    await conn.execute("DELETE FROM rekap.choice WHERE contest_id = 'pkwkk-1601'")
    await conn.execute("DELETE FROM rekap.contest WHERE contest_id = 'pkwkk-1601'")
    assert not any(contest == "pkwkk-1601" for contest, _ in await stored_expected(conn))


async def test_reading_the_expected_tps_does_not_touch_the_tps_table(conn: asyncpg.Connection) -> None:
    """The tabulator asks every few seconds: its cost must not grow with TPS x contests (at the national
    scale the join over rekap.tps took over 20 s a call)."""
    await load_master_data(conn, SHIPPED)
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {SELECT_EXPECTED}")
    assert '"Relation Name": "tps"' not in plan
    assert '"Relation Name": "contest_expected"' in plan


async def test_terminals_register_once_and_revoke(conn: asyncpg.Connection) -> None:
    await load_master_data(conn, SHIPPED)
    tps = SHIPPED.tps[0].tps_id
    kpps = Terminal(f"kpps-{tps}", SigningKey.generate().public_key, Scope(ScopeKind.TPS, tps))
    ppk = Terminal(f"ppk-{tps[:6]}", SigningKey.generate().public_key, Scope(ScopeKind.KECAMATAN, tps[:6]))
    assert await register_terminals(conn, [kpps, ppk]) == 2
    assert await register_terminals(conn, [kpps]) == 0, "the same registration again is a no-op"
    assert await read_terminals(conn) == {kpps.terminal_id: kpps, ppk.terminal_id: ppk}

    with pytest.raises(TerminalError, match="another key or scope"):
        await register_terminals(conn, [Terminal(kpps.terminal_id, SigningKey.generate().public_key, kpps.scope)])
    await revoke_terminal(conn, ppk.terminal_id)
    with pytest.raises(TerminalError, match="already revoked"):
        await revoke_terminal(conn, ppk.terminal_id)
    with pytest.raises(TerminalError, match="revoked"):
        await register_terminals(conn, [ppk])
    listed = {r.terminal.terminal_id: r for r in await list_terminals(conn)}
    assert listed[ppk.terminal_id].revoked_at is not None
    assert not listed[ppk.terminal_id].terminal.active


async def test_a_terminal_for_an_unknown_region_is_refused_and_nothing_is_registered(conn: asyncpg.Connection) -> None:
    await load_master_data(conn, SHIPPED)
    good = Terminal("kpps-good", SigningKey.generate().public_key, Scope(ScopeKind.TPS, SHIPPED.tps[0].tps_id))
    bad = Terminal("kpps-bad", SigningKey.generate().public_key, Scope(ScopeKind.TPS, "1699999999001"))
    with pytest.raises(TerminalError, match="kpps-bad"):
        await register_terminals(conn, [good, bad])
    assert await read_terminals(conn) == {}


async def test_the_database_refuses_what_the_code_would_never_write(conn: asyncpg.Connection) -> None:
    with pytest.raises(RefusedError) as refused:
        await conn.execute(
            "INSERT INTO rekap.terminal (terminal_id, public_key, scope_kind, scope_code) VALUES ('x-1', $1, 'tps', '1')",
            b"k" * 32,
        )
    assert isinstance(refused.value.__cause__, asyncpg.CheckViolationError)
    with pytest.raises(RefusedError) as refused:
        await conn.execute("INSERT INTO rekap.kabupaten_kota (code, kind, name) VALUES ('1799', 'kota', 'X')")
    assert isinstance(refused.value.__cause__, asyncpg.ForeignKeyViolationError)


async def test_a_revocation_overlapping_a_registration_changes_the_version(conn: asyncpg.Connection,
                                                                           database_url: str) -> None:  # fmt: skip
    """The revoking transaction starts first and commits last: a version made of timestamps (now() is
    the transaction's start) would not move when it commits; the counter does."""
    await load_master_data(conn, SHIPPED)
    first, second = SHIPPED.tps[0].tps_id, SHIPPED.tps[1].tps_id
    old = Terminal(f"kpps-{first}", SigningKey.generate().public_key, Scope(ScopeKind.TPS, first))
    await register_terminals(conn, [old])
    other = await pg.connect(database_url)
    try:
        revoking = other.transaction()
        await revoking.start()
        await revoke_terminal(other, old.terminal_id)
        await asyncio.sleep(0.05)
        new = Terminal(f"kpps-{second}", SigningKey.generate().public_key, Scope(ScopeKind.TPS, second))
        registering = asyncio.create_task(register_with_own_connection(database_url, new))
        await asyncio.sleep(0.3)  # the registration commits now, or waits for the revocation
        seen = await terminals_version(conn)
        await revoking.commit()
        await registering
    finally:
        await other.close()
    assert await terminals_version(conn) != seen, "a reader that saw `seen` must see that something changed"
    assert not (await read_terminals(conn))[old.terminal_id].active


async def register_with_own_connection(database_url: str, terminal: Terminal) -> None:
    conn = await pg.connect(database_url)
    try:
        await register_terminals(conn, [terminal])
    finally:
        await conn.close()
