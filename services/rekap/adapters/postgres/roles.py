"""Who connects as what: the owner of the database, and logins in the group roles of 0007 and 0010.

A group's settings (read-only by default, timeouts) do not pass to its members in PostgreSQL, so each
login gets its own, here. Passwords never travel in SQL: the server gets a SCRAM-SHA-256 verifier
made on this side (as psql's \\password does), so no server log can show one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable

import asyncpg

from rekap.access import redact_url, with_database
from rekap.adapters.postgres.connection import Connection, connect
from rekap.adapters.postgres.errors import driver_error
from rekap.app.logins import OWNER, POLICIES, Group, Login
from rekap.errors import RekapError, UnavailableError

SCRAM_ITERATIONS = 4096
LOGIN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(RekapError):
    """A login that cannot be made or changed as asked."""


SELECT_ROLE = """
SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls AS privileged
FROM pg_roles WHERE rolname = $1
"""
SELECT_MEMBERSHIPS = """
SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = $1
"""
SELECT_LOGINS = """
SELECT u.rolname AS login, g.rolname AS role, u.rolconnlimit AS connection_limit,
       coalesce(s.setconfig, '{}') AS settings
FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
LEFT JOIN pg_db_role_setting s ON s.setrole = u.oid AND s.setdatabase = 0
WHERE g.rolname = ANY($1) AND u.rolcanlogin AND NOT u.rolcreaterole AND NOT u.rolsuper ORDER BY u.rolname
"""


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802, RFC 7677)."""
    if not password or not password.isascii() or not password.isprintable():
        # PostgreSQL would SASLprep other characters first; rather than imitate that, refuse them.
        raise RoleError("A password is printable ASCII (letters, digits, punctuation), not empty.")
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _check_name(name: str) -> None:
    if not LOGIN_NAME.match(name):
        raise RoleError(f"{name!r} is not a login name Rekap makes: lowercase letters, digits, _ (at most 63).")
    if name in {g.role for g in Group} | {OWNER}:
        raise RoleError(f"{name} is one of Rekap's own roles, not a login: pick another name.")


async def _execute(conn: Connection, template: str, *args: str) -> None:
    """Run DDL whose names and literals the server quotes itself (format's %I and %L)."""
    await conn.execute(await conn.fetchval("SELECT format($1, VARIADIC $2::text[])", template, list(args)))


async def set_login(
    conn: Connection, name: str, group: Group, password: str, connection_limit: int | None = None
) -> bool:
    """Create the login, or bring an existing one to exactly this: its password, its one group, the
    group's settings. Returns True if it was created. Runs as the owner (or a superuser)."""
    _check_name(name)
    verifier = scram_verifier(password)
    policy = POLICIES[group]
    limit = policy.connection_limit if connection_limit is None else connection_limit
    try:
        async with conn.transaction():
            existing = await conn.fetchrow(SELECT_ROLE, name)
            if existing is not None and existing["privileged"]:
                raise RoleError(
                    f"{name} has powers of its own (superuser, creating roles or databases, replication, "
                    "bypassing row security): Rekap will not turn it into a login."
                )
            # A new role has none of those powers; an existing one was just checked (and only a superuser
            # may even name them in ALTER ROLE).
            verb = "CREATE" if existing is None else "ALTER"
            await _execute(conn, f"{verb} ROLE %I LOGIN CONNECTION LIMIT {int(limit)} PASSWORD %L", name, verifier)
            for other in await conn.fetch(SELECT_MEMBERSHIPS, name):
                if other["rolname"] != group.role:
                    await _execute(conn, "REVOKE %I FROM %I", other["rolname"], name)
            await _execute(conn, "GRANT %I TO %I", group.role, name)
            await _execute(conn, "ALTER ROLE %I RESET ALL", name)
            for setting, value in policy.settings.items():
                await _execute(conn, f"ALTER ROLE %I SET {setting} = %L", name, value)
    except RekapError as error:
        if refused := driver_error(error, asyncpg.InsufficientPrivilegeError):
            raise RoleError(
                f"Not allowed to set login {name}: {refused}. Run this as {OWNER} (REKAP_OWNER_DATABASE_URL)."
            ) from None
        if missing := driver_error(error, asyncpg.UndefinedObjectError):
            raise RoleError(f"{missing}: apply the migrations first (`rekap db migrate`).") from None
        raise
    return existing is None


