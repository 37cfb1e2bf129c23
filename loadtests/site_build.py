"""The public site's build times: a night written into a fresh database (through the tabulator's write
path, without Kafka), then `rekap site build` as the public would get it: a full build into an empty
folder, a rebuild with nothing changed, and a rebuild after N corrected forms (a vote moved, revision 2,
as the night's corrections do). The site's page weights are measured too.

    python -m loadtests.site_build                      # Sumatera Selatan: 13,206 TPS x 2 races
    python -m loadtests.site_build --national --provinces 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from loadtests.harness import RESULTS, SECRET, Run, write_results
from loadtests.national import national_dataset
from rekap.adapters.postgres.direct import write_directly
from rekap.devstack.secrets import stack_settings
from rekap.domain.decode import Decoder
from rekap.domain.masterdata import MasterDataSet
from rekap.domain.signing import SigningKey
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import signed_record
from rekap.simulation.night import Mix, Planned, corrected, plan_night, simulated_terminals

TOPIC = "tallies"


def corrections(planned: list[Planned], count: int, seed: int = 7) -> list[Planned]:
    """`count` accepted forms of distinct TPS and races corrected: a vote moved, revision 2, signed."""
    rng = random.Random(seed)
    seen, out = set(), []
    for p in planned:
        if p.outcome != "accepted":
            continue
        form = json.loads(p.value)
        key = (form["tps_id"], form["contest_id"])
        if form["revision"] != 1 or key in seen:
            continue
        seen.add(key)
        new = corrected(form, rng, 2)
        record = signed_record(new, SigningKey.derived(SECRET, new["terminal_id"]))
        assert record.value is not None
        out.append(Planned(p.key, record.value, list(record.headers), "accepted", None, 1.0))
        if len(out) == count:
            break
    return out


def site_build(run: Run, folder: Path) -> tuple[float, str]:
    # No election key (the night's database registers none): the pages alone, without a signed head.
    env = {"REKAP_OPERATOR_DATABASE_URL": run.url_as("operator"), "PATH": "/usr/bin:/bin",
           "REKAP_HOME": str(folder.with_name("home-without-key"))}  # fmt: skip
    os.sync()  # the last build's files on disk, as 30 s after it they would be: not written back during this one
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "rekap", "site", "build", str(folder)], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"rekap site build failed ({done.returncode}): {done.stderr.strip()}")
    return time.monotonic() - started, done.stdout.strip().splitlines()[-2]


async def measure(dataset: MasterDataSet, changes: int, site: Path, *, keep: bool = False) -> dict[str, Any]:
    """The builds into a new folder; the last run's site is removed only afterwards (creating files right
    after deleting a million costs this machine's kernel several times the time: not the build's)."""
    folder = site.with_name(f"{site.name}.new")
    settings = stack_settings()
    run = Run(settings)
    print(f"preparing database {run.name} ...", flush=True)
    await run.prepare_database(dataset)
    try:
        master = dataset.master_data()
        planned, _ = plan_night(master, dataset.tps, mix=Mix(), secret=SECRET)
        decoder = Decoder(master, {t.terminal_id: t for t in simulated_terminals(dataset.tps, SECRET)})
        print(f"writing {len(planned):,} records ...", flush=True)
        started = time.monotonic()
        since = await write_directly(run.url_as("tabulator"), TOPIC, planned, decoder)
        print(f"  {time.monotonic() - started:.0f} s", flush=True)
        await settle(run)
        shutil.rmtree(folder, ignore_errors=True)
        row: dict[str, Any] = {"TPS": f"{len(dataset.tps):,}", "records": f"{len(planned):,}"}
        for label in ("full build s", "rebuild, nothing changed s"):
            took, said = site_build(run, folder)
            print(f"  {label}: {took:.1f} ({said})", flush=True)
            row[label] = f"{took:.1f}"
        await write_directly(run.url_as("tabulator"), TOPIC, corrections(planned, changes), decoder, since)
        await settle(run)
        took, said = site_build(run, folder)
        print(f"  after {changes:,} corrections: {took:.1f} ({said})", flush=True)
        row[f"rebuild after {changes:,} corrections s"] = f"{took:.1f}"
        row["pages written then"] = said.split("; ")[1].split(" pages")[0]
        row |= weights(folder)
        replace(site, folder)
        return row
    finally:
        if keep:
            print(f"kept: REKAP_OPERATOR_DATABASE_URL={run.url_as('operator')}", flush=True)
        else:
            await run.drop()


async def settle(run: Run) -> None:
    """Let the database settle after writing a night in one go (a real night trickles in): its statistics
    gathered and its dirty pages written out now, not by autovacuum and the checkpointer during the build
    being measured."""
    conn = await asyncpg.connect(run.url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def replace(site: Path, new: Path) -> None:
    """The new site where the last one was; the last one removed."""
    old = site.with_name(f"{site.name}.old")
    if site.exists():
        site.rename(old)
    new.rename(site)
    shutil.rmtree(old, ignore_errors=True)


def weights(folder: Path) -> dict[str, str]:
    """The heaviest pages (a region page with the style and script it loads), the site's size and files."""
    assets = sum(p.stat().st_size for p in (folder / "assets").iterdir())
    region = max(p.stat().st_size for p in folder.glob("wilayah/*/*.html"))
    tps = max(p.stat().st_size for p in folder.glob("tps/*/*.html"))
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {
        "heaviest region page KB (HTML+CSS+JS)": f"{(region + assets) / 1024:.0f}",
        "heaviest TPS page KB": f"{tps / 1024:.0f}",
        "site MB": f"{sum(p.stat().st_size for p in files) / 2**20:,.0f}",
        "files": f"{len(files):,}",
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--national", action="store_true", help="the synthetic national data set")
    parser.add_argument("--provinces", type=int, help="the national data set's first N provinces (with --national)")
    parser.add_argument("--changes", type=int, default=1000, help="forms corrected before the last rebuild")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed), to look closer")
    args = parser.parse_args()
    dataset = (
        national_dataset(args.provinces or 33) if args.national else read_master_data_folder(sumsel_master_data_dir())
    )
    scale = ("national" + (f"-{args.provinces}" if args.provinces else "")) if args.national else "sumsel"
    row = await measure(dataset, args.changes, RESULTS / "site" / scale, keep=args.keep)
    command = "python -m loadtests.site_build " + " ".join(sys.argv[1:])
    note = (
        "Each build is `rekap site build FOLDER` in its own process, timed whole (start-up included). The night"
        " and the corrections are each written at once (a real night trickles in): the database is then vacuumed,"
        " analysed and checkpointed, and before each build the files already written are synced to disk, so that"
        " the figures are the build's, not the write-back of what came before."
    )
    write_results(f"site-{scale}", f"Public site build ({scale})", command, [{"data set": scale, **row}], [note])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
