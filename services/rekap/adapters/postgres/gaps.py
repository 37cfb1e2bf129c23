"""Accepting a gap: records of a partition that vanished from the log before they were applied. The
partition's stored offset moves past them, and who accepted it, when and why, is recorded with the
missing offsets, in one transaction."""

from __future__ import annotations

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.domain.batch import OffsetGap
from rekap.errors import RekapError

LOCK_OFFSET = """
SELECT next_offset FROM rekap.partition_offset WHERE topic = $1 AND partition = $2 FOR UPDATE
"""
MOVE_OFFSET = """
INSERT INTO rekap.partition_offset AS p (topic, partition, next_offset) VALUES ($1, $2, $3)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()
"""
RECORD_GAP = """
INSERT INTO rekap.offset_gap (topic, partition, first_missing, next_offset, accepted_by, reason)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def accept_gap(
    conn: Connection, topic: str, partition: int, log_start: int, *, accepted_by: str, reason: str
) -> OffsetGap:
    """Move the partition's stored offset to `log_start` (where the log now begins), recording the gap.
    Refused if nothing is missing there."""
    with boundary():
        async with conn.transaction():
            stored = await conn.fetchval(LOCK_OFFSET, topic, partition)
            first_missing = stored if stored is not None else 0
            if log_start <= first_missing:
                raise RekapError(
                    f"nothing is missing on partition {partition} of {topic}: it is applied up to offset "
                    f"{first_missing} and the log starts at {log_start}"
                )
            await conn.execute(MOVE_OFFSET, topic, partition, log_start)
            await conn.execute(RECORD_GAP, topic, partition, first_missing, log_start, accepted_by, reason)
    return OffsetGap(partition, first_missing, log_start)
