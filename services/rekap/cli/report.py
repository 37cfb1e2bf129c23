"""`rekap report`: the recapitulation (D.Hasil) of one region and contest, as CSV or printable HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rekap.app.recap import read_recap
from rekap.cli.common import SubParsers, add_command
from rekap.config import Settings
from rekap.errors import ConfigError
from rekap.report.render import to_csv, to_html
from rekap.wiring import with_session

EXAMPLES = """rekap report 16                               # the governor race (pkwkp-16), by kabupaten/kota
rekap report 1671 --contest pkwkk-1671 --out palembang.html
rekap report 167101 --out ilir-barat-ii.csv   # one kecamatan, TPS by TPS

It reads the hasil views as KPU's reader (DATABASE_URL; the local stack's `kpu` login), all in one
snapshot. The CSV's lines between its first and second blank lines are the table (then the signature block);
its SHA-256 is printed in both formats: sed '1,/^$/d; /^$/,$d' sumsel.csv | sha256sum
"""


def register(commands: SubParsers) -> None:
    sub = add_command(
        commands,
        "report",
        report,
        "the recapitulation of a region and contest (CSV or HTML)",
        reads=("database_url",),
        example=EXAMPLES,
    )
    sub.add_argument("region", help="a provinsi (2 digits), kabupaten/kota (4) or kecamatan (6) code")
    sub.add_argument("--contest", help="contest id (default: the governor race of the region's province, pkwkp-NN)")
    sub.add_argument("--format", choices=("csv", "html"), help="default: from --out's suffix, else csv")
    sub.add_argument("--out", type=Path, metavar="FILE", help="write here (default: standard output)")


def report(settings: Settings, args: argparse.Namespace) -> int:
    contest = args.contest or f"pkwkp-{args.region[:2]}"
    kind = args.format or (args.out.suffix.lstrip(".").lower() if args.out else "csv")
    if kind not in ("csv", "html"):
        raise ConfigError(f"--out {args.out}: say --format csv or --format html (the suffix says neither)")
    recap = with_session(settings, lambda session: read_recap(session, args.region, contest), "reader")
    text = to_html(recap) if kind == "html" else to_csv(recap)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"--out {args.out}: {error.strerror}") from None
        print(
            f"wrote {args.out}: {len(recap.lines)} lines, TPS {recap.tps_counted}/{recap.tps_expected}, "
            f"sha256 {recap.digest()}",
            file=sys.stderr,
        )
    return 0
