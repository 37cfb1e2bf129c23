#!/usr/bin/env python3
"""A second, independent verifier of a Rekap audit bundle: the Python standard library and one Ed25519
library (PyNaCl), nothing of Rekap. It follows docs/audit-bundle.md only, as an observer's verifier
would, so that Rekap's own (`rekap audit verify`) is not the sole judge of Rekap's count.

    python3 tools/verify_bundle.py BUNDLE --election-key KEY.pem --anchor HEAD.txt ...
        the recount: exit 0 when the signed head, the registry, every ledger, every record judged again
        and every total agree, and the bundle begins with every anchor (a head kept earlier)
    python3 tools/verify_bundle.py --heads OLD.txt NEW.txt --site SITE --election-key KEY.pem
        a witness's check, offline: the site's heads from OLD to NEW each extend the one before

Any Python 3.11 or later with PyNaCl (`pip install pynacl`; the repository's .venv has it). It prints
every discrepancy as FILE:LINE: what, one per line, then what was and was not anchored, then a verdict.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import io
import json
import re
import sys
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

try:
    import nacl.exceptions
    import nacl.signing
except ImportError:  # the one library it needs besides Python's own
    print("verify_bundle.py needs PyNaCl (Ed25519): `python3 -m pip install pynacl`, then run it again",
          file=sys.stderr)  # fmt: skip
    sys.exit(2)

FORMAT = "rekap-audit-bundle/2"
MAX_CLOCK_SKEW_US = 300 * 1_000_000
MAX_REVISION_STEP = 100
MAX_VALUE_BYTES = 65_536
COUNT_MAX = 9_999
REVISION_MAX = 2_147_483_647
REGISTERED_MAX = 600
# Every key and string of a form with the most choices and photos, each in two quotes: 32 keys and 6 strings
# besides the choices; "photos", then 4 keys and 2 strings a photo.
MAX_QUOTES = 2 * (32 + 100 + 6) + 2 + 8 * 2 * (4 + 2)
MAX_PHOTOS = 8
MAX_PHOTO_BYTES = 2 * 1024 * 1024
PHOTO_FIELDS = {"sha256", "bytes", "media_type", "sheet"}
MEDIA_TYPES = {"image/jpeg", "image/png"}
MAX_SHOWN = 200
NEWLINE = b"\n"
LEVELS = (("kecamatan", 6), ("kabupaten_kota", 4), ("provinsi", 2))
TOTAL_COLUMNS = ("tps_expected", "tps_counted", "tps_quarantined", "valid", "invalid", "ballots_used")
MASTERDATA = ("dataset.csv", "provinsi.csv", "kabupaten_kota.csv", "kecamatan.csv", "desa.csv", "tps.csv",
              "contests.csv", "choices.csv")  # fmt: skip
NOT_A_FORM = {"unreadable_record", "oversize", "malformed_json", "schema_violation", "duplicate_key"}
OUTCOMES = {"accepted", "rejected", "quarantined", "duplicate", "stale"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEX64 = re.compile(r"[0-9a-f]{64}")
NUMBER = re.compile(r"0|[1-9][0-9]{0,18}")
TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
HEAD_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
TERMINAL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
TPS_ID = re.compile(r"[0-9]{13}")
CONTEST_ID = re.compile(r"(pkwkp-[0-9]{2}|pkwkk-[0-9]{4})")
CHOICE = re.compile(r"([1-9][0-9]?|kolom_kosong)")
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
SEXES = {"male", "female"}
FORM_FIELDS = {"schema", "submission_id", "terminal_id", "tps_id", "contest_id", "revision", "submitted_at", "voters",
               "ballots", "votes", "valid", "invalid"}  # fmt: skip


class Bad(Exception):
    """What makes a line of a file not what it must be (said with the file and line)."""


# -- Merkle trees, RFC 9162 section 2.1 ----------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    """A tree grown leaf by leaf, keeping only the roots of its perfect subtrees (one per 1-bit of its size)."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def add(self, hashed: bytes) -> None:
        node, size = hashed, self.size
        while size & 1:
            node = node_hash(self.stack.pop(), node)
            size >>= 1
        self.stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return hashlib.sha256(b"").digest()
        root = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


