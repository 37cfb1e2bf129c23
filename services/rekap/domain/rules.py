"""The arithmetic a correct form satisfies (docs/contract.md): a form that breaks one is
authentic but held for review (quarantined), not counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rekap.domain.reasons import QuarantineReason
from rekap.domain.regions import MAX_REGISTERED_PER_TPS, Tps
from rekap.domain.tally import TallyV1


def arithmetic_problems(tally: TallyV1) -> tuple[QuarantineReason, ...]:
    """Every rule the form breaks, in the contract's order; empty for a consistent form."""
    # Fields read once into locals: this runs for every record on the hot path.
    voters, ballots = tally.voters, tally.ballots
    registered, voted = voters.registered, voters.voted
    dpt, moved_in, added = voted.dpt, voted.moved_in, voted.added
    used = ballots.used
    problems = []
    if sum(tally.votes.values()) != tally.valid:
        problems.append(QuarantineReason.VOTES_SUM_NE_VALID)
    if tally.valid + tally.invalid != used:
        problems.append(QuarantineReason.VALID_INVALID_NE_USED)
    if used != dpt.male + dpt.female + moved_in.male + moved_in.female + added.male + added.female:
        problems.append(QuarantineReason.USED_NE_VOTED)
    if ballots.received != used + ballots.damaged + ballots.unused:
        problems.append(QuarantineReason.BALLOTS_UNBALANCED)
    if dpt.male > registered.male or dpt.female > registered.female:
        problems.append(QuarantineReason.VOTED_EXCEEDS_REGISTERED)
    if registered.male + registered.female > MAX_REGISTERED_PER_TPS:
        problems.append(QuarantineReason.REGISTERED_EXCEEDS_CAPACITY)
    return tuple(problems)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """An aware time as whole microseconds since the epoch: exact, as a verifier in any language gets it."""
    return (moment - EPOCH) // MICROSECOND


def master_data_problems(tally: TallyV1, tps: Tps, latest_submission_us: int) -> tuple[QuarantineReason, ...]:
    """What the form says that the master data and the clock contradict: its registered voters are not
    the TPS's DPT, or it was submitted after `latest_submission_us` (microseconds since the epoch: the
    judging clock plus the allowed skew)."""
    registered = tally.voters.registered
    problems = []
    if (registered.male, registered.female) != (tps.registered_male, tps.registered_female):
        problems.append(QuarantineReason.REGISTERED_NE_MASTER_DATA)
    if micros(tally.submitted_at) > latest_submission_us:
        problems.append(QuarantineReason.SUBMITTED_IN_FUTURE)
    return tuple(problems)
