"""Least privilege in PostgreSQL: each role can do what it must and nothing more, tried as an attacker
holding that role's password would (the whole suite runs its tabulators as the tabulator's login, so
what a role must do is proven there; here is what it must not)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import asyncpg
import pytest

from rekap.access import with_database
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.migrations import Migration, load_migrations, migrate
from rekap.adapters.postgres.roles import RoleError, bootstrap_owner, set_login
from rekap.app.logins import Group
from rekap.config import DbUser
from rekap.errors import MigrationError
from rekap.resources import migrations_dir
from tests.integration.cli import rekap
from tests.servers import PASSWORDS, login_url

TPS = "1601072001001"
INSERT_TERMINAL = f"INSERT INTO rekap.terminal VALUES ('mine', decode(repeat('00', 32), 'hex'), 'tps', '{TPS}')"

# Nobody but a superuser may do these; the owner included.
NOBODY = [
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "COPY rekap.tps FROM PROGRAM 'true'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SET ROLE postgres",
    "CREATE EXTENSION IF NOT EXISTS plpython3u",
]
# No DDL, no other roles' rights, no functions, nothing outside the role's tables.
NOT_THE_ROLES = [
    *NOBODY,
    "SELECT lo_from_bytea(0, 'x')",  # large objects: storage outside any table, for anyone by default
    "CREATE TABLE rekap.mine (id int)",
    "CREATE TABLE public.mine (id int)",
    "CREATE SCHEMA mine",
    "ALTER TABLE rekap.form ADD COLUMN mine int",
    "DROP TABLE rekap.tally",
    "DROP VIEW hasil.summary",
    "TRUNCATE rekap.record",
    "CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE FUNCTION rekap.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "SET ROLE rekap_owner",
    "CREATE ROLE mine",
    "SELECT rekap.grant_database_access()",
    "LOCK TABLE public.schema_migrations IN EXCLUSIVE MODE",
    "DELETE FROM public.schema_migrations",
]
FORBIDDEN: dict[DbUser, list[str]] = {
    "tabulator": [
        *NOT_THE_ROLES,
        "CREATE TEMP TABLE mine (id int)",
        "SET ROLE rekap_operator",
        f"UPDATE rekap.tps SET registered_male = 0 WHERE tps_id = '{TPS}'",
        "UPDATE rekap.contest SET name = 'x'",
        INSERT_TERMINAL,
        "UPDATE rekap.terminal SET active = true",
        "UPDATE rekap.record SET reason = 'x'",
        "DELETE FROM rekap.record",
        "DELETE FROM rekap.form",
        "DELETE FROM rekap.tally",
        "INSERT INTO rekap.offset_gap VALUES ('t', 0, 0, 1, 'me', 'x')",
        "SELECT * FROM hasil.summary",
    ],
    "operator": [
        *NOT_THE_ROLES,
        "SET ROLE rekap_tabulator",
        "UPDATE rekap.form SET valid = 0",
        "UPDATE rekap.tally SET valid = 0",
        "DELETE FROM rekap.record",
        "INSERT INTO rekap.record (topic, partition, \"offset\", outcome) VALUES ('t', 0, 0, 'accepted')",
        "DELETE FROM rekap.terminal",
        "SELECT * FROM rekap.form FOR UPDATE",
    ],
    "reader": [
        *NOT_THE_ROLES,
        "CREATE TEMP TABLE mine (id int)",
        "SELECT * FROM rekap.form",
        "SELECT * FROM public.schema_migrations",
        "UPDATE hasil.tps SET valid = 0",
        "SELECT * FROM rekap.terminal",
        "SELECT * FROM rekap.form FOR UPDATE",
    ],
}
ALLOWED: dict[DbUser, list[str]] = {
    "tabulator": [
        "SELECT count(*) FROM rekap.terminal",
        "SELECT version FROM rekap.terminal_version",
        "SELECT * FROM rekap.form FOR UPDATE",
        "INSERT INTO rekap.partition_offset (topic, partition, next_offset) VALUES ('t', 0, 1)",
        "SELECT * FROM rekap.contest_kecamatan LIMIT 1",
    ],
    "operator": [
        "CREATE TEMP TABLE staging (id int)",
        f"UPDATE rekap.tps SET registered_male = registered_male WHERE tps_id = '{TPS}'",
        INSERT_TERMINAL,
        "SELECT count(*) FROM rekap.record",
        "SELECT * FROM hasil.summary LIMIT 1",
    ],
    "reader": ["SELECT * FROM hasil.summary LIMIT 1", "SELECT * FROM hasil.votes LIMIT 1"],
}


async def attempt(url: str, statement: str) -> None:
    """Run `statement` in a transaction that is never committed, read-write whatever the login's default."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET default_transaction_read_only = off")  # any session may; privileges must hold
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(statement)
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("user", "statement"), [(user, statement) for user, statements in FORBIDDEN.items() for statement in statements]
)
async def test_a_role_cannot_do_what_is_not_its_job(election_database_url: str, user: DbUser, statement: str) -> None:
    with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.FeatureNotSupportedError)):
        await attempt(login_url(election_database_url, user), statement)


