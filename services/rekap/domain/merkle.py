"""Merkle trees as RFC 9162 (Certificate Transparency 2.0) defines them, section 2.1: the hashes of the
registry's and each partition's ledger, their roots, and consistency proofs between two sizes.

A tree is kept as its *frontier* (a compact range): the roots of the perfect subtrees that make up its
leaves, one per 1-bit of its size, largest first. Appending a leaf merges equal-sized subtrees; the root
folds them from the right. Nothing else of the tree needs keeping to extend it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_SIZE_BYTES = 8

SubtreeHash = Callable[[int, int], bytes]  # the hash of the leaves [start, end) of one tree


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """The size of the left subtree of a tree of `size` > 1 leaves: the largest power of two below it."""
    return 1 << ((size - 1).bit_length() - 1)


@dataclass
class Frontier:
    """A tree of `size` leaves, as the roots of its perfect subtrees, largest first."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        """Add one leaf, given as its hash (leaf_hash)."""
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self.hashes.pop(), node)
            size >>= 1
        self.hashes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))

    def subtrees(self) -> dict[tuple[int, int], bytes]:
        """Each perfect subtree's leaf range [start, end) and hash."""
        ranges, start = {}, 0
        for bit, node in zip(_bits_high_to_low(self.size), self.hashes, strict=True):
            ranges[(start, start + bit)] = node
            start += bit
        return ranges

    def to_bytes(self) -> bytes:
        """The size (8 bytes, big-endian) and the hashes: as PostgreSQL keeps it."""
        return self.size.to_bytes(_SIZE_BYTES, "big") + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Frontier:
        """The frontier `to_bytes` wrote (None or empty: the empty tree). ValueError if it is not one."""
        if not data:
            return cls()
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        if len(body) != HASH_BYTES * size.bit_count():
            raise ValueError(f"a frontier of {size} leaves holds {size.bit_count()} hashes, not {len(body)} bytes")
        return cls(size, [body[i : i + HASH_BYTES] for i in range(0, len(body), HASH_BYTES)])


def _bits_high_to_low(size: int) -> list[int]:
    return [1 << i for i in reversed(range(size.bit_length())) if size >> i & 1]


def root_of(leaves: Sequence[bytes]) -> bytes:
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


def consistency_proof(first: int, second: int, subtree: SubtreeHash) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(first, D[second]): the hashes that show a tree of `second` leaves begins
    with the tree of its first `first`. `subtree(start, end)` gives the hash of the leaves [start, end);
    it is asked only for perfect subtrees of the first tree's frontier and for ranges at or past `first`."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    if first in (0, second):
        return []
    return _subproof(first, 0, second, subtree, complete=True)


def _subproof(first: int, start: int, end: int, subtree: SubtreeHash, *, complete: bool) -> list[bytes]:
    size = end - start
    if first == size:
        return [] if complete else [subtree(start, end)]
    k = split(size)
    if first <= k:
        return [*_subproof(first, start, start + k, subtree, complete=complete), subtree(start + k, end)]
    return [*_subproof(first - k, start + k, end, subtree, complete=False), subtree(start, start + k)]


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `proof` shows the tree of `second` leaves with root `second_root` begins
    with the tree of `first` leaves with root `first_root`."""
    if not 0 <= first <= second or any(len(p) != HASH_BYTES for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree begins with the empty one
    path = list(proof)
    if not path:
        return False
    if first & (first - 1) == 0:  # a power of two: the first tree is a subtree of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


class GrownTree:
    """A tree known as its frontier at `first` leaves and the leaf hashes after it: enough to prove that
    the grown tree begins with the first (what a site proves between two heads it published)."""

    def __init__(self, before: Frontier, leaves: Sequence[bytes]) -> None:
        self.before = before
        self._known = before.subtrees()
        self._leaves = leaves
        self.after = before.copy()
        self.after.extend(leaves)

    def proof(self) -> list[bytes]:
        return consistency_proof(self.before.size, self.after.size, self._subtree)

    def _subtree(self, start: int, end: int) -> bytes:
        first = self.before.size
        if end <= first:
            return self._known[(start, end)]  # only a frontier subtree is ever asked for (RFC 9162's SUBPROOF)
        if start < first:
            raise ValueError(f"the leaves [{start}, {end}) straddle the first tree's {first}")
        return root_of(self._leaves[start - first : end - first])
