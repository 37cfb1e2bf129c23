"""A night with a photo of every form: Sumatera Selatan's ~31,500 tallies, every form naming a photo of its
C.Hasil sheet (~26,400 photos, drawn by the simulated terminals), in the topics before anything starts.
Drained twice on fresh databases and topics: by a tabulator alone (no photo in the topic), and by a
tabulator with a photo consumer beside it reading the photos at the same time. Says the tally drain's rate
each time (the photos must not cost it more than a tenth), the photo consumer's rate and CPU, the disk a
photo takes (with its thumbnail), and the public site's full build with the photos and without.

    .venv/bin/python -m loadtests.photos              # the whole province
    .venv/bin/python -m loadtests.photos --tps 2000   # fewer TPS, for a quick look
    .venv/bin/python -m loadtests.photos --repeat 2   # each twice, alternating which goes first

Needs the local stack (`.venv/bin/rekap stack up`). Ends with the oracle check of the tallies and a check that
every photo was stored. Writes loadtests/results/photos-*.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import asyncpg

from loadtests.harness import RESULTS, SECRET, Processes, Run, oracle_check, produce, tabulator_processes, write_results
from rekap.adapters.kafka.photos import PhotoPublisher
from rekap.adapters.photos.folder import FolderStore
from rekap.adapters.postgres import night_check as check
from rekap.devstack.secrets import stack_settings
from rekap.domain.masterdata import MasterDataSet
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.night import Expected, Mix, Planned, PlannedPhoto, plan_night
from rekap.site.build import build_site

PHOTO_COLUMNS = (
    "photos",
    "photos stored",
    "photo drain s",
    "photos/s",
    "photo consumer CPU ms per photo",
    "photo consumer peak RSS MB",
    "disk KB per photo (with its thumbnail)",
    "photo KB (mean)",
    "site build s, with photos",
    "site build s, no photos",
)
CHUNK = 2_000  # photos queued at once by the producer (about 150 MB in flight)


async def produce_photos(run: Run, photos: list[PlannedPhoto]) -> None:
    started = time.monotonic()
    async with PhotoPublisher(run.settings.kafka("terminals"), run.photo_topic) as publisher:
        for start in range(0, len(photos), CHUNK):
            await publisher.publish([(p.sha256, p.data) for p in photos[start : start + CHUNK]])
    size = sum(len(p.data) for p in photos)
    print(f"  photos {len(photos):,} ({size / 2**20:,.0f} MiB) in {time.monotonic() - started:.1f} s", flush=True)


async def drain(
    dataset: MasterDataSet, planned: list[Planned], expected: Expected, *, with_photos: bool, folder: Path
) -> dict[str, object]:
    label = "tabulator + photo consumer" if with_photos else "tabulator alone"
    run = Run(stack_settings())
    print(f"[{label}] database {run.name}, topic {run.topic} ...", flush=True)
    await run.prepare(dataset)
    ends, _ = await produce(run.settings, run.topic, planned)
    total = sum(ends.values())
    photos = sorted(expected.photos.values(), key=lambda p: p.at)
    if with_photos:
        await produce_photos(run, photos)
    store = folder / f"{run.name}-photos"
    env = {**run.env(verify=True, batch=4000), "REKAP_PHOTO_DIR": str(store)}
    logs = RESULTS / "logs" / run.name
    tabulator = tabulator_processes(env, 1, logs)
    consumer = Processes([[sys.executable, "-m", "rekap", "photos", "run"]], env, logs, "photos")
    conn = await asyncpg.connect(run.url)
    tallies_s = photos_s = first_commit = None
    try:
        started = time.monotonic()
        tabulator.start()
        if with_photos:
            consumer.start()
        while tallies_s is None or (with_photos and photos_s is None):
            now = time.monotonic() - started
            applied = sum((await check.applied(conn, run.topic)).values())
            if applied and first_commit is None:
                first_commit = now
            if tallies_s is None and applied >= total:
                tallies_s = now
                tabulator_cpu = tabulator.cpu_seconds()
            indexed = await conn.fetchval("SELECT count(*) FROM rekap.photo_record") if with_photos else 0
            if with_photos and photos_s is None and indexed >= len(photos):
                photos_s = now
                consumer_cpu = consumer.cpu_seconds()
            tabulator.sample()
            consumer.sample()
            if not tabulator.alive() or (with_photos and not consumer.alive()):
                raise RuntimeError(f"a process died: see {logs}")
            await asyncio.sleep(0.2)
    finally:
        tabulator.stop()
        consumer.stop()
        await conn.close()
    problems = await oracle_check(run, planned, expected if with_photos else replace(expected, photos={}))
    row: dict[str, object] = {
        "run": label,
        "tallies": f"{total:,}",
        "tally drain s": f"{tallies_s:.1f}",
        "tallies/s": f"{total / tallies_s:,.0f}",
        "tallies/s (first to last commit)": f"{total / max(tallies_s - (first_commit or 0), 1e-9):,.0f}",
        "tabulator CPU s per 100k": f"{tabulator_cpu / total * 100_000:.1f}",
    }
    if with_photos:
        assert photos_s is not None
        stored = await stored_count(run)
        on_disk = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        row |= {
            "photos": f"{len(photos):,}",
            "photos stored": f"{stored:,}",
            "photo drain s": f"{photos_s:.1f}",
            "photos/s": f"{len(photos) / photos_s:,.0f}",
            "photo consumer CPU ms per photo": f"{consumer_cpu / len(photos) * 1000:.1f}",
            "photo consumer peak RSS MB": f"{consumer.peak_rss_largest / 2**20:.0f}",
            "disk KB per photo (with its thumbnail)": f"{on_disk / len(photos) / 1024:.1f}",
            "photo KB (mean)": f"{statistics.mean(len(p.data) for p in photos) / 1024:.1f}",
            **await site_times(run, store, folder),
        }
        if stored != len(photos):
            problems.append(f"{stored:,} of {len(photos):,} photos stored")
    else:
        row |= dict.fromkeys(PHOTO_COLUMNS, "-")
    row["oracle check"] = "OK" if not problems else "FAILED"
    if problems:
        print("\n".join(problems[:20]), file=sys.stderr)
    await run.drop()
    shutil.rmtree(store, ignore_errors=True)
    return row


async def stored_count(run: Run) -> int:
    conn = await asyncpg.connect(run.url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM rekap.photo WHERE status = 'stored'"))
    finally:
        await conn.close()


async def site_times(run: Run, store: Path, folder: Path) -> dict[str, str]:
    """A full build of the site into an empty folder, with the photos, then without (the pages alone)."""
    times = {}
    for name, photos in (("site build s, with photos", FolderStore(store)), ("site build s, no photos", None)):
        site = folder / f"{run.name}-site"
        conn = await asyncpg.connect(run.url_as("operator"))
        try:
            started = time.monotonic()
            await build_site(conn, site, photos=photos)
            times[name] = f"{time.monotonic() - started:.1f}"
        finally:
            await conn.close()
        shutil.rmtree(site)
    return times


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tps", type=int, default=0, help="how many TPS (spread over the province); default all")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, alternating which goes first")
    args = parser.parse_args()
    dataset = read_master_data_folder(sumsel_master_data_dir())
    tps = dataset.tps[:: max(1, len(dataset.tps) // args.tps)][: args.tps] if args.tps else dataset.tps
    started = time.monotonic()
    planned, expected = plan_night(dataset.master_data(), tps, mix=Mix(), secret=SECRET, photos="")
    print(f"planned {len(planned):,} tallies and drew {len(expected.photos):,} photos in "
          f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="rekap-photos-", dir=RESULTS.parent) as scratch:
        for turn in range(args.repeat):
            order = (False, True) if turn % 2 == 0 else (True, False)
            rows += [await drain(dataset, planned, expected, with_photos=w, folder=Path(scratch)) for w in order]
    notes = []
    for column in ("tallies/s", "tallies/s (first to last commit)"):
        alone = statistics.median(float(str(r[column]).replace(",", "")) for r in rows if r["photos"] == "-")
        beside = statistics.median(float(str(r[column]).replace(",", "")) for r in rows if r["photos"] != "-")
        notes.append(f"{column}, with the photo consumer beside the tabulator: {beside / alone:.0%} of the rate "
                     f"alone (median of {args.repeat} each: {beside:,.0f} against {alone:,.0f})")  # fmt: skip
    print("\n".join(notes))
    command = "python -m loadtests.photos " + " ".join(sys.argv[1:])
    name = f"photos-{'sumsel' if not args.tps else f'{args.tps}tps'}"
    write_results(name, "A night with a photo of every form", command, rows, notes)
    return 0 if all(r["oracle check"] == "OK" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
