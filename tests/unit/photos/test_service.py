"""The photo consumer's loop with fakes of its source, index and store: each record is kept and indexed before
its offset is committed; PostgreSQL away is waited for, nothing committed meanwhile; a stop while it is away
commits nothing (the records are read again); a photo twice in a batch is stored once, then a duplicate."""

# ruff: noqa: ARG002 (the fakes take the real signatures)
from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from rekap.app.photos import PhotoRecord
from rekap.domain.batch import ConsumedRecord
from rekap.errors import UnavailableError
from rekap.photos.service import PhotoService


def jpeg(colour: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (colour, colour, colour)).save(out, "JPEG")
    return out.getvalue()


def record(offset: int, data: bytes | None, *, partition: int = 0, key: bytes | None = None) -> ConsumedRecord:
    digest = hashlib.sha256(data).hexdigest().encode() if data else None
    return ConsumedRecord("photos", partition, offset, 1_700_000_000_000, key or digest, data)


class Source:
    topic = "photos"

    def __init__(self, batches: list[list[ConsumedRecord]], stop: asyncio.Event, events: list[str]) -> None:
        self._batches, self._stop, self.events = list(batches), stop, events

    async def fetch(self) -> list[ConsumedRecord]:
        if not self._batches:
            self._stop.set()
            return []
        return self._batches.pop(0)

    async def commit(self, offsets: dict[int, int]) -> None:
        self.events.append(f"commit {sorted(offsets.items())}")


class Index:
    def __init__(self, events: list[str], *, away: int = 0, stop: asyncio.Event | None = None) -> None:
        self.events, self.away, self.stop = events, away, stop
        self.status: dict[str, str] = {}
        self.rows: list[PhotoRecord] = []

    async def known(self, digests: Sequence[str]) -> dict[str, str]:
        if self.away:
            self.away -= 1
            if self.stop is not None and self.away == 0:
                self.stop.set()
            raise UnavailableError("PostgreSQL away")
        return {d: self.status[d] for d in digests if d in self.status}

    async def record(self, records: Sequence[PhotoRecord]) -> None:
        for r in records:
            if r.inspected.sha256 and r.outcome == "stored":
                self.status[r.inspected.sha256] = "stored"
        self.rows += records
        self.events.append(f"index {len(records)}")


class Store:
    def __init__(self, events: list[str]) -> None:
        self.events, self.kept = events, {}

    async def put(self, name: str, data: bytes) -> None:
        self.kept[name] = data
        self.events.append(f"put {name.split('/', maxsplit=1)[0]}")

    async def get(self, name: str) -> bytes | None:
        return self.kept.get(name)

    async def copy_to(self, name: str, target: Path) -> bool:
        return False

    def location(self, name: str) -> str:
        return name


async def test_kept_then_indexed_then_committed_and_a_second_copy_is_a_duplicate() -> None:
    stop, events = asyncio.Event(), []
    a, b = jpeg(10), jpeg(200)
    batches = [[record(0, a), record(1, a), record(0, b"%PDF", partition=1)], [record(2, b), record(3, a)]]
    index, store = Index(events), Store(events)
    service = PhotoService(source=Source(batches, stop, events), index=index, store=store)
    await service.run(stop)
    assert [(r.offset, r.outcome, r.reason) for r in index.rows] == [
        (0, "stored", None), (1, "duplicate", None), (0, "refused", "not_an_image"),
        (2, "stored", None), (3, "duplicate", None),
    ]  # fmt: skip
    first = events.index("index 3")
    assert all(e.startswith("put") for e in events[:first]), "kept before indexed"
    assert events[first + 1] == "commit [(0, 2), (1, 1)]", "committed after indexed, past the last of each"
    assert sum(1 for name in store.kept if name.startswith("ditolak/")) == 1, "a refused photo kept privately"


async def test_postgresql_away_is_waited_for_and_nothing_is_committed_meanwhile() -> None:
    stop, events = asyncio.Event(), []
    index = Index(events, away=2)
    service = PhotoService(source=Source([[record(0, jpeg(9))]], stop, events), index=index, store=Store(events))
    await service.run(stop)
    assert [e for e in events if not e.startswith("put")] == ["index 1", "commit [(0, 1)]"]


async def test_a_stop_while_postgresql_is_away_commits_nothing() -> None:
    stop, events = asyncio.Event(), []
    index = Index(events, away=1, stop=stop)
    service = PhotoService(source=Source([[record(0, jpeg(9))]], stop, events), index=index, store=Store(events))
    await service.run(stop)
    assert [e for e in events if not e.startswith("put")] == [], "read again on the next start"
