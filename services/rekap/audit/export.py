"""`rekap audit export`: the bundle, from one snapshot of the database: the signed election head of that
moment, the registry's leaves and every ledger's records it commits to, the master data and the totals
(docs/audit-bundle.md). A manifest with the SHA-256 of every file is written last: a bundle without one
is an unfinished one."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from rekap.adapters.postgres.audit import CSV_FILES, StoredRecord, snapshot
from rekap.adapters.postgres.connection import Connection
from rekap.app.photos import PhotoStore, stored_name
from rekap.audit.keys import signed_head_now
from rekap.audit.verify import PHOTO_FILES
from rekap.domain.head import read_head
from rekap.domain.revisions import MAX_REVISION_STEP

FORMAT = "rekap-audit-bundle/2"
MAX_CLOCK_SKEW_S = 300  # the tabulator's: a form submitted further ahead of its judging is held
PROGRESS_EVERY = 100_000


@dataclass
class _File:
    """A bundle file being written: its bytes counted and hashed on the way."""

    handle: BinaryIO
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    lines: int = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        self.lines += data.count(b"\n")

    def described(self, rows: int) -> dict[str, Any]:
        return {"sha256": self.sha256.hexdigest(), "bytes": self.size, "rows": rows}


@dataclass(frozen=True)
class Exported:
    """What a bundle written holds: its records and registry leaves, its files and their bytes, the moment of
    its snapshot, and the SHA-256 of its signed head."""

    records: int
    leaves: int
    files: int
    size: int
    snapshot_at: str
    head_sha256: str
    photos: int = 0  # photo files written (under photos/)


async def export_bundle(
    conn: Connection,
    folder: Path,
    key_file: Path,
    *,
    progress: Callable[[str], None] = lambda _: None,
    photos: PhotoStore | None = None,
) -> Exported:
    """Write the bundle into `folder` (made if missing; files in it are replaced), its head signed with the
    election key in `key_file`; its manifest last. With `photos` (where they are kept), every photo a deciding
    form names that is in, under photos/ (by digest: each file's name says its SHA-256)."""
    (folder / "masterdata").mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").unlink(missing_ok=True)  # unfinished until written again, last
    files: dict[str, dict[str, Any]] = {}
    async with snapshot(conn) as reads:
        head_text = await signed_head_now(conn, key_file)  # first: no key, no bundle
        head = read_head(head_text).head
        (folder / "head.txt").write_bytes(head_text)
        files["head.txt"] = {"sha256": hashlib.sha256(head_text).hexdigest(), "bytes": len(head_text), "rows": 1}
        with (folder / "registry.jsonl").open("wb") as handle:
            out = _File(handle)
            async for leaf in reads.registry(head.registry.size):
                out.write(leaf + b"\n")
            files["registry.jsonl"] = out.described(out.lines)
        progress(f"registry: {head.registry.size:,} leaves")
        with (folder / "records.jsonl").open("wb") as handle:
            out = _File(handle)
            async for row in reads.records():
                out.write(orjson.dumps(record_line(row)) + b"\n")
                if out.lines % PROGRESS_EVERY == 0:
                    progress(f"records: {out.lines:,}")
            files["records.jsonl"] = out.described(out.lines)
        for name, query in CSV_FILES.items():
            with (folder / name).open("wb") as handle:
                out = _File(handle)

                async def sink(data: bytes, out: _File = out) -> None:
                    out.write(data)

                await reads.copy_csv(query, sink)
                files[name] = out.described(max(out.lines - 1, 0))
        dataset = await reads.dataset()
        received = await reads.received_photos() if photos is not None else []
    copied = 0
    if photos is not None:
        for sha256, media_type in received:
            copied += await photos.copy_to(
                stored_name(sha256, media_type), folder / PHOTO_FILES / stored_name(sha256, media_type)
            )
        progress(f"photos: {copied:,} of {len(received):,} copied")
    manifest = {
        "format": FORMAT,
        "dataset": dataset,
        "snapshot_at": head.time.isoformat(),
        "max_clock_skew_s": MAX_CLOCK_SKEW_S,
        "max_revision_step": MAX_REVISION_STEP,
        "files": files,
        **({"photo_files": copied} if photos is not None else {}),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Exported(
        records=files["records.jsonl"]["rows"],
        leaves=files["registry.jsonl"]["rows"],
        files=len(files),
        size=sum(f["bytes"] for f in files.values()),
        snapshot_at=head.time.isoformat(),
        head_sha256=files["head.txt"]["sha256"],
        photos=copied,
    )


def record_line(row: StoredRecord) -> dict[str, Any]:
    """A record as records.jsonl holds it: its leaf's parts first, then what is there for people."""
    prior = None if row.prior_topic is None else [row.prior_topic, row.prior_partition, row.prior_offset]
    return {
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "skipped": row.skipped,
        "key": _b64(row.record_key),
        "value": _b64(row.value),
        "headers": row.headers,
        "outcome": row.outcome,
        "reason": row.reason,
        "registry_size": row.registry_size,
        "judged_at_ms": row.judged_at_ms,
        "verified": row.verified,
        "prior": prior,
        "detail": row.detail,
        "kafka_timestamp": _time(row.kafka_timestamp),
        "received_at": _time(row.recorded_at),
        "tps_id": row.tps_id,
        "contest_id": row.contest_id,
        "revision": row.revision,
        "terminal_id": row.terminal_id,
    }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
