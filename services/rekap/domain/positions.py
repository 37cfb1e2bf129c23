"""Where each partition of the tally topic stands, as one tabulator knows it: the pure bookkeeping of
positions that exactly-once rests on. The database holds how far each partition is applied; this keeps
what the tabulator believes of it, and says what follows from that. No I/O: the service drives it, the
consumer only fetches and seeks, the store only reads and writes.

- **Believed**: each owned partition's next offset as the database held it when this tabulator last
  looked or committed (None: never applied, it starts at the log's beginning). A batch's advances go
  from there (`advances`), and the store's fence refuses them if another consumer moved it meanwhile.
- **Seeks**: a partition is sought where the database says it stands when it is taken (`assign`), after a
  batch was fenced (`fenced`) and when an operator accepted its gap (`gaps_accepted`); it is owned only
  once sought (`sought`). Each seek, and each revocation, moves the partition's seek count.
- **Admission**: records are fetched while the batch before commits, then admitted (`admit`) only once it
  is in. Fetched records carry the seek counts of their fetch (`fetched`): a partition sought since is
  left out, since it is read again from where it was sought. Records before where a partition stands
  were applied already, never twice; a partition whose first record lies past it is decided by where its
  log starts (`settle`): Kafka's transaction markers take offsets too, harmlessly, but a log that now starts
  past it lost records, and the partition is held (a gap) until an operator accepts it.
- **Advance**: a committed batch moves each of its partitions still owned past its last record (`advanced`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from rekap.domain.batch import ConsumedRecord, OffsetGap, PartitionAdvance


@dataclass(frozen=True, slots=True)
class Seek:
    """Where to seek a partition: the next offset the database holds, or None (never applied): the log's
    beginning."""

    partition: int
    offset: int | None


@dataclass(frozen=True, slots=True)
class Fetched:
    """Records as fetched, and how often each partition had been sought when they were."""

    records: list[ConsumedRecord]
    seeks: dict[int, int]


@dataclass(frozen=True, slots=True)
class Admission:
    """Which fetched records a batch applies: each admitted partition's, from where it stands on."""

    starts: dict[int, int]  # partition -> where it stands: its records from there on are applied
    unclear: dict[int, int]  # partition -> where it stands, its first record fetched past that (see settle)
    seeks: dict[int, int]  # the seek counts of the fetch

    def admits(self, record: ConsumedRecord) -> bool:
        start = self.starts.get(record.partition)
        return start is not None and record.offset >= start


