"""The progress book: read once per positioning of a partition, moved by each commit's changes."""

from __future__ import annotations

from rekap.domain.batch import TotalsChange
from rekap.domain.progress import ProgressBook


def test_partitions_are_read_when_taken_or_sought_again_and_forgotten_when_lost() -> None:
    book = ProgressBook()
    assert book.to_read({0: 1, 1: 1}) == {0: 1, 1: 1}
    book.reset({0: 1, 1: 1}, [(0, "1671", "g", 3, 1), (1, "1671", "g", 2, 0), (1, "1601", "g", 5, 0)])
    assert book.to_read({0: 1, 1: 1}) == {}
    assert book.totals() == [("1601", "g", 5, 0), ("1671", "g", 5, 1)]
    assert book.to_read({0: 2}) == {0: 2}, "partition 0 sought again; partition 1 lost"
    assert book.totals() == [("1671", "g", 3, 1)], "a lost partition's numbers leave the totals"


def test_a_commit_moves_the_partitions_read_and_leaves_the_others() -> None:
    book = ProgressBook()
    book.reset({0: 1}, [(0, "1671", "g", 3, 1)])
    book.add({
        ("g", "167101", 0): TotalsChange(tps_counted=2, tps_quarantined=-1, valid=10),
        ("g", "160107", 0): TotalsChange(tps_counted=1),
        ("g", "167101", 5): TotalsChange(tps_counted=7),  # not read here: its reading will hold it
        ("m", "167101", 0): TotalsChange(valid=4),  # a correction: numbers changed, TPS counted did not
    })  # fmt: skip
    assert book.totals() == [("1601", "g", 1, 0), ("1671", "g", 5, 0)]
