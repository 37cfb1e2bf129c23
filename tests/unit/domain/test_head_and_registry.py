"""The signed election head (domain/head.py), the registry as a verifier reads it (domain/registry.py) and
a batch's records as leaves of their partitions' ledgers (domain/ledger.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from rekap.domain.head import (
    ElectionHead,
    HeadError,
    LedgerHead,
    TreeHead,
    endorse,
    read_head,
    sign_head,
    totals_digest,
)
from rekap.domain.ledger import Basis, Entry, LedgerEntry, LedgerStart, anchor, record_digest
from rekap.domain.merkle import Frontier, leaf_hash
from rekap.domain.registry import LeafError, Registry
from rekap.domain.signing import SigningKey

KEY = SigningKey.derived(b"test", "election")
HEAD = ElectionHead(
    datetime(2024, 11, 27, 12, 0, 0, 123456, tzinfo=UTC), b"\x01" * 32, TreeHead(7, b"\x02" * 32),
    (LedgerHead("tallies", 0, 5, 6, b"\x03" * 32), LedgerHead("tallies", 1, 0, 0, b"\x04" * 32)), b"\x05" * 32,
)  # fmt: skip


def test_a_head_signs_and_reads_back() -> None:
    text = sign_head(HEAD, KEY)
    signed = read_head(text)
    assert signed.head == HEAD
    assert signed.signed_by(KEY.public_key)
    assert not signed.signed_by(SigningKey.derived(b"test", "someone").public_key)
    assert text.startswith(b"rekap/election-head/1\ntime 2024-11-27T12:00:00.123456Z\n")
    assert b"\n\n\xe2\x80\x94 rekap-election " in text


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda t: t.replace(b"registry 7", b"registry 07"), "line 4"),
        (lambda t: t.replace(b"ledger tallies 1", b"ledger tallies 0"), "sorted"),
        (lambda t: t.replace(b"\n\n", b"\n"), "signed note"),
        (lambda t: t.replace(b"time 2024-11-27T12:00:00.123456Z", b"time yesterday"), "line 2"),
        (lambda t: t + b"\xe2\x80\x94 another AAAA\n", "one signature line"),
        (lambda t: t.replace(b"totals ", b"total "), "'totals' expected"),
        (lambda t: b"\xff" + t, "UTF-8"),
    ],
)
def test_a_head_not_written_as_the_format_says_is_refused(edit, said: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HeadError, match=said):
        read_head(edit(sign_head(HEAD, KEY)))


def test_the_totals_digest_does_not_depend_on_the_rows_order() -> None:
    totals = [
        ("provinsi", "16", "pkwkp-16", 3, 2, 1, 100, 5, 105),
        ("kecamatan", "160101", "pkwkp-16", 1, 1, 0, 50, 1, 51),
    ]
    votes = [("provinsi", "16", "pkwkp-16", "1", 60), ("provinsi", "16", "pkwkp-16", "2", 40)]
    assert totals_digest(totals, votes) == totals_digest(totals[::-1], votes[::-1])
    assert totals_digest(totals, votes) != totals_digest(totals, [(*votes[0][:4], 61), votes[1]])


def leaf(kind: str, at: str = "2024-11-01T00:00:00.000000Z", **fields: object) -> bytes:
    return json.dumps({"at": at, "kind": kind, **fields}).encode()


def register(terminal: str, scope: str = "tps:1671011001003", at: str = "2024-11-01T00:00:00.000000Z") -> bytes:
    public = base64.b64encode(SigningKey.derived(b"t", terminal).public_key).decode()
    return leaf("register", at, terminal_id=terminal, public_key=public, scope=scope)


def test_the_registry_at_a_position_is_what_its_first_leaves_say() -> None:
    registry = Registry()
    for line in (leaf("masterdata", dataset="x", sha256="a" * 64), register("kpps-a"), register("kpps-b"),
                 leaf("revoke", terminal_id="kpps-a"), leaf("masterdata", dataset="x", sha256="b" * 64)):  # fmt: skip
        registry.add(line)
    assert registry.size == 5
    assert "kpps-b" not in registry.terminals_at(2)
    assert registry.terminals_at(3)["kpps-a"].active
    assert not registry.terminals_at(4)["kpps-a"].active
    assert registry.masterdata_at(4) == bytes.fromhex("a" * 64)
    assert registry.masterdata_at(5) == bytes.fromhex("b" * 64)
    assert sorted(registry.terminals_at(3)) == ["kpps-a", "kpps-b"]


@pytest.mark.parametrize(
    ("before", "bad", "said"),
    [
        ([register("kpps-a")], register("kpps-a"), "second time"),
        ([], leaf("revoke", terminal_id="kpps-a"), "not a registered, active terminal"),
        ([register("kpps-a"), leaf("revoke", terminal_id="kpps-a")], leaf("revoke", terminal_id="kpps-a"), "active"),
        ([register("kpps-a", at="2024-11-02T00:00:00.000000Z")], register("kpps-b"), "order"),
        ([], register("kpps-a", scope="kecamatan:12"), "scope"),
        ([], leaf("gap", topic="t", partition=0, first_missing=5, next_offset=5, accepted_by="x", reason=""), "gap"),
        ([], leaf("masterdata", dataset="x", sha256="a" * 64, extra=1), "exactly"),
        ([], b'{"kind": "revoke", "kind": "revoke"}', "repeated"),
        ([], leaf("election_key", name="k", public_key="AAAA", endorsement=None), "32 bytes"),
    ],
)
def test_a_leaf_that_contradicts_the_registry_is_named(before: list[bytes], bad: bytes, said: str) -> None:
    registry = Registry()
    for line in before:
        registry.add(line)
    with pytest.raises(LeafError, match=said):
        registry.add(bad)
    assert registry.size == len(before) + 1, "the leaf is in the tree all the same: its hash is what a head signs"


def test_an_election_key_rotates_only_when_the_one_before_endorses_it() -> None:
    first, second, stranger = (SigningKey.derived(b"k", n) for n in ("1", "2", "3"))

    def key_leaf(key: SigningKey, endorsement: bytes | None) -> bytes:
        return leaf("election_key", name="rekap-election", public_key=base64.b64encode(key.public_key).decode(),
                    endorsement=None if endorsement is None else base64.b64encode(endorsement).decode())  # fmt: skip

    registry = Registry()
    registry.add(key_leaf(first, None))
    with pytest.raises(LeafError, match="did not endorse"):
        registry.add(key_leaf(second, endorse(stranger, second.public_key)))
    registry.add(key_leaf(second, endorse(first, second.public_key)))
    assert [k.public_key for k in registry.keys] == [first.public_key, second.public_key]
    assert registry.key_at(1).public_key == first.public_key  # type: ignore[union-attr]
    assert registry.key_at(3).public_key == second.public_key  # type: ignore[union-attr]


def entry(offset: int) -> LedgerEntry:
    return LedgerEntry(
        offset, 0, b"k", b"v", [("signature", b"s"), ("x", None)], "accepted", None, Basis(3, 1000), None
    )


def given(partition: int, e: LedgerEntry) -> Entry:
    return (partition, e.offset, record_digest(e.key, e.value, e.headers), e.outcome, e.reason, e.basis, e.prior)


def test_a_batch_extends_each_partition_s_ledger_and_counts_the_offsets_kafka_skipped() -> None:
    start = Frontier()
    start.append(leaf_hash(entry(0).leaf()))
    starts = {0: LedgerStart(start, 1), 1: LedgerStart(Frontier(), 0)}
    anchored = anchor([given(0, entry(1)), given(1, entry(0)), given(0, entry(4))], starts)
    assert anchored.skipped == [0, 0, 2]
    assert anchored.last == {0: 2, 1: 1}
    assert anchored.frontiers[0].size == 3
    assert start.size == 1, "the tree it started from is left as it was (a retried batch starts again from it)"
    skipped = LedgerEntry(4, 2, b"k", b"v", [("signature", b"s"), ("x", None)], "accepted", None, Basis(3, 1000), None)
    assert anchored.leaves[2] == leaf_hash(skipped.leaf()), "the skipped offsets are in the leaf"
    with pytest.raises(ValueError, match="behind"):
        anchor([given(0, entry(0))], {0: LedgerStart(start, 1)})


def test_a_leaf_changes_with_every_part_of_the_record_and_its_judgement() -> None:
    base = entry(7)
    variants = [
        LedgerEntry(7, 0, b"K", b"v", base.headers, "accepted", None, base.basis, None),
        LedgerEntry(7, 0, b"k", b"v ", base.headers, "accepted", None, base.basis, None),
        LedgerEntry(7, 0, b"k", b"v", [("signature", b"s")], "accepted", None, base.basis, None),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "stale", None, base.basis, None),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "accepted", None, Basis(4, 1000), None),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "accepted", None, Basis(3, 1001), None),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "accepted", None, Basis(3, 1000, verified=False), None),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "accepted", None, base.basis, ("tallies", 0, 1)),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "accepted", None, base.basis, ("tallies", 1, 1)),
        LedgerEntry(7, 0, b"k", b"v", base.headers, "rejected", "bad_signature", base.basis, None),
        LedgerEntry(7, 0, b"k", b"v", [("signature", b"s"), ("x", b"")], "accepted", None, base.basis, None),
        LedgerEntry(7, 0, b"k", b"v", [("signature", b"s"), ("\udcff", None)], "accepted", None, base.basis, None),
        LedgerEntry(7, 0, None, b"v", base.headers, "accepted", None, base.basis, None),
        LedgerEntry(7, 0, b"", b"v", base.headers, "accepted", None, base.basis, None),
    ]
    leaves = {v.leaf() for v in variants}
    assert len(leaves) == len(variants)
    assert base.leaf() not in leaves
