"""Partition positions, pure: where each owned partition stands, what is sought, what a batch admits, how
a commit moves them. What exactly-once rests on besides the store's fence, in milliseconds."""

from __future__ import annotations

from rekap.domain.batch import ConsumedRecord, OffsetGap, PartitionAdvance
from rekap.domain.positions import PartitionPositions, Seek


def fetched_records(partition: int, offsets: range) -> list[ConsumedRecord]:
    return [ConsumedRecord("tallies", partition, offset, 0, b"k", b"v") for offset in offsets]


def positioned(stored: dict[int, int], partitions: list[int]) -> PartitionPositions:
    """Positions as a tabulator has them once the group gave it these partitions and it sought them."""
    positions = PartitionPositions()
    for seek in list(positions.seeks(positions.assign(partitions), stored)):
        positions.sought(seek)
    return positions


def admitted(positions: PartitionPositions, records: list[ConsumedRecord]) -> list[tuple[int, int]]:
    admission = positions.admit(positions.fetched(records))
    assert admission.unclear == {}
    return [(r.partition, r.offset) for r in records if admission.admits(r)]


def test_partitions_assigned_are_owned_once_sought_where_the_database_says_they_stand() -> None:
    positions = PartitionPositions()
    assert positions.assign([1, 0]) == [0, 1]
    assert positions.assigned == [], "not owned before they are sought"
    assert positions.admit(positions.fetched(fetched_records(0, range(3)))).starts == {}
    seeks = list(positions.seeks([0, 1], {0: 7}))
    assert seeks == [Seek(0, 7), Seek(1, None)], "partition 1 was never applied: from the log's beginning"
    for seek in seeks:
        positions.sought(seek)
    assert positions.assigned == [0, 1]
    assert positions.positions() == {0: 7}
    assert positions.positioned() == {0: 1, 1: 1}


def test_records_before_where_a_partition_stands_are_skipped_as_applied_already() -> None:
    positions = positioned({0: 5}, [0, 1])
    records = fetched_records(0, range(3, 9)) + fetched_records(1, range(3))
    assert admitted(positions, records) == [(0, 5), (0, 6), (0, 7), (0, 8), (1, 0), (1, 1), (1, 2)]
    assert admitted(positions, fetched_records(0, range(3, 5))) == [], "all applied: nothing to admit"


def test_records_of_partitions_not_owned_are_not_admitted() -> None:
    positions = positioned({}, [0])
    assert admitted(positions, fetched_records(2, range(3))) == []


def test_a_commit_advances_its_partitions_from_where_they_were_believed_to_stand() -> None:
    positions = positioned({1: 4}, [0, 1])
    batch = fetched_records(0, range(3)) + fetched_records(1, range(4, 6))
    advances = positions.advances(batch)
    assert advances == [PartitionAdvance(0, None, 3), PartitionAdvance(1, 4, 6)]
    positions.advanced(advances)
    assert positions.positions() == {0: 3, 1: 6}
    assert positions.positioned() == {0: 1, 1: 1}, "a commit is no seek"
    assert admitted(positions, fetched_records(0, range(3, 5))) == [(0, 3), (0, 4)], "the next batch goes on"


def test_after_a_fence_the_owned_partitions_are_sought_again_and_what_was_fetched_before_is_stale() -> None:
    positions = positioned({}, [0, 1])
    positions.advanced(positions.advances(fetched_records(0, range(4))))  # believed: 0 stands at 4
    ahead = positions.fetched(fetched_records(0, range(4, 8)))  # fetched while that batch committed
    assert positions.fenced([0, 2]) == [0], "partition 2 is not ours: nothing to seek"
    assert positions.admit(ahead).starts == {}, "waiting for its seek: nothing admitted"
    assert list(positions.seeks([0], {0: 2})) == [Seek(0, 2)], "where the other consumer left it"
    positions.sought(Seek(0, 2))
    assert positions.positions() == {0: 2}
    assert positions.admit(ahead).starts == {}, "fetched before the seek: read again from 2, not applied from 4"
    assert admitted(positions, fetched_records(0, range(2, 6))) == [(0, 2), (0, 3), (0, 4), (0, 5)]


