"""The connections the PostgreSQL adapters use, and the one way Rekap opens them: every call on them goes
through the adapters' error boundary by construction (a driver error leaves any call, a transaction's
commit or a cursor's next row as a RekapError; see errors.py), so no caller catches the driver's errors.

`connect` and `create_pool` open them (asyncpg's own, with this connection class); `Connection` is what
the adapters' functions accept: such a connection, or one a pool lends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from rekap.adapters.postgres.errors import boundary

Connection = asyncpg.Connection | PoolConnectionProxy


class BoundConnection(asyncpg.Connection):
    """asyncpg's connection, each call inside the error boundary."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().execute(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().executemany(*args, **kwargs)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().fetch(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().fetchrow(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().fetchval(*args, **kwargs)

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().copy_records_to_table(*args, **kwargs)

    async def copy_from_query(self, *args: Any, **kwargs: Any) -> Any:
        with boundary():
            return await super().copy_from_query(*args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> _BoundCursor:  # type: ignore[override]  # (iterated only)
        return _BoundCursor(super().cursor(*args, **kwargs))

    def transaction(self, *args: Any, **kwargs: Any) -> _BoundTransaction:  # type: ignore[override]  # (same use)
        return _BoundTransaction(super().transaction(*args, **kwargs))


class _BoundCursor:
    """A cursor's rows, each fetch inside the boundary (the adapters iterate cursors: `async for`)."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    async def __aiter__(self) -> AsyncIterator[Any]:
        rows = self._factory.__aiter__()
        while True:
            with boundary():
                try:
                    row = await rows.__anext__()
                except StopAsyncIteration:
                    return
            yield row


class _BoundTransaction:
    """A transaction whose start, commit and rollback are inside the boundary (a commit may fail:
    serialization, a deferred constraint, the server gone)."""

    def __init__(self, transaction: Any) -> None:
        self._transaction = transaction

    async def start(self) -> None:
        with boundary():
            await self._transaction.start()

    async def commit(self) -> None:
        with boundary():
            await self._transaction.commit()

    async def rollback(self) -> None:
        with boundary():
            await self._transaction.rollback()

    async def __aenter__(self) -> _BoundTransaction:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        with boundary():
            await self._transaction.__aexit__(kind, error, traceback)


async def connect(url: str, **options: Any) -> BoundConnection:
    """A connection (asyncpg.connect's options) whose every call is inside the boundary; failing to
    connect is an UnavailableError (or the RekapError the boundary makes of it)."""
    with boundary():
        connection: BoundConnection = await asyncpg.connect(url, connection_class=BoundConnection, **options)
    return connection


async def create_pool(url: str, **options: Any) -> asyncpg.Pool:
    """A pool (asyncpg.create_pool's options) of such connections."""
    with boundary():
        pool: asyncpg.Pool = await asyncpg.create_pool(url, connection_class=BoundConnection, **options)
    return pool


@asynccontextmanager
async def one_snapshot(conn: Connection) -> AsyncIterator[None]:
    """A read-only repeatable-read transaction: every read inside sees the database at one moment (what a
    report, the audit bundle and the public site each show)."""
    with boundary():
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            yield