def consistent(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `proof` shows that the tree of `second` leaves begins with that of `first`."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# -- Signed heads ----------------------------------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def ed25519(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True


class Head:
    """A signed election head, parsed strictly (docs/audit-bundle.md, "The election head")."""

    def __init__(self, text: bytes, name: str) -> None:
        self.name, self.text = name, text
        self.sha256 = hashlib.sha256(text).hexdigest()
        try:
            note = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Bad(f"{name}: not UTF-8 (byte {error.start})") from None
        body, blank, signature = note.partition("\n\n")
        lines = body.split("\n")
        if not blank or not signature.endswith("\n") or "\n" in signature[:-1]:
            raise Bad(f"{name}: not a signed note (body, a blank line, one signature line)")
        if not signature.startswith("\u2014 ") or " " not in signature[2:]:
            raise Bad(f"{name}:{len(lines) + 2}: not a signature line ('— NAME SIGNATURE')")
        self.key_name, encoded = signature[2:-1].split(" ", 1)
        try:
            signed = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            signed = b""
        if len(signed) != 68:
            raise Bad(f"{name}:{len(lines) + 2}: the signature is not base64 of a key ID and 64 bytes")
        self.key_id, self.signature, self.body = signed[:4], signed[4:], (body + "\n").encode()
        if len(lines) < 5 or lines[0] != "rekap/election-head/1":
            raise Bad(f"{name}:1: not a rekap/election-head/1")
        words = [line.split(" ") for line in lines]
        self.time = self._field(words[1], "time", (HEAD_TIME,), 2)[0]
        self.masterdata = self._field(words[2], "masterdata", (HEX64,), 3)[0]
        size, root = self._field(words[3], "registry", (NUMBER, HEX64), 4)
        self.registry = (int(size), root)
        self.ledgers: dict[tuple[str, int], tuple[int, int, str]] = {}
        for number, line in enumerate(words[4:-1], 5):
            topic, partition, size, next_offset, root = self._field(line, "ledger", (TOPIC, NUMBER, NUMBER, NUMBER,
                                                                                     HEX64), number)  # fmt: skip
            key = (topic, int(partition))
            if self.ledgers and key <= list(self.ledgers)[-1]:
                raise Bad(f"{name}:{number}: ledger lines are sorted by topic and partition, each once")
            self.ledgers[key] = (int(size), int(next_offset), root)
        self.totals = self._field(words[-1], "totals", (HEX64,), len(lines))[0]

    def _field(self, words: list[str], what: str, patterns: tuple[re.Pattern[str], ...], number: int) -> list[str]:
        if (
            words[0] != what
            or len(words) != len(patterns) + 1
            or not all(p.fullmatch(w) for p, w in zip(patterns, words[1:], strict=True))
        ):
            raise Bad(f"{self.name}:{number}: not a '{what}' line")
        return words[1:]

    def signed_by(self, public_key: bytes) -> bool:
        return self.key_id == key_id(self.key_name, public_key) and ed25519(public_key, self.body, self.signature)

    def records(self) -> int:
        return sum(size for size, _, _ in self.ledgers.values())


def read_head(path: Path) -> Head:
    try:
        return Head(path.read_bytes(), str(path))
    except OSError as error:
        raise Bad(f"{path}: cannot be read: {error.strerror}") from None


def public_key(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise Bad(f"{path}: cannot be read: {error}") from None
    body = "".join(text.partition("-----BEGIN PUBLIC KEY-----")[2].partition("-----END PUBLIC KEY-----")[0].split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    prefix = bytes.fromhex("302a300506032b6570032100")  # RFC 8410: an Ed25519 public key
    if "BEGIN PUBLIC KEY" not in text or len(der) != 44 or not der.startswith(prefix):
        raise Bad(f"{path}: not an Ed25519 public key in PEM")
    return der[12:]


# -- Reading files, each problem named as FILE:LINE -----------------------------------------------------


class Findings:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.first = 0

    def __call__(self, text: str, first: bool = False) -> None:
        """A discrepancy; `first`: about the head or an anchor, said before the others."""
        if first:
            self.problems.insert(self.first, text)
            self.first += 1
        else:
            self.problems.append(text)


def lines(path: Path, name: str, say: Findings):
    """(number, bytes) of each line; a line not ended by a newline (a file cut short) is said."""
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    say(f"{name}:{number}: the last line does not end: the file was cut short")
                    return
                yield number, line[:-1]
    except OSError as error:
        say(f"{name}: cannot be read: {error.strerror}")


def csv_rows(path: Path, name: str, columns: tuple[str, ...], say: Findings) -> list[tuple[int, list[str]]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        say(f"{name}: cannot be read: {error.strerror}")
        return []
    if data and not data.endswith(b"\n"):
        say(f"{name}:{data.count(NEWLINE) + 1}: the last line does not end: the file was cut short")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        say(f"{name}:{data[: error.start].count(NEWLINE) + 1}: not UTF-8 text")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(header) != columns:
            say(f"{name}:1: the header is not {','.join(columns)}")
            return []
        rows = []
        for row in reader:
            if len(row) != len(columns):
                say(f"{name}:{reader.line_num}: {len(row)} fields, {len(columns)} expected")
                continue
            rows.append((reader.line_num, row))
    except csv.Error as error:
        say(f"{name}:{reader.line_num}: not CSV: {error}")
        return []
    return rows


def whole(text: str, maximum: int | None = None) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]*", text) or (maximum is not None and int(text) > maximum):
        raise ValueError(text)
    return int(text)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- The registry ----------------------------------------------------------------------------------------

LEAF_FIELDS = {
    "masterdata": {"dataset": str, "sha256": str},
    "register": {"terminal_id": str, "public_key": str, "scope": str},
    "revoke": {"terminal_id": str},
    "gap": {"topic": str, "partition": int, "first_missing": int, "next_offset": int, "accepted_by": str,
            "reason": str},
    "election_key": {"name": str, "public_key": str, "endorsement": (str, type(None))},
}  # fmt: skip


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Bad("a key is repeated")
    return dict(pairs)


def b64(text: object, size: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise Bad("not base64 text")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Bad("not base64") from None
    if size is not None and len(data) != size:
        raise Bad(f"not {size} bytes")
    return data


class Registry:
    def __init__(self) -> None:
        self.tree = Tree()
        self.roots: dict[int, bytes] = {0: Tree().root()}
        self.wanted: set[int] = set()
        self.terminals: dict[str, tuple[bytes, str, str, int]] = {}  # id -> (key, kind, code, position)
        self.revoked: dict[str, int] = {}
        self.gaps: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)  # first_missing -> next_offset
        self.masterdata: list[tuple[int, str]] = []
        self.keys: list[tuple[int, bytes]] = []
        self.last_at = ""

    def add(self, leaf: bytes) -> None:
        position = self.tree.size
        self.tree.add(leaf_hash(leaf))
        if self.tree.size in self.wanted:
            self.roots[self.tree.size] = self.tree.root()
        try:
            value = json.loads(leaf.decode("utf-8"), object_pairs_hook=unique_keys)
        except (UnicodeDecodeError, ValueError) as error:
            raise Bad(f"not a JSON object: {error}") from None
        kind = value.get("kind") if isinstance(value, dict) else None
        if kind not in LEAF_FIELDS or set(value) != {"kind", "at", *LEAF_FIELDS[kind]}:
            raise Bad("not a registry leaf: a kind of docs/audit-bundle.md with exactly its fields")
        for field, types in LEAF_FIELDS[kind].items():
            if not isinstance(value[field], types) or isinstance(value[field], bool):
                raise Bad(f"{field} is not of its type")
        at = value["at"]
        if not isinstance(at, str) or not HEAD_TIME.fullmatch(at):
            raise Bad("at is not a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ")
        if at < self.last_at:
            raise Bad(f"logged at {at}, before the leaf before it ({self.last_at})")
        self.last_at = at
        if kind == "masterdata":
            if not HEX64.fullmatch(value["sha256"]):
                raise Bad("sha256 is not 64 hex digits")
            self.masterdata.append((position, value["sha256"]))
        elif kind == "register":
            terminal = value["terminal_id"]
            scope_kind, _, code = value["scope"].partition(":")
            if not TERMINAL_ID.fullmatch(terminal) or terminal in self.terminals:
                raise Bad(f"terminal {terminal[:70]!r} is not an id, or registered twice")
            if not ((scope_kind == "tps" and TPS_ID.fullmatch(code)) or
                    (scope_kind == "kecamatan" and re.fullmatch(r"[0-9]{6}", code))):  # fmt: skip
                raise Bad(f"scope {value['scope'][:40]!r} is not tps:<13 digits> or kecamatan:<6 digits>")
            self.terminals[terminal] = (b64(value["public_key"], 32), scope_kind, code, position)
        elif kind == "revoke":
            terminal = value["terminal_id"]
            if terminal not in self.terminals or terminal in self.revoked:
                raise Bad(f"revokes {terminal[:70]!r}, not a registered, active terminal")
            self.revoked[terminal] = position
        elif kind == "gap":
            if value["partition"] < 0 or not 0 <= value["first_missing"] < value["next_offset"]:
                raise Bad("a gap is offsets first_missing < next_offset of a partition >= 0")
            self.gaps[(value["topic"], value["partition"])][value["first_missing"]] = value["next_offset"]
        else:
            new = b64(value["public_key"], 32)
            if self.keys:
                endorsement = b64(value["endorsement"], 64) if value["endorsement"] is not None else b""
                if not ed25519(self.keys[-1][1], b"rekap/election-key/1\n" + new, endorsement):
                    raise Bad("an election key the key before it did not endorse")
            elif value["endorsement"] is not None:
                raise Bad("the first election key has no endorsement")
            self.keys.append((position, new))

    def terminal_at(self, terminal: str, size: int) -> tuple[str, bytes | None, str, str]:
        """('unknown', ...), ('revoked', ...) or ('active', key, scope kind, scope code) at a registry size."""
        found = self.terminals.get(terminal)
        if found is None or found[3] >= size:
            return "unknown", None, "", ""
        if self.revoked.get(terminal, size) < size:
            return "revoked", None, "", ""
        return "active", found[0], found[1], found[2]

    def masterdata_at(self, size: int) -> str | None:
        return next((d for p, d in reversed(self.masterdata) if p < size), None)


# -- A record judged again (docs/audit-bundle.md, "Judging every record again") --------------------------


def is_count(value: object) -> bool:
    return type(value) is int and 0 <= value <= COUNT_MAX


def exactly(value: object, fields: set[str]) -> dict:
    if not isinstance(value, dict) or set(value) != fields:
        raise Bad("not the fields of tally v1")
    return value


def sexes(value: object) -> tuple[int, int]:
    part = exactly(value, SEXES)
    if not is_count(part["male"]) or not is_count(part["female"]):
        raise Bad("a count is not a whole number from 0 to 9999")
    return part["male"], part["female"]


def parse_form(value: bytes) -> dict:
    """The form, exactly as tally v1 (schemas/tally-v1.schema.json) allows it, or Bad."""
    try:
        form = json.loads(value.decode("utf-8"), object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Bad(f"not JSON: {error}") from None
    exactly(form, FORM_FIELDS | {"photos"} if isinstance(form, dict) and "photos" in form else FORM_FIELDS)
    strings = ("schema", "submission_id", "terminal_id", "tps_id", "contest_id", "submitted_at")
    if not all(isinstance(form[k], str) for k in strings) or form["schema"] != "tally/v1":
        raise Bad("not a tally/v1 form")
    for key, pattern in (("submission_id", UUID_TEXT), ("terminal_id", TERMINAL_ID), ("tps_id", TPS_ID),
                         ("contest_id", CONTEST_ID), ("submitted_at", RFC3339)):  # fmt: skip
        if not pattern.fullmatch(form[key]):
            raise Bad(f"{key} is not written as tally v1 says")
    try:
        moment = datetime.fromisoformat(form["submitted_at"])
    except ValueError:
        raise Bad("submitted_at is not a time") from None
    if type(form["revision"]) is not int or not 1 <= form["revision"] <= REVISION_MAX:
        raise Bad("revision is not a whole number from 1")
    voters = exactly(form["voters"], {"registered", "voted", "disabled_voted"})
    voted = exactly(voters["voted"], {"dpt", "moved_in", "added"})
    numbers = [*sexes(voters["registered"]), *sexes(voted["dpt"]), *sexes(voted["moved_in"]), *sexes(voted["added"]),
               *sexes(voters["disabled_voted"])]  # fmt: skip
    ballots = exactly(form["ballots"], {"received", "used", "damaged", "unused"})
    votes = form["votes"]
    if not isinstance(votes, dict) or not votes or not all(CHOICE.fullmatch(c) for c in votes):
        raise Bad("votes do not name choices")
    if not all(is_count(n) for n in [*ballots.values(), *votes.values(), form["valid"], form["invalid"]]):
        raise Bad("a count is not a whole number from 0 to 9999")
    photos(form)
    form["_numbers"] = (*numbers, ballots["received"], ballots["used"], ballots["damaged"], ballots["unused"],
                        form["valid"], form["invalid"], tuple(sorted(votes.items())))  # fmt: skip
    form["_submitted_us"] = (moment - EPOCH) // timedelta(microseconds=1)
    return form


def photos(form: dict) -> None:
    """The optional photos of a form, as tally v1 allows them (absent, or 1 to 8 of them, one per sheet)."""
    if "photos" not in form:
        return
    photos = form["photos"]
    if not isinstance(photos, list) or not 1 <= len(photos) <= MAX_PHOTOS:
        raise Bad("photos is not a list of 1 to 8 photos")
    for photo in photos:
        exactly(photo, PHOTO_FIELDS)
        if not isinstance(photo["sha256"], str) or not HEX64.fullmatch(photo["sha256"]):
            raise Bad("a photo's sha256 is not 64 lowercase hexadecimal digits")
        if type(photo["bytes"]) is not int or not 1 <= photo["bytes"] <= MAX_PHOTO_BYTES:
            raise Bad("a photo's size is not a whole number of bytes from 1 to 2 MiB")
        if not isinstance(photo["media_type"], str) or photo["media_type"] not in MEDIA_TYPES:
            raise Bad("a photo is not image/jpeg or image/png")
        if type(photo["sheet"]) is not int or not 1 <= photo["sheet"] <= MAX_PHOTOS:
            raise Bad("a photo's sheet is not a whole number from 1 to 8")
    if len({p["sheet"] for p in photos}) != len(photos) or len({p["sha256"] for p in photos}) != len(photos):
        raise Bad("two photos of one sheet, or with one sha256")


def quotes(form: dict) -> int:
    """The quote characters of the form's JSON, each key and string written once."""
    written = 2 * (32 + len(form["votes"]) + 6)
    if "photos" in form:
        written += 2 + len(form["photos"]) * 2 * (4 + 2)
    return written


def header(headers: list[tuple[bytes, bytes | None]], name: bytes) -> bytes | None:
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


MASTER_COLUMNS = {
    "dataset.csv": ("name", "tps_source"), "provinsi.csv": ("code", "name"),
    "kabupaten_kota.csv": ("code", "kind", "name"), "kecamatan.csv": ("code", "name"), "desa.csv": ("code", "name"),
}  # fmt: skip
REGION_DIGITS = {"provinsi.csv": 2, "kabupaten_kota.csv": 4, "kecamatan.csv": 6, "desa.csv": 10}


class Master:
    def __init__(self, folder: Path, say: Findings) -> None:
        self.tps: dict[str, tuple[int, int]] = {}
        self.contests: dict[str, set[str]] = {}
        for name, columns in MASTER_COLUMNS.items():  # not needed to recount, but each row must be one
            rows = csv_rows(folder / name, f"masterdata/{name}", columns, say)
            for number, row in rows:
                digits = REGION_DIGITS.get(name)
                if digits is not None and not re.fullmatch(f"[0-9]{{{digits}}}", row[0]):
                    say(f"masterdata/{name}:{number}: {row[0][:20]!r} is not a code of {digits} digits")
            if name == "dataset.csv" and len(rows) != 1:
                say(f"masterdata/{name}: {len(rows)} rows, one expected")
        for number, row in csv_rows(folder / "tps.csv", "masterdata/tps.csv", ("tps_id", "registered_male",
                                                                                "registered_female"), say):  # fmt: skip
            try:
                if not TPS_ID.fullmatch(row[0]):
                    raise ValueError(row[0])
                self.tps[row[0]] = (whole(row[1], COUNT_MAX), whole(row[2], COUNT_MAX))
            except ValueError:
                say(f"masterdata/tps.csv:{number}: not a TPS row")
        for number, row in csv_rows(folder / "contests.csv", "masterdata/contests.csv", ("contest_id", "name"), say):
            if not CONTEST_ID.fullmatch(row[0]):
                say(f"masterdata/contests.csv:{number}: not a contest id")
                continue
            self.contests[row[0]] = set()
        choices = ("contest_id", "choice", "candidate_name")
        for number, row in csv_rows(folder / "choices.csv", "masterdata/choices.csv", choices, say):
            if row[0] not in self.contests or not CHOICE.fullmatch(row[1]):
                say(f"masterdata/choices.csv:{number}: a choice of no contest, or not a choice")
                continue
            self.contests[row[0]].add(row[1])

    def contests_at(self, tps_id: str) -> list[str]:
        return [c for c in self.contests if tps_id.startswith(c.split("-")[1])]


def judge(  # noqa: PLR0911 (a return per reason, in the decoder's order)
    key: bytes | None, value: bytes | None, headers: list[tuple[bytes, bytes | None]], *, registry: Registry,
    master: Master, size: int, judged_at_ms: int, verified: bool,
) -> tuple[str, object]:  # fmt: skip
    """('rejected', reason) or ('form', the form with its authority and the rules it breaks)."""
    for name, _ in headers:
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            return "rejected", "unreadable_record"
    if value is None:
        return "rejected", "malformed_json"
    if len(value) > MAX_VALUE_BYTES:
        return "rejected", "oversize"
    content_type = header(headers, b"content-type")
    if content_type is not None and content_type != b"application/json":
        return "rejected", "schema_violation"
    if value.count(b'"') > MAX_QUOTES:
        return "rejected", "schema_violation"
    try:
        form = parse_form(value)
    except Bad:
        return "rejected", "schema_violation"
    if value.count(b'"') != quotes(form):
        return "rejected", "duplicate_key"
    tps_id, contest = form["tps_id"], form["contest_id"]
    if key != tps_id.encode():
        return "rejected", "key_mismatch"
    if tps_id not in master.tps:
        return "rejected", "unknown_tps"
    if contest not in master.contests:
        return "rejected", "unknown_contest"
    if not tps_id.startswith(contest.split("-")[1]):
        return "rejected", "contest_not_at_tps"
    if set(form["votes"]) != master.contests[contest]:
        return "rejected", "bad_choices"
    state, public, kind, code = registry.terminal_at(form["terminal_id"], size)
    if state == "unknown":
        return "rejected", "unknown_terminal"
    if state == "revoked" or (tps_id != code if kind == "tps" else tps_id[:6] != code):
        return "rejected", "terminal_not_authorized"
    if verified:
        signature = header(headers, b"signature")
        try:
            raw = base64.b64decode(signature, validate=True) if signature is not None else b""
        except (binascii.Error, ValueError):
            raw = b""
        if not ed25519(public, value, raw):
            return "rejected", "bad_signature"
    form["_authority"] = 2 if kind == "kecamatan" else 1
    form["_problems"] = broken_rules(form, master.tps[tps_id], judged_at_ms)
    return "form", form


def broken_rules(form: dict, dpt: tuple[int, int], judged_at_ms: int) -> list[str]:
    voters, ballots = form["voters"], form["ballots"]
    registered, voted = voters["registered"], voters["voted"]
    dpt_voted = voted["dpt"]
    used = ballots["used"]
    broken = []
    if sum(form["votes"].values()) != form["valid"]:
        broken.append("votes_sum_ne_valid")
    if form["valid"] + form["invalid"] != used:
        broken.append("valid_invalid_ne_used")
    if used != sum(voted[k]["male"] + voted[k]["female"] for k in ("dpt", "moved_in", "added")):
        broken.append("used_ne_voted")
    if ballots["received"] != used + ballots["damaged"] + ballots["unused"]:
        broken.append("ballots_unbalanced")
    if dpt_voted["male"] > registered["male"] or dpt_voted["female"] > registered["female"]:
        broken.append("voted_exceeds_registered")
    if registered["male"] + registered["female"] > REGISTERED_MAX:
        broken.append("registered_exceeds_capacity")
    if (registered["male"], registered["female"]) != dpt:
        broken.append("registered_ne_master_data")
    if form["_submitted_us"] > judged_at_ms * 1000 + MAX_CLOCK_SKEW_US:
        broken.append("submitted_in_future")
    return broken


def against(form: tuple, prior: tuple | None) -> tuple[str, str | None]:
    """The outcome of an authentic form (authority, revision, numbers, rules broken) against the form
    deciding before it."""
    authority, revision, numbers, broken = form
    if prior is not None:
        p_authority, p_revision, p_numbers, _ = prior
        if authority != p_authority:
            if authority < p_authority:
                return "stale", None
        elif revision < p_revision:
            return "stale", None
        elif revision == p_revision:
            return ("duplicate", None) if numbers == p_numbers else ("rejected", "revision_conflict")
    last = prior[1] if prior is not None and prior[0] == authority else 0
    if revision > last + MAX_REVISION_STEP:
        broken = [*broken, "revision_jump"]
    return ("quarantined", broken[0]) if broken else ("accepted", None)


def leaf_of(row: dict) -> bytes:
    """A record's leaf, as docs/audit-bundle.md writes it."""

    def sized(data: bytes | None) -> bytes:
        return b"\xff\xff\xff\xff" if data is None else len(data).to_bytes(4, "big") + data

    def text(value: str | None) -> bytes:
        return sized(None if value is None else value.encode())

    content = [sized(row["_key"]), sized(row["_value"]), len(row["_headers"]).to_bytes(4, "big", signed=True)]
    for name, value in row["_headers"]:
        content += [sized(name), sized(value)]
    parts = [b"rekap/record/1\x00", row["offset"].to_bytes(8, "big", signed=True),
             row["skipped"].to_bytes(8, "big", signed=True), hashlib.sha256(b"".join(content)).digest()]  # fmt: skip
    parts += [text(row["outcome"]), text(row["reason"]), row["registry_size"].to_bytes(8, "big", signed=True),
              row["judged_at_ms"].to_bytes(8, "big", signed=True), bytes([1 if row["verified"] else 0])]  # fmt: skip
    prior = row["prior"]
    if prior is None:
        parts.append(b"\xff\xff\xff\xff")
    else:
        parts += [text(prior[0]), prior[1].to_bytes(4, "big", signed=True), prior[2].to_bytes(8, "big", signed=True)]
    return b"".join(parts)


def record_row(line: bytes) -> dict:
    try:
        row = json.loads(line.decode("utf-8"), object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise Bad(f"not a JSON line: {error}") from None
    if not isinstance(row, dict):
        raise Bad("not a JSON object")
    for name in ("partition", "offset", "skipped", "registry_size", "judged_at_ms"):
        if type(row.get(name)) is not int or not 0 <= row[name] < 2**63:
            raise Bad(f"{name} is not a whole number")
    if not isinstance(row.get("topic"), str) or row.get("outcome") not in OUTCOMES:
        raise Bad("topic or outcome missing")
    if not isinstance(row.get("reason"), str | None) or not isinstance(row.get("verified"), bool):
        raise Bad("reason or verified is not of its type")
    row["_key"] = None if row.get("key") is None else b64(row["key"])
    row["_value"] = None if row.get("value") is None else b64(row["value"])
    headers = row.get("headers")
    if not isinstance(headers, list) or not all(isinstance(h, list) and len(h) == 2 for h in headers):
        raise Bad("headers is not a list of [name, value]")
    row["_headers"] = [(b64(n), None if v is None else b64(v)) for n, v in headers]
    prior = row.get("prior")
    if prior is not None and not (isinstance(prior, list) and len(prior) == 3 and isinstance(prior[0], str)
                                  and all(type(p) is int and 0 <= p < 2**62 for p in prior[1:])):  # fmt: skip
        raise Bad("prior is not [topic, partition, offset]")
    row["prior"] = tuple(prior) if prior is not None else None
    return row


# -- The recount -----------------------------------------------------------------------------------------


def verify(folder: Path, keys: list[bytes], anchors: list[Head], say: Findings) -> dict[str, int]:
    counts = Counter()
    try:
        manifest = json.loads((folder / "manifest.json").read_bytes())
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict):
            raise Bad(f"manifest.json: format {str(manifest.get('format'))[:40]!r}, this verifier reads {FORMAT}")
    except (OSError, ValueError, KeyError, TypeError):
        raise Bad("manifest.json: not a manifest (a JSON object with format and files)") from None
    for name, described in files.items():
        path = folder / name
        if not path.is_file():
            say(f"{name}: listed in the manifest, missing")
        elif not isinstance(described, dict) or sha256_file(path) != described.get("sha256"):
            say(f"{name}: missing or not the file the manifest seals")
    if manifest.get("max_clock_skew_s") != 300 or manifest.get("max_revision_step") != MAX_REVISION_STEP:
        say("manifest.json: the rules' constants are not 300 s and 100 revisions")
    # 1. The head.
    head = Head((folder / "head.txt").read_bytes(), "head.txt") if (folder / "head.txt").is_file() else None
    if head is None:
        raise Bad("head.txt: missing: nothing signs this bundle")
    # 2. The registry.
    registry = Registry()
    registry.wanted = {a.registry[0] for a in anchors}
    for number, line in lines(folder / "registry.jsonl", "registry.jsonl", say):
        try:
            registry.add(line)
        except Bad as error:
            say(f"registry.jsonl:{number}: {error}")
    counts["registry"] = registry.tree.size
    if (registry.tree.size, registry.tree.root().hex()) != head.registry:
        say(f"registry.jsonl: {registry.tree.size} leaves, root {registry.tree.root().hex()}; the head names "
            f"{head.registry[0]}, root {head.registry[1]}")  # fmt: skip
    # 3. Who signed the head, and the anchors.
    chain = [k for p, k in registry.keys if p < head.registry[0]]
    if not chain:
        say("head.txt: the registry names no election key: nothing signs this count", first=True)
    elif not head.signed_by(chain[-1]):
        say("head.txt: its signature is not the registry's election key's", first=True)
    if not keys:
        say.notes.append("the head was checked against the bundle's own election key, not one published outside it")
    elif chain and not any(k in chain for k in keys):
        say("head.txt: signed by a key that the election key given never endorsed", first=True)
    for anchor in anchors:
        if not any(anchor.signed_by(k) for k in [*keys, *chain]):
            say(f"{anchor.name}: not signed by the election key", first=True)
    # 4. The master data.
    digests = {name: sha256_file(folder / "masterdata" / name) if (folder / "masterdata" / name).is_file() else ""
               for name in MASTERDATA}  # fmt: skip
    listing = "".join(f"{digests[n]}  masterdata/{n}\n" for n in MASTERDATA)
    if hashlib.sha256(listing.encode()).hexdigest() != head.masterdata:
        say("masterdata/: the files are not the master data the head names")
    if registry.masterdata_at(head.registry[0]) != head.masterdata:
        say("head.txt: its master data is not the version the registry logged last")
    master = Master(folder / "masterdata", say)
    # 5. The records.
    trees: dict[tuple[str, int], list] = {}  # (topic, partition) -> [tree, position, {size: (root, position)}]
    wanted = defaultdict(set)
    for anchor in anchors:
        for key, (size, _, _) in anchor.ledgers.items():
            wanted[key].add(size)
    forms: dict[tuple[str, int, int], tuple] = {}  # coordinates -> (form key, judged, outcome, reason, prior, line)
    numbers: dict[tuple[str, int, int], tuple] = {}
    named_photos: dict[tuple[str, int, int], list] = {}  # a deciding form's photos: sheet, sha256, bytes, type
    last = None
    for number, line in lines(folder / "records.jsonl", "records.jsonl", say):
        where = f"records.jsonl:{number}"
        try:
            row = record_row(line)
        except Bad as error:
            say(f"{where}: {error}")
            continue
        counts["records"] += 1
        coordinates = (row["topic"], row["partition"], row["offset"])
        if last is not None and coordinates <= last:
            say(f"{where}: not after the record before it (topic, partition, offset order, each once)")
            continue
        last = coordinates
        tree = trees.setdefault(coordinates[:2], [Tree(), 0, {}])
        gaps = registry.gaps.get(coordinates[:2], {})
        while tree[1] in gaps:
            tree[1] = gaps[tree[1]]
        if row["offset"] != tree[1] + row["skipped"]:
            say(f"{where}: offset {row['offset']}, but the records before it and skipped {row['skipped']} account "
                f"for offsets up to {tree[1]}: {row['offset'] - tree[1] - row['skipped']} unaccounted for")  # fmt: skip
        tree[1] = row["offset"] + 1
        if row["skipped"]:
            counts["skipped"] += row["skipped"]
            if counts["skipped places"] < 20:
                say.notes.append(
                    f"{where}: Kafka gave no record for the {row['skipped']} offsets before it, the tabulator says"
                )
            counts["skipped places"] += 1
        tree[0].add(leaf_hash(leaf_of(row)))
        if tree[0].size in wanted[coordinates[:2]]:
            tree[2][tree[0].size] = tree[0].root()
        if row["outcome"] == "rejected" and row["reason"] == "unstorable_record":
            counts["unstorable"] += 1
            continue
        size = row["registry_size"]
        older = registry.masterdata_at(size) != head.masterdata
        verdict, found = judge(row["_key"], row["_value"], row["_headers"], registry=registry, master=master,
                               size=size, judged_at_ms=row["judged_at_ms"], verified=row["verified"])  # fmt: skip
        if verdict == "rejected":
            if row["outcome"] != "rejected" or not (row["reason"] == found or {row["reason"], found} <= NOT_A_FORM):
                text = f"{where}: {row['outcome']} ({row['reason']}), judged again: rejected ({found})"
                (say.notes.append(text + " (under an earlier master data version: taken as written)") if older
                 else say(text))  # fmt: skip
            continue
        form = found
        judged = (form["_authority"], form["revision"], form["_numbers"], form["_problems"])
        forms[coordinates] = ((form["tps_id"], form["contest_id"]), judged, row["outcome"], row["reason"],
                              row["prior"], where, older)  # fmt: skip
        if row["outcome"] in ("accepted", "quarantined"):
            numbers[coordinates] = (form["valid"], form["invalid"], form["ballots"]["used"], form["votes"])
            named_photos[coordinates] = [(str(p["sheet"]), p["sha256"], str(p["bytes"]), p["media_type"])
                                         for p in form.get("photos", [])]  # fmt: skip
    # 6. Each ledger against the head and the anchors.
    for key, (size, next_offset, root) in head.ledgers.items():
        tree = trees.setdefault(key, [Tree(), 0, {}])
        gaps = registry.gaps.get(key, {})
        while tree[1] in gaps:
            tree[1] = gaps[tree[1]]
        if (tree[0].size, tree[1], tree[0].root().hex()) != (size, next_offset, root):
            say(f"records.jsonl: {key[0]}/{key[1]} holds {tree[0].size} records up to offset {tree[1]}; the head "
                f"names {size} up to offset {next_offset}, or another root")  # fmt: skip
    for key in trees.keys() - head.ledgers.keys():
        say(f"records.jsonl: records of {key[0]}/{key[1]}, a ledger the head does not name")
    for anchor in anchors:
        larger = anchor.registry[0] > head.registry[0] or any(
            k not in head.ledgers or s > head.ledgers[k][0] for k, (s, _, _) in anchor.ledgers.items()
        )
        if larger and anchor.time > head.time:
            say.notes.append(f"{anchor.name} is later than this bundle's head: it was not checked")
            continue
        if larger:
            say(
                f"{anchor.name}: earlier than the bundle's head but holding more: leaves or records were removed",
                first=True,
            )
            continue
        if registry.roots.get(anchor.registry[0], b"").hex() != anchor.registry[1]:
            say(
                f"{anchor.name}: the registry it names is not the beginning of this bundle's: it was changed since",
                first=True,
            )
        for key, (size, _, root) in anchor.ledgers.items():
            kept = Tree().root() if size == 0 else trees.get(key, [None, 0, {}])[2].get(size)
            if kept is None or kept.hex() != root:
                say(f"{anchor.name}: the ledger of {key[0]}/{key[1]} at {size} records is not the beginning of "
                    "this bundle's: records were removed, reordered or judged otherwise since", first=True)  # fmt: skip
        counts["anchors"] += 1
        say.notes.append(f"{anchor.name} ({anchor.time}): the bundle begins with everything it committed to")
    # 7. The chains of deciding forms, every authentic record judged against the one before it.
    chains = defaultdict(list)
    for coordinates, (key, judged, outcome, reason, prior, where, older) in forms.items():
        before = forms.get(prior) if prior is not None else None
        if prior is not None and (before is None or before[0] != key or before[2] not in ("accepted", "quarantined")):
            say(f"{where}: judged against {prior}, not a deciding form of the same TPS and contest")
            continue
        again = against(judged, before[1] if before else None)
        if again != (outcome, reason):
            text = f"{where}: {outcome} ({reason}), judged again against the form before it: {again}"
            (say.notes.append(text + " (under an earlier master data version: taken as written)") if older
             else say(text))  # fmt: skip
        if outcome in ("accepted", "quarantined"):
            chains[key].append((judged[0], judged[1], coordinates, outcome, prior, where))
    deciding = {}
    for key, chain in chains.items():
        firsts = sum(1 for c in chain if c[4] is None)
        twice = sum(1 for n in Counter(c[4] for c in chain if c[4] is not None).values() if n > 1)
        if firsts != 1 or twice:
            say(f"{chain[0][5]}: the deciding forms of {key[0]} {key[1]} are not one chain of corrections")
        deciding[key] = max(chain)
    # 8. The totals.
    totals: dict[tuple[str, str, str], list[int]] = {}
    votes: dict[tuple[str, str, str, str], int] = {}
    for tps_id in master.tps:
        for contest in master.contests_at(tps_id):
            for level, digits in LEVELS:
                region = (level, tps_id[:digits], contest)
                totals.setdefault(region, [0] * 6)[0] += 1
                for choice in master.contests[contest]:
                    votes.setdefault((*region, choice), 0)
    for (tps_id, contest), (_, _, coordinates, outcome, _, _) in deciding.items():
        counts["counted" if outcome == "accepted" else "held"] += 1
        valid, invalid, used, chosen = numbers[coordinates]
        for level, digits in LEVELS:
            region = (level, tps_id[:digits], contest)
            row = totals.setdefault(region, [0] * 6)
            if outcome != "accepted":
                row[2] += 1
                continue
            row[1] += 1
            row[3] += valid
            row[4] += invalid
            row[5] += used
            for choice, n in chosen.items():
                votes[(*region, choice)] = votes.get((*region, choice), 0) + n
    compare(folder, "totals.csv", 3, TOTAL_COLUMNS, recounted={k: tuple(v) for k, v in totals.items()}, say=say)
    compare(folder, "votes.csv", 4, ("votes",), recounted={k: (v,) for k, v in votes.items()}, say=say)
    digest = hashlib.sha256()
    for key in sorted(totals, key=lambda k: tuple(f.encode() for f in k)):
        digest.update(("T " + " ".join([*key, *map(str, totals[key])]) + "\n").encode())
    for key in sorted(votes, key=lambda k: tuple(f.encode() for f in k)):
        digest.update(("V " + " ".join([*key, str(votes[key])]) + "\n").encode())
    if digest.hexdigest() != head.totals:
        say("head.txt: the totals it names are not what the records add up to")
    # 9. The photos the deciding forms name: photos.csv lists each; with the photo files, each is its digest's.
    counts["photos"], counts["photo files"] = check_photos(folder, manifest, deciding, named_photos, say)
    for what, text in (
        ("unstorable", "records PostgreSQL refused to store, taken as written"),
        ("skipped", "offsets Kafka gave no record for (transaction markers), as the tabulator found"),
    ):
        if counts[what]:
            say.notes.append(f"{counts[what]:,} {text}")
    return counts


PHOTO_COLUMNS = ("tps_id", "contest_id", "revision", "sheet", "sha256", "bytes", "media_type", "status")
PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


def check_photos(folder: Path, manifest: dict, deciding: dict, named_photos: dict, say: Findings) -> tuple[int, int]:
    """photos.csv against the photos the deciding forms name; with `photo_files` in the manifest, every photo
    listed as received is in photos/AB/SHA256.EXT, and is the bytes of that SHA-256, and no other file is.
    Returns (photos named, photo files checked)."""
    named = {}
    for (tps_id, contest), (_, revision, coordinates, _, _, _) in deciding.items():
        for sheet, sha256, size, media_type in named_photos.get(coordinates, []):
            named[(tps_id, contest, sheet)] = (str(revision), sha256, size, media_type)
    if "photos.csv" not in manifest["files"]:
        if named:
            say(f"photos.csv: missing, and the deciding forms name {len(named)} photos")
        return len(named), 0
    stated, received = {}, {}
    for _, row in csv_rows(folder / "photos.csv", "photos.csv", PHOTO_COLUMNS, say):
        stated[(row[0], row[1], row[3])] = (row[2], row[4], row[5], row[6])
        if row[7] == "received":
            received[row[4]] = row[6]
    for key in sorted(stated.keys() | named.keys()):
        if stated.get(key) != named.get(key):
            say(f"photos.csv {'/'.join(key)}: the bundle says {stated.get(key)}, the deciding form names "
                f"{named.get(key)}")  # fmt: skip
    if "photo_files" not in manifest:
        say.notes.append(f"{len(named)} photos named; their files are not in this bundle")
        return len(named), 0
    checked, expected = 0, {}
    for sha256, media_type in received.items():
        expected[f"{sha256[:2]}/{sha256}.{PHOTO_EXTENSIONS.get(media_type, 'unknown')}"] = sha256
    for name, sha256 in sorted(expected.items()):
        path = folder / "photos" / name
        if not path.is_file():
            say(f"photos/{name}: photos.csv says it is in, the bundle has no such file")
        elif sha256_file(path) != sha256:
            say(f"photos/{name}: its SHA-256 is not the one the form names")
        else:
            checked += 1
    if (folder / "photos").is_dir():
        for path in sorted((folder / "photos").rglob("*")):
            if path.is_file() and str(path.relative_to(folder / "photos")) not in expected:
                say(f"photos/{path.relative_to(folder / 'photos')}: not a photo a deciding form names")
    return len(named), checked


def compare(folder: Path, name: str, width: int, columns: tuple[str, ...], *, recounted: dict, say: Findings) -> None:
    header_ = ("level", "region_code", "contest_id", "choice")[:width] + columns
    stated = {}
    for number, row in csv_rows(folder / name, name, header_, say):
        try:
            stated[tuple(row[:width])] = tuple(whole(v) for v in row[width:])
        except ValueError:
            say(f"{name}:{number}: not a row of whole numbers")
    for key in sorted(stated.keys() | recounted.keys()):
        if stated.get(key) != recounted.get(key):
            say(
                f"{name} {'/'.join(key)}: the bundle says {stated.get(key)}, the records add up to {recounted.get(key)}"
            )


# -- A witness's check of a site's heads, offline ---------------------------------------------------------


def fetch(site: str, path: str) -> bytes:
    if site.startswith(("http://", "https://")):
        with urllib.request.urlopen(site.rstrip("/") + "/" + path, timeout=20) as response:  # noqa: S310
            return response.read()
    return (Path(site) / path).read_bytes()


def walk_heads(old: Head, new: Head, site: str, key: bytes, say: Findings) -> None:
    """Every head the site published from OLD's successor to NEW: signed, naming the one before, consistent."""
    numbers = {}
    latest = json.loads(fetch(site, "audit/heads/latest.json"))["number"]
    for n in range(1, latest + 1):
        numbers[hashlib.sha256(fetch(site, f"audit/heads/{n}.txt")).hexdigest()] = n
    if old.sha256 not in numbers or new.sha256 not in numbers:
        say(f"{old.name if old.sha256 not in numbers else new.name}: not a head the site published: a fork")
        return
    previous = old
    for n in range(numbers[old.sha256] + 1, numbers[new.sha256] + 1):
        head = Head(fetch(site, f"audit/heads/{n}.txt"), f"audit/heads/{n}.txt")
        if not head.signed_by(key):
            say(f"{head.name}: not signed by the election key")
        proof = json.loads(fetch(site, f"audit/heads/{n}.proof.json"))
        if (proof.get("from"), proof.get("to")) != (previous.sha256, head.sha256):
            say(f"audit/heads/{n}.proof.json: not a proof from head {n - 1} to head {n}")
        trees = [("registry", previous.registry[0], head.registry[0], previous.registry[1], head.registry[1],
                  proof.get("registry", {}).get("proof", []))]  # fmt: skip
        given = {(p.get("topic"), p.get("partition")): p.get("proof", []) for p in proof.get("ledgers", [])}
        for key_, (size, _, root) in previous.ledgers.items():
            now = head.ledgers.get(key_)
            if now is None:
                say(f"{head.name}: the ledger of {key_[0]}/{key_[1]} is gone")
                continue
            trees.append((f"ledger {key_[0]}/{key_[1]}", size, now[0], root, now[2], given.get(key_, [])))
        for what, first, second, first_root, second_root, hashes in trees:
            try:
                path = [bytes.fromhex(h) for h in hashes] if first not in (0, second) else []
            except (TypeError, ValueError):
                path = []
            if not consistent(first, second, bytes.fromhex(first_root), bytes.fromhex(second_root), path):
                say(f"audit/heads/{n}.proof.json: the {what} of head {n} does not begin with that of head {n - 1}")
        previous = head
    say.notes.append(f"heads {numbers[old.sha256]} to {numbers[new.sha256]}: each checked against the one before")


def main() -> int:
    parser = argparse.ArgumentParser(description="Verify a Rekap audit bundle (docs/audit-bundle.md).")
    parser.add_argument("bundle", nargs="?", type=Path)
    parser.add_argument("--election-key", type=Path, action="append", default=[], metavar="PEM")
    parser.add_argument("--anchor", type=Path, nargs="+", action="append", default=[], metavar="HEAD")
    parser.add_argument("--heads", type=Path, nargs=2, metavar=("OLD", "NEW"))
    parser.add_argument("--site", help="with --heads: the site (a folder or an address) that published them")
    args = parser.parse_args()
    say = Findings()
    try:
        keys = [public_key(p) for p in args.election_key]
        if args.heads:
            if not args.site or len(keys) != 1:
                parser.error("--heads needs --site and one --election-key")
            walk_heads(read_head(args.heads[0]), read_head(args.heads[1]), args.site, keys[0], say)
            counts = None
        else:
            if args.bundle is None:
                parser.error("a bundle folder, or --heads")
            if not (args.bundle / "manifest.json").is_file():
                print(f"{args.bundle}: no manifest.json: not an audit bundle, or an unfinished one", file=sys.stderr)
                return 2
            anchors = [read_head(p) for group in args.anchor for p in group]
            counts = verify(args.bundle, keys, anchors, say)
    except Bad as error:
        say(str(error))
        counts = None
    except (OSError, ValueError, KeyError, TypeError) as error:
        say(f"cannot be read: {type(error).__name__}: {error}")
        counts = None
    for problem in say.problems[:MAX_SHOWN]:
        print(f"DISCREPANCY {problem}")
    if len(say.problems) > MAX_SHOWN:
        print(f"DISCREPANCY ... and {len(say.problems) - MAX_SHOWN} more")
    for note in say.notes:
        print(f"note: {note}")
    if counts is not None:
        print(
            f"{counts['records']:,} records judged again, {counts['registry']:,} registry leaves; "
            f"{counts['counted']:,} TPS-races counted, {counts['held']:,} held; {counts['photos']:,} photos named, "
            f"{counts['photo files']:,} photo files checked; {counts['anchors']} anchor(s)"
        )
    if say.problems:
        print(f"NOT VERIFIED: {len(say.problems)} discrepancies")
        return 1
    print(
        "VERIFIED"
        + (
            ""
            if args.heads or counts is None or counts["anchors"]
            else " (NOT anchored: no earlier head given could be checked)"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