def test_a_partition_revoked_is_no_longer_owned_and_what_was_fetched_of_it_is_stale() -> None:
    positions = positioned({0: 3}, [0, 1])
    before = positions.fetched(fetched_records(0, range(3, 6)))
    positions.revoke([0])
    assert positions.assigned == [1]
    positions.advanced([PartitionAdvance(0, 3, 6)])  # a batch in flight cannot commit after it; if one did
    assert positions.positions() == {}, "a commit moves only the partitions still owned"
    positions.sought(Seek(0, 3))
    assert positions.assigned == [1], "a seek that completes after the revocation does not take it back"
    for seek in list(positions.seeks(positions.assign([0]), {0: 3})):  # given back, at the same offset
        positions.sought(seek)
    assert positions.admit(before).starts == {}, "fetched before it was revoked: stale all the same"
    assert admitted(positions, fetched_records(0, range(3, 6))) == [(0, 3), (0, 4), (0, 5)]


def test_a_partition_taken_away_while_another_is_sought_is_not_sought() -> None:
    positions = PartitionPositions()
    seeks = positions.seeks(positions.assign([0, 1]), {})
    first = next(seeks)
    positions.sought(first)
    positions.revoke([1])  # a rebalance while partition 0 was being sought
    assert list(seeks) == []
    assert positions.assigned == [0]


def test_records_missing_before_the_first_fetched_hold_the_partition() -> None:
    positions = positioned({0: 2}, [0, 1])
    records = fetched_records(0, range(6, 9)) + fetched_records(1, range(2))
    admission = positions.admit(positions.fetched(records))
    assert admission.starts == {1: 0}
    assert admission.unclear == {0: 2}, "records from 6 on, where 2 is next: the log's start tells"
    settled, gaps = positions.settle(admission, {0: 6})
    assert gaps == [OffsetGap(0, first_missing=2, next_offset=6)]
    assert positions.gaps == {0: gaps[0]}
    assert [(r.partition, r.offset) for r in records if settled.admits(r)] == [(1, 0), (1, 1)], "the others go on"
    assert admitted(positions, fetched_records(0, range(6, 9))) == [], "held until the gap is accepted"
    assert positions.positions() == {0: 2}, "held, not skipped"


def test_a_first_record_past_the_position_is_no_gap_while_the_log_still_starts_there() -> None:
    """Transaction markers take offsets too: a record after one starts past where the partition stands."""
    positions = positioned({0: 2}, [0])
    records = fetched_records(0, range(3, 5))
    settled, gaps = positions.settle(positions.admit(positions.fetched(records)), {0: 0})
    assert gaps == []
    assert settled.starts == {0: 2}
    assert [r.offset for r in records if settled.admits(r)] == [3, 4]


def test_a_never_applied_partition_whose_log_starts_late_is_held_from_offset_zero() -> None:
    positions = positioned({}, [0])
    _, gaps = positions.settle(positions.admit(positions.fetched(fetched_records(0, range(4, 6)))), {0: 4})
    assert gaps == [OffsetGap(0, 0, 4)]


def test_a_partition_sought_while_its_log_start_was_read_is_neither_admitted_nor_held() -> None:
    positions = positioned({0: 2}, [0, 1])
    admission = positions.admit(positions.fetched(fetched_records(0, range(6, 8)) + fetched_records(1, range(2))))
    positions.revoke([1])
    positions.fenced([0])
    positions.sought(Seek(0, 6))
    settled, gaps = positions.settle(admission, {0: 6})
    assert (settled.starts, gaps, dict(positions.gaps)) == ({}, [], {})


def test_an_accepted_gap_resumes_its_partition_where_the_operator_moved_it() -> None:
    positions = positioned({0: 2}, [0])
    positions.settle(positions.admit(positions.fetched(fetched_records(0, range(6, 8)))), {0: 6})
    assert positions.gaps_accepted({0: 2}) == [], "not accepted yet: the stored offset has not moved"
    assert positions.gaps_accepted({0: 5}) == [], "still short of the gap's end"
    assert list(positions.gaps) == [0]
    assert positions.gaps_accepted({0: 6}) == [0]
    assert positions.gaps == {}
    assert list(positions.seeks([0], {0: 6})) == [Seek(0, 6)]
    positions.sought(Seek(0, 6))
    assert positions.positions() == {0: 6}
    assert positions.positioned() == {0: 2}, "sought again: its progress is read again"
    assert admitted(positions, fetched_records(0, range(6, 8))) == [(0, 6), (0, 7)]


def test_a_revoked_partition_forgets_its_gap_whoever_gets_it_finds_it_again() -> None:
    positions = positioned({0: 2}, [0])
    positions.settle(positions.admit(positions.fetched(fetched_records(0, range(6, 8)))), {0: 6})
    positions.revoke([0])
    assert positions.gaps == {}
    assert positions.gaps_accepted({0: 6}) == []
