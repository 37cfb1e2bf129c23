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
    form = CurrentForm(decoded.tally.revision, decoded.digest, decoded.authority)
    outcome, reason, problems = judge_form(form, decoded.problems, current)
    return Judgement(outcome, reason, decoded, decoded.digest, problems)


def judge_form(
    form: CurrentForm, problems: tuple[QuarantineReason, ...], current: CurrentForm | None
) -> tuple[Outcome, RejectReason | QuarantineReason | None, tuple[QuarantineReason, ...]]:
    """An authentic form's outcome, reason and every rule it breaks, from its revision, numbers and
    authority (`form`) and the rules it breaks by itself, given the form deciding so far."""
    verdict = judge_revision(current, form.revision, form.digest, form.authority)
    if verdict is RevisionVerdict.STALE:
        return Outcome.STALE, None, ()
    if verdict is RevisionVerdict.DUPLICATE:
        return Outcome.DUPLICATE, None, ()
    if verdict is RevisionVerdict.CONFLICT:
        return Outcome.REJECTED, RejectReason.REVISION_CONFLICT, ()
    if is_revision_jump(current, form.revision, form.authority):
        problems = (*problems, QuarantineReason.REVISION_JUMP)
    if problems:
        return Outcome.QUARANTINED, problems[0], problems
    return Outcome.ACCEPTED, None, ()
