"""`rekap audit`: the bundle anyone can recount the election from, and the recount."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from rekap.audit.export import export_bundle, manifest_digest
from rekap.audit.verify import verify_bundle
from rekap.cli.common import OPERATOR_DB, SubParsers, add_command, say, with_connection
from rekap.config import Settings

EXPORT = """rekap audit export bundle/                  # the deciding forms, terminals, master data, totals, manifest
rekap audit export bundle/ --all-records    # and every record ever received, with its outcome

Export reads as the operator (REKAP_OPERATOR_DATABASE_URL, or DATABASE_URL), in one snapshot. Publish the
manifest's SHA-256 (printed) beside the bundle: it seals every file. The format: docs/audit-bundle.md.
"""


def register(commands: SubParsers) -> None:
    audit = commands.add_parser("audit", help="the audit bundle: export it, recount from it")
    actions = audit.add_subparsers(title="audit commands", required=True, metavar="ACTION")
    export = add_command(
        actions, "export", export_command, "write the audit bundle into a folder", reads=OPERATOR_DB, example=EXPORT
    )
    export.add_argument("folder", type=Path)
    export.add_argument("--all-records", action="store_true", help="also every record received (records.jsonl)")
    verify = add_command(
        actions,
        "verify",
        verify_command,
        "recount from a bundle alone; exit 0 when all agree",
        reads=(),
        example="rekap audit verify bundle/   # needs nothing but the folder",
    )
    verify.add_argument("folder", type=Path)


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    started = time.monotonic()

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        return await export_bundle(conn, args.folder, all_records=args.all_records,
                                   progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True))  # fmt: skip

    manifest = with_connection(settings, work, user="operator")
    files = manifest["files"]
    size = sum(f["bytes"] for f in files.values())
    took = time.monotonic() - started
    say(f"wrote {args.folder}: {files['forms.jsonl']['rows']:,} deciding forms, {len(files)} files, "
        f"{size / 2**20:,.1f} MiB in {took:.1f} s (snapshot {manifest['snapshot_at']})")  # fmt: skip
    say(f"manifest SHA-256 (publish it with the bundle): {manifest_digest(args.folder)}")
    return 0


def verify_command(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no settings needed)
    started = time.monotonic()
    recount = verify_bundle(args.folder)
    for problem in recount.problems:
        say(f"DISCREPANCY {problem}")
    say(f"{recount.forms:,} forms read: {recount.counted:,} counted, {recount.held:,} held"
        f" ({recount.taken_as_held:,} held for reasons only the full history shows);"
        f" manifest SHA-256 {recount.manifest_sha256}; {time.monotonic() - started:.1f} s")  # fmt: skip
    if recount.agrees:
        say("VERIFIED: every signature, every form and every total agrees")
        return 0
    say(f"NOT VERIFIED: {len(recount.problems):,} discrepancies")
    return 1
