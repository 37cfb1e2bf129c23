"""TPS counted and held per (kabupaten/kota, contest), as one tabulator's partitions hold them: read from
the database once when a partition is taken, then moved by each committed batch's changes. Keeping the
gauges this way costs O(changes); reading them again every few seconds cost O(kecamatan x contests x
partitions) a time, whatever changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rekap.domain.batch import TotalsChange, TotalsKey

RegionContest = tuple[str, str]  # (kabupaten/kota code, contest_id)
KABUPATEN_KOTA_DIGITS = 4  # a kecamatan code starts with its kabupaten/kota's


class ProgressBook:
    """Per owned partition: (kabupaten/kota, contest) -> [TPS counted, TPS held].

    A partition's numbers are valid for one positioning of it (the consumer's seek count): once it is
    sought again (taken anew after a rebalance, a fenced batch, a gap accepted) they are read again,
    because another replica may have moved it meanwhile."""

    def __init__(self) -> None:
        self._counts: dict[int, dict[RegionContest, list[int]]] = {}
        self._positioned: dict[int, int] = {}  # partition -> the seek count its numbers were read at

    def to_read(self, positioned: Mapping[int, int]) -> dict[int, int]:
        """Forget partitions no longer owned; the owned ones whose numbers must be read (with the seek
        count to record for them), given every owned partition's seek count now."""
        for partition in [p for p in self._counts if p not in positioned]:
            del self._counts[partition]
            del self._positioned[partition]
        return {p: seeks for p, seeks in positioned.items() if self._positioned.get(p) != seeks}

    def reset(self, positioned: Mapping[int, int], rows: Iterable[tuple[int, str, str, int, int]]) -> None:
        """The numbers of these partitions as read: (partition, kabupaten/kota, contest, counted, held)."""
        for partition, seeks in positioned.items():
            self._counts[partition] = {}
            self._positioned[partition] = seeks
        for partition, kabupaten_kota, contest, counted, held in rows:
            if partition in positioned:
                self._counts[partition][(kabupaten_kota, contest)] = [counted, held]

    def add(self, totals: Mapping[TotalsKey, TotalsChange]) -> None:
        """A committed batch's changes (partitions not read yet are left: their reading will hold them)."""
        for (contest, kecamatan, partition), change in totals.items():
            counts = self._counts.get(partition)
            if counts is None or not (change.tps_counted or change.tps_quarantined):
                continue
            both = counts.setdefault((kecamatan[:KABUPATEN_KOTA_DIGITS], contest), [0, 0])
            both[0] += change.tps_counted
            both[1] += change.tps_quarantined

    def totals(self) -> list[tuple[str, str, int, int]]:
        """(kabupaten/kota, contest, counted, held) over the owned partitions."""
        summed: dict[RegionContest, list[int]] = {}
        for counts in self._counts.values():
            for key, (counted, held) in counts.items():
                both = summed.setdefault(key, [0, 0])
                both[0] += counted
                both[1] += held
        return [(kabupaten_kota, contest, c, h) for (kabupaten_kota, contest), (c, h) in sorted(summed.items())]
