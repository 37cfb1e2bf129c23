"""What someone who holds the operator's database and the election key can do to an audit bundle after the
fact: edit its files, then make everything else agree (the head's roots and digests recomputed and signed
again, the manifest sealed again). The verifiers must still catch what matters, by the anchors (heads kept
earlier) where nothing inside the bundle can."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from rekap.audit.keys import read_key_file
from rekap.audit.verify import _entry
from rekap.domain.head import (
    MASTERDATA_FILES,
    TOTAL_COLUMNS,
    ElectionHead,
    LedgerHead,
    TreeHead,
    masterdata_digest,
    read_head,
    sign_head,
    totals_digest,
)
from rekap.domain.merkle import Frontier, leaf_hash
from rekap.domain.signing import SigningKey


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(folder / "records.jsonl")]


def write_records(folder: Path, rows: list[dict[str, Any]]) -> None:
    write_lines(folder / "records.jsonl", [json.dumps(r, separators=(",", ":")).encode() for r in rows])


def registry(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(folder / "registry.jsonl")]


def write_registry(folder: Path, leaves: list[dict[str, Any]]) -> None:
    """As PostgreSQL's jsonb writes them (keys by length, then bytes; ", " and ": ")."""
    ordered = [dict(sorted(leaf.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))) for leaf in leaves]
    write_lines(folder / "registry.jsonl", [json.dumps(leaf, ensure_ascii=False).encode() for leaf in ordered])


def form_of(row: dict[str, Any]) -> dict[str, Any]:
    """The record's form, or {} when its value is none (a malformed record)."""
    try:
        form = json.loads(base64.b64decode(row["value"] or ""))
    except ValueError:
        return {}
    return form if isinstance(form, dict) else {}


def set_form(row: dict[str, Any], form: dict[str, Any], key: SigningKey) -> None:
    """The record's value replaced by `form`, signed with `key`, as a terminal holding it would send it."""
    value = json.dumps(form, separators=(",", ":")).encode()
    row["value"] = base64.b64encode(value).decode()
    signature = base64.b64encode(base64.b64encode(key.signature(value))).decode()
    name = base64.b64encode(b"signature").decode()
    row["headers"] = [[n, signature if n == name else v] for n, v in row["headers"]]


def move_votes(folder: Path, tps_id: str, contest: str, delta: dict[str, int]) -> None:
    """votes.csv as the records now add up: each level's region of the TPS moved by `delta`."""
    path = folder / "votes.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    regions = {("kecamatan", tps_id[:6]), ("kabupaten_kota", tps_id[:4]), ("provinsi", tps_id[:2])}
    for row in rows:
        if (row["level"], row["region_code"]) in regions and row["contest_id"] == contest and row["choice"] in delta:
            row["votes"] = str(int(row["votes"]) + delta[row["choice"]])
    _write_csv(path, rows)


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def resign(folder: Path, key_file: Path, like: ElectionHead | None = None) -> None:
    """The head made anew from the edited files and signed with the election key (each partition where it
    stands in `like`, else where its records end), the manifest sealed."""
    before = like or read_head((folder / "head.txt").read_bytes()).head
    tree = Frontier()
    for line in read_lines(folder / "registry.jsonl"):
        tree.append(leaf_hash(line))
    ledgers: dict[tuple[str, int], Frontier] = {}
    ends: dict[tuple[str, int], int] = {}
    for line in read_lines(folder / "records.jsonl"):
        entry, topic, partition = _entry(line)
        ledgers.setdefault((topic, partition), Frontier()).append(leaf_hash(entry.leaf()))
        ends[(topic, partition)] = entry.offset + 1
    heads = []
    for said in before.ledgers:
        frontier = ledgers.get(said.partition_key, Frontier())
        end = said.next_offset if like is not None else max(ends.get(said.partition_key, 0), said.next_offset)
        heads.append(LedgerHead(said.topic, said.partition, frontier.size, end, frontier.root()))
    with (folder / "totals.csv").open(newline="") as f:
        totals = [(r["level"], r["region_code"], r["contest_id"], *(int(r[c]) for c in TOTAL_COLUMNS))
                  for r in csv.DictReader(f)]  # fmt: skip
    with (folder / "votes.csv").open(newline="") as f:
        votes = [
            (r["level"], r["region_code"], r["contest_id"], r["choice"], int(r["votes"])) for r in csv.DictReader(f)
        ]
    files = {n: hashlib.sha256((folder / "masterdata" / n).read_bytes()).hexdigest() for n in MASTERDATA_FILES}
    head = ElectionHead(before.time, masterdata_digest(files), TreeHead(tree.size, tree.root()), tuple(heads),
                        totals_digest(totals, votes))  # type: ignore[arg-type]  # fmt: skip
    (folder / "head.txt").write_bytes(sign_head(head, read_key_file(key_file)))
    reseal(folder)


def write_totals(
    folder: Path, totals: dict[tuple[str, ...], tuple[int, ...]], votes: dict[tuple[str, ...], int]
) -> None:
    """totals.csv and votes.csv as `totals` and `votes` say (a recount's)."""
    header = ["level", "region_code", "contest_id", *TOTAL_COLUMNS]
    _write_csv(
        folder / "totals.csv", [dict(zip(header, [*k, *map(str, v)], strict=True)) for k, v in sorted(totals.items())]
    )
    header = ["level", "region_code", "contest_id", "choice", "votes"]
    _write_csv(folder / "votes.csv", [dict(zip(header, [*k, str(v)], strict=True)) for k, v in sorted(votes.items())])


def reseal(folder: Path) -> None:
    """The manifest made to match the edited files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, described in manifest["files"].items():
        described["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
