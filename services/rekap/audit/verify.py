"""`rekap audit verify`: the count again, from the bundle alone (no database, no Kafka), trusting nobody who
wrote it: the head's signature under the election key the verifier was given; the registry and every
ledger against the head and against every earlier head kept (anchors); every offset of every partition
accounted for; every record judged again from its exact bytes, against the registry at its position; the
deciding form of every TPS and contest derived from all the records; the totals summed again.

Every discrepancy is named as FILE:LINE: what; a file that cannot be read as its kind is one line, never a
traceback. docs/audit-bundle.md is the format and the trust model."""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rekap.app.photos import stored_name
from rekap.domain.decode import Authentic, Decoder, RawRecord, Rejected
from rekap.domain.head import (
    MASTERDATA_FILES,
    TOTAL_COLUMNS,
    ElectionHead,
    HeadError,
    SignedHead,
    masterdata_digest,
    read_head,
    totals_digest,
)
from rekap.domain.ledger import Basis, LedgerEntry
from rekap.domain.masterdata import MasterData
from rekap.domain.merkle import Frontier, leaf_hash
from rekap.domain.outcomes import judge_form
from rekap.domain.reasons import Outcome, QuarantineReason, RejectReason
from rekap.domain.regions import Level, ancestor
from rekap.domain.registry import LeafError, Registry
from rekap.domain.revisions import MAX_REVISION_STEP, CurrentForm
from rekap.errors import RekapError
from rekap.masterdata.files import MasterDataError, read_master_data_folder

FORMAT = "rekap-audit-bundle/2"
PHOTO_COLUMNS = ("tps_id", "contest_id", "revision", "sheet", "sha256", "bytes", "media_type", "status")
PHOTO_FILES = "photos"
MAX_CLOCK_SKEW_S = 300
LEVELS = (Level.KECAMATAN, Level.KABUPATEN_KOTA, Level.PROVINSI)
# Reasons a verifier may see otherwise within their group: a record that is not a form is not one, whichever
# of these its parser names first (docs/audit-bundle.md, "Judging every record again").
NOT_A_FORM = {"unreadable_record", "oversize", "malformed_json", "schema_violation", "duplicate_key"}
DECIDING = {"accepted", "quarantined"}
NEWLINE = b"\n"
MAX_SKIPPED_SHOWN = 20  # places where offsets held no record, listed one by one (then counted)
Coordinates = tuple[str, int, int]
FormKey = tuple[str, str]


