"""Fakes of the tabulator's consumer, store and dead letters: the loop's control flow (refusals, splits,
fencing, retries) in milliseconds. The real-server tests (tests/integration) stay the proof."""

# ruff: noqa: ARG002 (the fakes take the real signatures, and use little of them)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from uuid import UUID

from rekap.adapters.kafka.consumer import Rebalanced
from rekap.adapters.postgres.tabulation import AlreadyCommittedError, OffsetFencedError
from rekap.domain.batch import BatchChanges, ConsumedRecord, FormKey, FormState, PartitionAdvance
from rekap.domain.ledger import Anchored, LedgerStart
from rekap.domain.merkle import Frontier
from rekap.errors import UnavailableError


class FakeConsumer:
    """Hands out the given batches once each, then sets `stop`. The partitions of the batches are assigned
    at the first fetch (as aiokafka's getmany waits for the group's assignment); seeks are recorded."""

    topic = "tallies"
    connected = True

    def __init__(self, batches: list[list[ConsumedRecord]], stop: asyncio.Event) -> None:
        self._batches = list(batches)
        self._stop = stop
        self.partitions = sorted({r.partition for batch in batches for r in batch})
        self._assigned: Rebalanced | None = None
        self.revoked: Rebalanced | None = None  # what the group calls when it takes partitions away
        self.sought: list[tuple[int, int | None]] = []  # (partition, offset), in order
        self.paused: set[int] = set()
        self.log_start: dict[int, int] = {}  # where a partition's log starts, when not at 0
        self.committed: dict[int, int] = {}

    def subscribe(self, *, assigned: Rebalanced, revoked: Rebalanced) -> None:
        self._assigned = assigned
        self.revoked = revoked

    async def fetch(self) -> list[ConsumedRecord]:
        if self._assigned is not None:
            assigned, self._assigned = self._assigned, None
            await assigned(self.partitions)
        if not self._batches:
            self._stop.set()
            return []
        return self._batches.pop(0)

    async def seek(self, partition: int, offset: int | None) -> None:
        self.sought.append((partition, offset))

    def pause(self, partition: int) -> None:
        self.paused.add(partition)

    def resume(self, partition: int) -> None:
        self.paused.discard(partition)

    async def log_starts(self, partitions: list[int]) -> dict[int, int]:
        return {p: self.log_start.get(p, 0) for p in partitions}

    def highwater(self, partitions: list[int]) -> dict[int, int]:
        return {}

    async def commit(self, offsets: Mapping[int, int]) -> None:
        self.committed.update(offsets)


class FakeStore:
    """Commits in memory; `refuse(batch)` may raise to play PostgreSQL refusing what it is sent."""

    def __init__(self, refuse: Callable[[BatchChanges], None] = lambda _: None, lose_replies: int = 0,
                 moved_meanwhile: Mapping[int, int] | None = None) -> None:  # fmt: skip
        self.refuse = refuse
        self._lose_replies = lose_replies  # that many commits go through, and their callers hear an outage
        self._moved_meanwhile = dict(moved_meanwhile or {})  # another consumer's, once the offsets were read
        self.forms: dict[FormKey, FormState] = {}
        self.committed: list[BatchChanges] = []
        self.offsets: dict[int, int] = {}
        self.ledgers: dict[int, Frontier] = {}  # each partition's tree, as the last commit left it
        self.batch_ids: dict[int, UUID] = {}
        self.progress_reads: list[list[int]] = []
        self.expected_reads = 0

    @asynccontextmanager
    async def batch(self, topic: str, batch_id: UUID) -> AsyncIterator[FakeTransaction]:
        transaction = FakeTransaction(self, topic, batch_id)
        yield transaction  # an exception in the block: nothing is kept
        changes, advances = transaction.changes, transaction.advances
        assert changes is not None, "a batch commits only after it was written"
        self.committed.append(changes)
        self.forms.update({key: new.state for key, new in changes.forms.items()})
        self.offsets.update({a.partition: a.next_offset for a in advances})
        self.ledgers.update(transaction.anchored.frontiers)
        self.batch_ids.update({a.partition: batch_id for a in advances})
        if self._lose_replies:
            self._lose_replies -= 1
            raise UnavailableError("PostgreSQL: the connection was lost (the commit went through)")

    async def progress(self, partitions: list[int]) -> list[tuple[int, str, str, int, int]]:
        self.progress_reads.append(partitions)
        summed: dict[tuple[int, str, str], list[int]] = {}
        for changes in self.committed:
            for (contest, kecamatan, shard), change in changes.totals.items():
                if shard in partitions:
                    both = summed.setdefault((shard, kecamatan[:4], contest), [0, 0])
                    both[0] += change.tps_counted
                    both[1] += change.tps_quarantined
        return [(*key, counted, held) for key, (counted, held) in summed.items()]

    async def expected(self) -> list[tuple[str, str, int]]:
        self.expected_reads += 1
        return [("1671", "pkwkp-16", 9)]

    async def region_names(self) -> dict[str, str]:
        return {"1671": "Kota Palembang"}

    async def stored_offsets(self, topic: str, partitions: list[int]) -> dict[int, int]:
        stored = {p: o for p, o in self.offsets.items() if p in partitions}
        self.offsets.update(self._moved_meanwhile)
        self._moved_meanwhile = {}
        return stored


class FakeDeadLetters:
    """Sends in memory; `refuse(batch)` may raise to play the broker refusing a dead letter."""

    def __init__(self, refuse: Callable[[BatchChanges], None] = lambda _: None) -> None:
        self.refuse = refuse
        self.sent: list[ConsumedRecord] = []

    async def send(self, changes: BatchChanges) -> None:
        self.refuse(changes)
        self.sent += [o.record for o in changes.rejected()]


class FakeTransaction:
    def __init__(self, store: FakeStore, topic: str, batch_id: UUID) -> None:
        self._store, self._topic, self._batch_id = store, topic, batch_id
        self.advances: list[PartitionAdvance] = []
        self.changes: BatchChanges | None = None
        self.anchored = Anchored([], [], {}, {})

    async def fence(self, advances: list[PartitionAdvance]) -> dict[int, LedgerStart]:
        moved = [a for a in advances if self._store.offsets.get(a.partition) != a.expected]
        if moved:
            if all(self._store.batch_ids.get(a.partition) == self._batch_id for a in moved):
                raise AlreadyCommittedError("committed by an earlier attempt")
            raise OffsetFencedError(self._topic, {a.partition: a.expected for a in moved})
        self.advances = advances
        return {a.partition: LedgerStart(self._store.ledgers.get(a.partition, Frontier()).copy(), a.expected or 0)
                for a in advances}  # fmt: skip

    async def deciding_forms(self, keys: set[FormKey]) -> dict[FormKey, FormState]:
        return {k: v for k, v in self._store.forms.items() if k in keys}

    async def write(self, changes: BatchChanges, anchored: Anchored) -> None:
        self._store.refuse(changes)
        self.changes = changes
        self.anchored = anchored
