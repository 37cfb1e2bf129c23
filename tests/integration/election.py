"""The tabulator tests' election: a STRESS night over many TPS (rekap.simulation.night plans it and
keeps the expected totals, from what it sent), published, waited for, and checked."""

from __future__ import annotations

import asyncio

import asyncpg

from rekap.adapters.postgres.terminals import register_terminals
from rekap.domain.regions import Tps
from rekap.masterdata.files import read_master_data
from rekap.publisher import Publisher
from rekap.resources import sumsel_master_data_dir
from rekap.simulation import check
from rekap.simulation.night import STRESS, Expected, Planned, plan_night, simulated_terminals

SHIPPED = read_master_data(sumsel_master_data_dir())
MASTER = SHIPPED.master_data()


def sample_tps(count: int) -> list[Tps]:
    """TPS spread over every kabupaten/kota and many kecamatan."""
    step = max(1, len(SHIPPED.tps) // count)
    return SHIPPED.tps[::step][:count]


def plan_election(tps_list: list[Tps], seed: int = 2024) -> tuple[list[Planned], Expected]:
    return plan_night(MASTER, tps_list, mix=STRESS, seed=seed)


async def register_all_terminals(conn: asyncpg.Connection, tps_list: list[Tps]) -> None:
    await register_terminals(conn, simulated_terminals(tps_list))


async def publish(bootstrap: str, topic: str, planned: list[Planned]) -> dict[int, int]:
    """Send in order, at once; returns the end offset of each partition written."""
    async with Publisher(bootstrap, topic) as publisher:
        futures = [await publisher.enqueue(p.key.decode(), p.value, p.headers) for p in planned]
        sent = await asyncio.gather(*futures)
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    return ends


async def wait_applied(
    database_url: str, topic: str, ends: dict[int, int], timeout: float = 120.0, watch: asyncio.Task[None] | None = None
) -> None:
    """Until every partition is applied up to its end; fails at once if the watched tabulator dies."""
    conn = await asyncpg.connect(database_url)
    try:
        await check.wait_applied(conn, topic, ends, timeout=timeout, alive=lambda: watch is None or not watch.done())
    except RuntimeError:
        assert watch is not None
        watch.result()
        raise
    finally:
        await conn.close()


async def check_against_oracle(database_url: str, topic: str, planned: list[Planned], expected: Expected) -> None:
    """Totals at every level equal what was sent; exactly one outcome row per record, the planned one."""
    conn = await asyncpg.connect(database_url)
    try:
        problems = await check.differences(conn, topic, planned, expected)
        rows = await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = $1", topic)
    finally:
        await conn.close()
    assert problems == [], "\n".join(problems)
    assert rows == len(planned), "one outcome row per record, no more, no less"
