"""The pure heart of tabulation: a batch of decoded records, and the forms that decide each
(TPS, contest) so far, in; an outcome per record, the new deciding forms, and the changes to every
kecamatan total, out. A correction moves each total by exactly the difference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rekap.domain.decode import Authentic, Decoded, Headers, RawRecord, Rejected
from rekap.domain.outcomes import Judgement, judge
from rekap.domain.reasons import Outcome, RejectReason
from rekap.domain.regions import Level, ancestor
from rekap.domain.revisions import Authority, CurrentForm

FormKey = tuple[str, str]  # (tps_id, contest_id)
TotalsKey = tuple[str, str, int]  # (contest_id, kecamatan_code, shard: the partition that writes it)


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """A record as read from Kafka: its coordinates and its raw parts."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    @property
    def raw(self) -> RawRecord:
        return RawRecord(self.key, self.value, self.headers)


@dataclass(frozen=True, slots=True)
class PartitionAdvance:
    """Where a batch moves one partition: from where its consumer believes it stands to past its last record."""

    partition: int
    expected: int | None  # where we believe the partition stands; None: never applied
    next_offset: int


@dataclass(frozen=True, slots=True)
class OffsetGap:
    """Records of a partition that vanished from the log before they were applied."""

    partition: int
    first_missing: int  # where the database says the partition stands
    next_offset: int  # the first offset the log still has: where counting goes on

    @property
    def missing(self) -> int:
        return self.next_offset - self.first_missing


@dataclass(frozen=True, slots=True)
class FormState:
    """The form that decides a (TPS, contest): what the database keeps of it."""

    revision: int
    digest: bytes
    quarantined: bool
    valid: int
    invalid: int
    ballots_used: int
    votes: Mapping[str, int]
    authority: Authority = Authority.KPPS

    @classmethod
    def of(cls, judgement: Judgement) -> FormState:
        decoded = judgement.decoded
        assert isinstance(decoded, Authentic)
        assert judgement.digest is not None
        tally = decoded.tally
        return cls(tally.revision, judgement.digest, judgement.outcome is Outcome.QUARANTINED, tally.valid,
                   tally.invalid, tally.ballots.used, tally.votes, decoded.authority)  # fmt: skip

    @property
    def current(self) -> CurrentForm:
        return CurrentForm(self.revision, self.digest, self.authority)


@dataclass(slots=True)
class TotalsChange:
    """What a batch adds to (or, negative, takes from) one contest's totals in one kecamatan."""

    valid: int = 0
    invalid: int = 0
    ballots_used: int = 0
    tps_counted: int = 0
    tps_quarantined: int = 0
    votes: dict[str, int] = field(default_factory=dict)

    def apply(self, form: FormState, sign: int) -> None:
        """Add (sign=1) or remove (sign=-1) one form's contribution. A held form counts only as held."""
        if form.quarantined:
            self.tps_quarantined += sign
            return
        self.tps_counted += sign
        self.valid += sign * form.valid
        self.invalid += sign * form.invalid
        self.ballots_used += sign * form.ballots_used
        for choice, votes in form.votes.items():
            self.votes[choice] = self.votes.get(choice, 0) + sign * votes


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    record: ConsumedRecord
    judgement: Judgement

    @property
    def detail(self) -> str | None:
        """Why, in words, for people reviewing it; None when there is nothing to say. Printable text
        always: what a hostile record put in it (a NUL, a lone surrogate) comes out escaped."""
        decoded = self.judgement.decoded
        if isinstance(decoded, Rejected):
            return printable(decoded.detail)
        if self.judgement.reason is RejectReason.REVISION_CONFLICT:
            return f"revision {decoded.tally.revision} is recorded already, with other numbers"
        return ", ".join(self.judgement.problems) or None


@dataclass(frozen=True, slots=True)
class NewForm:
    """A form that now decides its (TPS, contest), and the record it came in."""

    state: FormState
    judgement: Judgement
    record: ConsumedRecord


@dataclass
class BatchChanges:
    outcomes: list[RecordOutcome]
    forms: dict[FormKey, NewForm]  # the last deciding form per key, in this batch
    totals: dict[TotalsKey, TotalsChange]

    def rejected(self) -> list[RecordOutcome]:
        return [o for o in self.outcomes if o.judgement.outcome is Outcome.REJECTED]


MAX_DETAIL_CHARS = 500


def printable(text: str) -> str:
    """Text any store or header takes: NUL and other control characters, and lone surrogates (bytes
    that were not UTF-8), escaped as Python writes them; at most MAX_DETAIL_CHARS."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    text = text.encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def form_keys(decoded: Iterable[Decoded]) -> set[FormKey]:
    """The (TPS, contest) whose deciding form the batch needs to know."""
    return {(d.tally.tps_id, d.tally.contest_id) for d in decoded if isinstance(d, Authentic)}


def tabulate(batch: Sequence[tuple[ConsumedRecord, Decoded]], current: Mapping[FormKey, FormState]) -> BatchChanges:
    """Judge every record in order against the forms deciding so far (including those this batch
    decided earlier), and sum what changes per (contest, kecamatan, shard)."""
    deciding = dict(current)
    outcomes: list[RecordOutcome] = []
    forms: dict[FormKey, NewForm] = {}
    totals: dict[TotalsKey, TotalsChange] = {}
    for record, decoded in batch:
        key = (decoded.tally.tps_id, decoded.tally.contest_id) if isinstance(decoded, Authentic) else None
        previous = deciding.get(key) if key is not None else None
        judgement = judge(decoded, previous.current if previous is not None else None)
        outcomes.append(RecordOutcome(record, judgement))
        if key is None or not judgement.becomes_current:
            continue
        new = FormState.of(judgement)
        change = totals.setdefault((key[1], ancestor(key[0], Level.KECAMATAN), record.partition), TotalsChange())
        if previous is not None:
            change.apply(previous, -1)
        change.apply(new, 1)
        deciding[key] = new
        forms[key] = NewForm(new, judgement, record)
    return BatchChanges(outcomes, forms, totals)
