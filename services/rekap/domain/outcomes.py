"""One outcome per record: the decoder's verdict joined with the revision rules."""

from __future__ import annotations

from dataclasses import dataclass

from rekap.domain.decode import Authentic, Decoded, Rejected
from rekap.domain.reasons import Outcome, QuarantineReason, RejectReason
from rekap.domain.revisions import CurrentForm, RevisionVerdict, is_revision_jump, judge_revision


@dataclass(frozen=True, slots=True)
class Judgement:
    outcome: Outcome
    reason: RejectReason | QuarantineReason | None  # None for accepted, duplicate and stale
    decoded: Decoded
    digest: bytes | None = None  # of an authentic form: what a later duplicate is compared with
    problems: tuple[QuarantineReason, ...] = ()  # every rule a held form breaks, in order

    @property
    def becomes_current(self) -> bool:
        """Whether this form now decides its (TPS, contest): accepted or held, it replaces the last."""
        return self.outcome in (Outcome.ACCEPTED, Outcome.QUARANTINED)


def judge(decoded: Decoded, current: CurrentForm | None) -> Judgement:
    """The outcome of a decoded record, given the form that decides its (TPS, contest) so far."""
    if isinstance(decoded, Rejected):
        return Judgement(Outcome.REJECTED, decoded.reason, decoded)
    assert isinstance(decoded, Authentic)
    tally = decoded.tally
    digest = decoded.digest
    verdict = judge_revision(current, tally.revision, digest, decoded.authority)
    if verdict is RevisionVerdict.STALE:
        return Judgement(Outcome.STALE, None, decoded, digest)
    if verdict is RevisionVerdict.DUPLICATE:
        return Judgement(Outcome.DUPLICATE, None, decoded, digest)
    if verdict is RevisionVerdict.CONFLICT:
        return Judgement(Outcome.REJECTED, RejectReason.REVISION_CONFLICT, decoded, digest)
    problems = decoded.problems
    if is_revision_jump(current, tally.revision, decoded.authority):
        problems = (*problems, QuarantineReason.REVISION_JUMP)
    if problems:
        return Judgement(Outcome.QUARANTINED, problems[0], decoded, digest, problems)
    return Judgement(Outcome.ACCEPTED, None, decoded, digest)
