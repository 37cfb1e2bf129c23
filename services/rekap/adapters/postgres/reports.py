"""The recapitulation of one region and contest, read from the hasil views (what a kpu_reader login may
read) in one repeatable-read transaction: every number of the report is of the same moment."""

from __future__ import annotations

import orjson

from rekap.adapters.postgres.connection import Connection, one_snapshot
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.readings import region_summary
from rekap.app.recap import RecapRows, TpsRecap
from rekap.app.site_rows import VoteRow
from rekap.domain.tally import SECTION_NAMES

SELECT_REGIONS = """
SELECT * FROM hasil.summary
WHERE contest_id = $1 AND ((level = $2 AND region_code = $3) OR (level = $4 AND left(region_code, $5) = $3))
ORDER BY region_code
"""
SELECT_VOTES = """
SELECT level, region_code, contest_id, choice, candidate_name, votes, percent_of_valid FROM hasil.votes
WHERE contest_id = $1 AND ((level = $2 AND region_code = $3) OR (level = $4 AND left(region_code, $5) = $3))
ORDER BY length(choice), choice
"""
# A TPS's numbers: its DPT, and its deciding form's (NULL when none is counted or held).
TPS_COUNTS = ("dpt_male", "dpt_female", "valid", "invalid", "ballots_used", *SECTION_NAMES)
SELECT_TPS = f"""
SELECT tps_id, tps_name, desa_name, status, votes::text AS votes, {", ".join(TPS_COUNTS)}
FROM hasil.tps_status WHERE kecamatan_code = $1 AND contest_id = $2 ORDER BY tps_id
"""  # noqa: S608 (column names of the code's own)
SELECT_CONTEST_NAME = "SELECT name FROM hasil.contest WHERE contest_id = $1"


async def read_recap_rows(conn: Connection, region_code: str, contest_id: str, level: str, child: str) -> RecapRows:
    """The rows of `region_code` (at `level`) and of its children (at `child`: "tps" reads its TPS)."""
    async with one_snapshot(conn):
        with boundary():
            regions = await conn.fetch(SELECT_REGIONS, contest_id, level, region_code, child, len(region_code))
            votes = await conn.fetch(SELECT_VOTES, contest_id, level, region_code, child, len(region_code))
            tps = await conn.fetch(SELECT_TPS, region_code, contest_id) if child == "tps" else []
            contest_name = await conn.fetchval(SELECT_CONTEST_NAME, contest_id)
    return RecapRows(
        [region_summary(r) for r in regions],
        [VoteRow(**r) for r in votes],
        [
            TpsRecap(
                r["tps_id"],
                r["tps_name"],
                r["desa_name"],
                r["status"],
                {name: r[name] for name in TPS_COUNTS if r[name] is not None},
                orjson.loads(r["votes"]) if r["votes"] else {},
            )
            for r in tps
        ],
        contest_name,
    )
