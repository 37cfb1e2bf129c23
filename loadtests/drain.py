"""Backlog drain: a whole election night already in the topic, then the tabulator(s) start; how long
until every record is committed, records/s, CPU-seconds per 100k records, peak resident memory.

    .venv/bin/python -m loadtests.drain                         # Sumatera Selatan, signatures verified
    .venv/bin/python -m loadtests.drain --no-verify --tabulators 2
    .venv/bin/python -m loadtests.drain --national --no-verify  # ~870,000 tallies (the national scale)
    .venv/bin/python -m loadtests.drain --audit                 # then the bundle: export, both verifiers
    .venv/bin/python -m loadtests.drain --baseline 24198d2      # each run again with that commit's code

`--baseline REF` drains the same night again with the tabulators (and the database's schema) of a git
revision, on its own database and topic, right after each run: what a change costs, measured side by
side (the anchored ledger's cost: against 24198d2, the last revision without it).

Needs the local stack (`.venv/bin/rekap stack up`). Ends with the oracle check: totals right at every
level and one outcome per record, or the run fails. Writes loadtests/results/drain-*.{md,json,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from loadtests.harness import (
    RESULTS,
    ROOT,
    SECRET,
    Run,
    oracle_check,
    produce,
    read_times,
    tabulator_processes,
    write_results,
)  # fmt: skip
from loadtests.national import national_dataset
from rekap.adapters.postgres import night_check as check
from rekap.audit.keys import sign_now
from rekap.devstack.secrets import stack_settings
from rekap.domain.masterdata import MasterDataSet
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.night import Mix, plan_night


async def drain_once(dataset: MasterDataSet, *, verify: bool, tabulators: int, batch: int, label: str,
                     audit: bool = False, code: Path | None = None) -> tuple[dict[str, object], list[tuple[float, int]]]:  # fmt: skip  # noqa: E501
    """One drain; `code`: a checkout's services/ folder to run instead of this one's (a baseline)."""
    settings = stack_settings()
    run = Run(settings)
    print(f"[{label}] preparing database {run.name} and topic {run.topic} ...", flush=True)
    extra = {} if code is None else {"PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    if code is None:
        await run.prepare(dataset)
    else:  # the database made by that revision's own code (its migrations, its loading)
        await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "loadtests.prepare", run.name,
                                *scale_arguments(dataset)], env={**os.environ, **extra}, check=True)  # fmt: skip
    mix = Mix() if verify else Mix(forged=0)
    planned, expected = plan_night(dataset.master_data(), dataset.tps, mix=mix, sign=verify, secret=SECRET)
    ends, _ = await produce(settings, run.topic, planned)
    total = sum(ends.values())
    key = RESULTS / "bundles" / f"{run.name}-election-key.pem"
    if audit:
        key.unlink(missing_ok=True)
        await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "rekap", "audit", "key", "create"],
                                env=audit_env(run, key), check=True, capture_output=True)  # fmt: skip
    env = {**run.env(verify=verify, batch=batch), **extra}
    processes = tabulator_processes(env, tabulators, RESULTS / "logs" / run.name)
    conn = await asyncpg.connect(run.url)
    series: list[tuple[float, int]] = []
    anchor: Path | None = None
    try:
        started = time.monotonic()
        processes.start()
        first_commit = None
        while True:
            done = sum((await check.applied(conn, run.topic)).values())
            now = time.monotonic() - started
            series.append((now, done))
            processes.sample()
            if done and first_commit is None:
                first_commit = now
            if audit and anchor is None and done >= total / 2:  # a witness keeps the head of the moment
                anchor = await keep_head(run, key)
            if done >= total:
                break
            if not processes.alive():
                raise RuntimeError(f"a tabulator died: see {RESULTS / 'logs' / run.name}")
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started
        cpu = processes.cpu_seconds()
        processes.sample()
    finally:
        processes.stop()
        await conn.close()
    problems = await oracle_check(run, planned, expected)
    reads = await read_times(run)
    if audit:
        assert anchor is not None
        reads |= audit_times(run, key, anchor)
    await run.drop()
    assert first_commit is not None
    row: dict[str, object] = {
        "run": label,
        "records": f"{total:,}",
        "signatures": "verified" if verify else "not verified",
        "tabulators": tabulators,
        "drain s (from start)": f"{elapsed:.1f}",
        "records/s (from start)": f"{total / elapsed:,.0f}",
        "records/s (first to last commit)": f"{total / max(elapsed - first_commit, 1e-9):,.0f}",
        "CPU s per 100k (tabulators)": f"{cpu / total * 100_000:.1f}",
        "peak RSS MB (largest tabulator)": f"{processes.peak_rss_largest / 2**20:.0f}",
        **reads,
        "oracle check": "OK" if not problems else "FAILED",
    }
    if problems:
        print("\n".join(problems), file=sys.stderr)
    return row, series


def audit_env(run: Run, key: Path) -> dict[str, str]:
    return {**run.env(verify=True, batch=1), "REKAP_OPERATOR_DATABASE_URL": run.url_as("operator"),
            "REKAP_ELECTION_KEY": str(key)}  # fmt: skip


async def keep_head(run: Run, key: Path) -> Path:
    """The signed head of this moment, kept as a witness keeps one (an anchor for the verifiers)."""
    conn = await asyncpg.connect(run.url_as("operator"))
    try:
        head = await sign_now(conn, key)
    finally:
        await conn.close()
    path = RESULTS / "bundles" / f"{run.name}-anchor.txt"
    path.write_bytes(head)
    return path


def audit_times(run: Run, key: Path, anchor: Path) -> dict[str, str]:
    """`rekap audit export` of the drained database, then `rekap audit verify` and tools/verify_bundle.py, with
    the election key and the head kept halfway: seconds each, the bundle's size, and whether both verified it."""
    folder = RESULTS / "bundles" / run.name
    env = audit_env(run, key)
    public = RESULTS / "bundles" / f"{run.name}-election-key.pub.pem"
    public.write_text(subprocess.run([sys.executable, "-m", "rekap", "audit", "key", "show"], env=env, text=True,
                                     capture_output=True, check=True).stdout)  # fmt: skip
    trust = ["--election-key", str(public), "--anchor", str(anchor)]
    took = {}
    for name, command in (
        ("audit export s", [sys.executable, "-m", "rekap", "audit", "export", str(folder)]),
        ("audit verify s", [sys.executable, "-m", "rekap", "audit", "verify", str(folder), *trust]),
        ("standalone verify s", [sys.executable, str(ROOT / "tools" / "verify_bundle.py"), str(folder), *trust]),
    ):
        print(f"  {name.removesuffix(' s')} ...", flush=True)
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        verified = done.returncode == 0 and ("anchored to 1" in done.stdout or "VERIFIED\n" in done.stdout
                                             or name.startswith("audit export"))  # fmt: skip
        took[name] = f"{time.monotonic() - started:.1f}" + ("" if verified else " (FAILED)")
        if not verified:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    manifest = folder / "manifest.json"
    records = json.loads(manifest.read_text())["files"]["records.jsonl"]["rows"] if manifest.is_file() else 0
    shutil.rmtree(folder)
    for path in (key, public, anchor):
        path.unlink(missing_ok=True)
    return {**took, "bundle MB": f"{size / 2**20:,.0f}", "bundle records": f"{records:,}"}


