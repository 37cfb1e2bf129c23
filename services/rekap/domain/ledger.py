"""The ledger of a partition: every record the tabulators applied, in offset order, as a leaf of an
RFC 9162 Merkle tree (domain/merkle.py). A leaf holds the record's exact key, value and headers, the
outcome it was given, and what it was judged against (its *basis*: the registry's size and the clock;
and the deciding form before it), so that no record can be removed, reordered or re-judged without
changing the root every later head signs. docs/audit-bundle.md defines the leaf byte for byte.

`record_digest` and `record_leaf` are the one definition of those bytes: the tabulator digests each record
while it decodes it (off the batch transaction's path) and makes its leaf in the transaction (a small one:
what could be packed once is, a batch's basis and every code and header name); a verifier rebuilds each
leaf with them from a bundle.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rekap.domain.decode import Headers
from rekap.domain.merkle import Frontier

RECORD_LEAF_TAG = b"rekap/record/1\x00"
Coordinates = tuple[str, int, int]  # (topic, partition, offset) of a record
_NULL = b"\xff\xff\xff\xff"  # int32 -1: a null
_QUAD = struct.Struct(">qq")
_LENGTH = struct.Struct(">i")
_BASIS = struct.Struct(">qqB")
_PRIOR = struct.Struct(">iq")
_sized: dict[str | None, bytes] = {None: _NULL}  # a code or header name, as its leaf writes it (int32 length, bytes)


@dataclass(frozen=True, slots=True)
class Basis:
    """What a decoder judged records against: the first `registry_size` leaves of the registry (the master
    data and terminals it read), its clock at `judged_at_ms`, and whether it checked signatures."""

    registry_size: int
    judged_at_ms: int
    verified: bool = True
    packed: bytes = field(init=False, repr=False, compare=False)  # as its leaves write it

    def __post_init__(self) -> None:
        object.__setattr__(self, "packed", _BASIS.pack(self.registry_size, self.judged_at_ms, self.verified))


def record_digest(key: bytes | None, value: bytes | None, headers: Headers) -> bytes:
    """SHA-256 of a record's exact key, value and headers (docs/audit-bundle.md, "A record's leaf"): what its
    leaf holds of the record. The tabulator makes it while decoding, off the batch transaction's path."""
    parts = [
        _NULL if key is None else _LENGTH.pack(len(key)),
        key or b"",
        _NULL if value is None else _LENGTH.pack(len(value)),
        value or b"",
        _LENGTH.pack(len(headers)),
    ]
    for name, data in headers:
        parts += (_text(name), _NULL if data is None else _LENGTH.pack(len(data)), data or b"")
    return hashlib.sha256(b"".join(parts)).digest()


def record_leaf(  # noqa: PLR0917 (positional: it runs for every record, in the batch's transaction)
    offset: int,
    skipped: int,
    digest: bytes,
    outcome: str,
    reason: str | None,
    basis: Basis,
    prior: Coordinates | None,
) -> bytes:
    """A record's leaf (docs/audit-bundle.md, "A record's leaf"): where it is, its digest, its judgement."""
    parts = [RECORD_LEAF_TAG, _QUAD.pack(offset, skipped), digest, _text(outcome), _text(reason), basis.packed]
    if prior is None:
        parts.append(_NULL)
    else:
        parts += (_text(prior[0]), _PRIOR.pack(prior[1], prior[2]))
    return b"".join(parts)


def _text(text: str | None) -> bytes:
    """A string (a header's name: as the consumer decoded it, bytes that were not UTF-8 kept as they came)."""
    packed = _sized.get(text)
    if packed is None:
        assert text is not None
        data = text.encode("utf-8", "surrogateescape")
        packed = _LENGTH.pack(len(data)) + data
        if len(_sized) < 10_000:  # codes and header names are few; a hostile terminal's are not kept
            _sized[text] = packed
    return packed


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One record as the ledger keeps it: everything its leaf is made of."""

    offset: int
    skipped: int  # offsets before it Kafka gave no record for (transaction markers), since the last
    key: bytes | None
    value: bytes | None
    headers: Headers
    outcome: str
    reason: str | None
    basis: Basis
    prior: Coordinates | None  # the deciding form it was judged against

    def leaf(self) -> bytes:
        digest = record_digest(self.key, self.value, self.headers)
        return record_leaf(self.offset, self.skipped, digest, self.outcome, self.reason, self.basis, self.prior)


@dataclass(frozen=True, slots=True)
class LedgerStart:
    """Where a partition's ledger stands before a batch: its tree, and the offset it is applied up to."""

    frontier: Frontier
    next_offset: int


@dataclass(frozen=True)
class Anchored:
    """A batch's records in the ledger: each one's leaf hash and skipped offsets (in the batch's order),
    and each partition's tree after it, to keep with its last record (`last`: that record's index)."""

    leaves: list[bytes]
    skipped: list[int]
    frontiers: dict[int, Frontier]
    last: dict[int, int]


# A record as a batch hands it to `anchor`: partition, offset, record_digest, outcome, reason, basis, prior
# (a tuple: made for every record on the hot path).
Entry = tuple[int, int, bytes, str, str | None, Basis, Coordinates | None]


def anchor(entries: Sequence[Entry], starts: Mapping[int, LedgerStart]) -> Anchored:
    """Extend each partition's ledger by its records (in offset order within each partition); the offsets
    Kafka gave no record for (`skipped`) are worked out here from where each partition stood."""
    frontiers = {p: start.frontier.copy() for p, start in starts.items()}
    position = {p: start.next_offset for p, start in starts.items()}
    sha256 = hashlib.sha256
    leaves, skipped, last = [], [], {}
    for index, (partition, offset, digest, outcome, reason, basis, prior) in enumerate(entries):
        gap = offset - position[partition]
        if gap < 0:
            raise ValueError(f"offset {offset} of partition {partition} is behind its ledger ({position[partition]})")
        position[partition] = offset + 1
        hashed = sha256(b"\x00" + record_leaf(offset, gap, digest, outcome, reason, basis, prior)).digest()
        frontiers[partition].append(hashed)
        leaves.append(hashed)
        skipped.append(gap)
        last[partition] = index
    return Anchored(leaves, skipped, {p: frontiers[p] for p in last}, last)
