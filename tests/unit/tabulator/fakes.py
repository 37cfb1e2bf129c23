"""Fakes of the tabulator's consumer, store and dead letters: the loop's control flow (refusals, splits,
fencing, retries) in milliseconds. The real-server tests (tests/integration) stay the proof."""

# ruff: noqa: ARG002 (the fakes take the real signatures, and use little of them)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from rekap.adapters.kafka.consumer import Fetched
from rekap.adapters.postgres.tabulation import AlreadyCommittedError, OffsetFencedError
from rekap.domain.batch import BatchChanges, ConsumedRecord, FormKey, FormState, PartitionAdvance
from rekap.domain.ledger import Anchored, LedgerStart
from rekap.domain.merkle import Frontier
from rekap.errors import UnavailableError


class FakeConsumer:
    """Hands out the given batches once each, then sets `stop`; keeps positions as the real one does."""

    topic = "tallies"
    connected = True

    def __init__(self, batches: list[list[ConsumedRecord]], stop: asyncio.Event) -> None:
        self._batches = list(batches)
        self._stop = stop
        self.believed: dict[int, int | None] = {r.partition: None for batch in batches for r in batch}
        self.gaps: dict[int, Any] = {}
        self.reseeks: list[list[int]] = []
        self.seeks = dict.fromkeys(self.believed, 1)

    @property
    def assigned(self) -> list[int]:
        return sorted(self.believed)

    async def fetch(self) -> Fetched:
        if not self._batches:
            self._stop.set()
            return Fetched([], {})
        return Fetched(self._batches.pop(0), {})

    async def admit(self, fetched: Fetched) -> dict[int, int]:
        return {r.partition: self.believed.get(r.partition) or 0 for r in fetched.records}

    def advances(self, records: list[ConsumedRecord]) -> list[PartitionAdvance]:
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = record.offset
        return [PartitionAdvance(p, self.believed.get(p), offset + 1) for p, offset in sorted(last.items())]

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        yield

    def advanced(self, advances: list[PartitionAdvance]) -> None:
        for advance in advances:
            self.believed[advance.partition] = advance.next_offset

    async def commit_to_kafka(self, advances: list[PartitionAdvance]) -> None:
        pass

    async def reseek(self, partitions: list[int]) -> None:
        self.reseeks.append(partitions)
        for partition in partitions:
            self.seeks[partition] += 1

    async def recheck_gaps(self) -> None:
        pass

    def positioned(self) -> dict[int, int]:
        return dict(self.seeks)

    def positions(self) -> dict[int, int]:
        return {p: o for p, o in self.believed.items() if o is not None}

    def highwater(self) -> dict[int, int]:
        return {}


class FakeStore:
    """Commits in memory; `refuse(batch)` may raise to play PostgreSQL refusing what it is sent."""

    def __init__(self, refuse: Callable[[BatchChanges], None] = lambda _: None, lose_replies: int = 0) -> None:
        self.refuse = refuse
        self._lose_replies = lose_replies  # that many commits go through, and their callers hear an outage
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
        return {p: o for p, o in self.offsets.items() if p in partitions}


class FakeDeadLetters:
    def __init__(self) -> None:
        self.sent: list[ConsumedRecord] = []

    async def send(self, changes: BatchChanges) -> None:
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
