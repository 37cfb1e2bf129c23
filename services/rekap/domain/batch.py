"""The pure heart of tabulation: a batch of decoded records, and the forms that decide each
(TPS, contest) so far, in; an outcome per record, the new deciding forms, and the changes to every
kecamatan total, out. A correction moves each total by exactly the difference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rekap.domain.decode import Authentic, Decoded, Decoder, Headers, RawRecord, Rejected
from rekap.domain.ledger import Basis, Coordinates, Entry, record_digest
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

    @property
    def coordinates(self) -> Coordinates:
        return (self.topic, self.partition, self.offset)

    @property
    def kafka_time(self) -> datetime | None:
        """When Kafka says the record was made (its timestamp), if it says."""
        return None if self.timestamp_ms is None else datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


# A record, what its decoder made of it, against what (the ledger keeps it), and the digest of its exact
# key, value and headers (its ledger leaf holds it: made here, while the batch before commits).
Judged = tuple[ConsumedRecord, Decoded, Basis, bytes]


def decode_all(decoder: Decoder, records: Sequence[ConsumedRecord]) -> list[Judged]:
    """Each record decoded, with what it was judged against: the decoder's registry and its clock, read
    once for them all (the ledger keeps both, so that a verifier judges each record again as it was)."""
    basis = Basis(decoder.registry_size, decoder.now_ms(), decoder.verifies)
    return [
        (r, decoder.decode(r.raw, basis.judged_at_ms), basis, record_digest(r.key, r.value, r.headers)) for r in records
    ]


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
    record: Coordinates | None = None  # the record it came in

    @classmethod
    def of(cls, judgement: Judgement, record: ConsumedRecord) -> FormState:
        decoded = judgement.decoded
        assert isinstance(decoded, Authentic)
        assert judgement.digest is not None
        tally = decoded.tally
        return cls(
            tally.revision,
            judgement.digest,
            judgement.outcome is Outcome.QUARANTINED,
            tally.valid,
            tally.invalid,
            tally.ballots.used,
            tally.votes,
            decoded.authority,
            record.coordinates,
        )

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
    basis: Basis
    digest: bytes  # of the record's exact key, value and headers (ledger.record_digest)
    prior: Coordinates | None = None  # the deciding form it was judged against (an authentic form's only)

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

    def entries(self) -> list[Entry]:
        """Each record as its partition's ledger takes it (ledger.anchor), in the batch's order."""
        return [
            (o.record.partition, o.record.offset, o.digest, o.judgement.outcome, o.judgement.reason, o.basis, o.prior)
            for o in self.outcomes
        ]


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


def tabulate(batch: Sequence[Judged], current: Mapping[FormKey, FormState]) -> BatchChanges:
    """Judge every record in order against the forms deciding so far (including those this batch
    decided earlier), and sum what changes per (contest, kecamatan, shard)."""
    deciding = dict(current)
    outcomes: list[RecordOutcome] = []
    forms: dict[FormKey, NewForm] = {}
    totals: dict[TotalsKey, TotalsChange] = {}
    for record, decoded, basis, digest in batch:
        key = (decoded.tally.tps_id, decoded.tally.contest_id) if isinstance(decoded, Authentic) else None
        previous = deciding.get(key) if key is not None else None
        judgement = judge(decoded, previous.current if previous is not None else None)
        outcomes.append(RecordOutcome(record, judgement, basis, digest, previous.record if previous else None))
        if key is None or not judgement.becomes_current:
            continue
        new = FormState.of(judgement, record)
        change = totals.setdefault((key[1], ancestor(key[0], Level.KECAMATAN), record.partition), TotalsChange())
        if previous is not None:
            change.apply(previous, -1)
        change.apply(new, 1)
        deciding[key] = new
        forms[key] = NewForm(new, judgement, record)
    return BatchChanges(outcomes, forms, totals)
