"""The photos' index: each photo once by digest (rekap.photo), each record of the photo topic once
(rekap.photo_record), and the photos the deciding forms name, with whether each is in (hasil.form_photo)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.tabulation import as_columns
from rekap.app.photos import FormPhoto, PhotoRecord
from rekap.domain.photos import RECORD_REASONS

SELECT_KNOWN = "SELECT sha256, status FROM rekap.photo WHERE sha256 = ANY($1::text[])"
# A photo refused for its record's sake alone (no value, a key that is not its digest) is stored once a record
# brings the same bytes rightly; every other verdict is about the bytes and stands.
INSERT_PHOTOS = """
INSERT INTO rekap.photo AS p (sha256, bytes, media_type, width, height, status, reason, detail)
SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::integer[], $5::integer[], $6::text[], $7::text[],
                     $8::text[])
ON CONFLICT (sha256) DO UPDATE SET status = excluded.status, reason = excluded.reason, detail = excluded.detail,
    received_at = now()
WHERE p.status = 'refused' AND p.reason = ANY($9::text[]) AND excluded.status = 'stored'
"""
INSERT_RECORDS = """
INSERT INTO rekap.photo_record (topic, partition, "offset", outcome, reason, detail, sha256, record_key,
                                kafka_timestamp)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::bytea[], $9::timestamptz[])
ON CONFLICT DO NOTHING
"""
FORM_PHOTOS = """
SELECT tps_id, contest_id, revision, form_status, sheet, sha256, bytes, media_type, photo_status, refused_reason,
       width, height
FROM hasil.form_photo
WHERE $1::text[] IS NULL OR tps_id = ANY($1)
ORDER BY tps_id, contest_id, sheet
"""


async def known_photos(conn: Connection, digests: Sequence[str]) -> dict[str, str]:
    """digest -> its status in the index (stored, refused), for those it holds."""
    with boundary():
        rows = await conn.fetch(SELECT_KNOWN, list(digests))
    return {row["sha256"]: row["status"] for row in rows}


async def record_photos(conn: Connection, records: Sequence[PhotoRecord]) -> None:
    """Index the photos these records brought, and each record's outcome, in one transaction."""
    photos = {}
    for r in records:
        i = r.inspected
        if i.sha256 is not None and (i.sha256 not in photos or i.stored):
            photos[i.sha256] = (i.sha256, i.size, i.media_type, i.width, i.height, _status(r), r.reason, i.detail)
    rows = [
        (
            r.topic,
            r.partition,
            r.offset,
            r.outcome,
            r.reason,
            r.inspected.detail,
            r.inspected.sha256,
            r.key,
            r.timestamp,
        )
        for r in records
    ]
    with boundary():
        async with conn.transaction():
            if photos:
                await conn.execute(INSERT_PHOTOS, *as_columns(list(photos.values()), 8), sorted(RECORD_REASONS))
            await conn.execute(INSERT_RECORDS, *as_columns(rows, 9))


def _status(record: PhotoRecord) -> str:
    return "stored" if record.inspected.stored else "refused"


async def form_photos(conn: Connection, tps_ids: Sequence[str] | None) -> list[FormPhoto]:
    """The photos the deciding forms of these TPS name (all if None), with whether each is in."""
    with boundary():
        rows = await conn.fetch(FORM_PHOTOS, None if tps_ids is None else list(tps_ids))
    return [FormPhoto(**row) for row in rows]


class PoolPhotoIndex:
    """The photo consumer's index, on a pool of the tabulator's logins."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def known(self, digests: Sequence[str]) -> dict[str, str]:
        with boundary():
            async with self._pool.acquire() as conn:
                return await known_photos(conn, digests)

    async def record(self, records: Sequence[PhotoRecord]) -> None:
        with boundary():
            async with self._pool.acquire() as conn:
                await record_photos(conn, records)
