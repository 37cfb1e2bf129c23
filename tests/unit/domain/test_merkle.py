"""The Merkle trees of the registry and the ledgers (domain/merkle.py), and the independent verifier's own
(tools/verify_bundle.py): both against Certificate Transparency's published vectors (RFC 6962/9162 trees
of the eight reference inputs), and against RFC 9162's definitions written out literally, for every pair
of sizes up to 40; every proof that should fail, does."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rekap.domain.merkle import EMPTY_ROOT, Frontier, GrownTree, leaf_hash, node_hash, root_of, verify_consistency

INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
LEAVES = [leaf_hash(bytes.fromhex(i)) for i in INPUTS]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
STANDALONE = Path(__file__).resolve().parents[3] / "tools" / "verify_bundle.py"


@pytest.fixture(scope="module")
def standalone() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_bundle", STANDALONE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_bundle"] = module
    spec.loader.exec_module(module)
    return module


# RFC 9162 2.1.1 and 2.1.4.1, written out as the RFC writes them: recursion over the list of leaves.
def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(m, leaves, complete=True) if 0 < m < len(leaves) else []


def subproof(m: int, leaves: list[bytes], *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, leaves[:k], complete=complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], complete=False), mth(leaves[:k])]


def many(n: int) -> list[bytes]:
    return [leaf_hash(bytes([i, i * 7 % 256])) for i in range(n)]


def test_the_roots_are_certificate_transparency_s(standalone: ModuleType) -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    for size in range(9):
        assert root_of(LEAVES[:size]).hex() == ROOTS[size]
        tree = standalone.Tree()
        for leaf in LEAVES[:size]:
            tree.add(leaf)
        assert tree.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_the_consistency_proofs_are_certificate_transparency_s(
    first: int, second: int, expected: list[str], standalone: ModuleType
) -> None:
    before = Frontier()
    before.extend(LEAVES[:first])
    made = GrownTree(before, LEAVES[first:second]).proof()
    assert [p.hex() for p in made] == expected
    roots = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert verify_consistency(first, second, *roots, made)
    assert standalone.consistent(first, second, *roots, made)


def test_every_pair_of_sizes_up_to_40_agrees_with_the_rfc_and_verifies(standalone: ModuleType) -> None:
    leaves = many(40)
    for second in range(41):
        for first in range(second + 1):
            before = Frontier()
            before.extend(leaves[:first])
            grown = GrownTree(before, leaves[first:second])
            made = grown.proof()
            assert made == proof(first, leaves[:second]), (first, second)
            assert grown.after.root() == mth(leaves[:second])
            roots = mth(leaves[:first]), mth(leaves[:second])
            assert verify_consistency(first, second, *roots, made), (first, second)
            assert standalone.consistent(first, second, *roots, made), (first, second)


def test_a_proof_that_should_fail_fails(standalone: ModuleType) -> None:
    leaves = many(33)
    other = many(34)[1:]  # another history of the same sizes
    for second in range(2, 34):
        for first in range(1, second):
            made = proof(first, leaves[:second])
            good = mth(leaves[:first]), mth(leaves[:second])
            for check in (verify_consistency, standalone.consistent):
                assert not check(first, second, mth(other[:first]), good[1], made), "a forked first tree"
                assert not check(first, second, good[0], mth(other[:second]), made), "a forked second tree"
                assert not check(second, first, good[1], good[0], made), "sizes swapped"
                if made:
                    flipped = [bytes([made[0][0] ^ 1]) + made[0][1:], *made[1:]]
                    assert not check(first, second, *good, flipped), "a hash of the proof changed"
                    assert not check(first, second, *good, made[:-1]), "the proof cut short"
                assert not check(first, second, *good, [*made, made[-1] if made else good[0]]), "a hash more"


def test_a_frontier_keeps_the_tree_whole_through_bytes() -> None:
    leaves = many(37)
    tree = Frontier()
    for n, leaf in enumerate(leaves, 1):
        tree.append(leaf)
        again = Frontier.from_bytes(tree.to_bytes())
        assert (again.size, again.root()) == (n, mth(leaves[:n]))
    with pytest.raises(ValueError, match="hashes"):
        Frontier.from_bytes(tree.to_bytes()[:-1])
    assert Frontier.from_bytes(None).root() == EMPTY_ROOT
