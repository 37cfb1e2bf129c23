"""Keys, signatures, key files, scopes and contests' choices."""

from __future__ import annotations

import base64

import pytest

from rekap.domain.contests import choices_problem
from rekap.domain.signing import (
    SigningKey,
    Verifier,
    private_key_pem,
    public_key_pem,
    read_private_key,
    read_public_key,
)
from rekap.domain.terminals import Scope, ScopeKind

# RFC 8032, test 1: the secret key, its public key and the signature of the empty message.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_signatures_match_rfc_8032() -> None:
    key = SigningKey(RFC_SEED)
    assert key.public_key == RFC_PUBLIC
    assert base64.b64decode(key.sign(b"")) == RFC_SIGNATURE
    assert Verifier(RFC_PUBLIC).verify(b"", base64.b64encode(RFC_SIGNATURE))


def test_a_signature_verifies_only_its_value_and_key() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    header = key.sign(b"value")
    assert Verifier(key.public_key).verify(b"value", header)
    assert not Verifier(key.public_key).verify(b"valuE", header)
    assert not Verifier(other.public_key).verify(b"value", header)
    assert not Verifier(key.public_key).verify(b"value", None)
    assert not Verifier(key.public_key).verify(b"value", header[:-4])


def test_derived_keys_are_reproducible_and_distinct() -> None:
    assert SigningKey.derived(b"s", "kpps-1").seed == SigningKey.derived(b"s", "kpps-1").seed
    assert SigningKey.derived(b"s", "kpps-1").seed != SigningKey.derived(b"s", "kpps-2").seed
    assert SigningKey.derived(b"s", "kpps-1").seed != SigningKey.derived(b"t", "kpps-1").seed


def test_key_files_round_trip_in_the_openssl_format() -> None:
    key = SigningKey(RFC_SEED)
    pem = private_key_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI")  # PKCS#8, OID 1.3.101.112
    assert read_private_key(pem).seed == RFC_SEED
    assert read_public_key(public_key_pem(RFC_PUBLIC)) == RFC_PUBLIC
    assert read_public_key(base64.b64encode(RFC_PUBLIC).decode()) == RFC_PUBLIC


@pytest.mark.parametrize(
    "text",
    ["", "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", base64.b64encode(b"x" * 33).decode()],
)
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="key"):
        read_public_key(text)


@pytest.mark.parametrize(
    ("text", "covers", "not_covers"),
    [
        ("tps:1671011001003", "1671011001003", "1671011001004"),
        ("kecamatan:167101", "1671011001003", "1671021001003"),
    ],
)
def test_scopes(text: str, covers: str, not_covers: str) -> None:
    scope = Scope.parse(text)
    assert str(scope) == text
    assert scope.covers(covers)
    assert not scope.covers(not_covers)


@pytest.mark.parametrize("text", ["tps:167101", "kecamatan:1671011001003", "desa:1671011001", "1671011001003", "tps:"])
def test_bad_scopes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        Scope.parse(text)


def test_scope_kinds_are_the_two_of_the_contract() -> None:
    assert {k.value for k in ScopeKind} == {"tps", "kecamatan"}


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        (["1", "2", "3"], None),
        (["1", "kolom_kosong"], None),
        (["1"], "kolom kosong"),
        (["1", "2", "kolom_kosong"], "kolom kosong"),
        (["1", "3"], "without gaps"),
        (["2", "3"], "without gaps"),
        (["1", "1", "2"], "twice"),
        (["kolom_kosong"], "at least one pair"),
        ([], "at least one pair"),
    ],
)
def test_contest_choices(choices: list[str], problem: str | None) -> None:
    found = choices_problem(choices)
    assert (found is None) if problem is None else (found is not None and problem in found)