class PartitionPositions:
    """The positions of the partitions one tabulator owns (see the module's description)."""

    def __init__(self) -> None:
        self._believed: dict[int, int | None] = {}  # owned (sought) partitions -> next offset, None: never applied
        self._seeks: dict[int, int] = {}  # partition -> how often it was sought or revoked (a fetch before is stale)
        self._to_seek: set[int] = set()  # partitions taken, fenced or whose gap was accepted, not yet sought
        self._gaps: dict[int, OffsetGap] = {}  # held partitions: records missing before the next to apply

    # -- what is owned --------------------------------------------------------------------------------

    @property
    def assigned(self) -> list[int]:
        """The owned partitions: taken and sought."""
        return sorted(self._believed)

    def owns(self, partition: int) -> bool:
        return partition in self._believed

    def positions(self) -> dict[int, int]:
        """Where each owned partition stands (applied up to), those ever applied."""
        return {p: offset for p, offset in self._believed.items() if offset is not None}

    def positioned(self) -> dict[int, int]:
        """Each owned partition with its seek count: a change means it was positioned anew."""
        return {p: self._seeks.get(p, 0) for p in self._believed}

    @property
    def gaps(self) -> Mapping[int, OffsetGap]:
        """The held partitions, and what each misses."""
        return self._gaps

    # -- seeks ----------------------------------------------------------------------------------------

    def assign(self, partitions: Iterable[int]) -> list[int]:
        """Partitions a rebalance gave: each to be sought where the database says it stands (owned once sought)."""
        taken = sorted(set(partitions))
        self._to_seek.update(taken)
        return taken

    def fenced(self, partitions: Iterable[int]) -> list[int]:
        """A batch of these partitions was fenced (another consumer moved them): the owned ones go back to
        where the database says they stand."""
        owned = sorted({p for p in partitions if p in self._believed})
        self._to_seek.update(owned)
        return owned

    def gaps_accepted(self, stored: Mapping[int, int]) -> list[int]:
        """The held partitions whose stored offset (as read now) an operator moved past their gap: no longer
        held, each to be sought there (`rekap tabulator accept-gap`)."""
        accepted = sorted(p for p, gap in self._gaps.items() if stored.get(p, 0) >= gap.next_offset)
        for partition in accepted:
            del self._gaps[partition]
        self._to_seek.update(accepted)
        return accepted

    def seeks(self, partitions: Iterable[int], stored: Mapping[int, int]) -> Iterator[Seek]:
        """Where to seek those of `partitions` still to be sought, given their stored offsets (read for
        them): each is looked at when the one before was sought, since a rebalance may take it meanwhile."""
        for partition in sorted(set(partitions)):
            if partition in self._to_seek:
                yield Seek(partition, stored.get(partition))

    def sought(self, seek: Seek) -> None:
        """The consumer sought it: owned from there, and what was fetched before is stale."""
        if seek.partition not in self._to_seek:
            return  # revoked meanwhile
        self._to_seek.discard(seek.partition)
        self._seeks[seek.partition] = self._seeks.get(seek.partition, 0) + 1
        self._believed[seek.partition] = seek.offset

    def revoke(self, partitions: Iterable[int]) -> None:
        """Partitions a rebalance took away (after the batch in flight): what was fetched of them is stale,
        and whoever gets one finds its gap again."""
        for partition in partitions:
            self._seeks[partition] = self._seeks.get(partition, 0) + 1
            self._believed.pop(partition, None)
            self._to_seek.discard(partition)
            self._gaps.pop(partition, None)

    # -- admission ------------------------------------------------------------------------------------

    def fetched(self, records: list[ConsumedRecord]) -> Fetched:
        """Records just fetched, stamped with the seek counts now: call it with nothing awaited since the
        fetch, so that no seek comes between them."""
        return Fetched(records, dict(self._seeks))

    def admit(self, fetched: Fetched) -> Admission:
        """From where each partition's fetched records are applied, judged now (the batch before them
        committed, or was not): not at all for a partition not owned, held, or sought since the fetch;
        from where it stands for one whose records reach there; `unclear` for one whose first record fetched
        at or past where it stands lies past it (see `settle`)."""
        first: dict[int, int] = {}
        for record in fetched.records:
            if record.partition not in first and record.offset >= (self._believed.get(record.partition) or 0):
                first[record.partition] = record.offset
        starts: dict[int, int] = {}
        unclear: dict[int, int] = {}
        for partition, offset in first.items():
            if not self._current(partition, fetched.seeks):
                continue
            believed = self._believed[partition] or 0
            (unclear if offset > believed else starts)[partition] = believed
        return Admission(starts, unclear, fetched.seeks)

    def settle(self, admission: Admission, log_starts: Mapping[int, int]) -> tuple[Admission, list[OffsetGap]]:
        """The unclear partitions of an admission decided by where their logs start now: applied from where
        they stand if nothing is missing there, else held (the gaps returned: the consumer pauses them).
        A partition sought since the admission (while the log starts were read) is left out."""
        starts = {p: start for p, start in admission.starts.items() if self._current(p, admission.seeks)}
        gaps = []
        for partition, believed in admission.unclear.items():
            if not self._current(partition, admission.seeks):
                continue
            log_start = log_starts.get(partition, 0)
            if log_start <= believed:
                starts[partition] = believed
            else:
                gap = self._gaps[partition] = OffsetGap(partition, believed, log_start)
                gaps.append(gap)
        return Admission(starts, {}, admission.seeks), gaps

    def _current(self, partition: int, seeks: Mapping[int, int]) -> bool:
        """Owned, not held, and not sought since these seek counts were taken."""
        return (
            partition in self._believed
            and partition not in self._to_seek
            and partition not in self._gaps
            and self._seeks.get(partition) == seeks.get(partition)
        )

    # -- advance --------------------------------------------------------------------------------------

    def advances(self, records: Sequence[ConsumedRecord]) -> list[PartitionAdvance]:
        """Where a batch of these records moves each of its partitions: from where it is believed to stand
        (the store's fence checks it) to past its last record."""
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = record.offset
        return [PartitionAdvance(p, self._believed.get(p), offset + 1) for p, offset in sorted(last.items())]

    def advanced(self, advances: Iterable[PartitionAdvance]) -> None:
        """The batch committed: each partition still owned stands past it."""
        for advance in advances:
            if advance.partition in self._believed:
                self._believed[advance.partition] = advance.next_offset
