"""The fuzz of loadtests/fuzz.py, small: generated hostile records decoded and written into the real
PostgreSQL; none raises, none is accepted unless its exact bytes were signed, every one is stored.
`make fuzz` runs 120,000."""

from __future__ import annotations

import asyncpg
from loadtests.fuzz import fuzz

from tests.integration.election import SECRET, SHIPPED, register_all_terminals
from tests.servers import login_url


async def test_generated_hostile_records_are_each_judged_and_stored(election_database_url: str, conn: asyncpg.Connection
                                                                    ) -> None:  # fmt: skip
    await register_all_terminals(conn, SHIPPED.tps)
    tabulator = login_url(election_database_url, "tabulator")  # as the tabulator writes them
    row, problems = await fuzz(tabulator, SHIPPED, records=4000, seed=11, secret=SECRET)
    assert problems == []
    assert row["result"] == "OK"
    kinds = await conn.fetch("SELECT outcome, reason, count(*) FROM rekap.record GROUP BY 1, 2")
    assert {r["outcome"] for r in kinds} >= {"accepted", "rejected", "quarantined"}, "the mix reaches every outcome"
