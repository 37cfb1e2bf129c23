"""Accepting a gap asks the broker where the partition's log now starts, then records the gap up to there."""

from __future__ import annotations

from rekap.app.gaps import accept_gap
from rekap.domain.batch import OffsetGap
from rekap.domain.head import TreeHead

HEAD = TreeHead(9, b"\x02" * 32)


class Broker:
    async def log_start(self, topic: str, partition: int) -> int:
        return {("tallies", 3): 120}[(topic, partition)]


class Gaps:
    def __init__(self) -> None:
        self.accepted: list[tuple[str, int, int, str, str]] = []

    async def accept_gap(self, topic: str, partition: int, log_start: int, *, accepted_by: str,
                         reason: str) -> OffsetGap:  # fmt: skip
        self.accepted.append((topic, partition, log_start, accepted_by, reason))
        return OffsetGap(partition, 100, log_start)

    async def registry_head(self) -> TreeHead:
        return HEAD


async def test_the_gap_runs_to_where_the_log_starts_and_the_registry_logs_it() -> None:
    gaps = Gaps()
    done = await accept_gap(Broker(), gaps, "tallies", 3, by="Ana (KPU IT)", reason="retention")
    assert gaps.accepted == [("tallies", 3, 120, "Ana (KPU IT)", "retention")]
    assert (done.gap.next_offset, done.head) == (120, HEAD)
