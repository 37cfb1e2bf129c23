"""Registered terminals in PostgreSQL: register (one or many), revoke, list, read for the tabulator."""

from __future__ import annotations

import sys

import asyncpg

from rekap.adapters.postgres.connection import Connection
from rekap.app.terminals import Registration, TerminalError, TerminalRecord
from rekap.domain.terminals import Scope, ScopeKind, Terminal

CREATE_STAGING = """
CREATE TEMP TABLE load_terminal (n integer, terminal_id text, public_key bytea, scope_kind text, scope_code text)
ON COMMIT DROP
"""
# Registering again with the same key and scope is a no-op; anything else about an existing id is refused.
INSERT_NEW = """
INSERT INTO rekap.terminal (terminal_id, public_key, scope_kind, scope_code)
SELECT terminal_id, public_key, scope_kind, scope_code FROM load_terminal
ON CONFLICT (terminal_id) DO NOTHING
"""
SELECT_CLASHES = """
SELECT l.n, t.active FROM load_terminal l JOIN rekap.terminal t USING (terminal_id)
WHERE NOT t.active
   OR (l.public_key IS NOT NULL AND l.scope_kind IS NOT NULL
       AND (t.public_key, t.scope_kind, t.scope_code) IS DISTINCT FROM (l.public_key, l.scope_kind, l.scope_code))
"""
SELECT_UNKNOWN_SCOPES = """
SELECT l.n, l.scope_kind || ':' || l.scope_code AS scope FROM load_terminal l
WHERE l.scope_kind IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM rekap.tps WHERE l.scope_kind = 'tps' AND tps_id = l.scope_code)
  AND NOT EXISTS (SELECT 1 FROM rekap.kecamatan WHERE l.scope_kind = 'kecamatan' AND code = l.scope_code)
"""
REVOKE = """
UPDATE rekap.terminal SET active = false, revoked_at = now() WHERE terminal_id = $1 AND active
"""
TERMINAL_EXISTS = "SELECT EXISTS (SELECT 1 FROM rekap.terminal WHERE terminal_id = $1)"
# Moves with every committed change of rekap.terminal (a trigger, see 0006): cheap to ask often.
TERMINALS_VERSION = "SELECT version::text FROM rekap.terminal_version"
# How many leaves the registry holds: moves with every registration, revocation, accepted gap and master
# data version (0012), each logged in the transaction that makes it.
REGISTRY_SIZE = "SELECT size FROM rekap.registry_head"
SELECT_TERMINALS_FOR_DECODER = "SELECT terminal_id, public_key, scope_kind, scope_code, active FROM rekap.terminal"
SELECT_ONE_TERMINAL = f"{SELECT_TERMINALS_FOR_DECODER} WHERE terminal_id = $1"
SELECT_TERMINALS = """
SELECT t.terminal_id, t.public_key, t.scope_kind, t.scope_code, t.active, t.registered_at, t.revoked_at,
       z.time_zone, z.zone
FROM rekap.terminal t LEFT JOIN rekap.provinsi_zone z ON z.provinsi_code = left(t.scope_code, 2)
ORDER BY t.terminal_id
"""


