"""The recapitulation of one region and contest, read from the hasil views (what a kpu_reader login may
read) in one repeatable-read transaction: every number of the report is of the same moment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from zoneinfo import ZoneInfo

import asyncpg

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import one_snapshot
from rekap.errors import ConfigError
from rekap.numbers import angka
from rekap.report.recap import CHILD_LEVEL, LEVEL_OF_CODE, NUMBERS, Line, Recap

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
TPS_STATUS = {"counted": "masuk", "held": "ditahan", "missing": "belum masuk"}


async def read_recap(conn: Connection, region_code: str, contest_id: str) -> Recap:
    """Raises ConfigError for a region code of no level, or a region that does not hold the contest."""
    level = LEVEL_OF_CODE.get(len(region_code))
    if level is None or not region_code.isdigit():
        raise ConfigError(
            f"{region_code!r} is no region code: 2 digits (provinsi), 4 (kabupaten/kota) or 6 (kecamatan)"
        )
    child = CHILD_LEVEL[level]
    async with one_snapshot(conn):
        regions = await conn.fetch(SELECT_REGIONS, contest_id, level, region_code, child, len(region_code))
        votes = await conn.fetch(SELECT_VOTES, contest_id, level, region_code, child, len(region_code))
        tps = await conn.fetch(SELECT_TPS, region_code, contest_id) if child == "tps" else []
        contest_name = await conn.fetchval(SELECT_CONTEST_NAME, contest_id)
    region = next((r for r in regions if r["level"] == level), None)
    if region is None:
        raise ConfigError(f"no {level} {region_code} holding the contest {contest_id} (see hasil.summary)")
    choices = list(dict.fromkeys((v["choice"], v["candidate_name"]) for v in votes))
    by_region: dict[str, dict[str, int]] = {}
    for v in votes:
        by_region.setdefault(v["region_code"], {})[v["choice"]] = v["votes"]
    if child == "tps":
        lines = [_tps_line(r) for r in tps]
    else:
        lines = [_region_line(r, by_region.get(r["region_code"], {})) for r in regions if r["level"] == child]
    return Recap(
        level=level, region_code=region_code, region_name=region["region_name"], contest_id=contest_id,
        contest_name=contest_name, choices=choices, lines=lines,
        total=_region_line(region, by_region.get(region_code, {})),
        tps_expected=region["tps_expected"], tps_counted=region["tps_counted"], tps_held=region["tps_quarantined"],
        taken_at=region["taken_at"].astimezone(ZoneInfo(region["time_zone"])), zone=region["zone"],
    )  # fmt: skip


def _region_line(row: asyncpg.Record, votes: Mapping[str, int]) -> Line:
    return Line(row["region_code"], row["region_name"], f"{angka(row['tps_counted'])}/{angka(row['tps_expected'])}",
                {name: row[name] for name in NUMBERS}, votes)  # fmt: skip


def _tps_line(row: asyncpg.Record) -> Line:
    counted = row["status"] == "counted"
    columns = set(row.keys())
    numbers = {name: row[name] if counted else None for name in NUMBERS if name in columns}
    numbers["dpt_male"], numbers["dpt_female"] = row["dpt_male"], row["dpt_female"]
    if counted:
        numbers["voted"] = sum(row[f"voted_{kind}_{sex}"] for kind in ("dpt", "moved_in", "added")
                               for sex in ("male", "female"))  # fmt: skip
    votes = json.loads(row["votes_json"]) if counted else {}
    return Line(row["tps_id"], f"{row['tps_name']}, {row['desa_name']}", TPS_STATUS[row["status"]], numbers, votes)
