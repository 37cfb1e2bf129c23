"""What the public site shows, read in one repeatable-read transaction (one snapshot): the totals and votes
of every region, the curve of TPS counted, every TPS's status and deciding forms with their exact signed
bytes, and how far each partition was applied (what a later build starts its "what changed" from)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson

from rekap.adapters.postgres.connection import Connection, one_snapshot
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.photos import form_photos
from rekap.adapters.postgres.stored import stored_header_name, stored_text
from rekap.app.photos import FormPhoto
from rekap.app.site_rows import (
    FORM_NUMBERS,
    ChoiceRow,
    ContestRow,
    CurveRow,
    FormRow,
    HistoryRow,
    RegionRow,
    SummaryRow,
    TpsRow,
    VoteRow,
)

# When; which database (the cluster's identifier and the database's name: a folder built from another is rebuilt
# whole); and the master data by its content (every name, DPT, race and candidate a page shows: any change to
# it rebuilds every page). About 15 ms for a province's 13,206 TPS.
SNAPSHOT = """
SELECT now() AS taken_at, (SELECT name FROM rekap.dataset) AS dataset,
       (SELECT system_identifier FROM pg_control_system())::text || '/' || current_database() AS database,
       md5(concat_ws('|',
           (SELECT string_agg(concat_ws(',', level, region_code, region_name), ';' ORDER BY level, region_code)
            FROM rekap.region),
           (SELECT string_agg(concat_ws(',', code, name), ';' ORDER BY code) FROM rekap.desa),
           (SELECT string_agg(concat_ws(',', tps_id, registered_male, registered_female), ';' ORDER BY tps_id)
            FROM rekap.tps),
           (SELECT string_agg(concat_ws(',', contest_id, kind, region_code, name), ';' ORDER BY contest_id)
            FROM rekap.contest),
           (SELECT string_agg(concat_ws(',', contest_id, choice, candidate_name), ';' ORDER BY contest_id, choice)
            FROM rekap.choice),
           (SELECT string_agg(concat_ws(',', provinsi_code, zone, time_zone), ';' ORDER BY provinsi_code)
            FROM rekap.provinsi_zone))) AS master_data
"""
# How far each partition of the tally topic is applied, and of the photo topic indexed (the next offset).
POSITIONS = """
SELECT topic, partition, next_offset FROM rekap.partition_offset
UNION ALL
SELECT topic, partition, max("offset") + 1 FROM rekap.photo_record GROUP BY topic, partition
"""
SUMMARY = """
SELECT level, region_code, region_name, contest_id, valid, invalid, tps_expected, tps_counted, tps_quarantined,
       percent_counted, dpt, registered, voted, turnout_percent, zone, time_zone
FROM hasil.summary
"""
VOTES = """
SELECT level, region_code, contest_id, choice, candidate_name, votes, percent_of_valid
FROM hasil.votes ORDER BY choice
"""
CONTESTS = "SELECT contest_id, kind, region_code, name FROM rekap.contest ORDER BY contest_id"
CHOICES = "SELECT contest_id, choice, candidate_name FROM rekap.choice ORDER BY contest_id, choice"
REGIONS = "SELECT level, region_code, region_name FROM rekap.region"
# The curve of TPS counted, per minute, of the provinsi and kabupaten/kota (a kecamatan's is drawn from its TPS).
CURVES = """
SELECT level, region_code, contest_id, minute_local, tps_counted_so_far FROM hasil.progress
WHERE level IN ('provinsi', 'kabupaten_kota') ORDER BY level, region_code, contest_id, minute
"""
# Every TPS and contest of some kecamatan (all when the list is NULL), with its deciding form (its times to
# the minute, in the zone's time, as the pages show them).
TPS = """
SELECT s.kecamatan_code, s.desa_name, s.tps_id, s.tps_name, s.contest_id, s.status, s.revision, s.valid, s.invalid,
       s.votes::text AS votes, s.reasons, s.dpt_male, s.dpt_female, s.terminal_id, s.zone,
       s.registered_male, s.registered_female, s.voted_dpt_male, s.voted_dpt_female, s.voted_moved_in_male,
       s.voted_moved_in_female, s.voted_added_male, s.voted_added_female, s.disabled_voted_male,
       s.disabled_voted_female, s.ballots_received, s.ballots_used, s.ballots_damaged, s.ballots_unused,
       to_char(s.first_counted_local, 'YYYY-MM-DD"T"HH24:MI') AS first_counted_minute,
       to_char(s.updated_local, 'YYYY-MM-DD"T"HH24:MI') AS updated_minute
