"""From a raw Kafka record (key, value bytes, headers) to a judged form, or the reason it is rejected.

Pure and total: whatever the bytes, `Decoder.decode` returns a value and never raises. The checks
run in the order of RejectReason; the first that fails decides. A form that passes them all is
authentic; the arithmetic rules then say whether it counts or is held for review.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from rekap.domain.masterdata import MasterData
from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.regions import Tps
from rekap.domain.revisions import Authority
from rekap.domain.rules import arithmetic_problems, master_data_problems
from rekap.domain.signing import CONTENT_TYPE, Verifier
from rekap.domain.tally import MAX_QUOTES, TallyV1, quotes_of
from rekap.domain.terminals import ScopeKind, Terminal

MAX_VALUE_BYTES = 64 * 1024
# A header's value may be null (Kafka's NULLABLE_BYTES); a name that was not UTF-8 on the wire arrives
# with its bytes as surrogate escapes (adapters/kafka/records.py).
Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    def header(self, name: str) -> bytes | None:
        """The last header of that name (as Kafka's lastHeader), or None (absent, or null)."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    detail: str
    tally: TallyV1 | None = None  # when the form could be read at all


@dataclass(frozen=True, slots=True)
class Authentic:
    tally: TallyV1
    tps: Tps
    problems: tuple[QuarantineReason, ...]  # empty: the form counts (as far as the form itself says)
    digest: bytes  # of the counted numbers (TallyV1.content_digest): what a duplicate is compared with
    authority: Authority = Authority.KPPS  # of the terminal that sent it


Decoded = Rejected | Authentic


class Decoder:
    """Judges records against the master data and the registered terminals.

    `verify_signatures=False` is for trusted internal topics only: the terminal and its scope are
    still checked, the signature is not. `clock` gives the time now (seconds since the epoch): a form
    submitted more than `max_clock_skew_s` after it is held. `registry_size`: how many registry leaves the
    master data and terminals given were read at (what the ledger records as each record's basis).
    """

    def __init__(
        self,
        master: MasterData,
        terminals: Mapping[str, Terminal],
        *,
        verify_signatures: bool = True,
        clock: Callable[[], float] = time.time,
        max_clock_skew_s: float = 300.0,
        registry_size: int = 0,
    ) -> None:
        self._master = master
        self._terminals = terminals
        self._verify = verify_signatures
        self._clock = clock
        self._max_clock_skew_us = round(max_clock_skew_s * 1_000_000)
        self.registry_size = registry_size
        self._verifiers: dict[bytes, Verifier] = {}

    @property
    def verifies(self) -> bool:
        return self._verify

    def now_ms(self) -> int:
        """The clock, in the milliseconds a ledger records."""
        return round(self._clock() * 1000)

    def decode(self, record: RawRecord, at_ms: int | None = None) -> Decoded:  # noqa: PLR0911 (a return per reason)
        """The record judged as of `at_ms` (milliseconds since the epoch; now when not given)."""
        unreadable = _unreadable_name(record.headers)
        if unreadable is not None:
            return Rejected(RejectReason.UNREADABLE_RECORD, f"header name {unreadable!r} is not UTF-8")
        value = record.value
        if value is None:
            return Rejected(RejectReason.MALFORMED_JSON, "the record has no value")
        if len(value) > MAX_VALUE_BYTES:
            return Rejected(RejectReason.OVERSIZE, f"{len(value)} bytes, at most {MAX_VALUE_BYTES}")
        content_type = record.header("content-type")
        if content_type is not None and content_type != CONTENT_TYPE:
            shown = content_type[:60].decode(errors="replace")
            return Rejected(RejectReason.SCHEMA_VIOLATION, f"content-type {shown!r}, not application/json")
        # Bound the work before parsing: a form's keys and strings are few, whatever its size.
        quotes = value.count(b'"')
        if quotes > MAX_QUOTES:
            return Rejected(RejectReason.SCHEMA_VIOLATION, f"{quotes} quotes: more keys and strings than a form has")
        try:
            tally = TallyV1.model_validate_json(value)
        except ValidationError as error:
            return why_invalid(error)
        if quotes != quotes_of(tally):
            # The parser kept the last of a repeated key; another parser may keep the first.
            written, read = quotes, quotes_of(tally)
            return Rejected(RejectReason.DUPLICATE_KEY, f"a key is repeated: {written} quotes, {read} in the form read")
        return self._judge(record, value, tally, self.now_ms() if at_ms is None else at_ms)

    def _judge(self, record: RawRecord, value: bytes, tally: TallyV1, at_ms: int) -> Decoded:  # noqa: PLR0911
        if record.key != tally.tps_id.encode():
            shown = record.key[:40].decode(errors="replace") if record.key is not None else None
            return Rejected(RejectReason.KEY_MISMATCH, f"key {shown!r}, tps_id {tally.tps_id}", tally)
        tps = self._master.tps.get(tally.tps_id)
        if tps is None:
            return Rejected(RejectReason.UNKNOWN_TPS, f"no TPS {tally.tps_id}", tally)
        contest = self._master.contests.get(tally.contest_id)
        if contest is None:
            return Rejected(RejectReason.UNKNOWN_CONTEST, f"no contest {tally.contest_id}", tally)
        if not contest.is_held_at(tally.tps_id):
            return Rejected(
                RejectReason.CONTEST_NOT_AT_TPS,
                f"{tally.contest_id} is not held at TPS {tally.tps_id}",
                tally,
            )
        if tally.votes.keys() != contest.choices:
            got, want = sorted(tally.votes), sorted(contest.choices)
            return Rejected(RejectReason.BAD_CHOICES, f"votes for {got}, the contest has {want}", tally)
        terminal = self._terminals.get(tally.terminal_id)
        if terminal is None:
            return Rejected(RejectReason.UNKNOWN_TERMINAL, f"no terminal {tally.terminal_id}", tally)
        if not terminal.active:
            return Rejected(RejectReason.TERMINAL_NOT_AUTHORIZED, f"{terminal.terminal_id} is revoked", tally)
        if not terminal.scope.covers(tally.tps_id):
            detail = f"{terminal.terminal_id} may submit for {terminal.scope}, not TPS {tally.tps_id}"
            return Rejected(RejectReason.TERMINAL_NOT_AUTHORIZED, detail, tally)
        if self._verify and not self._verifier(terminal).verify(value, record.header("signature")):
            return Rejected(RejectReason.BAD_SIGNATURE, f"not signed by {terminal.terminal_id}'s key", tally)
        authority = Authority.PPK if terminal.scope.kind is ScopeKind.KECAMATAN else Authority.KPPS
        latest_us = at_ms * 1000 + self._max_clock_skew_us
        problems = arithmetic_problems(tally) + master_data_problems(tally, tps, latest_us)
        return Authentic(tally, tps, problems, tally.content_digest(), authority)

    def _verifier(self, terminal: Terminal) -> Verifier:
        verifier = self._verifiers.get(terminal.public_key)
        if verifier is None:
            verifier = self._verifiers[terminal.public_key] = Verifier(terminal.public_key)
        return verifier


def is_utf8_name(name: str) -> bool:
    """Whether a header name was UTF-8 on the wire (one that was not holds surrogate escapes)."""
    if name.isascii():
        return True
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unreadable_name(headers: Headers) -> bytes | None:
    """The raw bytes of the first header name that is not UTF-8, if any."""
    for name, _ in headers:
        if not is_utf8_name(name):
            return name.encode(errors="surrogateescape")
    return None


def why_invalid(error: ValidationError) -> Rejected:
    """Why bytes that do not parse as a form are rejected: malformed JSON, or the first schema violation."""
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return Rejected(RejectReason.MALFORMED_JSON, str(first["msg"]))
    where = ".".join(str(part) for part in first["loc"]) or "the value"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return Rejected(RejectReason.SCHEMA_VIOLATION, f"{where}: {first['msg']}{more}")
