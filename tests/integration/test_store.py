"""The batch transaction's fence in the real PostgreSQL: a retry whose earlier attempt did commit knows
it (the reply was lost), and is not taken for a consumer that lost its partition."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from rekap.adapters.postgres.tabulation import (
    AlreadyCommittedError,
    OffsetFencedError,
    TabulationStore,
    init_connection,
)
from rekap.domain.batch import BatchChanges, PartitionAdvance


async def commit(store: TabulationStore, advances: list[PartitionAdvance], batch_id: uuid.UUID) -> None:
    async with store.batch("t", batch_id) as transaction:
        await transaction.fence(advances)
        await transaction.write(BatchChanges([], {}, {}))


async def test_a_retry_of_a_committed_batch_is_told_from_a_fenced_one(election_database_url: str) -> None:
    pool = await asyncpg.create_pool(election_database_url, min_size=1, max_size=2, init=init_connection)
    try:
        store = TabulationStore(pool)
        ours = uuid.uuid4()
        advances = [PartitionAdvance(0, None, 5), PartitionAdvance(1, None, 3)]
        await commit(store, advances, ours)
        with pytest.raises(AlreadyCommittedError):  # the same batch again: its commit's reply was lost
            await commit(store, advances, ours)
        with pytest.raises(OffsetFencedError):  # another batch believing the same: a stale consumer
            await commit(store, advances, uuid.uuid4())
        assert await store.stored_offsets("t", [0, 1]) == {0: 5, 1: 3}
    finally:
        await pool.close()
