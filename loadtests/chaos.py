"""Chaos: records published at a steady rate while the tabulators, PostgreSQL and the broker are killed,
scaled and frozen; then the oracle check.

    .venv/bin/python -m loadtests.chaos                        # 200,000 records at 1,500/s (make chaos)
    .venv/bin/python -m loadtests.chaos --records 60000 --rate 1000

The faults, in order, while the terminals send (times scaled to the run's length):
SIGKILL of the tabulator (a new one starts at once) · the group scaled 1 -> 3 · 3 -> 1 (SIGTERM) ·
PostgreSQL crashed (SIGQUIT: an immediate shutdown, recovery at restart) and restarted 5 s later ·
the broker SIGKILLed and restarted · a second tabulator started, then one frozen (SIGSTOP) past the
session timeout, then thawed. For each: when it happened, how soon the count moved on, and how soon
every record published before it was counted. Ends with the oracle check (totals at every level, one
outcome row per record, each the outcome it must have). Signatures off (a stream of re-counts, every
form a new revision). Needs the local stack, whose servers it kills and restarts. Writes
loadtests/results/chaos.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from loadtests.harness import RESULTS, Run, oracle_check, write_results
from loadtests.processes import TabulatorProcess
from loadtests.steady import waves
from rekap.adapters.postgres import night_check as check
from rekap.devstack.secrets import stack_settings
from rekap.devstack.stack import LocalStack
from rekap.masterdata.files import read_master_data_folder
from rekap.publisher import Publisher
from rekap.resources import sumsel_master_data_dir


@dataclass
class Fault:
    name: str
    at: float  # seconds since publishing began
    produced: int  # records published by then
    applied: int  # records counted by then
    recovered_at: float | None = None  # every record published before the fault counted
    moved_at: float | None = None  # the count went past where it stood at the fault

    def observe(self, applied: int, now: float) -> None:
        """The count stands at `applied` at `now`: when it first moved on, and first caught up with the fault."""
        if self.recovered_at is None and applied >= self.produced:
            self.recovered_at = now
        if self.moved_at is None and applied > self.applied:
            self.moved_at = now


@dataclass
class Chaos:
    run: Run
    env: dict[str, str]
    stack: LocalStack
    started: float = field(default_factory=time.monotonic)
    produced: int = 0
    applied: int = 0
    tabulators: list[TabulatorProcess] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started

    def fault(self, name: str) -> None:
        self.faults.append(Fault(name, self.now(), self.produced, self.applied))
        print(f"  {self.now():6.1f} s  {name} (published {self.produced:,}, counted {self.applied:,})", flush=True)

    def spawn(self) -> TabulatorProcess:
        process = TabulatorProcess(self.env, RESULTS / "logs" / self.run.name / f"tabulator-{len(self.tabulators)}.log")
        process.log.parent.mkdir(parents=True, exist_ok=True)
        self.tabulators.append(process)
        process.start()
        return process

    def alive(self) -> list[TabulatorProcess]:
        return [t for t in self.tabulators if t.running]

    async def kill_postgres(self) -> None:
        primary = self.stack.primary
        assert primary is not None
        pid = primary.pid()
        assert pid is not None
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown: no checkpoint, crash recovery at the next start
        await asyncio.sleep(5)
        await asyncio.to_thread(primary.start)

    async def kill_broker(self) -> None:
        broker = self.stack.kafka[0]
        pid = broker.process.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(5)
        await asyncio.to_thread(broker.start)


async def play(chaos: Chaos, span: float) -> None:
    """The faults, spread over `span` seconds of publishing."""
    steps = [0.08, 0.18, 0.30, 0.42, 0.58, 0.72, 0.78, 0.90]
    await asyncio.sleep(steps[0] * span)
    chaos.fault("tabulator SIGKILLed, a new one started")
    chaos.alive()[0].kill()
    chaos.spawn()
    await asyncio.sleep((steps[1] - steps[0]) * span)
    chaos.fault("scaled 1 -> 3")
    chaos.spawn()
    chaos.spawn()
    await asyncio.sleep((steps[2] - steps[1]) * span)
    chaos.fault("scaled 3 -> 1 (SIGTERM)")
    for process in chaos.alive()[:2]:
        await asyncio.to_thread(process.terminate)
    await asyncio.sleep((steps[3] - steps[2]) * span)
    chaos.fault("PostgreSQL crashed, restarted after 5 s")
    await chaos.kill_postgres()
    await asyncio.sleep((steps[4] - steps[3]) * span)
    chaos.fault("broker SIGKILLed, restarted after 5 s")
    await chaos.kill_broker()
    await asyncio.sleep((steps[5] - steps[4]) * span)
    chaos.spawn()  # a second one, so that the frozen one's partitions have somewhere to go
    await asyncio.sleep((steps[6] - steps[5]) * span)
    chaos.fault("a tabulator frozen (SIGSTOP) past the session timeout")
    frozen = chaos.alive()[0]
    frozen.freeze()
    await asyncio.sleep((steps[7] - steps[6]) * span)
    frozen.thaw()
    print(f"  {chaos.now():6.1f} s  the frozen tabulator thawed", flush=True)


async def watch(
    chaos: Chaos, conn_url: str, stop: asyncio.Event, samples: list[tuple[float, int]] | None = None
) -> None:
    """How far the count is, every 0.2 s (through PostgreSQL restarts and failovers), and when each fault is
    recovered; each reading kept in `samples` (seconds, records counted) if given."""
    conn: asyncpg.Connection | None = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = await asyncpg.connect(conn_url, timeout=2)
            chaos.applied = sum((await check.applied(conn, chaos.run.topic)).values())
            if samples is not None:
                samples.append((chaos.now(), chaos.applied))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            conn = None
        for fault in chaos.faults:
            fault.observe(chaos.applied, chaos.now())
        await asyncio.sleep(0.2)
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


@dataclass(frozen=True)
class Night:
    """A night played under faults: records published (each acknowledged), when publishing ended, when all
    were counted, and what the oracle check found wrong (nothing, when all is well)."""

    sent: int
    publishing_s: float
    total_s: float
    problems: list[str]


async def night_under_faults(
    stack: LocalStack,
    records: int,
    rate: int,
    play: Callable[[Chaos, float], Coroutine[Any, Any, None]],
    samples: list[tuple[float, int]] | None = None,
) -> tuple[Chaos, Night]:
    """A database and topic of its own, a tabulator, `records` published at `rate` a second while `play` runs
    its faults; then until every record is counted, and the oracle check."""
    settings = stack.settings
    dataset = read_master_data_folder(sumsel_master_data_dir())
    run = Run(settings)
    print(f"preparing {run.name} ...", flush=True)
    await run.prepare(dataset)
    planned, expected = waves(dataset, records, sign=False)
    env = run.env(verify=False, batch=500)
    env.update(REKAP_SESSION_TIMEOUT_MS="6000", REKAP_DB_IDLE_IN_TRANSACTION_TIMEOUT_S="5",
               REKAP_DB_LOCK_TIMEOUT_S="3", REKAP_METRICS_ADDRESS="")  # fmt: skip
    chaos = Chaos(run, env, stack)
    chaos.spawn()
    await asyncio.sleep(4)
    stop = asyncio.Event()
    chaos.started = time.monotonic()
    watcher = asyncio.create_task(watch(chaos, run.url, stop, samples))
    faults = asyncio.create_task(play(chaos, records / rate))
    sent = []
    try:
        async with Publisher(settings.kafka("terminals"), run.topic) as publisher:
            per_tick, tick = max(1, rate // 50), 0.02
            next_tick = time.monotonic()
            futures = []
            for index in range(0, len(planned), per_tick):
                futures += [await publisher.enqueue(p.key.decode(), p.value, p.headers)
                            for p in planned[index : index + per_tick]]  # fmt: skip
                chaos.produced = index + per_tick
                next_tick += tick
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            sent = await asyncio.gather(*futures)  # each acknowledged as the topic's acks=all wants
        publishing_s = chaos.now()
        await faults
        ends: dict[int, int] = {}
        for metadata in sent:
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        conn = await asyncpg.connect(run.url)
        try:
            await check.wait_applied(conn, run.topic, ends, timeout=600, alive=lambda: bool(chaos.alive()))
        finally:
            await conn.close()
        total_s = chaos.now()
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await watcher
        for process in chaos.tabulators:
            with contextlib.suppress(Exception):
                process.thaw()
                process.ensure_stopped()
    problems = await oracle_check(run, planned, expected)
    rows_count = await count_rows(run)
    if rows_count != len(planned):
        problems.append(f"{rows_count} outcome rows for {len(planned)} records")
    await run.drop()
    return chaos, Night(len(sent), publishing_s, total_s, problems)


async def main_async(records: int, rate: int) -> tuple[list[dict[str, Any]], list[str]]:
    stack = LocalStack.from_settings(stack_settings())
    if not stack.kafka or not stack.postgres:
        raise SystemExit(
            "chaos kills and restarts the local stack's servers: unset REKAP_KAFKA_BOOTSTRAP and DATABASE_URL"
        )
    chaos, night = await night_under_faults(stack, records, rate, play)
    rows: list[dict[str, Any]] = [
        {"at s": f"{f.at:.1f}", "fault": f.name, "published by then": f"{f.produced:,}",
         "count moved on after s": f"{f.moved_at - f.at:.1f}" if f.moved_at is not None else "-",
         "all before it counted after s": f"{f.recovered_at - f.at:.1f}" if f.recovered_at is not None else "never"}
        for f in chaos.faults
    ]  # fmt: skip
    rows.append({"at s": f"{night.total_s:.1f}", "fault": f"end: {night.sent:,} records published in "
                 f"{night.publishing_s:.0f} s, all counted after {night.total_s:.0f} s "
                 f"({night.sent / night.total_s:,.0f} records/s overall)",
                 "published by then": f"{night.sent:,}", "count moved on after s": "",
                 "all before it counted after s": "oracle OK" if not night.problems else "oracle FAILED"})  # fmt: skip
    return rows, night.problems


async def count_rows(run: Run) -> int:
    conn = await asyncpg.connect(run.url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = $1", run.topic))
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1500, help="records published per second")
    args = parser.parse_args()
    rows, problems = asyncio.run(main_async(args.records, args.rate))
    write_results("chaos", "Chaos: faults under a steady stream", "python -m loadtests.chaos " + " ".join(sys.argv[1:]),
                  rows, [])  # fmt: skip
    print("\n".join(problems[:50]), file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