FROM hasil.tps_status s
WHERE $1::text[] IS NULL OR s.kecamatan_code = ANY($1)
ORDER BY s.tps_id, s.contest_id
"""
# The deciding forms of some TPS (all when NULL): the record's exact bytes, its signature header as stored (the
# last of that name, $2), its terminal's key.
FORMS = """
SELECT f.tps_id, f.contest_id, r.value, encode(t.public_key, 'base64') AS public_key,
       (SELECT h ->> 1 FROM jsonb_array_elements(r.headers) WITH ORDINALITY AS header(h, i)
        WHERE h ->> 0 = $2 ORDER BY i DESC LIMIT 1) AS signature
FROM rekap.form f
JOIN rekap.record r USING (topic, partition, "offset")
LEFT JOIN rekap.terminal t ON t.terminal_id = f.terminal_id
WHERE $1::text[] IS NULL OR f.tps_id = ANY($1)
"""
# Every record received about some TPS (all when NULL), in the order received, with its outcome (a TPS
# page's history of its forms).
HISTORY = """
SELECT h.tps_id, h.contest_id, h.revision, h.outcome, h.reason, h.terminal_id,
       to_char(h.received_local, 'YYYY-MM-DD"T"HH24:MI') AS received_minute
FROM hasil.history h
WHERE $1::text[] IS NULL OR h.tps_id = ANY($1)
ORDER BY h.tps_id, h.received_at, h.partition, h."offset"
"""
# The TPS of the records applied from some offsets on (per topic and partition): what changed since then; and
# the TPS whose deciding form names a photo indexed since (from the start of a photo partition new since).
CHANGED_TPS = """
SELECT r.tps_id
FROM unnest($1::text[], $2::integer[], $3::bigint[]) AS since(topic, partition, next_offset)
JOIN rekap.record r ON r.topic = since.topic AND r.partition = since.partition AND r."offset" >= since.next_offset
WHERE r.tps_id IS NOT NULL
UNION
SELECT f.tps_id
FROM rekap.photo_record pr
LEFT JOIN unnest($1::text[], $2::integer[], $3::bigint[]) AS since(topic, partition, next_offset)
       ON since.topic = pr.topic AND since.partition = pr.partition
