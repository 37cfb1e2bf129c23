"""One outcome per record (CONTRACT.md): the decoder's verdict joined with the revision rules."""

from __future__ import annotations

from dataclasses import dataclass

from rekap.domain.decode import Authentic, Decoded, Rejected
from rekap.domain.reasons import Outcome, QuarantineReason, RejectReason
from rekap.domain.revisions import CurrentForm, RevisionVerdict, judge_revision


@dataclass(frozen=True, slots=True)
class Judgement:
    outcome: Outcome
    reason: RejectReason | QuarantineReason | None  # None for accepted, duplicate and stale
    decoded: Decoded
    digest: bytes | None = None  # of an authentic form: what a later duplicate is compared with

    @property
    def becomes_current(self) -> bool:
        """Whether this form now decides its (TPS, contest): accepted or held, it replaces the last."""
        return self.outcome in (Outcome.ACCEPTED, Outcome.QUARANTINED)


def judge(decoded: Decoded, current: CurrentForm | None) -> Judgement:
    """The outcome of a decoded record, given the form that decides its (TPS, contest) so far."""
    if isinstance(decoded, Rejected):
        return Judgement(Outcome.REJECTED, decoded.reason, decoded)
    assert isinstance(decoded, Authentic)
    digest = decoded.tally.content_digest()
    verdict = judge_revision(current, decoded.tally.revision, digest)
    if verdict is RevisionVerdict.STALE:
        return Judgement(Outcome.STALE, None, decoded, digest)
    if verdict is RevisionVerdict.DUPLICATE:
        return Judgement(Outcome.DUPLICATE, None, decoded, digest)
    if verdict is RevisionVerdict.CONFLICT:
        return Judgement(Outcome.REJECTED, RejectReason.REVISION_CONFLICT, decoded, digest)
    if decoded.problems:
        return Judgement(Outcome.QUARANTINED, decoded.problems[0], decoded, digest)
    return Judgement(Outcome.ACCEPTED, None, decoded, digest)
