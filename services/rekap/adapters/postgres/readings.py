"""The read side for people and checks (status of a TPS, the night's results and its check): the SQL that
`rekap status`, `rekap simulate` and the simulation's check run, in one place with the adapters."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import asyncpg

from rekap.adapters.postgres.connection import Connection
from rekap.app.night import RaceCount, RegionCount
from rekap.app.publish import RecordOutcome
from rekap.app.recap import RegionSummary
from rekap.app.site_rows import VoteRow
from rekap.app.status import DecidingForm, Received
from rekap.domain.contests import Contest
from rekap.domain.revisions import Authority, CurrentForm

# Where each partition of a topic stands: the next offset to read. The tabulator reads it for the
# partitions it takes; checks for the whole topic (partitions None).
SELECT_OFFSETS = """
SELECT partition, next_offset FROM rekap.partition_offset
WHERE topic = $1 AND ($2::integer[] IS NULL OR partition = ANY($2))
"""
SELECT_TPS_FORMS = """
SELECT contest_id, revision, status, valid, invalid, votes::text AS votes, reasons, terminal_id, updated_at
FROM hasil.tps WHERE tps_id = $1 ORDER BY contest_id
"""
SELECT_TPS_HISTORY = """
SELECT r.partition, r."offset", r.contest_id, r.revision, r.outcome, r.reason, r.terminal_id, r.recorded_at,
       z.time_zone, z.zone
FROM rekap.record r LEFT JOIN rekap.provinsi_zone z ON z.provinsi_code = left($1, 2)
WHERE r.tps_id = $1 OR r.record_key = $2 ORDER BY r.recorded_at, r.partition, r."offset"
"""
# Optional filters (NULL: all): a contest, levels.
SELECT_SUMMARY = """
SELECT * FROM hasil.summary WHERE ($1::text IS NULL OR contest_id = $1) AND ($2::text[] IS NULL OR level = ANY($2))
"""
SELECT_VOTES = """
SELECT level, region_code, contest_id, choice, candidate_name, votes, percent_of_valid FROM hasil.votes
WHERE ($1::text IS NULL OR contest_id = $1) AND ($2::text[] IS NULL OR level = ANY($2))
"""
SELECT_DECIDING_FORM = "SELECT revision, digest, authority FROM rekap.form WHERE tps_id = $1 AND contest_id = $2"
SELECT_RECORD_OUTCOME = """
SELECT outcome, reason, detail FROM rekap.record WHERE topic = $1 AND partition = $2 AND "offset" = $3
"""
SELECT_OUTCOMES = "SELECT outcome, reason, count(*) AS n FROM rekap.record WHERE topic = $1 GROUP BY outcome, reason"
HAS_FORMS = "SELECT EXISTS (SELECT 1 FROM rekap.form)"


async def stored_offsets(
    conn: Connection | asyncpg.Pool, topic: str, partitions: list[int] | None = None
) -> dict[int, int]:
    """partition -> the next offset to read, for the partitions ever applied (all, or those asked)."""
    return {r["partition"]: r["next_offset"] for r in await conn.fetch(SELECT_OFFSETS, topic, partitions)}


async def tps_forms(conn: Connection, tps_id: str) -> list[DecidingForm]:
    """What decides each contest of a TPS now."""
    return [
        DecidingForm(
            r["contest_id"],
            r["revision"],
            r["status"],
            r["valid"],
            r["invalid"],
            json.loads(r["votes"]),
            list(r["reasons"] or []),
            r["terminal_id"],
        )
        for r in await conn.fetch(SELECT_TPS_FORMS, tps_id)
    ]


async def tps_history(conn: Connection, tps_id: str) -> list[Received]:
    """Every record received about a TPS: by the form's TPS, or by its key when the form was unreadable."""
    return [
        Received(
            r["partition"],
            r["offset"],
            r["contest_id"],
            r["revision"],
            r["outcome"],
            r["reason"],
            r["terminal_id"],
            r["recorded_at"],
            r["time_zone"],
            r["zone"],
        )
        for r in await conn.fetch(SELECT_TPS_HISTORY, tps_id, tps_id.encode())
    ]


async def summary_rows(
    conn: Connection, contest_id: str | None = None, levels: list[str] | None = None
) -> list[RegionSummary]:
    """hasil.summary, of one contest and some levels if asked (filtered by PostgreSQL)."""
    return [region_summary(r) for r in await conn.fetch(SELECT_SUMMARY, contest_id, levels)]


async def vote_rows(conn: Connection, contest_id: str | None = None, levels: list[str] | None = None) -> list[VoteRow]:
    """hasil.votes, of one contest and some levels if asked (filtered by PostgreSQL)."""
    return [VoteRow(**r) for r in await conn.fetch(SELECT_VOTES, contest_id, levels)]


def region_summary(row: Any) -> RegionSummary:
    """A row of hasil.summary, typed: its counts are every whole number in it (the percentages are left out:
    whoever shows one computes it from the counts)."""
    return RegionSummary(
        level=row["level"],
        region_code=row["region_code"],
        region_name=row["region_name"],
        contest_id=row["contest_id"],
        tps_expected=row["tps_expected"],
        tps_counted=row["tps_counted"],
        tps_quarantined=row["tps_quarantined"],
        counts={name: value for name, value in row.items() if type(value) is int},
        zone=row["zone"],
        time_zone=row["time_zone"],
        taken_at=row["taken_at"],
    )


async def deciding_form(conn: Connection, tps_id: str, contest_id: str) -> CurrentForm | None:
    """The form that decides a (TPS, contest) now, counted or held; None before the first."""
    r = await conn.fetchrow(SELECT_DECIDING_FORM, tps_id, contest_id)
    return None if r is None else CurrentForm(r["revision"], bytes(r["digest"]), Authority(r["authority"]))


async def record_outcome(conn: Connection, topic: str, partition: int, offset: int) -> RecordOutcome | None:
    """The outcome a tabulator recorded for one record; None until it has."""
    r = await conn.fetchrow(SELECT_RECORD_OUTCOME, topic, partition, offset)
    return None if r is None else RecordOutcome(r["outcome"], r["reason"], r["detail"])


async def outcome_counts(conn: Connection, topic: str) -> Counter[tuple[str, str | None]]:
    """(outcome, reason) -> records of the topic."""
    return Counter({(r["outcome"], r["reason"]): r["n"] for r in await conn.fetch(SELECT_OUTCOMES, topic)})


async def has_forms(conn: Connection) -> bool:
    return bool(await conn.fetchval(HAS_FORMS))


async def race_count(conn: Connection, race: Contest, levels: list[str]) -> RaceCount:
    """A race's votes and progress at these levels (hasil.votes, hasil.summary), region by region: the
    lower levels first, each by code."""
    votes: dict[str, dict[str, int]] = {}
    candidates: dict[str, str] = {}
    for v in await vote_rows(conn, race.contest_id, levels):
        votes.setdefault(v.region_code, {})[v.choice] = v.votes
        candidates[v.choice] = v.candidate_name
    regions = [
        RegionCount(
            r.level,
            r.region_code,
            r.region_name,
            votes.get(r.region_code, {}),
            r.tps_counted,
            r.tps_expected,
            r.tps_quarantined,
        )
        for r in sorted(
            await summary_rows(conn, race.contest_id, levels), key=lambda r: (-len(r.region_code), r.region_code)
        )
    ]
    return RaceCount(race, dict(sorted(candidates.items())), regions)