async def drop_login(conn: Connection, name: str) -> bool:
    """Remove a login made by set_login. Returns False if there was none."""
    _check_name(name)
    if await conn.fetchrow(SELECT_ROLE, name) is None:
        return False
    try:
        await _execute(conn, "DROP ROLE %I", name)
    except RekapError as error:
        if (refused := driver_error(error, asyncpg.PostgresError)) is None:
            raise
        raise RoleError(f"Cannot drop login {name}: {refused}") from None
    return True


async def list_logins(conn: Connection) -> list[Login]:
    return [
        Login(r["login"], r["role"], r["connection_limit"], list(r["settings"]))
        for r in await conn.fetch(SELECT_LOGINS, [g.role for g in Group])
    ]


# Anyone may create large objects (storage outside every table) unless a superuser takes the right away;
# done per database, where the functions live.
REVOKE_LARGE_OBJECTS = """
REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_import(text), lo_import(text, oid),
    lo_from_bytea(oid, bytea) FROM PUBLIC
"""


async def revoke_large_objects(admin: Connection) -> None:
    """As a superuser, connected to Rekap's database."""
    await admin.execute(REVOKE_LARGE_OBJECTS)


async def bootstrap_database(admin_url: str, password: str, database: str) -> None:
    """As the superuser of `admin_url`, once per server: the owner and its database, large objects revoked."""
    await _as_admin(admin_url, lambda admin: bootstrap_owner(admin, password, database))
    await _as_admin(with_database(admin_url, database), revoke_large_objects)


async def _as_admin(url: str, work: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
    try:
        admin = await connect(url, timeout=10)
    except RekapError as error:
        said = error.__cause__ or error  # what the driver said
        raise UnavailableError(f"Cannot connect to PostgreSQL at {redact_url(url)} as a superuser: {said}") from None
    try:
        await work(admin)
    finally:
        await admin.close()


async def bootstrap_owner(admin: Connection, password: str, database: str) -> None:
    """As a superuser: the owner role (it may create the group roles and logins, nothing more; and hand
    pg_monitor to the monitoring role) and the database it owns. What a KPU server's administrator does once
    by hand (docs/operators.md, "Your own Kafka and PostgreSQL")."""
    verifier = scram_verifier(password)
    verb = "ALTER" if await admin.fetchrow(SELECT_ROLE, OWNER) else "CREATE"
    await _execute(admin, f"{verb} ROLE %I LOGIN CREATEROLE PASSWORD %L", OWNER, verifier)
    await grant_monitoring(admin)
    if not await admin.fetchval("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database):
        await _execute(admin, "CREATE DATABASE %I OWNER %I", database, OWNER)


# PostgreSQL's built-in statistics role, for the exporter's logins (migration 0010's rekap_monitor). Only a
# superuser, or a role given it WITH ADMIN OPTION, may hand it out: the owner gets that option, and neither
# INHERIT nor SET, so that it may give the role to rekap_monitor and read no statistics itself (PostgreSQL 16).
GRANT_MONITORING_TO_OWNER = f"GRANT pg_monitor TO {OWNER} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE"


async def grant_monitoring(admin: Connection) -> None:
    """As a superuser: let the owner hand pg_monitor to rekap_monitor, and hand it now if the role exists
    already (migrated by an owner that could not)."""
    await admin.execute(GRANT_MONITORING_TO_OWNER)
    if await admin.fetchrow(SELECT_ROLE, Group.MONITOR.role) is not None:
        await _execute(admin, "GRANT pg_monitor TO %I", Group.MONITOR.role)
