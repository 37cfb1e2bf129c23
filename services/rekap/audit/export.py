"""`rekap audit export`: the bundle, from one snapshot of the database, with a manifest of counts and the
SHA-256 of every file (written last: a bundle without a manifest is an unfinished one)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from rekap.adapters.postgres.audit import CSV_FILES, snapshot
from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.stored import stored_header

FORMAT = "rekap-audit-bundle/1"
MAX_CLOCK_SKEW_S = 300  # the tabulator's: a form submitted further ahead of its receipt is held


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


async def export_bundle(
    conn: Connection, folder: Path, *, all_records: bool = False, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Write the bundle into `folder` (made if missing; files in it are replaced). Returns the manifest."""
    (folder / "masterdata").mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    async with snapshot(conn) as reads:
        taken_at, dataset = await reads.taken_at()
        for name, query in CSV_FILES.items():
            with (folder / name).open("wb") as handle:
                out = _File(handle)

                async def sink(data: bytes, out: _File = out) -> None:
                    out.write(data)

                await reads.copy_csv(query, sink)
            files[name] = _described(out, rows=out.lines - 1)
        files["forms.jsonl"] = await _jsonl(folder / "forms.jsonl", reads.forms(), _form_line, progress, "forms")
        if all_records:
            files["records.jsonl"] = await _jsonl(folder / "records.jsonl", reads.records(), _record_line, progress,
                                                  "records")  # fmt: skip
    manifest = {
        "format": FORMAT,
        "dataset": dataset,
        "snapshot_at": _time(taken_at),
        "max_clock_skew_s": MAX_CLOCK_SKEW_S,
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def manifest_digest(folder: Path) -> str:
    """What to publish beside the bundle: the SHA-256 of manifest.json (which holds every file's)."""
    return hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


async def _jsonl(
    path: Path,
    rows: AsyncIterator[dict[str, Any]],
    line: Callable[[dict[str, Any]], dict[str, Any]],
    progress: Callable[[str], None],
    what: str,
) -> dict[str, Any]:
    with path.open("wb") as handle:
        out = _File(handle)
        async for row in rows:
            out.write(json.dumps(line(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
            if out.lines % 100_000 == 0:
                progress(f"{what}: {out.lines:,}")
    return _described(out, rows=out.lines)


def _described(out: _File, rows: int) -> dict[str, Any]:
    return {"sha256": out.sha256.hexdigest(), "bytes": out.size, "rows": rows}


def _form_line(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tps_id": row["tps_id"], "contest_id": row["contest_id"], "revision": row["revision"],
        "status": "counted" if row["status"] == "accepted" else "held", "reasons": list(row["reasons"]),
        "authority": row["authority"], "terminal_id": row["terminal_id"], **_coordinates(row),
        "signature": stored_header(row["headers"], "signature"),
    }  # fmt: skip


def _record_line(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcome": row["outcome"], "reason": row["reason"], "detail": row["detail"], "tps_id": row["tps_id"],
        "contest_id": row["contest_id"], "revision": row["revision"], "terminal_id": row["terminal_id"],
        **_coordinates(row), "headers": row["headers"],
    }  # fmt: skip


def _coordinates(row: dict[str, Any]) -> dict[str, Any]:
    """Where and when the record came, and its exact key and value bytes (base64)."""
    return {
        "topic": row["topic"], "partition": row["partition"], "offset": row["offset"],
        "kafka_timestamp": _time(row["kafka_timestamp"]), "received_at": _time(row["recorded_at"]),
        "key": _b64(row["record_key"]), "value": _b64(row["value"]),
    }  # fmt: skip


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
