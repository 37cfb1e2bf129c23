"""The recapitulation of one region and contest, read from the hasil views (what a kpu_reader login may
read) in one repeatable-read transaction: every number of the report is of the same moment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rekap.adapters.postgres.connection import Connection, one_snapshot
from rekap.adapters.postgres.errors import boundary

SELECT_REGIONS = """
SELECT * FROM hasil.summary
WHERE contest_id = $1 AND ((level = $2 AND region_code = $3) OR (level = $4 AND left(region_code, $5) = $3))
ORDER BY region_code
"""
SELECT_VOTES = """
SELECT region_code, choice, candidate_name, votes FROM hasil.votes
WHERE contest_id = $1 AND ((level = $2 AND region_code = $3) OR (level = $4 AND left(region_code, $5) = $3))
ORDER BY length(choice), choice
"""
SELECT_TPS = """
SELECT *, votes::text AS votes_json FROM hasil.tps_status WHERE kecamatan_code = $1 AND contest_id = $2 ORDER BY tps_id
"""
SELECT_CONTEST_NAME = "SELECT name FROM hasil.contest WHERE contest_id = $1"


@dataclass(frozen=True)
class RecapRows:
    """The rows of one region's recapitulation in one contest, all of one moment: the region's and its
    children's totals (hasil.summary), their votes (hasil.votes), a kecamatan's TPS (hasil.tps_status, with
    `votes` parsed), and the contest's name."""

    regions: list[dict[str, Any]]
    votes: list[dict[str, Any]]
    tps: list[dict[str, Any]]
    contest_name: str | None


async def read_recap_rows(conn: Connection, region_code: str, contest_id: str, level: str, child: str) -> RecapRows:
    """The rows of `region_code` (at `level`) and of its children (at `child`: "tps" reads its TPS)."""
    async with one_snapshot(conn):
        with boundary():
            regions = await conn.fetch(SELECT_REGIONS, contest_id, level, region_code, child, len(region_code))
            votes = await conn.fetch(SELECT_VOTES, contest_id, level, region_code, child, len(region_code))
            tps = await conn.fetch(SELECT_TPS, region_code, contest_id) if child == "tps" else []
            contest_name = await conn.fetchval(SELECT_CONTEST_NAME, contest_id)
    return RecapRows(
        [dict(r.items()) for r in regions],
        [dict(r.items()) for r in votes],
        [dict(r.items()) | {"votes": json.loads(r["votes_json"]) if r["votes_json"] else {}} for r in tps],
        contest_name,
    )
