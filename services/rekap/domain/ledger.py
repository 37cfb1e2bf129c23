"""The ledger of a partition: every record the tabulators applied, in offset order, as a leaf of an
RFC 9162 Merkle tree (domain/merkle.py). A leaf holds the record's exact key, value and headers, the
outcome it was given, and what it was judged against (its *basis*: the registry's size and the clock;
and the deciding form before it), so that no record can be removed, reordered or re-judged without
changing the root every later head signs. docs/audit-bundle.md defines the leaf byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from rekap.domain.decode import Headers
from rekap.domain.merkle import Frontier, leaf_hash

RECORD_LEAF_TAG = b"rekap/record/1\x00"
Coordinates = tuple[str, int, int]  # (topic, partition, offset) of a record
_NULL = struct.pack(">i", -1)
_QUAD = struct.Struct(">qq")
_BASIS = struct.Struct(">qqB")


@dataclass(frozen=True, slots=True)
class Basis:
    """What a decoder judged records against: the first `registry_size` leaves of the registry (the master
    data and terminals it read), its clock at `judged_at_ms`, and whether it checked signatures."""

    registry_size: int
    judged_at_ms: int
    verified: bool = True

    @property
    def judged_at(self) -> float:
        """The clock, in seconds since the epoch, exactly as the decoder used it."""
        return self.judged_at_ms / 1000


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
        """The leaf's bytes (docs/audit-bundle.md, "A record's leaf")."""
        parts = [RECORD_LEAF_TAG, _QUAD.pack(self.offset, self.skipped), _bytes(self.key), _bytes(self.value),
                 struct.pack(">i", len(self.headers))]  # fmt: skip
        for name, value in self.headers:
            parts += (_bytes(name.encode("utf-8", "surrogateescape")), _bytes(value))
        parts += (_bytes(self.outcome.encode()), _bytes(None if self.reason is None else self.reason.encode()),
                  _BASIS.pack(self.basis.registry_size, self.basis.judged_at_ms, self.basis.verified))  # fmt: skip
        if self.prior is None:
            parts.append(_NULL)
        else:
            topic, partition, offset = self.prior
            parts += (_bytes(topic.encode()), struct.pack(">iq", partition, offset))
        return b"".join(parts)


def _bytes(data: bytes | None) -> bytes:
    return _NULL if data is None else struct.pack(">i", len(data)) + data


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


def anchor(entries: Sequence[tuple[int, LedgerEntry]], starts: Mapping[int, LedgerStart]) -> Anchored:
    """Extend each partition's ledger by its records (given as (partition, entry) in offset order within
    each partition, `skipped` still 0: it is worked out here from where the partition stood)."""
    frontiers = {p: start.frontier.copy() for p, start in starts.items()}
    position = {p: start.next_offset for p, start in starts.items()}
    leaves, skipped, last = [], [], {}
    for index, (partition, given) in enumerate(entries):
        gap = given.offset - position[partition]
        if gap < 0:
            raise ValueError(
                f"offset {given.offset} of partition {partition} is behind its ledger ({position[partition]})"
            )
        position[partition] = given.offset + 1
        hashed = leaf_hash((replace(given, skipped=gap) if gap else given).leaf())
        frontiers[partition].append(hashed)
        leaves.append(hashed)
        skipped.append(gap)
        last[partition] = index
    return Anchored(leaves, skipped, {p: frontiers[p] for p in last}, last)
