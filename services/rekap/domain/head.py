"""The signed election head: at one moment, the registry's tree, each partition's ledger, the master data
and the totals, signed with the election key (docs/audit-bundle.md defines it byte for byte).

A head is a signed note as C2SP's signed-note format writes one (Go's checksum database and the
transparency-log witnesses use it): a body of lines, a blank line, then `— NAME BASE64` where BASE64 is
the key's 4-byte ID and the 64-byte Ed25519 signature of the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rekap.domain.signing import SigningKey, Verifier

ORIGIN = "rekap/election-head/1"
KEY_NAME = "rekap-election"
ENDORSEMENT_CONTEXT = b"rekap/election-key/1\n"  # what the old key signs, before the new key's bytes
HASH = re.compile(r"[0-9a-f]{64}")
NUMBER = re.compile(r"0|[1-9][0-9]{0,18}")
TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
SIGNATURE_PREFIX = "\u2014 "
# The master data files, in the order their digest lists them (the files `rekap masterdata load` reads).
MASTERDATA_FILES = (
    "dataset.csv",
    "provinsi.csv",
    "kabupaten_kota.csv",
    "kecamatan.csv",
    "desa.csv",
    "tps.csv",
    "contests.csv",
    "choices.csv",
)


class HeadError(ValueError):
    """Text that is not a signed election head; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """One partition's ledger: its tree, and the offset it is applied up to (the next one to read)."""

    topic: str
    partition: int
    size: int
    next_offset: int
    root: bytes

    @property
    def partition_key(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class ElectionHead:
    time: datetime  # UTC, to the microsecond
    masterdata: bytes  # masterdata_digest of the files the count judged against
    registry: TreeHead
    ledgers: tuple[LedgerHead, ...]  # sorted by topic, then partition
    totals: bytes  # totals_digest of the totals published

    def body(self) -> bytes:
        lines = [
            ORIGIN,
            f"time {self.time.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}",
            f"masterdata {self.masterdata.hex()}",
            f"registry {self.registry.size} {self.registry.root.hex()}",
            *(f"ledger {h.topic} {h.partition} {h.size} {h.next_offset} {h.root.hex()}" for h in self.ledgers),
            f"totals {self.totals.hex()}",
        ]
        return "".join(line + "\n" for line in lines).encode()

    def ledger(self, topic: str, partition: int) -> LedgerHead | None:
        return next((h for h in self.ledgers if (h.topic, h.partition) == (topic, partition)), None)


@dataclass(frozen=True)
class SignedHead:
    head: ElectionHead
    text: bytes  # the whole note, as published
    key_name: str
    key_id: bytes
    signature: bytes

    def signed_by(self, public_key: bytes) -> bool:
        body = self.head.body()
        return self.key_id == key_id(self.key_name, public_key) and Verifier(public_key).verify_raw(
            body, self.signature
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text).hexdigest()


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note: the first 4 bytes of SHA-256(name, newline, the Ed25519 type byte 0x01, the key)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def sign_head(head: ElectionHead, key: SigningKey, name: str = KEY_NAME) -> bytes:
    body = head.body()
    signature = base64.b64encode(key_id(name, key.public_key) + key.signature(body)).decode()
    return body + f"\n{SIGNATURE_PREFIX}{name} {signature}\n".encode()


def read_head(text: bytes) -> SignedHead:
    """A signed head as published; raises HeadError saying which line is wrong. Its signature is checked by
    `SignedHead.signed_by`, against a key the reader trusts."""
    try:
        note = text.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HeadError(f"not UTF-8 text (byte {error.start})") from None
    body, blank, signature_block = note.partition("\n\n")
    if not blank or not signature_block.endswith("\n"):
        raise HeadError("no blank line then a signature line: not a signed note")
    signatures = signature_block[:-1].split("\n")
    if len(signatures) != 1 or not signatures[0].startswith(SIGNATURE_PREFIX):
        raise HeadError(f"line {body.count(chr(10)) + 3}: one signature line, '— NAME SIGNATURE', expected")
    name, _, encoded = signatures[0][len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        signed = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        signed = b""
    if not name or len(signed) != 68:
        raise HeadError(f"line {body.count(chr(10)) + 3}: the signature is not base64 of a key ID and 64 bytes")
    head = parse_body(body + "\n")
    if head.body() != (body + "\n").encode():
        raise HeadError("the body is not written as this format writes it")
    return SignedHead(head, text, name, signed[:4], signed[4:])


def parse_body(body: str) -> ElectionHead:
    lines = body.split("\n")[:-1]
    if not lines or lines[0] != ORIGIN:
        raise HeadError(f"line 1: {ORIGIN!r} expected")
    if len(lines) < 5:
        raise HeadError(f"{len(lines)} lines: a head has at least 5")
    fields = [line.split(" ") for line in lines]
    expected = ["time", "masterdata", "registry", *(["ledger"] * (len(lines) - 5)), "totals"]
    for number, (words, want) in enumerate(zip(fields[1:], expected, strict=False), 2):
        if words[0] != want:
            raise HeadError(f"line {number}: {want!r} expected, not {words[0][:20]!r}")
    time_ = _one(fields[1], TIME, 2)
    moment = datetime.strptime(time_, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    registry = _words(fields[3], (NUMBER, HASH), 4)
    ledgers = []
    for number, words in enumerate(fields[4:-1], 5):
        topic, partition, size, next_offset, root = _words(words, (TOPIC, NUMBER, NUMBER, NUMBER, HASH), number)
        ledgers.append(LedgerHead(topic, int(partition), int(size), int(next_offset), bytes.fromhex(root)))
    keys = [h.partition_key for h in ledgers]
    if keys != sorted(set(keys)):
        raise HeadError("the ledger lines are not sorted by topic and partition, each once")
    tree = TreeHead(int(registry[0]), bytes.fromhex(registry[1]))
    masterdata, totals = bytes.fromhex(_one(fields[2], HASH, 3)), bytes.fromhex(_one(fields[-1], HASH, len(lines)))
    return ElectionHead(moment, masterdata, tree, tuple(ledgers), totals)


def _one(words: list[str], pattern: re.Pattern[str], number: int) -> str:
    return _words(words, (pattern,), number)[0]


def _words(words: list[str], patterns: tuple[re.Pattern[str], ...], number: int) -> list[str]:
    values = words[1:]
    if len(values) != len(patterns) or not all(p.fullmatch(v) for p, v in zip(patterns, values, strict=True)):
        raise HeadError(f"line {number}: {' '.join(words)[:120]!r} is not a {words[0]} line")
    return values


def endorse(old: SigningKey, new_public_key: bytes) -> bytes:
    """The old election key's signature of a new one (a rotation's `endorsement`)."""
    return old.signature(ENDORSEMENT_CONTEXT + new_public_key)


def endorses(old_public_key: bytes, new_public_key: bytes, endorsement: bytes) -> bool:
    return Verifier(old_public_key).verify_raw(ENDORSEMENT_CONTEXT + new_public_key, endorsement)


def masterdata_digest(file_digests: Mapping[str, str]) -> bytes:
    """SHA-256 of the lines `sha256sum` prints for the master data files, in MASTERDATA_FILES order
    (`file_digests`: file name -> SHA-256 hex of its bytes)."""
    text = "".join(f"{file_digests[name]}  masterdata/{name}\n" for name in MASTERDATA_FILES)
    return hashlib.sha256(text.encode()).digest()


TotalsRow = tuple[str, str, str, int, int, int, int, int, int]  # level, region, contest, then TOTAL_COLUMNS
VotesRow = tuple[str, str, str, str, int]  # level, region, contest, choice, votes
TOTAL_COLUMNS = ("tps_expected", "tps_counted", "tps_quarantined", "valid", "invalid", "ballots_used")


def totals_digest(totals: Iterable[TotalsRow], votes: Iterable[VotesRow]) -> bytes:
    """SHA-256 of a line per totals row (`T level region contest n n n n n n`), then a line per votes row
    (`V level region contest choice n`), each group sorted by its text fields' bytes."""
    digest = hashlib.sha256()
    for row in sorted(totals, key=lambda r: tuple(f.encode() for f in r[:3])):
        digest.update(("T " + " ".join(map(str, row)) + "\n").encode())
    for vote in sorted(votes, key=lambda r: tuple(f.encode() for f in r[:4])):
        digest.update(("V " + " ".join(map(str, vote)) + "\n").encode())
    return digest.digest()