async def register_terminals(conn: Connection, terminals: list[Terminal]) -> int:
    """Register terminals in one transaction; all or none. Returns how many were new."""
    async with conn.transaction():
        await _stage(conn, [(t.terminal_id, t.public_key, t.scope) for t in terminals])
        refused = await _refused(conn)
        if refused:
            problems = sorted((terminals[n].terminal_id, why) for n, why in refused)
            listed = "; ".join(f"{terminal_id}: {why}" for terminal_id, why in problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise TerminalError(f"{len(problems)} terminal(s) refused, none registered: {listed}{more}", problems)
        status = await conn.execute(INSERT_NEW)
    return int(status.split()[-1])


async def refused_registrations(conn: Connection, registrations: list[Registration]) -> list[tuple[int, str]]:
    """What registering these would be refused for, registering none: (index in the list, why), each
    registration's scope first. Only the parts given are checked (a scope alone: whether it is known)."""
    async with conn.transaction():
        await _stage(conn, registrations)
        return sorted(await _refused(conn), key=lambda refusal: refusal[0])


async def _stage(conn: Connection, registrations: list[Registration]) -> None:
    await conn.execute(CREATE_STAGING)
    records = [
        (n, terminal_id, public_key, scope.kind.value if scope else None, scope.code if scope else None)
        for n, (terminal_id, public_key, scope) in enumerate(registrations)
    ]
    await conn.copy_records_to_table("load_terminal", records=records)


async def _refused(conn: Connection) -> list[tuple[int, str]]:
    """The staged registrations refused, (n, why): a scope not in the master data, an id taken."""
    unknown = [
        (r["n"], f"its scope {r['scope']} is not in the master data") for r in await conn.fetch(SELECT_UNKNOWN_SCOPES)
    ]
    clashes = [
        (
            r["n"],
            "the id is already registered with another key or scope"
            if r["active"]
            else "the id belongs to a revoked terminal (ids are never reused)",
        )
        for r in await conn.fetch(SELECT_CLASHES)
    ]
    return unknown + clashes


async def revoke_terminal(conn: Connection, terminal_id: str) -> None:
    if (await conn.execute(REVOKE, terminal_id)).split()[-1] == "0":
        exists = await conn.fetchval(TERMINAL_EXISTS, terminal_id)
        raise TerminalError(f"terminal {terminal_id} is {'already revoked' if exists else 'not registered'}")


async def list_terminals(conn: Connection) -> list[TerminalRecord]:
    return [
        TerminalRecord(
            Terminal(
                r["terminal_id"],
                bytes(r["public_key"]),
                Scope(ScopeKind(r["scope_kind"]), r["scope_code"]),
                r["active"],
            ),
            r["registered_at"],
            r["revoked_at"],
            r["time_zone"],
            r["zone"],
        )
        for r in await conn.fetch(SELECT_TERMINALS)
    ]


async def read_terminals(conn: Connection) -> dict[str, Terminal]:
    """Every terminal, for the decoder: streamed, not listed whole, with the TPS and kecamatan codes
    interned (shared with the master data's): at national scale (440,000 terminals) this is memory."""
    terminals: dict[str, Terminal] = {}
    scopes: dict[tuple[str, str], Scope] = {}
    async with conn.transaction():
        async for r in conn.cursor(SELECT_TERMINALS_FOR_DECODER, prefetch=20_000):
            code = sys.intern(r["scope_code"])
            scope = scopes.get((r["scope_kind"], code))
            if scope is None:
                scope = Scope(ScopeKind(r["scope_kind"]), code)
                if scope.kind is ScopeKind.KECAMATAN:  # shared by nobody else when it is a TPS
                    scopes[(r["scope_kind"], code)] = scope
            terminals[r["terminal_id"]] = Terminal(r["terminal_id"], bytes(r["public_key"]), scope, r["active"])
    return terminals


async def read_terminal(conn: Connection, terminal_id: str) -> Terminal | None:
    """One terminal as the decoder knows it, or None when it was never registered."""
    r = await conn.fetchrow(SELECT_ONE_TERMINAL, terminal_id)
    if r is None:
        return None
    scope = Scope(ScopeKind(r["scope_kind"]), r["scope_code"])
    return Terminal(r["terminal_id"], bytes(r["public_key"]), scope, r["active"])


async def terminals_version(conn: Connection | asyncpg.Pool) -> str:
    """A value that changes whenever the registered terminals change."""
    return str(await conn.fetchval(TERMINALS_VERSION))


async def registry_size(conn: Connection | asyncpg.Pool) -> int:
    """The registry's size: what a decoder built from reads in the same snapshot was judged against."""
    return int(await conn.fetchval(REGISTRY_SIZE))
