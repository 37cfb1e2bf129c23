"""`rekap masterdata ...`: load the election's master data, or derive the Sumatera Selatan folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from rekap.app import masterdata as master_data
from rekap.cli.common import OPERATOR_DB, SubParsers, add_command, say
from rekap.config import Settings
from rekap.masterdata.derive import derive, derive_from_npm
from rekap.masterdata.files import read_master_data_folder, write_master_data
from rekap.resources import sumsel_master_data_dir
from rekap.wiring import with_session


def load(settings: Settings, args: argparse.Namespace) -> int:
    folder: Path = args.source
    dataset = read_master_data_folder(folder)  # every problem is reported before anything is loaded
    say(f"Loading {dataset.about.name} from {folder}")
    say(f"TPS list: {dataset.about.tps_source}")

    loaded = with_session(settings, lambda session: master_data.load(session, dataset, replace=args.replace))
    say(f"\n{'table':<22} {'in files':>9} {'new':>7} {'changed':>8} {'same':>7} {'not in files':>13}")
    for c in loaded.changes:
        say(
            f"{c.table:<22} {c.rows:>9} {c.inserted:>7} {c.updated + c.removed:>8} {c.unchanged:>7}"
            f" {c.not_in_files:>13}"
        )
    totals = loaded.totals
    say("\nIn the database: " + ", ".join(f"{n:,} {table}" for table, n in totals.items()))
    return 0


def derive_command(_: Settings, args: argparse.Namespace) -> int:
    if args.idn_area_data is None:
        say("Fetching idn-area-data from the npm registry ...")
        dataset = derive_from_npm()
    else:
        dataset = derive(args.idn_area_data)
    write_master_data(dataset, args.out)
    say(
        f"Wrote {args.out}: {len(dataset.regions):,} regions, {len(dataset.tps):,} TPS (synthetic), "
        f"{len(dataset.contests)} contests, {len(dataset.choices)} choices"
    )
    return 0


def register(commands: SubParsers) -> None:
    masterdata = commands.add_parser("masterdata", help="regions, TPS, contests and choices")
    actions = masterdata.add_subparsers(title="masterdata commands", required=True, metavar="ACTION")
    load_parser = add_command(
        actions,
        "load",
        load,
        "check a master data folder and load it (idempotent)",
        reads=OPERATOR_DB,
        example="rekap masterdata load   # the Sumatera Selatan 2024 data in the package\n"
        "rekap masterdata load --from ./pilkada-2029/ --replace",
    )
    load_parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=sumsel_master_data_dir(),
        metavar="DIR",
        help="folder of CSV files (default: the derived Sumatera Selatan 2024 data)",
    )
    load_parser.add_argument(
        "--replace",
        action="store_true",
        help="load over another dataset the database holds (never for synthetic data)",
    )
    derive_parser = add_command(
        actions,
        "derive",
        derive_command,
        "derive the Sumatera Selatan folder from idn-area-data (TPS synthetic)",
        reads=(),
        example="rekap masterdata derive --out ./sumsel-2024/   # fetches idn-area-data with npm",
    )
    derive_parser.add_argument(
        "--idn-area-data",
        type=Path,
        metavar="DIR",
        help="the package's data/ folder (default: fetch it with npm)",
    )
    derive_parser.add_argument("--out", type=Path, default=sumsel_master_data_dir(), metavar="DIR")