def baseline_code(ref: str) -> Path:
    """The services/ and schemas/ of a git revision, in a folder of their own (made once per revision)."""
    folder = stack_settings().home.resolve() / "baselines" / ref  # beside the stack: not a file of this checkout
    if not (folder / "services").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", ref, "services", "schemas"], cwd=ROOT, capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "services"


def scale_arguments(dataset: MasterDataSet) -> list[str]:
    if dataset.about.name.startswith("Pilkada 2024 Sumatera Selatan"):
        return []
    return ["--national", "--provinces", str(len({t.tps_id[:2] for t in dataset.tps}))]


def chart(path: Path, runs: list[tuple[str, list[tuple[float, int]]]], title: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, series in runs:
        ax.plot([t for t, _ in series], [n for _, n in series], label=label)
    ax.set_xlabel("seconds since the tabulator(s) started")
    ax.set_ylabel("records committed")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="signatures off (trusted topic)")
    parser.add_argument("--tabulators", type=int, nargs="+", default=[1], help="one run per count, e.g. 1 2")
    parser.add_argument("--batch", type=int, default=4000, help="REKAP_BATCH_MAX_RECORDS")
    parser.add_argument("--national", action="store_true", help="the synthetic national data set (~870k tallies)")
    parser.add_argument("--provinces", type=int, help="the national data set's first N provinces (with --national)")
    parser.add_argument("--audit", action="store_true",
                        help="then the audit bundle: exported, recounted by both verifiers")  # fmt: skip
    parser.add_argument("--baseline", metavar="REF", help="each run again with a git revision's tabulators")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (with --baseline: their medians compared)")
    args = parser.parse_args()
    dataset = (
        national_dataset(args.provinces or 33) if args.national else read_master_data_folder(sumsel_master_data_dir())
    )
    scale = ("national" + (f"-{args.provinces}" if args.provinces else "")) if args.national else "sumsel"
    name = f"drain-{scale}-{'verify' if args.verify else 'noverify'}"
    rows, runs = [], []
    notes = []
    for count in args.tabulators:
        label = f"{count} tabulator{'s' if count > 1 else ''}"
        rates: dict[str, list[float]] = {"this": [], "baseline": []}
        for turn in range(args.repeat):
            # With a baseline, the two alternate which drains first: neither always meets a cold (or warm) server.
            order = ["this", "baseline"] if args.baseline else ["this"]
            for which in order if turn % 2 == 0 else order[::-1]:
                code = baseline_code(args.baseline) if which == "baseline" else None
                named = f"{label}, {args.baseline}" if which == "baseline" else label
                row, series = await drain_once(dataset, verify=args.verify, tabulators=count, batch=args.batch,
                                               label=named, audit=args.audit and code is None, code=code)  # fmt: skip
                rows.append(row)
                runs.append((named, series))
                rates[which].append(float(str(row["records/s (from start)"]).replace(",", "")))
        if args.baseline:
            ratio = statistics.median(rates["this"]) / statistics.median(rates["baseline"])
            notes.append(f"{label}: median records/s {statistics.median(rates['this']):,.0f} against "
                         f"{statistics.median(rates['baseline']):,.0f} with {args.baseline}: {ratio:.3f}x "
                         f"({args.repeat} runs each, alternating which went first)")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    chart(RESULTS / f"{name}.png", runs, f"Backlog drain, {scale}, signatures {'on' if args.verify else 'off'}")
    command = "python -m loadtests.drain " + " ".join(sys.argv[1:])
    write_results(name, f"Backlog drain ({scale})", command, rows, [f"Chart: {name}.png", *notes])
    for note in notes:
        print(note)
    return 0 if all(r["oracle check"] == "OK" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
