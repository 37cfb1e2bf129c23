"""What the audit bundle holds, read in one repeatable-read transaction (one snapshot): the deciding forms
with their records' exact bytes, optionally every record, the terminals, the master data (as the CSV
files `rekap masterdata load` reads) and the totals at every level."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary, one_snapshot

# The master data files, each as `rekap masterdata load` reads it (header row, then rows).
MASTER_DATA_QUERIES = {
    "dataset.csv": "SELECT name, tps_source FROM rekap.dataset",
    "provinsi.csv": "SELECT code, name FROM rekap.provinsi ORDER BY code",
    "kabupaten_kota.csv": "SELECT code, kind, name FROM rekap.kabupaten_kota ORDER BY code",
    "kecamatan.csv": "SELECT code, name FROM rekap.kecamatan ORDER BY code",
    "desa.csv": "SELECT code, name FROM rekap.desa ORDER BY code",
    "tps.csv": "SELECT tps_id, registered_male, registered_female FROM rekap.tps ORDER BY tps_id",
    "contests.csv": "SELECT contest_id, name FROM rekap.contest ORDER BY contest_id",
    "choices.csv": "SELECT contest_id, choice, candidate_name FROM rekap.choice ORDER BY contest_id, choice",
}
TERMINALS = """
SELECT terminal_id, encode(public_key, 'base64') AS public_key, scope_kind || ':' || scope_code AS scope,
       to_char(registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS registered_at,
       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS revoked_at
FROM rekap.terminal ORDER BY terminal_id
"""
TOTALS = """
SELECT level, region_code, contest_id, tps_expected, tps_counted, tps_quarantined, valid, invalid, ballots_used
FROM hasil.summary ORDER BY level, region_code, contest_id
"""
VOTES = """
SELECT level, region_code, contest_id, choice, votes FROM hasil.votes ORDER BY level, region_code, contest_id, choice
"""
# Each deciding form with the record that decided it: its exact value bytes and its signature header.
FORMS = """
SELECT f.tps_id, f.contest_id, f.revision, f.status, f.reasons, f.authority, f.terminal_id, r.topic, r.partition,
       r."offset", r.kafka_timestamp, r.recorded_at, r.record_key, r.value, r.headers::text AS headers
FROM rekap.form f JOIN rekap.record r USING (topic, partition, "offset")
ORDER BY f.tps_id, f.contest_id
"""
RECORDS = """
SELECT topic, partition, "offset", outcome, reason, detail, tps_id, contest_id, revision, terminal_id, kafka_timestamp,
       recorded_at, record_key, value, headers::text AS headers
FROM rekap.record ORDER BY topic, partition, "offset"
"""
SNAPSHOT = "SELECT now() AS at, (SELECT name FROM rekap.dataset) AS dataset"


CSV_FILES = {**{f"masterdata/{name}": query for name, query in MASTER_DATA_QUERIES.items()},
             "terminals.csv": TERMINALS, "totals.csv": TOTALS, "votes.csv": VOTES}  # fmt: skip


class AuditSnapshot:
    """The reads of one bundle, all in one read-only repeatable-read transaction (see `snapshot`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def taken_at(self) -> tuple[datetime, str | None]:
        with boundary():
            row = await self._conn.fetchrow(SNAPSHOT)
        assert row is not None
        return row["at"], row["dataset"]

    async def copy_csv(self, query: str, sink: Callable[[bytes], Coroutine[Any, Any, None]]) -> None:
        """The query's rows as CSV with a header row, as PostgreSQL writes it."""
        with boundary():
            await self._conn.copy_from_query(query, output=sink, format="csv", header=True)

    def forms(self) -> AsyncIterator[dict[str, Any]]:
        return self._rows(FORMS)

    def records(self) -> AsyncIterator[dict[str, Any]]:
        return self._rows(RECORDS)

    async def _rows(self, query: str) -> AsyncIterator[dict[str, Any]]:
        with boundary():
            async for row in self._conn.cursor(query, prefetch=5_000):
                out = dict(row.items())
                out["headers"] = json.loads(out["headers"])
                yield out


@asynccontextmanager
async def snapshot(conn: Connection) -> AsyncIterator[AuditSnapshot]:
    async with one_snapshot(conn):
        yield AuditSnapshot(conn)