class BundleError(RekapError):
    """The folder is no bundle (no manifest, an unknown format)."""


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was and was not checked, said plainly
    records: int = 0
    counted: int = 0
    held: int = 0
    registry: int = 0
    anchors: int = 0
    photos_named: int = 0  # photos the deciding forms name (photos.csv lists each)
    photo_files: int = 0  # photo files whose bytes are the digest the form names (a bundle with --photos)
    head_sha256: str = ""
    totals: dict[tuple[str, ...], tuple[int, ...]] = field(default_factory=dict)  # recounted, per totals.csv key
    votes: dict[tuple[str, ...], int] = field(default_factory=dict)  # recounted, per votes.csv key

    @property
    def agrees(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Form:
    """An authentic record, as the revision rules and the chain of deciding forms need it."""

    coordinates: Coordinates
    key: FormKey
    form: CurrentForm
    problems: tuple[QuarantineReason, ...]
    outcome: str
    reason: str | None
    prior: Coordinates | None
    line: str  # records.jsonl:N, to name it
    older_master: bool  # judged under an earlier master data version than the head's


@dataclass
class _Partition:
    frontier: Frontier = field(default_factory=Frontier)
    position: int = 0  # the next offset the walk expects, before skipped offsets
    roots: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # size -> (root, position) for anchors


def verify_bundle(folder: Path, election_keys: list[bytes], anchors: list[Path]) -> Verdict:
    """The recount. Raises BundleError for a folder that is no bundle at all."""
    manifest = _manifest(folder)
    verdict = Verdict()
    return _Recount(folder, manifest, election_keys, verdict).run(anchors)


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise BundleError(f"{folder}: no manifest.json (not an audit bundle, or an unfinished one)")
    try:
        manifest: dict[str, Any] = json.loads(path.read_bytes())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        files = None
    if not isinstance(files, dict):
        raise BundleError(f"{path}: not a manifest (a JSON object with files)")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{folder}: format {str(manifest.get('format'))[:40]!r}, this verifier reads {FORMAT}")
    return manifest


class _Recount:
    def __init__(self, folder: Path, manifest: dict[str, Any], keys: list[bytes], verdict: Verdict) -> None:
        self.folder = folder
        self.manifest = manifest
        self.keys = keys
        self.verdict = verdict
        self.registry = Registry()
        self.partitions: dict[tuple[str, int], _Partition] = {}
        self.forms: dict[Coordinates, _Form] = {}
        self.chains: dict[FormKey, list[_Form]] = defaultdict(list)
        self.numbers: dict[Coordinates, tuple[int, int, int, dict[str, int]]] = {}  # of forms that decided
        self.photos: dict[Coordinates, list[tuple[str, str, str, str]]] = {}  # sheet, sha256, bytes, media type
        self.taken: Counter[str] = Counter()
        self.anchors: list[tuple[str, SignedHead]] = []
        self._first = 0  # problems said first

    def problem(self, text: str, *, first: bool = False) -> None:
        """A discrepancy; `first`: one about the head or an anchor, said before the others (what they mean)."""
        if first:
            self.verdict.problems.insert(self._first, text)
            self._first += 1
        else:
            self.verdict.problems.append(text)

    def run(self, anchor_files: list[Path]) -> Verdict:
        self._files()
        signed = self._head()
        self._read_anchors(anchor_files)
        if signed is None:
            return self.verdict
        head = signed.head
        anchors = [anchor.head for _, anchor in self.anchors]
        for anchor in anchors:
            self.registry.keep_roots({anchor.registry.size})
        self._registry(head)
        self._signature(signed)
        master = self._master_data(head)
        if master is None:
            self.problem("masterdata/: cannot be read: the records cannot be judged again, nor the totals summed")
            return self.verdict
        wanted = defaultdict(set)
        for anchor in anchors:
            for ledger in anchor.ledgers:
                wanted[ledger.partition_key].add(ledger.size)
        self._records(head, master, wanted)
        self._ledgers(head)
        deciding = self._chains()
        self._totals(head, master, deciding)
        self._photos(deciding)
        self._say_what_was_taken()
        return self.verdict

    # 1. Every file the manifest lists, as it seals it (a file changed since is named; what a verifier trusts
    # is the signed head, which a resealed manifest does not change).
    def _files(self) -> None:
        for name, described in self.manifest["files"].items():
            path = self.folder / name
            if not path.is_file():
                self.problem(f"{name}: listed in the manifest, missing")
                continue
            digest = _sha256(path)
            if isinstance(described, dict) and digest != described.get("sha256"):
                self.problem(f"{name}: SHA-256 {digest}, the manifest says {described.get('sha256')}")
        for name, value in (("max_clock_skew_s", MAX_CLOCK_SKEW_S), ("max_revision_step", MAX_REVISION_STEP)):
            if self.manifest.get(name) != value:
                self.problem(f"manifest.json: {name} {self.manifest.get(name)!r}; the rules say {value}")

    # 2. The head, and the heads kept earlier.
    def _head(self) -> SignedHead | None:
        path = self.folder / "head.txt"
        try:
            signed = read_head(path.read_bytes())
        except OSError as error:
            self.problem(f"head.txt: cannot be read: {error.strerror}")
            return None
        except HeadError as error:
            self.problem(f"head.txt: {error}")
            return None
        self.verdict.head_sha256 = signed.sha256
        return signed

    def _read_anchors(self, files: list[Path]) -> None:
        for path in files:
            try:
                self.anchors.append((str(path), read_head(path.read_bytes())))
            except OSError as error:
                self.problem(f"{path}: cannot be read: {error.strerror}")
            except HeadError as error:
                self.problem(f"{path}: not a head: {error}")

    # 3. The registry: every leaf well-formed and in order; the tree the head names.
    def _registry(self, head: ElectionHead) -> None:
        lines = 0
        for number, line in _lines(self.folder / "registry.jsonl", self.problem):
            lines = number
            try:
                self.registry.add(line)
            except LeafError as error:
                self.problem(f"registry.jsonl:{number}: {error}")
        self.verdict.registry = lines
        if (self.registry.size, self.registry.frontier.root()) != (head.registry.size, head.registry.root):
            root = self.registry.frontier.root().hex()
            self.problem(
                f"registry.jsonl: {self.registry.size} leaves with root {root}; the head names "
                f"{head.registry.size} with root {head.registry.root.hex()}"
            )

    def _signature(self, signed: SignedHead) -> None:
        """The head signed by the registry's election key at its size, which the verifier's key is, or
        endorsed (through each rotation) by the verifier's key."""
        current = self.registry.key_at(signed.head.registry.size)
        if current is None:
            self.problem("head.txt: the registry names no election key: nothing signs this count", first=True)
            return
        if not signed.signed_by(current.public_key):
            self.problem("head.txt: its signature is not the registry's election key's", first=True)
        chain = [key.public_key for key in self.registry.keys if key.position < signed.head.registry.size]
        if not self.keys:
            self.verdict.notes.append(
                "the head's signature was checked against the key the bundle's own registry "
                "names, not against a key published outside it (--election-key)"
            )
        elif not any(key in chain for key in self.keys):
            self.problem(
                "head.txt: signed by a key that the election key given (--election-key) never endorsed", first=True
            )
        for name, anchor in self.anchors:
            if not any(anchor.signed_by(key) for key in [*self.keys, *chain]):
                self.problem(f"{name}: an anchor not signed by the election key (nor a key it endorsed)", first=True)

    # 4. The master data: the version the head names, which the registry logged last.
    def _master_data(self, head: ElectionHead) -> MasterData | None:
        digests = {}
        for name in MASTERDATA_FILES:
            path = self.folder / "masterdata" / name
            if not path.is_file():
                self.problem(f"masterdata/{name}: missing")
                return None
            digests[name] = _sha256(path)
            data = path.read_bytes()
            if data and not data.endswith(NEWLINE):
                self.problem(
                    f"masterdata/{name}:{data.count(NEWLINE) + 1}: the last line does not end: the file was cut short"
                )
        digest = masterdata_digest(digests)
        if digest != head.masterdata:
            self.problem(
                f"masterdata/: the files' digest {digest.hex()} is not the one the head names "
                f"({head.masterdata.hex()}): the master data was changed"
            )
        logged = self.registry.masterdata_at(head.registry.size)
        if logged != head.masterdata:
            self.problem(
                f"head.txt: names master data {head.masterdata.hex()}, the registry's last version is "
                f"{logged.hex() if logged else 'none'}"
            )
        try:
            return read_master_data_folder(self.folder / "masterdata").master_data()
        except MasterDataError as error:
            self.verdict.problems += [f"masterdata/{p}" for p in error.problems]
            return None

    # 5. Every record: in ledger order, a leaf of its partition's tree, every offset accounted for, judged again.
    def _records(self, head: ElectionHead, master: MasterData, wanted: dict[tuple[str, int], set[int]]) -> None:
        decoders: dict[tuple[int, bool], Decoder] = {}
        last: Coordinates | None = None
        head_master = head.masterdata
        for number, line in _lines(self.folder / "records.jsonl", self.problem):
            where = f"records.jsonl:{number}"
            try:
                entry, topic, partition = _entry(line)
            except (ValueError, KeyError, TypeError, binascii.Error) as error:
                self.problem(f"{where}: not a record line ({type(error).__name__}: {str(error)[:200]})")
                continue
            self.verdict.records += 1
            coordinates = (topic, partition, entry.offset)
            if last is not None and (topic, partition, entry.offset) <= last:
                self.problem(
                    f"{where}: {topic}/{partition}/{entry.offset} after {'/'.join(map(str, last))}: "
                    "records are in topic, partition and offset order, each once"
                )
                continue
            last = coordinates
            tree = self.partitions.setdefault((topic, partition), _Partition())
            self._account(tree, topic, partition, entry, where)
            tree.frontier.append(leaf_hash(entry.leaf()))
            if tree.frontier.size in wanted.get((topic, partition), ()):
                tree.roots[tree.frontier.size] = (tree.frontier.root(), tree.position)
            self._judge(entry, coordinates, master, decoders=decoders, where=where, head_master=head_master)

    def _account(self, tree: _Partition, topic: str, partition: int, entry: LedgerEntry, where: str) -> None:
        """The walk of docs/audit-bundle.md: accepted gaps, then the offsets Kafka gave no record for."""
        self._skip_gaps(tree, topic, partition)
        if entry.offset != tree.position + entry.skipped:
            self.problem(
                f"{where}: offset {entry.offset} of {topic}/{partition}, but the records before it and "
                f"its skipped {entry.skipped} account for offsets up to {tree.position}: "
                f"{entry.offset - tree.position - entry.skipped} unaccounted for"
            )
        if entry.skipped:
            self.taken["skipped"] += entry.skipped
            if self.taken["skipped places"] < MAX_SKIPPED_SHOWN:
                first = entry.offset - entry.skipped
                self.verdict.notes.append(
                    f"{where}: Kafka gave no record for offsets {first} to {entry.offset - 1} "
                    f"of {topic}/{partition}, the tabulator says"
                )
            self.taken["skipped places"] += 1
        tree.position = entry.offset + 1

    def _skip_gaps(self, tree: _Partition, topic: str, partition: int) -> None:
        gaps = {gap.first_missing: gap.next_offset for gap in self.registry.gaps.get((topic, partition), ())}
        while tree.position in gaps:
            self.taken["gap"] += gaps[tree.position] - tree.position
            tree.position = gaps[tree.position]

    def _judge(
        self,
        entry: LedgerEntry,
        coordinates: Coordinates,
        master: MasterData,
        *,
        decoders: dict[tuple[int, bool], Decoder],
        where: str,
        head_master: bytes,
    ) -> None:
        if entry.outcome == Outcome.REJECTED and entry.reason == RejectReason.UNSTORABLE_RECORD:
            self.taken["unstorable"] += 1
            return
        size, verified = entry.basis.registry_size, entry.basis.verified
        if size > self.registry.size:
            self.problem(f"{where}: judged against {size} registry leaves; the registry has {self.registry.size}")
            return
        if not verified:
            self.taken["unverified"] += 1
        decoder = decoders.get((size, verified))
        if decoder is None:
            decoders.clear()  # records come in batches: one registry size after another
            decoder = decoders[(size, verified)] = Decoder(
                master, self.registry.terminals_at(size), verify_signatures=verified, registry_size=size
            )
        decoded = decoder.decode(RawRecord(entry.key, entry.value, entry.headers), entry.basis.judged_at_ms)
        older_master = self.registry.masterdata_at(size) != head_master
        if isinstance(decoded, Rejected):
            if entry.outcome == Outcome.REJECTED and (
                entry.reason == decoded.reason or {entry.reason, decoded.reason} <= NOT_A_FORM
            ):
                return
            said = f"{entry.outcome}{f' ({entry.reason})' if entry.reason else ''}"
            self._differs(
                older_master,
                f"{where}: {said}, but judged again it is rejected ({decoded.reason}: {decoded.detail[:120]})",
            )
            return
        assert isinstance(decoded, Authentic)
        tally = decoded.tally
        form = _Form(
            coordinates,
            (tally.tps_id, tally.contest_id),
            CurrentForm(tally.revision, decoded.digest, decoded.authority),
            decoded.problems,
            entry.outcome,
            entry.reason,
            entry.prior,
            where,
            older_master,
        )
        if older_master:
            self.taken["older_master"] += 1
        self.forms[coordinates] = form
        if entry.outcome in DECIDING:
            self.chains[form.key].append(form)
            self.numbers[coordinates] = (tally.valid, tally.invalid, tally.ballots.used, dict(tally.votes))
            if tally.photos:
                self.photos[coordinates] = [(str(p.sheet), p.sha256, str(p.size), p.media_type) for p in tally.photos]

    def _differs(self, older_master: bool, text: str) -> None:
        if older_master:
            self.taken["older_master_differs"] += 1
            self.verdict.notes.append(f"{text} (judged under an earlier master data version: taken as written)")
        else:
            self.problem(text)

    # 6. Each partition's tree against the head and the anchors; anchors later than the bundle said to be.
    def _ledgers(self, head: ElectionHead) -> None:
        named = {h.partition_key: h for h in head.ledgers}
        for key, tree in sorted(self.partitions.items()):
            self._skip_gaps(tree, *key)
            said = named.get(key)
            if said is None:
                self.problem(f"records.jsonl: partition {key[0]}/{key[1]} has records; the head names no such ledger")
                continue
            if (tree.frontier.size, tree.position, tree.frontier.root()) != (said.size, said.next_offset, said.root):
                self.problem(
                    f"records.jsonl: {key[0]}/{key[1]} holds {tree.frontier.size} records up to offset "
                    f"{tree.position}, root {tree.frontier.root().hex()}; the head names {said.size} up to "
                    f"{said.next_offset}, root {said.root.hex()}"
                )
        for key, said in named.items():
            if key not in self.partitions:
                tree = self.partitions[key] = _Partition()
                self._skip_gaps(tree, *key)
                if (said.size, said.next_offset) != (0, tree.position) or said.root != tree.frontier.root():
                    self.problem(
                        f"records.jsonl: no record of {key[0]}/{key[1]}; the head names {said.size} "
                        f"records up to offset {said.next_offset}"
                    )
        for path, anchor in self.anchors:
            self._anchor(f"{path} ({anchor.head.time:%Y-%m-%d %H:%M:%S} UTC)", anchor.head, head)

    def _anchor(self, name: str, anchor: ElectionHead, head: ElectionHead) -> None:
        larger = anchor.registry.size > head.registry.size or any(
            (h := head.ledger(a.topic, a.partition)) is None or a.size > h.size for a in anchor.ledgers
        )
        if larger and anchor.time > head.time:
            self.verdict.notes.append(f"{name} is later than this bundle's head: it cannot be checked against it")
            return
        if larger:
            self.problem(
                f"{name}: earlier than this bundle's head, yet it holds more (registry {anchor.registry.size} "
                f"leaves, {sum(a.size for a in anchor.ledgers):,} records): leaves or records were removed "
                "since",
                first=True,
            )
            return
        if self.registry.roots.get(anchor.registry.size) != anchor.registry.root:
            self.problem(
                f"{name}: its registry of {anchor.registry.size} leaves is not the first "
                f"{anchor.registry.size} leaves of this bundle's: the registry was changed since",
                first=True,
            )
        for ledger in anchor.ledgers:
            tree = self.partitions.get(ledger.partition_key)
            kept = tree.roots.get(ledger.size) if tree is not None else None
            if ledger.size == 0:
                kept = (Frontier().root(), ledger.next_offset)
            if kept is None or kept[0] != ledger.root:
                self.problem(
                    f"{name}: the ledger of {ledger.topic}/{ledger.partition} at {ledger.size} records is not "
                    "the first records of this bundle's: records were removed, reordered or judged "
                    "otherwise since",
                    first=True,
                )
        self.verdict.anchors += 1
        self.verdict.notes.append(f"{name}: this bundle begins with everything it committed to")

    # 7. The deciding forms: each TPS and contest's one chain of corrections, every outcome judged again.
    def _chains(self) -> dict[FormKey, _Form]:
        for form in self.forms.values():
            prior = self.forms.get(form.prior) if form.prior is not None else None
            if form.prior is not None and (prior is None or prior.key != form.key or prior.outcome not in DECIDING):
                self.problem(
                    f"{form.line}: judged against {'/'.join(map(str, form.prior))}, which is not a deciding "
                    "form of the same TPS and contest"
                )
                continue
            outcome, reason, _ = judge_form(form.form, form.problems, prior.form if prior is not None else None)
            if (outcome.value, reason.value if reason is not None else None) != (form.outcome, form.reason):
                said = f"{form.outcome}{f' ({form.reason})' if form.reason else ''}"
                again = f"{outcome.value}{f' ({reason.value})' if reason else ''}"
                self._differs(
                    form.older_master, f"{form.line}: {said}, but judged again against the form before it, {again}"
                )
        deciding = {}
        for key, chain in self.chains.items():
            starts = [f for f in chain if f.prior is None]
            named = Counter(f.prior for f in chain if f.prior is not None)
            if len(starts) != 1 or any(n > 1 for n in named.values()):
                self.problem(
                    f"{chain[0].line}: the deciding forms of {key[0]} {key[1]} are not one chain of "
                    f"corrections ({len(starts)} first forms, "
                    f"{sum(n > 1 for n in named.values())} forms corrected twice)"
                )
            deciding[key] = max(chain, key=lambda f: (f.form.authority, f.form.revision))
        return deciding

    # 8. The totals: summed from the deciding forms, against totals.csv, votes.csv and the head's digest.
    def _totals(self, head: ElectionHead, master: MasterData, deciding: dict[FormKey, _Form]) -> None:
        totals: dict[tuple[str, str, str], list[int]] = {}
        votes: dict[tuple[str, str, str, str], int] = {}
        for tps_id in master.tps:
            for contest in master.contests_at(tps_id):
                for level in LEVELS:
                    region = (level.value, ancestor(tps_id, level), contest.contest_id)
                    totals.setdefault(region, [0] * len(TOTAL_COLUMNS))[0] += 1
                    for choice in contest.choices:
                        votes.setdefault((*region, choice), 0)
        for form in deciding.values():
            counted = form.outcome == "accepted"
            self.verdict.counted += counted
            self.verdict.held += not counted
            valid, invalid, used, chosen = self.numbers[form.coordinates]
            for level in LEVELS:
                region = (level.value, ancestor(form.key[0], level), form.key[1])
                row = totals.setdefault(region, [0] * len(TOTAL_COLUMNS))
                if not counted:
                    row[2] += 1
                    continue
                row[1] += 1
                row[3] += valid
                row[4] += invalid
                row[5] += used
                for choice, n in chosen.items():
                    votes[(*region, choice)] = votes.get((*region, choice), 0) + n
        recounted_totals = {k: tuple(v) for k, v in totals.items()}
        self.verdict.totals = {tuple(k): v for k, v in recounted_totals.items()}
        self.verdict.votes = {tuple(k): v for k, v in votes.items()}
        self._compare("totals.csv", ("level", "region_code", "contest_id"), TOTAL_COLUMNS, recounted_totals)
        self._compare(
            "votes.csv",
            ("level", "region_code", "contest_id", "choice"),
            ("votes",),
            {k: (v,) for k, v in votes.items()},
        )
        digest = totals_digest(
            [(*k, *v) for k, v in recounted_totals.items()],  # type: ignore[misc]
            [(*k, v) for k, v in votes.items()],
        )
        if digest != head.totals:
            self.problem(f"head.txt: names totals {head.totals.hex()}; the records add up to totals {digest.hex()}")

    # 9. The photos: photos.csv lists exactly the photos the deciding forms name (the forms' signatures bind the
    # digests); with photo files, each one listed as received is there and is the bytes its digest names.
    def _photos(self, deciding: dict[FormKey, _Form]) -> None:
        named: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
        for key, form in deciding.items():
            for sheet, sha256, size, media_type in self.photos.get(form.coordinates, []):
                named[(*key, sheet)] = (str(form.form.revision), sha256, size, media_type)
        self.verdict.photos_named = len(named)
        if "photos.csv" not in self.manifest["files"]:
            if named:
                self.problem(f"photos.csv: missing, and the deciding forms name {len(named):,} photos")
            return
        stated: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
        received: dict[str, str] = {}
        for _, row in _csv_rows(self.folder / "photos.csv", PHOTO_COLUMNS, self.problem):
            stated[(row["tps_id"], row["contest_id"], row["sheet"])] = (
                row["revision"],
                row["sha256"],
                row["bytes"],
                row["media_type"],
            )
            if row["status"] == "received":
                received[row["sha256"]] = row["media_type"]
        for place in sorted(stated.keys() | named.keys()):
            if stated.get(place) != named.get(place):
                self.problem(
                    f"photos.csv {'/'.join(place)}: the bundle says {stated.get(place)}, the deciding form names "
                    f"{named.get(place)}"
                )
        if "photo_files" in self.manifest:
            self._photo_files(received)
        else:
            self.verdict.notes.append(f"{len(named):,} photos named; their files are not in this bundle (--photos)")

    def _photo_files(self, received: dict[str, str]) -> None:
        folder = self.folder / PHOTO_FILES
        expected = {stored_name(sha256, media_type): sha256 for sha256, media_type in received.items()}
        for name, sha256 in sorted(expected.items()):
            path = folder / name
            if not path.is_file():
                self.problem(f"{PHOTO_FILES}/{name}: photos.csv says it is in, the bundle has no such file")
            elif (digest := _sha256(path)) != sha256:
                self.problem(f"{PHOTO_FILES}/{name}: its SHA-256 is {digest}: not the photo the form names")
            else:
                self.verdict.photo_files += 1
        if folder.is_dir():
            extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
            extra = [name for name in extra if name not in expected]
            for name in extra[:20]:
                self.problem(f"{PHOTO_FILES}/{name}: not a photo a deciding form names")

    def _compare(
        self, name: str, keys: tuple[str, ...], columns: tuple[str, ...], recounted: dict[Any, tuple[int, ...]]
    ) -> None:
        stated: dict[Any, tuple[int, ...]] = {}
        for number, row in _csv_rows(self.folder / name, keys + columns, self.problem):
            try:
                stated[tuple(row[k] for k in keys)] = tuple(int(row[c]) for c in columns)
            except ValueError:
                self.problem(f"{name}:{number}: not a row of whole numbers")
        for key in sorted(stated.keys() | recounted.keys()):
            if stated.get(key) != recounted.get(key):
                self.problem(
                    f"{name} {'/'.join(key)}: the bundle says {stated.get(key)}, the records add up to "
                    f"{recounted.get(key)}"
                )

    def _say_what_was_taken(self) -> None:
        said = {
            "unstorable": "records PostgreSQL refused to store (unstorable_record), taken as written",
            "unverified": "records judged without their signatures (a topic declared trusted)",
            "older_master": "records judged under an earlier master data version",
            "older_master_differs": "of them judged otherwise today (taken as written: listed above)",
            "skipped": "offsets Kafka gave no record for (transaction markers), as the tabulator found them",
            "gap": "offsets lost before they were applied, each accepted in the registry",
        }
        for key, text in said.items():
            if self.taken[key]:
                self.verdict.notes.append(f"{self.taken[key]:,} {text}")


def _entry(line: bytes) -> tuple[LedgerEntry, str, int]:
    row = json.loads(line)
    topic, partition = row["topic"], row["partition"]
    _check_types(row)
    headers = [
        (
            base64.b64decode(n, validate=True).decode("utf-8", "surrogateescape"),
            None if v is None else base64.b64decode(v, validate=True),
        )
        for n, v in row["headers"]
    ]
    prior = row["prior"]
    if prior is not None:
        if not (
            isinstance(prior, list)
            and len(prior) == 3
            and isinstance(prior[0], str)
            and all(_is_int(p) for p in prior[1:])
        ):
            raise TypeError("prior is not [topic, partition, offset]")
        prior = (prior[0], prior[1], prior[2])
    entry = LedgerEntry(
        row["offset"],
        row["skipped"],
        _bytes(row["key"]),
        _bytes(row["value"]),
        headers,
        row["outcome"],
        row["reason"],
        Basis(row["registry_size"], row["judged_at_ms"], row["verified"]),
        prior,
    )
    return entry, topic, partition


def _check_types(row: dict[str, Any]) -> None:
    for name in ("partition", "offset", "skipped", "registry_size", "judged_at_ms"):
        if not _is_int(row[name]) or row[name] < 0:
            raise TypeError(f"{name} is not a whole number")
    if not isinstance(row["topic"], str) or not isinstance(row["verified"], bool):
        raise TypeError("topic is not text, or verified not true or false")
    if row["outcome"] not in {o.value for o in Outcome} or not isinstance(row["reason"], str | None):
        raise TypeError("outcome or reason is not one of docs/contract.md's codes")
    if not isinstance(row["headers"], list) or not all(isinstance(h, list) and len(h) == 2 for h in row["headers"]):
        raise TypeError("headers is not a list of [name, value] pairs")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bytes(text: object) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError("key or value is not base64 text or null")
    return base64.b64decode(text, validate=True)


def _lines(path: Path, problem: Any) -> Iterator[tuple[int, bytes]]:
    """Each line (without its newline) and its number; a file that is missing, or does not end in a newline
    (cut short), is said."""
    try:
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith(b"\n"):
                    problem(f"{path.name}:{number}: the last line does not end: the file was cut short")
                    yield number, line
                    return
                yield number, line[:-1]
    except OSError as error:
        problem(f"{path.name}: cannot be read: {error.strerror}")


def _csv_rows(path: Path, columns: tuple[str, ...], problem: Any) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        problem(f"{path.name}: cannot be read: {error.strerror}")
        return
    if data and not data.endswith(b"\n"):
        problem(f"{path.name}:{data.count(NEWLINE) + 1}: the last line does not end: the file was cut short")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        problem(f"{path.name}:{data[: error.start].count(NEWLINE) + 1}: not UTF-8 text")
        return
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(header) != columns:
        problem(f"{path.name}:1: the header is not {','.join(columns)}")
        return
    for row in reader:
        if len(row) != len(columns):
            problem(f"{path.name}:{reader.line_num}: {len(row)} fields, {len(columns)} expected")
            continue
        yield reader.line_num, dict(zip(columns, row, strict=True))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
