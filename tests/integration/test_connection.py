"""Every call on a connection Rekap opens goes through the adapters' error boundary by construction: a
query, a cursor's rows and a transaction's commit each leave a driver error as a RekapError, with no
`boundary()` written around them."""

from __future__ import annotations

import asyncpg
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.errors import RefusedError
from rekap.errors import UnavailableError


async def test_a_refused_call_a_cursor_and_a_commit_leave_as_rekap_errors(database_url: str) -> None:
    conn = await pg.connect(database_url)
    try:
        with pytest.raises(RefusedError) as refused:
            await conn.fetchval("SELECT 1 / 0")
        assert isinstance(refused.value.__cause__, asyncpg.DivisionByZeroError)
        async with conn.transaction():
            with pytest.raises(RefusedError):
                async for _ in conn.cursor("SELECT 1 / (3 - x) FROM generate_series(1, 5) AS x"):
                    pass
        await conn.execute("CREATE TEMP TABLE once (x integer UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(RefusedError) as refused:
            async with conn.transaction():
                await conn.execute("INSERT INTO once VALUES (1), (1)")  # checked at the commit
        assert isinstance(refused.value.__cause__, asyncpg.UniqueViolationError)
        assert await conn.fetchval("SELECT 2") == 2, "the connection serves on"
    finally:
        await conn.close()


async def test_a_pool_lends_the_same_connections(database_url: str) -> None:
    pool = await pg.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            with pytest.raises(RefusedError):
                await conn.execute("SELECT * FROM no_such_table_here")
    finally:
        await pool.close()


async def test_a_server_not_there_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        await pg.connect("postgresql://nobody@127.0.0.1:9/none", timeout=2)
