"""Use case: go on past records that vanished from a partition before they were counted (`rekap tabulator
accept-gap`), after a person reviewed it: the gap recorded with who accepted it and why, and logged in the
registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rekap.domain.batch import OffsetGap
from rekap.domain.head import TreeHead


class LogStarts(Protocol):
    async def log_start(self, topic: str, partition: int) -> int: ...


class Gaps(Protocol):
    async def accept_gap(
        self, topic: str, partition: int, log_start: int, *, accepted_by: str, reason: str
    ) -> OffsetGap: ...

    async def registry_head(self) -> TreeHead: ...


@dataclass(frozen=True)
class AcceptedGap:
    gap: OffsetGap
    head: TreeHead  # the registry, the gap logged in it


async def accept_gap(broker: LogStarts, gaps: Gaps, topic: str, partition: int, *, by: str, reason: str) -> AcceptedGap:
    """Where the partition's log now starts (the broker), then the gap up to there accepted (the database:
    refused if nothing is missing there)."""
    start = await broker.log_start(topic, partition)
    gap = await gaps.accept_gap(topic, partition, start, accepted_by=by, reason=reason)
    return AcceptedGap(gap, await gaps.registry_head())
