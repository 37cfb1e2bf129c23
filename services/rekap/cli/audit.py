"""`rekap audit`: the election key, the audit bundle anyone can recount the election from, the recount, and
the witness that keeps the heads a site publishes."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rekap.audit.keys import describe_key, public_key_of
from rekap.audit.verify import verify_bundle
from rekap.audit.watch import WatchError, watch
from rekap.cli.common import OPERATOR_DB, SubParsers, add_command, say, say_registry
from rekap.config import Settings
from rekap.domain.signing import read_public_key
from rekap.errors import ConfigError
from rekap.wiring import create_election_key, export_bundle, rotate_election_key

EXPORT = """rekap audit export bundle/     # every record, the registry, master data, totals, the signed head

Export reads as the operator (REKAP_OPERATOR_DATABASE_URL, or DATABASE_URL), in one snapshot, and signs its
head with the election key (REKAP_ELECTION_KEY). The format and the trust model: docs/audit-bundle.md.
"""
VERIFY = """rekap audit verify bundle/ --election-key election-key.pem --anchor witness/heads/*.txt

Needs nothing but the folder, the election key KPU published and the heads kept earlier (anchors): without
them the verdict says what could not be checked.
"""
WATCH = """rekap audit watch https://hasil.example/ --keep witness/ --election-key election-key.pem
rekap audit watch .rekap/site --keep witness/      # a site's folder works too

Run it every minute on election night: exit 0 while every head extends the last one kept, 1 on an alarm
(both heads kept in witness/evidence/), 2 when the site cannot be read.
"""
KEY_CREATE = """rekap audit key create    # once, before election day: REKAP_ELECTION_KEY (mode 600), in the registry

A file already there (`openssl genpkey -algorithm ed25519 -out FILE`, mode 600) is taken as the key."""
KEY_ROTATE = """rekap audit key rotate    # a new key, endorsed by the current one; the old file kept beside it"""
KEY_SHOW = """rekap audit key show > election-key.pub.pem    # the public key to publish (PEM), with its key ID"""


def register(commands: SubParsers) -> None:
    audit = commands.add_parser("audit", help="the election key, the audit bundle, the recount, the witness")
    actions = audit.add_subparsers(title="audit commands", required=True, metavar="ACTION")
    key = actions.add_parser("key", help="the election key that signs every election head")
    key_actions = key.add_subparsers(title="key commands", required=True, metavar="ACTION")
    key_reads = (*OPERATOR_DB, "election_key")
    add_command(
        key_actions,
        "create",
        key_create,
        "make the election key (once) and log it in the registry",
        reads=key_reads,
        example=KEY_CREATE,
    )
    add_command(
        key_actions,
        "rotate",
        key_rotate,
        "a new election key, endorsed by the current one",
        reads=key_reads,
        example=KEY_ROTATE,
    )
    add_command(
        key_actions,
        "show",
        key_show,
        "the election key's public half, to publish",
        reads=("election_key",),
        example=KEY_SHOW,
    )
    export = add_command(
        actions,
        "export",
        export_command,
        "write the audit bundle into a folder",
        reads=(*key_reads, "photo_dir"),
        example=EXPORT,
    )
    export.add_argument("folder", type=Path)
    export.add_argument(
        "--photos",
        action="store_true",
        help="also write every photo the deciding forms name that is in (photos/, by digest; from REKAP_PHOTO_DIR)",
    )
    verify = add_command(
        actions,
        "verify",
        verify_command,
        "recount from a bundle alone; exit 0 when all agrees",
        reads=(),
        example=VERIFY,
    )
    verify.add_argument("folder", type=Path)
    add_trust_options(verify)
    witness = add_command(
        actions, "watch", watch_command, "a witness: check and keep a site's new signed heads", reads=(), example=WATCH
    )
    witness.add_argument("source", help="the site's address (https://...) or its folder")
    witness.add_argument("--keep", type=Path, required=True, metavar="FOLDER", help="where the heads are kept")
    witness.add_argument(
        "--election-key",
        type=Path,
        metavar="PEM",
        help="the election key's public key as KPU published it (else the site's)",
    )


def add_trust_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--election-key",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="the election key's public key as KPU published it (once per key trusted)",
    )
    command.add_argument(
        "--anchor",
        type=Path,
        action="append",
        default=[],
        metavar="HEAD",
        nargs="+",
        help="heads kept earlier (a witness's, a site's audit/heads/N.txt)",
    )


def key_create(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no options)
    path = settings.election_key_file
    change = create_election_key(settings)
    made = "its key (the file was there) registered" if change.adopted else "made (mode 600)"
    say(f"election key {path}: {made}; publish its public half, before election day:\n")
    say(describe_key(change.public_key))
    say_registry(change.head)
    return 0


def key_rotate(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no options)
    path = settings.election_key_file
    change = rotate_election_key(settings)
    say(
        f"election key {path}: a new one, endorsed by the last (kept as {change.retired}: destroy it when no "
        "head needs it). Publish the new public half:\n"
    )
    say(describe_key(change.public_key))
    say_registry(change.head)
    return 0


def key_show(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no options)
    sys.stdout.write(describe_key(public_key_of(settings.election_key_file)))
    return 0


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    started = time.monotonic()
    bundle = export_bundle(
        settings, args.folder, lambda text: print(f"  {text}", file=sys.stderr, flush=True), with_photos=args.photos
    )
    took = time.monotonic() - started
    say(
        f"wrote {args.folder}: {bundle.records:,} records, {bundle.leaves:,} registry leaves, {bundle.files} files, "
        f"{bundle.size / 2**20:,.1f} MiB in {took:.1f} s (snapshot {bundle.snapshot_at})"
    )
    if args.photos:
        say(f"photos: {bundle.photos:,} files in {args.folder / 'photos'}, each named by its SHA-256")
    say(f"signed head: {args.folder / 'head.txt'} (SHA-256 {bundle.head_sha256})")
    return 0


def verify_command(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no settings needed)
    started = time.monotonic()
    keys = [_public_key(path) for path in args.election_key]
    anchors = [path for group in args.anchor for path in group]
    verdict = verify_bundle(args.folder, keys, anchors)
    for problem in verdict.problems[:MAX_SHOWN]:
        say(f"DISCREPANCY {problem}")
    if len(verdict.problems) > MAX_SHOWN:
        say(f"DISCREPANCY ... and {len(verdict.problems) - MAX_SHOWN:,} more")
    for note in verdict.notes:
        say(f"note: {note}")
    say(
        f"{verdict.records:,} records judged again, {verdict.registry:,} registry leaves; {verdict.counted:,} "
        f"TPS-races counted, {verdict.held:,} held; {verdict.photos_named:,} photos named, {verdict.photo_files:,} "
        f"photo files checked; {verdict.anchors} anchor(s); head SHA-256 {verdict.head_sha256}; "
        f"{time.monotonic() - started:.1f} s"
    )
    if verdict.agrees:
        anchored = (
            f"anchored to {verdict.anchors} head(s) kept earlier"
            if verdict.anchors
            else "NOT anchored: no earlier head given could be checked"
        )
        keyed = "under the election key given" if keys else "under the bundle's own key (no --election-key)"
        say(f"VERIFIED: every record, signature, ledger and total agrees; signed {keyed}; {anchored}")
        return 0
    say(f"NOT VERIFIED: {len(verdict.problems):,} discrepancies")
    return 1


def watch_command(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no settings needed)
    key = _public_key(args.election_key) if args.election_key else None
    try:
        result = watch(args.source, args.keep, key)
    except WatchError as error:  # nothing shown wrong: the site could not be read (try again in a minute)
        print(f"rekap: {error}", file=sys.stderr)
        return 2
    for line in result.lines:
        say(line)
    if result.alarms:
        say(f"ALARM: {len(result.alarms)} problem(s); the heads are kept in {args.keep}/evidence")
        return 1
    say(f"{len(result.lines)} check(s) passed; the last head kept is {result.kept} ({args.keep}/heads)")
    return 0


MAX_SHOWN = 200


def _public_key(path: Path) -> bytes:
    try:
        return read_public_key(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read: {error}") from None
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
