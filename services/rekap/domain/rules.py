"""The arithmetic a correct form satisfies (CONTRACT.md, DOMAIN.md): a form that breaks one is
authentic but held for review (quarantined), not counted."""

from __future__ import annotations

from rekap.domain.reasons import QuarantineReason
from rekap.domain.regions import MAX_REGISTERED_PER_TPS
from rekap.domain.tally import TallyV1


def arithmetic_problems(tally: TallyV1) -> tuple[QuarantineReason, ...]:
    """Every rule the form breaks, in the contract's order; empty for a consistent form."""
    problems = []
    voters, ballots = tally.voters, tally.ballots
    if sum(tally.votes.values()) != tally.valid:
        problems.append(QuarantineReason.VOTES_SUM_NE_VALID)
    if tally.valid + tally.invalid != ballots.used:
        problems.append(QuarantineReason.VALID_INVALID_NE_USED)
    if ballots.used != voters.voted.total:
        problems.append(QuarantineReason.USED_NE_VOTED)
    if ballots.received != ballots.used + ballots.damaged + ballots.unused:
        problems.append(QuarantineReason.BALLOTS_UNBALANCED)
    if voters.voted.dpt.male > voters.registered.male or voters.voted.dpt.female > voters.registered.female:
        problems.append(QuarantineReason.VOTED_EXCEEDS_REGISTERED)
    if voters.registered.total > MAX_REGISTERED_PER_TPS:
        problems.append(QuarantineReason.REGISTERED_EXCEEDS_CAPACITY)
    return tuple(problems)
