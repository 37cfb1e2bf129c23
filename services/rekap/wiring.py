"""The composition root of the command line: a database session made from the settings, handed to a use
case as its ports (the tabulator's own is bootstrap.py). The command line calls these; it never opens a
connection or calls an adapter itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rekap.access import redact_url
from rekap.adapters.postgres.connection import BoundConnection, connect
from rekap.adapters.postgres.session import Session
from rekap.config import DbUser, Settings
from rekap.errors import RekapError, UnavailableError

T = TypeVar("T")
URL_SETTING = {"owner": "REKAP_OWNER_DATABASE_URL", "operator": "REKAP_OPERATOR_DATABASE_URL"}


async def open_connection(settings: Settings, user: DbUser = "operator") -> BoundConnection:
    """A session as `user`: operators' commands connect as the operator, `db` commands as the owner."""
    url = settings.dsn_for(user)
    try:
        return await connect(url, timeout=10)
    except RekapError as failed:
        error = failed.__cause__ or failed  # what the driver said
        where = "DATABASE_URL" if user not in URL_SETTING else f"{URL_SETTING[user]} (or DATABASE_URL)"
        raise UnavailableError(
            f"Cannot connect to PostgreSQL at {redact_url(url)} as the {user}: {error}. "
            f"Is the stack up (`rekap stack up`), or {where} right?"
        ) from None


def with_session(settings: Settings, use: Callable[[Session], Awaitable[T]], user: DbUser = "operator") -> T:
    """Run a use case on a fresh session as `user` (its ports answered by PostgreSQL), closed afterwards."""

    async def run() -> T:
        conn = await open_connection(settings, user)
        try:
            return await use(Session(conn))
        finally:
            await conn.close()

    return asyncio.run(run())