@pytest.mark.parametrize(
    ("user", "statement"), [(user, statement) for user, statements in ALLOWED.items() for statement in statements]
)
async def test_a_role_can_do_its_job(election_database_url: str, user: DbUser, statement: str) -> None:
    await attempt(login_url(election_database_url, user), statement)


@pytest.mark.parametrize("statement", NOBODY)
async def test_the_owner_is_no_superuser(election_database_url: str, statement: str) -> None:
    with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.FeatureNotSupportedError)):
        await attempt(login_url(election_database_url, "owner"), statement)


async def test_no_role_of_rekap_is_a_superuser_or_may_read_server_files(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, "
        "pg_has_role(rolname, 'pg_read_server_files', 'USAGE') OR pg_has_role(rolname, 'pg_execute_server_program', "
        "'USAGE') OR pg_has_role(rolname, 'pg_write_server_files', 'USAGE') AS files "
        "FROM pg_roles WHERE rolname IN ('rekap_owner', 'rekap_tabulator', 'rekap_operator', 'kpu_reader', "
        "'rekap_monitor', 'tabulator', 'operator', 'kpu')"
    )
    assert len(rows) == 8
    assert [r["rolname"] for r in rows if r["rolsuper"] or r["rolbypassrls"] or r["rolcreatedb"] or r["files"]] == []


async def test_the_reader_login_is_read_only_with_limits_of_its_own(election_database_url: str) -> None:
    """A login in kpu_reader gets the settings: a group's do not pass to its members."""
    conn = await asyncpg.connect(login_url(election_database_url, "reader"))
    try:
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert await conn.fetchval("SHOW statement_timeout") == "1min"
        assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "1min"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TEMP TABLE mine (id int)")
        limit = await conn.fetchval("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user")
        assert 0 < limit <= 10
    finally:
        await conn.close()


@pytest.fixture
async def owner_env(election_database_url: str) -> AsyncIterator[dict[str, str]]:
    yield {"REKAP_OWNER_DATABASE_URL": login_url(election_database_url, "owner"), "PATH": "/usr/bin:/bin"}
    admin = await asyncpg.connect(election_database_url)
    try:
        await admin.execute("DROP ROLE IF EXISTS ana")
    finally:
        await admin.close()


async def test_db_login_set_makes_a_person_s_login_that_really_is_read_only(
    owner_env: dict[str, str], election_database_url: str
) -> None:
    env = {**owner_env, "ANA_PASSWORD": "a long passphrase, ana's own"}
    made = await asyncio.to_thread(rekap, env, "db", "login", "set", "ana", "--role", "reader", "--password-env",
                                   "ANA_PASSWORD")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "created login ana in role kpu_reader" in made.stdout
    password = quote("a long passphrase, ana's own", safe="")
    url = election_database_url.replace(election_database_url.split("@", maxsplit=1)[0], f"postgresql://ana:{password}")
    ana = await asyncpg.connect(url)
    try:
        assert await ana.fetchval("SELECT count(*) FROM hasil.summary") > 0
        assert await ana.fetchval("SHOW default_transaction_read_only") == "on"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await ana.execute("CREATE TEMP TABLE mine (id int)")
        await ana.execute("SET default_transaction_read_only = off")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await ana.execute("CREATE TEMP TABLE mine (id int)")
    finally:
        await ana.close()
    listed = await asyncio.to_thread(rekap, owner_env, "db", "login", "list")
    assert "ana" in listed.stdout
    assert "default_transaction_read_only=on" in listed.stdout
    bad = await asyncio.to_thread(rekap, env, "db", "login", "set", "rekap_owner", "--role", "reader",
                                  "--password-env", "ANA_PASSWORD")  # fmt: skip
    assert bad.returncode == 1
    assert "one of Rekap's own roles" in bad.stderr
    dropped = await asyncio.to_thread(rekap, owner_env, "db", "login", "drop", "ana")
    assert dropped.returncode == 0, dropped.stderr


