"""`rekap site build` (the public results site, static, from one snapshot; again and again with --watch)
and `rekap site serve` (a local preview)."""

from __future__ import annotations

import argparse
import functools
import http.server
import time
from pathlib import Path

from rekap.cli.common import OPERATOR_DB, SubParsers, add_command, say
from rekap.config import Settings
from rekap.errors import ConfigError, UnavailableError, UsageError
from rekap.wiring import build_site

BUILD = """rekap site build site/                        # the first build: every page
rekap site build site/ --watch 30             # then every 30 s, rewriting only what changed
rekap site build site/ --audit-href audit/    # link the audit bundle (rekap audit export site/audit)

It reads as the operator (the signed forms are in rekap.record), all in one snapshot. Any web server,
object store or CDN serves the folder as it is: see docs/site.md, "Publishing it"."""


def build(settings: Settings, args: argparse.Namespace) -> int:
    if args.folder.exists() and not args.folder.is_dir():
        raise ConfigError(f"{args.folder} is not a folder")
    key: Path | None = settings.election_key_file
    if settings.election_key is None and not settings.election_key_file.exists():
        say(f"No election key ({settings.election_key_file}): no signed head is published (`rekap audit key create`).")
        key = None
    while True:
        started = time.monotonic()
        try:
            report = build_site(
                settings,
                args.folder,
                full=args.full,
                audit_href=args.audit_href,
                election_key=key,
                progress=lambda text: say(f"  {text}"),
            )
        except UnavailableError as error:
            if args.watch is None:
                raise
            say(f"{error} Trying again in {args.watch:g} s; the site stays as it was.")  # a night is long
        else:
            what = "full build" if report.full else f"{report.tps_changed:,} TPS changed"
            say(
                f"{report.taken_at:%H:%M:%S} UTC: {what}; {report.pages_written:,} of {report.pages_made:,} pages "
                f"written, {report.forms_written:,} signed forms; {time.monotonic() - started:.1f} s"
            )
            if report.head is not None:
                head = report.head.head
                say(
                    f"  signed head {report.head.number}{'' if report.head.new else ' (nothing changed: kept)'}: "
                    f"registry {head.registry.size} leaves, {sum(h.size for h in head.ledgers):,} records in "
                    f"{len(head.ledgers)} ledgers (audit/head.txt)"
                )
        if args.watch is None:
            say(f"open {(args.folder / 'index.html').resolve()} (or `rekap site serve {args.folder}`)")
            return 0
        args.full = False
        time.sleep(max(0.0, args.watch - (time.monotonic() - started)))


MAX_PORT = 65535


def serve(settings: Settings, args: argparse.Namespace) -> int:  # noqa: ARG001 (no settings needed)
    if not (args.folder / "index.html").is_file():
        raise ConfigError(f"{args.folder} holds no site: `rekap site build {args.folder}` first")
    if not 0 <= args.port <= MAX_PORT:
        raise UsageError(f"--port {args.port}: a port is a number from 0 to {MAX_PORT}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(args.folder))
    try:
        server = http.server.ThreadingHTTPServer((args.bind, args.port), handler)
    except OSError as error:  # the port taken, an address not on this machine, a name that does not resolve
        why = error.strerror or str(error)
        raise ConfigError(f"cannot listen on {args.bind[:100]}:{args.port}: {why}") from None
    with server:
        say(f"serving {args.folder} at http://{args.bind}:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            return 0
    return 0


def register(commands: SubParsers) -> None:
    site = commands.add_parser("site", help="the public results site (static HTML and JSON)")
    actions = site.add_subparsers(title="site commands", required=True, metavar="ACTION")
    builder = add_command(
        actions,
        "build",
        build,
        "build the site into a folder; again, only what changed",
        reads=(*OPERATOR_DB, "election_key"),
        example=BUILD,
    )
    builder.add_argument("folder", type=Path)
    builder.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=30.0,
        metavar="SECONDS",
        help="build again every SECONDS (default 30) until Ctrl-C",
    )
    builder.add_argument("--full", action="store_true", help="write every page, changed or not")
    builder.add_argument("--audit-href", metavar="URL", help="the audit bundle's address (linked from the top page)")
    server = add_command(
        actions,
        "serve",
        serve,
        "preview a built site at http://127.0.0.1:8080/",
        reads=(),
        example="rekap site serve site/ --port 8080",
    )
    server.add_argument("folder", type=Path)
    server.add_argument("--port", type=int, default=8080)
    server.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: this machine only)")
