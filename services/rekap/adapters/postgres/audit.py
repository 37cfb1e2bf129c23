"""What the audit bundle holds, read in one repeatable-read transaction (one snapshot): every record applied
with its ledger leaf's parts, the registry's leaves, the master data (as the CSV files `rekap masterdata
load` reads), the totals at every level, and the signed head of that moment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rekap.adapters.postgres.connection import Connection, one_snapshot
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.registry import MASTER_DATA_QUERIES, TOTALS, VOTES, registry_leaves

# Every record applied, in each partition's ledger order, with what its leaf is made of.
RECORDS = """
SELECT topic, partition, "offset", skipped, record_key, value, headers::text AS headers, outcome, reason,
       registry_size, judged_at_ms, verified, prior_topic, prior_partition, prior_offset, detail, kafka_timestamp,
       recorded_at, tps_id, contest_id, revision, terminal_id
FROM rekap.record ORDER BY topic, partition, "offset"
"""
DATASET = "SELECT name FROM rekap.dataset"
# Every photo the deciding forms name, and whether it is in (docs/audit-bundle.md, photos.csv).
PHOTOS = """
SELECT tps_id, contest_id, revision, sheet, sha256, bytes, media_type, photo_status AS status FROM hasil.form_photo
ORDER BY tps_id, contest_id, sheet
"""
RECEIVED_PHOTOS = """
SELECT DISTINCT sha256, media_type FROM hasil.form_photo WHERE photo_status = 'received' ORDER BY sha256
"""

CSV_FILES = {
    **{f"masterdata/{name}": query for name, query in MASTER_DATA_QUERIES.items()},
    "totals.csv": TOTALS,
    "votes.csv": VOTES,
    "photos.csv": PHOTOS,
}


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as rekap.record keeps it: its Kafka coordinates and exact bytes, its outcome and the leaf's
    parts it was judged with, and what is there for people."""

    topic: str
    partition: int
    offset: int
    skipped: bool
    record_key: bytes | None
    value: bytes | None
    headers: list[list[str | None]]  # [name, value], each base64 as stored
    outcome: str
    reason: str | None
    registry_size: int | None
    judged_at_ms: int | None
    verified: bool | None
    prior_topic: str | None
    prior_partition: int | None
    prior_offset: int | None
    detail: str | None
    kafka_timestamp: datetime | None
    recorded_at: datetime
    tps_id: str | None
    contest_id: str | None
    revision: int | None
    terminal_id: str | None


class AuditSnapshot:
    """The reads of one bundle, all in one read-only repeatable-read transaction (see `snapshot`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def dataset(self) -> str | None:
        with boundary():
            name: str | None = await self.conn.fetchval(DATASET)
        return name

    async def copy_csv(self, query: str, sink: Callable[[bytes], Coroutine[Any, Any, None]]) -> None:
        """The query's rows as CSV with a header row, as PostgreSQL writes it."""
        with boundary():
            await self.conn.copy_from_query(query, output=sink, format="csv", header=True)

    async def received_photos(self) -> list[tuple[str, str]]:
        """(sha256, media type) of every photo a deciding form names that is in."""
        with boundary():
            rows = await self.conn.fetch(RECEIVED_PHOTOS)
        return [(row["sha256"], row["media_type"]) for row in rows]

    def registry(self, size: int) -> AsyncIterator[bytes]:
        return registry_leaves(self.conn, 0, size)

    async def records(self) -> AsyncIterator[StoredRecord]:
        with boundary():
            async for row in self.conn.cursor(RECORDS, prefetch=5_000):
                values = list(row.values())
                values[6] = json.loads(values[6])  # the headers, as text: JSON
                yield StoredRecord(*values)


@asynccontextmanager
async def snapshot(conn: Connection) -> AsyncIterator[AuditSnapshot]:
    async with one_snapshot(conn):
        yield AuditSnapshot(conn)
