"""Steady rates: terminals send at a fixed rate for a while; how long from produce to visible in the
totals (p50, p95, p99), and how far the tabulator lags behind.

    .venv/bin/python -m loadtests.steady                           # 1k, 2k, 5k, 10k tallies/s, verified
    .venv/bin/python -m loadtests.steady --rates 2000 --seconds 30
    .venv/bin/python -m loadtests.steady --rates 5000 --tabulators 2   # two tabulators share the partitions

"Visible" is when the transaction that counts the record commits: the moment `rekap.partition_offset`
moves past its offset, which this test polls every 20 ms (so latencies are ±20 ms). "Produced" is the
record's Kafka timestamp, set by the producer. Each rate gets its own database and topic; the stream is
waves of re-counts of every Sumatera Selatan form (each a new revision), all accepted. Ends with the
oracle check. Needs the local stack. Writes loadtests/results/steady.{md,json,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import random
import sys
import time

import asyncpg
import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from loadtests.harness import RESULTS, SECRET, Run, oracle_check, tabulator_processes, write_results
from rekap.adapters.postgres import night_check as check
from rekap.devstack.secrets import stack_settings
from rekap.domain.masterdata import MasterDataSet
from rekap.domain.signing import SigningKey
from rekap.masterdata.files import read_master_data_folder
from rekap.publisher import Publisher
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import consistent_form, encode
from rekap.simulation.night import Expected, Planned

POLL_S = 0.02


def waves(dataset: MasterDataSet, count: int, *, sign: bool) -> tuple[list[Planned], Expected]:
    """`count` records: every form of the province, counted again and again (revision 1, 2, ...)."""
    master = dataset.master_data()
    expected = Expected(master)
    rng = random.Random(7)
    keys = {t.tps_id: SigningKey.derived(SECRET, f"kpps-{t.tps_id}") for t in dataset.tps} if sign else {}
    planned: list[Planned] = []
    revision = 0
    while len(planned) < count:
        revision += 1
        for tps in dataset.tps:
            for contest in master.contests_at(tps.tps_id):
                form = consistent_form(tps, contest, rng, revision=revision)
                body = encode(form)
                headers = [("content-type", b"application/json")]
                if sign:
                    headers.append(("signature", keys[tps.tps_id].sign(body)))
                planned.append(Planned(tps.tps_id.encode(), body, headers, "accepted"))
                expected.saw(form, held=False)
                if len(planned) == count:
                    return planned, expected
    return planned, expected


async def one_rate(dataset: MasterDataSet, rate: int, seconds: float, *, verify: bool, batch: int,
                   tabulators: int = 1) -> tuple[dict[str, object], list[tuple[float, int]]]:  # fmt: skip
    settings = stack_settings()
    run = Run(settings)
    print(f"[{rate}/s] preparing {run.name} ...", flush=True)
    await run.prepare(dataset)
    planned, expected = waves(dataset, int(rate * seconds), sign=verify)
    processes = tabulator_processes(run.env(verify=verify, batch=batch), tabulators, RESULTS / "logs" / run.name)
    processes.start()
    conn = await asyncpg.connect(run.url)
    polls: dict[int, list[tuple[float, int]]] = {}
    lag: list[tuple[float, int]] = []
    produced = 0
    try:
        await asyncio.sleep(4 + 3 * (tabulators - 1))  # the tabulators join the group and position their partitions
        stop_polling = asyncio.Event()
        started = time.time()

        poll_conn = await asyncpg.connect(run.url)  # its own: a connection does one thing at a time

        async def poll() -> None:
            while not stop_polling.is_set():
                now = time.time()
                applied = await check.applied(poll_conn, run.topic)
                for partition, offset in applied.items():
                    series = polls.setdefault(partition, [])
                    if not series or series[-1][1] != offset:
                        series.append((now, offset))
                lag.append((now - started, produced - sum(applied.values())))
                processes.sample()
                await asyncio.sleep(POLL_S)

        poller = asyncio.create_task(poll())
        futures = []
        async with Publisher(settings.kafka("terminals"), run.topic) as publisher:
            per_tick, tick = max(1, rate // 100), 0.01
            next_tick = time.monotonic()
            for index in range(0, len(planned), per_tick):
                futures.extend([await publisher.enqueue(p.key.decode(), p.value, p.headers)
                                for p in planned[index : index + per_tick]])  # fmt: skip
                produced = index + per_tick
                next_tick += tick
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            sent = await asyncio.gather(*futures)
        sending_s = time.time() - started
        ends: dict[int, int] = {}
        for metadata in sent:
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        await check.wait_applied(conn, run.topic, ends, timeout=300, alive=processes.alive)
        await asyncio.sleep(2 * POLL_S)
        stop_polling.set()
        await poller
        await poll_conn.close()
    finally:
        processes.stop()
        await conn.close()
    latencies = sorted(_visible(polls, m.partition, m.offset) - m.timestamp / 1000 for m in sent)
    problems = await oracle_check(run, planned, expected)
    await run.drop()
    if problems:
        print("\n".join(problems), file=sys.stderr)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    row: dict[str, object] = {
        "target rate/s": f"{rate:,}",
        "achieved rate/s": f"{len(sent) / sending_s:,.0f}",
        "records": f"{len(sent):,}",
        "signatures": "verified" if verify else "not verified",
        "tabulators": tabulators,
        "p50 ms": f"{pct(0.50):.0f}",
        "p95 ms": f"{pct(0.95):.0f}",
        "p99 ms": f"{pct(0.99):.0f}",
        "max ms": f"{latencies[-1] * 1000:.0f}",
        "max lag (records)": f"{max(n for _, n in lag):,}",
        "peak RSS MB": f"{processes.peak_rss / 2**20:.0f}",
        "oracle check": "OK" if not problems else "FAILED",
    }
    return row, lag


def _visible(polls: dict[int, list[tuple[float, int]]], partition: int, offset: int) -> float:
    """The first poll that saw the partition applied past this offset."""
    series = polls[partition]
    index = bisect.bisect_right([n for _, n in series], offset)
    return series[index][0]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="1000,2000,5000,10000", help="tallies per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate is sent")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--batch", type=int, default=4000, help="REKAP_BATCH_MAX_RECORDS")
    parser.add_argument("--tabulators", type=int, default=1, help="tabulator processes sharing the partitions")
    args = parser.parse_args()
    dataset = read_master_data_folder(sumsel_master_data_dir())
    rows, lags = [], []
    for rate in (int(r) for r in args.rates.split(",")):
        row, lag = await one_rate(dataset, rate, args.seconds, verify=args.verify, batch=args.batch,
                                  tabulators=args.tabulators)  # fmt: skip
        rows.append(row)
        lags.append((rate, lag))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    rates = [int(str(r["target rate/s"]).replace(",", "")) for r in rows]
    for key in ("p50 ms", "p99 ms"):
        left.plot(rates, [float(str(r[key])) for r in rows], marker="o", label=key.split()[0])
    left.set_xlabel("tallies per second")
    left.set_ylabel("produce to visible (ms)")
    left.set_xscale("log")
    left.grid(alpha=0.3)
    left.legend()
    for rate, lag in lags:
        right.plot([t for t, _ in lag], [n for _, n in lag], label=f"{rate:,}/s")
    right.set_xlabel("seconds")
    right.set_ylabel("records not yet counted (lag)")
    right.grid(alpha=0.3)
    right.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "steady.png", dpi=110)
    command = "python -m loadtests.steady " + " ".join(sys.argv[1:])
    write_results("steady", "Steady rates: produce to visible", command, rows,
                  ["Chart: steady.png (left: latency by rate; right: lag over time)"])  # fmt: skip
    return 0 if all(r["oracle check"] == "OK" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