async def test_a_reader_cannot_hold_the_migrations_up(election_database_url: str) -> None:
    """Older versions took a fixed advisory lock any session may take; now the lock is the ledger's,
    which only its owner may lock."""
    reader = await asyncpg.connect(login_url(election_database_url, "reader"))
    owner = await pg.connect(login_url(election_database_url, "owner"))
    try:
        await reader.execute("SELECT pg_advisory_lock(7265113097)")  # the old key, and any other
        await reader.execute("BEGIN")
        await reader.fetchval("SELECT count(*) FROM hasil.summary")
        assert await asyncio.wait_for(migrate(owner, load_migrations(migrations_dir())), timeout=10) == []
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("LOCK TABLE public.schema_migrations IN ACCESS SHARE MODE")
    finally:
        await reader.close()
        await owner.close()


async def test_setting_a_login_again_leaves_it_in_exactly_the_new_role(election_database_url: str) -> None:
    owner = await pg.connect(login_url(election_database_url, "owner"))
    bob = election_database_url.replace(election_database_url.split("@", maxsplit=1)[0], "postgresql://bob:{}")
    try:
        assert await set_login(owner, "bob", Group.OPERATOR, "pw-one") is True
        assert await set_login(owner, "bob", Group.READER, "pw-two") is False
        roles = await owner.fetch(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'bob'"
        )
        assert [r["rolname"] for r in roles] == ["kpu_reader"]
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(bob.format("pw-one"))
        session = await asyncpg.connect(bob.format("pw-two"))
        try:
            assert await session.fetchval("SHOW default_transaction_read_only") == "on"
            await session.execute("SET default_transaction_read_only = off")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await session.execute(INSERT_TERMINAL)
        finally:
            await session.close()
        with pytest.raises(RoleError, match="powers of its own"):
            await set_login(owner, "postgres", Group.READER, "pw")  # a superuser is never made a reader
    finally:
        await owner.execute("DROP ROLE IF EXISTS bob")
        await owner.close()


