"""A primary and its streaming standby, as their superuser runs them: the replication login, the synchronous
standby a commit waits for, and what each server says of the other (pg_stat_replication, pg_is_in_recovery).

With `synchronous_standby_names` naming the standby and `synchronous_commit` on (PostgreSQL's default), a
commit returns once the standby has flushed its WAL to disk: a batch the tabulator saw committed is on two
disks. The price: while the standby is away, commits wait (see docs/runbook.md, "RekapStandbyDown")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rekap.adapters.postgres.connection import BoundConnection, connect
from rekap.adapters.postgres.roles import SELECT_ROLE, _execute, scram_verifier

SELECT_REPLICAS = """
SELECT application_name, state, sync_state, coalesce(pg_wal_lsn_diff(sent_lsn, replay_lsn), 0)::bigint AS behind
FROM pg_stat_replication ORDER BY application_name
"""


@dataclass(frozen=True)
class Replica:
    """A standby as its primary sees it: streaming or catching up, synchronous or not, bytes not replayed."""

    name: str
    state: str  # streaming, catchup, ...
    sync_state: str  # sync, async, potential, quorum
    behind_bytes: int


async def set_replication_login(admin_url: str, login: str, password: str) -> None:
    """The login a standby streams the primary's WAL as: REPLICATION and nothing else."""
    async with _as_superuser(admin_url) as admin:
        verb = "ALTER" if await admin.fetchrow(SELECT_ROLE, login) else "CREATE"
        await _execute(admin, f"{verb} ROLE %I LOGIN REPLICATION PASSWORD %L", login, scram_verifier(password))


async def set_synchronous_standby(admin_url: str, name: str | None) -> None:
    """Commits wait for the standby `name` (None: for no standby, as a primary alone must), at once."""
    async with _as_superuser(admin_url) as admin:
        if name is None:
            await admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        else:
            await _execute(admin, "ALTER SYSTEM SET synchronous_standby_names = %L", name)
        await admin.execute("SELECT pg_reload_conf()")


async def replicas(admin_url: str) -> list[Replica]:
    """The standbys streaming from the server of `admin_url` (a primary)."""
    async with _as_superuser(admin_url) as admin:
        rows = await admin.fetch(SELECT_REPLICAS)
    return [Replica(r["application_name"], r["state"], r["sync_state"], r["behind"]) for r in rows]


async def in_recovery(admin_url: str) -> bool:
    """Whether the server of `admin_url` is a standby (replaying a primary's WAL) rather than a primary."""
    async with _as_superuser(admin_url) as admin:
        return bool(await admin.fetchval("SELECT pg_is_in_recovery()"))


@asynccontextmanager
async def _as_superuser(url: str) -> AsyncIterator[BoundConnection]:
    admin = await connect(url, timeout=10)
    try:
        yield admin
    finally:
        await admin.close()