JOIN rekap.form f ON f.photos @> jsonb_build_array(jsonb_build_object('sha256', pr.sha256))
WHERE pr."offset" >= coalesce(since.next_offset, 0) AND pr.sha256 IS NOT NULL
"""

Positions = dict[tuple[str, int], int]  # (topic, partition) -> the next offset to apply


class SiteSnapshot:
    """The reads of one build, all in one read-only repeatable-read transaction (see `site_snapshot`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def about(self) -> tuple[datetime, str | None, str, str]:
        """When the snapshot was taken, the master data's name, the database's identity, and a fingerprint of
        the master data's content."""
        row = await self._fetchrow(SNAPSHOT)
        return row["taken_at"], row["dataset"], row["database"], row["master_data"]

    async def positions(self) -> Positions:
        return {(r["topic"], r["partition"]): r["next_offset"] for r in await self._fetch(POSITIONS)}

    async def changed_tps(self, since: Positions, now: Positions) -> set[str]:
        """The TPS of every record applied from `since` up to `now` (a partition `since` lacks: from 0)."""
        keys = [k for k in sorted(now) if now[k] > since.get(k, 0)]
        starts = [since.get(k, 0) for k in keys]
        rows = await self._fetch(CHANGED_TPS, [k[0] for k in keys], [k[1] for k in keys], starts)
        return {r["tps_id"] for r in rows}

    async def summary(self) -> list[SummaryRow]:
        return [SummaryRow(**r) for r in await self._fetch(SUMMARY)]

    async def votes(self) -> list[VoteRow]:
        return [VoteRow(**r) for r in await self._fetch(VOTES)]

    async def regions(self) -> list[RegionRow]:
        return [RegionRow(**r) for r in await self._fetch(REGIONS)]

    async def contests(self) -> tuple[list[ContestRow], list[ChoiceRow]]:
        contests = [ContestRow(**r) for r in await self._fetch(CONTESTS)]
        return contests, [ChoiceRow(**r) for r in await self._fetch(CHOICES)]

    async def curves(self) -> list[CurveRow]:
        return [CurveRow(**r) for r in await self._fetch(CURVES)]

    async def tps(self, kecamatan: Sequence[str] | None) -> AsyncIterator[TpsRow]:
        """Every TPS and contest of these kecamatan (all if None), in TPS order."""
        with boundary():
            async for row in self._conn.cursor(TPS, None if kecamatan is None else list(kecamatan), prefetch=10_000):
                missing = row["status"] == "missing"  # no form: none of its numbers
                yield TpsRow(
                    kecamatan_code=row["kecamatan_code"],
                    desa_name=row["desa_name"],
                    tps_id=row["tps_id"],
                    tps_name=row["tps_name"],
                    contest_id=row["contest_id"],
                    status=row["status"],
                    revision=row["revision"],
                    valid=row["valid"],
                    invalid=row["invalid"],
                    votes=orjson.loads(row["votes"]) if row["votes"] else None,
                    reasons=row["reasons"],
                    dpt_male=row["dpt_male"],
                    dpt_female=row["dpt_female"],
                    terminal_id=row["terminal_id"],
                    zone=row["zone"],
                    first_counted_minute=row["first_counted_minute"],
                    updated_minute=row["updated_minute"],
                    numbers=None if missing else {name: row[name] for name in FORM_NUMBERS},
                )

    async def forms(self, tps_ids: Sequence[str] | None) -> AsyncIterator[FormRow]:
        """The deciding forms of these TPS (all if None): exact bytes, signature, the terminal's public key."""
        with boundary():
            ids = None if tps_ids is None else list(tps_ids)
            async for row in self._conn.cursor(FORMS, ids, stored_header_name("signature"), prefetch=5_000):
                yield FormRow(
                    tps_id=row["tps_id"],
                    contest_id=row["contest_id"],
                    value=bytes(row["value"]),
                    signature=stored_text(row["signature"]),
                    public_key=(row["public_key"] or "").replace("\n", ""),
                )

    async def photos(self, tps_ids: Sequence[str] | None) -> list[FormPhoto]:
        """The photos the deciding forms of these TPS name (all if None), with whether each is in."""
        return await form_photos(self._conn, tps_ids)

    async def history(self, tps_ids: Sequence[str] | None) -> dict[str, list[HistoryRow]]:
        """Every record received about these TPS (all if None), by TPS, in the order received."""
        out: dict[str, list[HistoryRow]] = {}
        with boundary():
            async for row in self._conn.cursor(HISTORY, None if tps_ids is None else list(tps_ids), prefetch=10_000):
                out.setdefault(row["tps_id"], []).append(HistoryRow(**row))
        return out

    async def _fetch(self, query: str, *args: object) -> list[Any]:
        with boundary():
            return list(await self._conn.fetch(query, *args))

    async def _fetchrow(self, query: str) -> Any:
        with boundary():
            return await self._conn.fetchrow(query)


# The reads of a few TPS or kecamatan at a time run again and again with other lists: after five runs of a
# prepared statement PostgreSQL may settle on a generic plan, which for "any of these ids" scans every
# record (a national build took 66 s in the forms' read instead of 2). Each run gets its own plan.
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"


@asynccontextmanager
async def site_snapshot(conn: Connection) -> AsyncIterator[SiteSnapshot]:
    async with one_snapshot(conn):
        with boundary():
            await conn.execute(CUSTOM_PLANS)
        yield SiteSnapshot(conn)