async def test_db_bootstrap_makes_the_owner_and_its_database_as_compose_s_init_does(postgres_admin_url: str) -> None:
    name = f"boot_{uuid.uuid4().hex[:8]}"
    owner_url = login_url(with_database(postgres_admin_url, name), "owner")
    env = {"PATH": "/usr/bin:/bin", "REKAP_OWNER_DATABASE_URL": owner_url, "OWNER_PASSWORD": PASSWORDS["owner"]}
    missing = await asyncio.to_thread(rekap, env, "db", "bootstrap", "--password-env", "OWNER_PASSWORD")
    assert missing.returncode == 1
    assert "REKAP_ADMIN_DATABASE_URL" in missing.stderr
    env["REKAP_ADMIN_DATABASE_URL"] = postgres_admin_url
    try:
        for _ in range(2):  # idempotent
            made = await asyncio.to_thread(rekap, env, "db", "bootstrap", "--password-env", "OWNER_PASSWORD")
            assert made.returncode == 0, made.stderr
        migrated = await asyncio.to_thread(rekap, env, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        owner = await asyncpg.connect(owner_url)  # (probed as an outsider would)
        try:
            assert await owner.fetchval("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name) == (
                "rekap_owner"
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await owner.execute("SELECT lo_from_bytea(0, 'x')")
        finally:
            await owner.close()
    finally:
        admin = await asyncpg.connect(postgres_admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_a_migration_waiting_behind_a_reader_gives_up_instead_of_stalling_the_tabulators(
    election_database_url: str,
) -> None:
    reader = await asyncpg.connect(login_url(election_database_url, "reader"))
    owner = await pg.connect(login_url(election_database_url, "owner"))
    migrations = load_migrations(migrations_dir())
    extra = Migration(len(migrations) + 1, "add_a_column", "ALTER TABLE rekap.tally ADD COLUMN mine int;")
    try:
        await reader.execute("BEGIN")
        await reader.fetchval("SELECT count(*) FROM hasil.summary")  # holds rekap.tally for its transaction
        with pytest.raises(MigrationError, match="nothing was changed"):
            await asyncio.wait_for(migrate(owner, [*migrations, extra]), timeout=30)
        await reader.execute("ROLLBACK")
        assert [m.version for m in await migrate(owner, [*migrations, extra])] == [extra.version]
    finally:
        await reader.close()
        await owner.close()


async def test_a_monitor_login_reads_the_server_s_statistics_and_nothing_of_rekap(election_database_url: str) -> None:
    """What PostgreSQL's Prometheus exporter connects as (`rekap db login set NAME --role monitor`): every
    session's statistics through pg_monitor (which the owner may hand out but not use), no table of Rekap's."""
    owner = await pg.connect(login_url(election_database_url, "owner"))
    watcher = election_database_url.replace(election_database_url.split("@", maxsplit=1)[0], "postgresql://watcher:pw")
    try:
        assert await set_login(owner, "watcher", Group.MONITOR, "pw") is True
        assert await owner.fetchval("SELECT pg_has_role('rekap_monitor', 'pg_monitor', 'USAGE')")
        assert not await owner.fetchval("SELECT pg_has_role(current_user, 'pg_monitor', 'USAGE')")
        assert await owner.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query = '<insufficient privilege>'")
        session = await asyncpg.connect(watcher)
        try:
            assert await session.fetchval("SHOW default_transaction_read_only") == "on"
            assert (
                await session.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query = '<insufficient privilege>'")
                == 0
            )
            assert await session.fetchval("SELECT pg_database_size(current_database())") > 0
            await session.execute("SET default_transaction_read_only = off")
            for statement in [*NOT_THE_ROLES, "SELECT * FROM hasil.summary", "SELECT * FROM rekap.form",
                              "SELECT * FROM rekap.tps", "CREATE TEMP TABLE mine (id int)", "SET ROLE rekap_tabulator"]:  # fmt: skip
                with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.FeatureNotSupportedError)):
                    await attempt(watcher, statement)
        finally:
            await session.close()
    finally:
        await owner.execute("DROP ROLE IF EXISTS watcher")
        await owner.close()


async def test_an_owner_that_may_not_hand_out_pg_monitor_migrates_all_the_same_and_bootstrap_mends_it(
    empty_database_url: str,
) -> None:
    """An owner made by hand (not by `rekap db bootstrap`) may not give pg_monitor: migration 0010 warns and
    goes on, rekap_monitor's logins then connect without the server's statistics, until `rekap db bootstrap`
    (the superuser's step, run again) gives it."""
    admin = await asyncpg.connect(empty_database_url)
    owner = await pg.connect(login_url(empty_database_url, "owner"))
    warnings: list[str] = []
    owner.add_log_listener(lambda _, message: warnings.append(str(message)))
    try:
        await admin.execute("REVOKE pg_monitor FROM rekap_owner CASCADE")  # and what the owner gave
        await admin.execute("REVOKE pg_monitor FROM rekap_monitor")
        await migrate(owner, load_migrations(migrations_dir()))
        assert any("rekap_monitor was not given pg_monitor" in w for w in warnings), warnings
        assert not await admin.fetchval("SELECT pg_has_role('rekap_monitor', 'pg_monitor', 'USAGE')")
        await bootstrap_owner(admin, PASSWORDS["owner"], "postgres")
        assert await admin.fetchval("SELECT pg_has_role('rekap_monitor', 'pg_monitor', 'USAGE')")
        assert await admin.fetchval("SELECT pg_has_role('rekap_owner', 'pg_monitor', 'MEMBER WITH ADMIN OPTION')")
        assert not await admin.fetchval("SELECT pg_has_role('rekap_owner', 'pg_monitor', 'USAGE')")
    finally:
        await bootstrap_owner(admin, PASSWORDS["owner"], "postgres")  # as every other test finds the server
        await owner.close()
        await admin.close()
