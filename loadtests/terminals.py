"""Bulk registration: every terminal of Sumatera Selatan (a KPPS terminal per TPS and a PPK operator per
kecamatan: 13,447) registered from one file by `rekap terminal register --from FILE`, as an operator
runs it, then the same file again (a no-op). How long each takes, end to end (the process included).

    .venv/bin/python -m loadtests.terminals

Needs the local stack (`.venv/bin/rekap stack up`). Writes loadtests/results/terminals.{md,json}.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import subprocess
import sys
import time

import asyncpg

from loadtests.harness import RESULTS, SECRET, Run, write_results
from rekap.devstack.secrets import stack_settings
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.night import simulated_terminals


async def main() -> int:
    settings = stack_settings()
    run = Run(settings)
    dataset = read_master_data_folder(sumsel_master_data_dir())
    await run.prepare_database(dataset, terminals=False)
    path = RESULTS / "terminals.csv"
    RESULTS.mkdir(exist_ok=True)
    terminals = simulated_terminals(dataset.tps, SECRET)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["terminal_id", "scope", "public_key"])
        writer.writerows([t.terminal_id, str(t.scope), base64.b64encode(t.public_key).decode()] for t in terminals)
    env = {**run.env(verify=True, batch=1), "REKAP_OPERATOR_DATABASE_URL": run.url_as("operator")}
    rows = []
    try:
        for label in ("first registration", "the same file again"):
            started = time.monotonic()
            command = [sys.executable, "-m", "rekap", "terminal", "register", "--from", str(path)]
            done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True,
                                           check=False)  # fmt: skip
            took = time.monotonic() - started
            print(f"{label}: {took:.1f} s: {done.stdout.strip() or done.stderr.strip()}", flush=True)
            if done.returncode != 0:
                return 1
            rows.append({"run": label, "terminals": f"{len(terminals):,}", "seconds (whole command)": f"{took:.1f}"})
        conn = await asyncpg.connect(run.url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM rekap.terminal") == len(terminals)
        finally:
            await conn.close()
    finally:
        await run.drop()
        path.unlink(missing_ok=True)
    out = write_results("terminals", "Bulk terminal registration", "python -m loadtests.terminals", rows, [])
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
