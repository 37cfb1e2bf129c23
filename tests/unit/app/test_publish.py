"""`rekap publish`'s use cases on ports answered in memory: a record's outcome is asked for until a
tabulator has recorded one, or the time is up."""

from __future__ import annotations

from dataclasses import dataclass

from rekap.app.publish import RecordOutcome, outcome_within


@dataclass
class Outcomes:
    after: int  # asked this many times before the outcome is there
    asked: int = 0

    async def record_outcome(self, topic: str, partition: int, offset: int) -> RecordOutcome | None:
        assert (topic, partition, offset) == ("tallies", 2, 41)
        self.asked += 1
        return RecordOutcome("quarantined", "votes_sum_ne_valid", None) if self.asked > self.after else None


async def test_the_outcome_is_asked_for_until_it_is_recorded() -> None:
    outcomes = Outcomes(after=2)
    found = await outcome_within(outcomes, "tallies", 2, 41, 60, every=0)
    assert found == RecordOutcome("quarantined", "votes_sum_ne_valid", None)
    assert outcomes.asked == 3


async def test_no_outcome_within_the_time_is_none() -> None:
    outcomes = Outcomes(after=10**9)
    assert await outcome_within(outcomes, "tallies", 2, 41, 0, every=0) is None
    assert outcomes.asked == 1
