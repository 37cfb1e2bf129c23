"""Migrations against the real PostgreSQL: applied once, in order, recorded, guarded against edits."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.migrations import Migration, applied_migrations, load_migrations, migrate
from rekap.adapters.postgres.terminals import register_terminals
from rekap.domain.merkle import Frontier, leaf_hash
from rekap.domain.tally import SECTION_NAMES
from rekap.errors import MigrationError
from rekap.resources import migrations_dir
from rekap.simulation.forms import consistent_form, encode
from rekap.simulation.night import form_numbers, simulated_terminals
from tests.integration.election import MASTER, SHIPPED
from tests.servers import login_url


async def test_migrate_applies_every_file_once_and_records_it(empty_database_url: str) -> None:
    migrations = load_migrations(migrations_dir())
    conn = await pg.connect(empty_database_url)
    try:
        assert await applied_migrations(conn) == []
        first = await migrate(conn, migrations)
        second = await migrate(conn, migrations)
        recorded = await applied_migrations(conn)
        schemas = {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
    finally:
        await conn.close()
    assert [m.version for m in first] == [m.version for m in migrations]
    assert second == []
    assert recorded == [(m.version, m.name) for m in migrations]
    assert {"rekap", "hasil"} <= schemas


async def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    migrations = load_migrations(migrations_dir())
    conns = [await pg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, migrations) for c in conns))
        count = await conns[0].fetchval("SELECT count(*) FROM public.schema_migrations")
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(len(r) for r in results) == [0, 0, len(migrations)]
    assert count == len(migrations)


async def test_an_edited_applied_migration_is_refused(empty_database_url: str) -> None:
    migrations = load_migrations(migrations_dir())
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in migrations]
    conn = await pg.connect(empty_database_url)
    try:
        await migrate(conn, migrations)
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_a_database_newer_than_the_code_is_refused(empty_database_url: str) -> None:
    migrations = load_migrations(migrations_dir())
    future = Migration(len(migrations) + 1, "from_the_future", "SELECT 1;")
    conn = await pg.connect(empty_database_url)
    try:
        await migrate(conn, [*migrations, future])
        with pytest.raises(MigrationError, match="does not know"):
            await migrate(conn, migrations)
    finally:
        await conn.close()


async def test_a_failing_upgrade_leaves_the_database_as_it_was(empty_database_url: str, tmp_path: Path) -> None:
    """All pending migrations are one transaction: a failure in the second undoes the first too."""
    good = Migration(1, "good", "CREATE TABLE kept (id int);")
    bad = Migration(2, "bad", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await pg.connect(empty_database_url)
    try:
        with pytest.raises(
            MigrationError, match=r"0002_bad\.sql failed, nothing was changed: function no_such_function"
        ):
            await migrate(conn, [good, bad])
        assert await applied_migrations(conn) == []
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT to_regclass('kept')") is None
        assert [m.version for m in await migrate(conn, [good])] == [1], "and it can be upgraded after"
    finally:
        await conn.close()


async def test_the_template_database_is_migrated(database_url: str) -> None:
    conn = await pg.connect(database_url)
    try:
        recorded = await applied_migrations(conn)
    finally:
        await conn.close()
    assert recorded == [(m.version, m.name) for m in load_migrations(migrations_dir())]


async def test_forms_counted_before_0009_get_their_sections_and_first_count_from_their_records(
    empty_database_url: str,
) -> None:
    """A database counted under 0008 (forms without the recapitulation's other numbers), upgraded: each
    form's numbers come from its record's exact bytes, and the recapitulation sums them."""
    migrations = load_migrations(migrations_dir())
    before = [m for m in migrations if m.version < 9]
    tps = SHIPPED.tps[0]
    contest = MASTER.contests_at(tps.tps_id)[0]
    form = consistent_form(tps, contest, random.Random(5))
    conn = await pg.connect(login_url(empty_database_url, "owner"))
    try:
        await migrate(conn, before)
        await load_master_data(conn, SHIPPED)
        await conn.execute(
            "INSERT INTO rekap.record (topic, partition, \"offset\", outcome, tps_id, contest_id, revision, value) "
            "VALUES ('t', 0, 0, 'accepted', $1, $2, 1, $3)", tps.tps_id, contest.contest_id, encode(form))  # fmt: skip
        await conn.execute(
            "INSERT INTO rekap.form (tps_id, contest_id, revision, digest, status, valid, invalid, ballots_used, votes,"
            " terminal_id, submitted_at, topic, partition, \"offset\", authority) VALUES ($1, $2, 1, '', 'accepted', $3, $4, $5,"
            " '{}', 'kpps', now(), 't', 0, 0, 1)",
            tps.tps_id, contest.contest_id, form["valid"], form["invalid"], form["ballots"]["used"])  # fmt: skip
        await conn.execute(
            "INSERT INTO rekap.tally (contest_id, kecamatan_code, shard, valid, tps_counted) VALUES ($1, $2, 0, $3, 1)",
            contest.contest_id, tps.kecamatan, form["valid"])  # fmt: skip
        await migrate(conn, [m for m in migrations if m.version < 12])  # 0012 takes no database that counted
        row = await conn.fetchrow(
            "SELECT * FROM hasil.summary WHERE level = 'kecamatan' AND region_code = $1 AND contest_id = $2",
            tps.kecamatan, contest.contest_id)  # fmt: skip
        first_counted = await conn.fetchval("SELECT first_counted_at FROM rekap.form")
    finally:
        await conn.close()
    assert row is not None
    numbers = form_numbers(form)
    assert {name: row[name] for name in SECTION_NAMES} == {name: numbers[name] for name in SECTION_NAMES}
    assert first_counted is not None


async def test_0012_refuses_a_database_that_counted_without_a_ledger_and_changes_nothing(
    empty_database_url: str,
) -> None:
    """A record counted without its ledger leaf cannot be given one after the fact: the upgrade says so."""
    migrations = load_migrations(migrations_dir())
    conn = await pg.connect(login_url(empty_database_url, "owner"))
    try:
        await migrate(conn, [m for m in migrations if m.version < 12])
        await conn.execute(
            "INSERT INTO rekap.record (topic, partition, \"offset\", outcome) VALUES ('t', 0, 0, 'stale')"
        )
        with pytest.raises(MigrationError, match="counted before the anchored ledger"):
            await migrate(conn, migrations)
        assert [v for v, _ in await applied_migrations(conn)] == list(range(1, 12))
    finally:
        await conn.close()


async def test_0012_logs_what_the_registry_held_before_it_terminals_then_master_data(empty_database_url: str) -> None:
    migrations = load_migrations(migrations_dir())
    conn = await pg.connect(login_url(empty_database_url, "owner"))
    try:
        await migrate(conn, [m for m in migrations if m.version < 12])
        await load_master_data(conn, SHIPPED)
        terminals = simulated_terminals(SHIPPED.tps[:3], b"s")
        await register_terminals(conn, terminals)
        await conn.execute(
            f"UPDATE rekap.terminal SET active = false, revoked_at = now() WHERE terminal_id = 'kpps-{SHIPPED.tps[0].tps_id}'"
        )
        await migrate(conn, migrations)
        kinds = [r["kind"] for r in await conn.fetch("SELECT kind FROM rekap.registry_leaf ORDER BY position")]
        head = await conn.fetchrow("SELECT size, root FROM rekap.registry_head")
        leaves = [bytes(r["leaf"]) for r in await conn.fetch("SELECT leaf FROM rekap.registry_leaf ORDER BY position")]
    finally:
        await conn.close()
    assert kinds == ["register"] * len(terminals) + ["revoke", "masterdata"]
    tree = Frontier()
    tree.extend(leaf_hash(leaf) for leaf in leaves)
    assert (head["size"], bytes(head["root"])) == (len(kinds), tree.root()), "PostgreSQL's tree is RFC 9162's"
