"""Versioned SQL migrations (schemas/sql/NNNN_name.sql): applied in order, each once, each recorded.

Hand-written rather than a library because it is a page of code over asyncpg, where the
libraries would bring a second database driver (psycopg) or an ORM just for this.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import driver_error
from rekap.adapters.postgres.registry import log_master_data_if_never
from rekap.errors import MigrationError, RekapError

FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
# Two `rekap db migrate` at once (two replicas starting) must not both apply a migration, and nobody
# else may hold the migrations up: the lock is on the ledger, which only its owner may lock (an
# advisory lock is a number anyone connected can take, and the numbers are in the source).
LOCK_LEDGER = "LOCK TABLE public.schema_migrations IN EXCLUSIVE MODE"
LOCK_TIMEOUT_S = 10
# A database's own privileges are not copied by CREATE DATABASE ... TEMPLATE nor by a restore: asserted
# again on every run, once the migration that defines them (0007) is in.
HAS_DATABASE_ACCESS = "SELECT to_regprocedure('rekap.grant_database_access()') IS NOT NULL"
HAS_REGISTRY = "SELECT to_regclass('rekap.registry_head') IS NOT NULL"
GRANT_DATABASE_ACCESS = "SELECT rekap.grant_database_access()"
SELECT_APPLIED = "SELECT version, name, checksum FROM public.schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def load_migrations(folder: Path) -> list[Migration]:
    """Read the migration files of `folder`, which must be numbered 0001, 0002, ... without gaps."""
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: a migration is named NNNN_lowercase_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{folder}: migration {expected:04d} is missing or doubled (found {migration.filename})"
            )
    return migrations


async def migrate(conn: Connection, migrations: list[Migration]) -> list[Migration]:
    """Apply the migrations not yet recorded, all in one transaction: a failed upgrade leaves the
    database as it was. Returns those applied."""
    await _create_ledger(conn)
    async with conn.transaction():
        await conn.execute(LOCK_LEDGER)
        # Past the ledger, no DDL waits long behind a reader's query: a queued lock would stall the
        # tabulators behind it. The upgrade is refused instead, and may be tried again.
        await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'")
        applied = {row["version"]: row for row in await conn.fetch(SELECT_APPLIED)}
        by_version = {m.version: m for m in migrations}
        for version, row in applied.items():
            known = by_version.get(version)
            if known is None:
                raise MigrationError(
                    f"The database has migration {version:04d}_{row['name']} applied, which this "
                    "version of Rekap does not know: it is older than the database."
                )
            if known.checksum != row["checksum"]:
                raise MigrationError(
                    f"{known.filename} was changed after it was applied. Applied migrations are "
                    "history: undo the edit and add a new migration instead."
                )
        pending = [m for m in migrations if m.version not in applied]
        for migration in pending:
            try:
                await conn.execute(migration.sql)
            except RekapError as error:
                if driver_error(error, asyncpg.LockNotAvailableError):
                    raise MigrationError(
                        f"{migration.filename} waited over {LOCK_TIMEOUT_S} s for a table another session uses; "
                        "nothing was changed. Try again (a quieter moment, or end the long sessions: "
                        "pg_stat_activity)."
                    ) from None
                if (refused := driver_error(error, asyncpg.PostgresError)) is None:
                    raise
                raise MigrationError(f"{migration.filename} failed, nothing was changed: {refused}") from refused
            await conn.execute(INSERT_APPLIED, migration.version, migration.name, migration.checksum)
        if await conn.fetchval(HAS_DATABASE_ACCESS):
            await conn.execute(GRANT_DATABASE_ACCESS)
        if await conn.fetchval(HAS_REGISTRY):  # master data loaded before the registry existed: logged now
            await log_master_data_if_never(conn)
    return pending


async def _create_ledger(conn: Connection) -> None:
    """The ledger, if missing. Two first runs at once may both try: the loser finds it made."""
    try:
        await conn.execute(CREATE_LEDGER)
    except RekapError as error:
        if driver_error(error, asyncpg.UniqueViolationError, asyncpg.DuplicateTableError) is None:
            raise


async def applied_migrations(conn: Connection) -> list[tuple[int, str]]:
    """(version, name) of every recorded migration; empty for a database never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not exists:
        return []
    return [(row["version"], row["name"]) for row in await conn.fetch(SELECT_APPLIED)]
