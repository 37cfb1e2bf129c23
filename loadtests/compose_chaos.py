"""Chaos in containers: docker-compose.yml run for real with Podman (deploy/podman/up.sh), a night played
into it from this host through deploy/docker-compose.ports.yml, faults injected in the containers while it
plays, then the oracle check.

    .venv/bin/python -m loadtests.compose_chaos          # make chaos-compose: 200,000 records at 1,500/s
    .venv/bin/python -m loadtests.compose_chaos --records 20000 --rate 200 --keep

Needs the images (`make compose-images`, as root) and deletes the compose project `rekap`'s containers and
volumes first: every run starts from nothing. The shape is the deployment's: three brokers (KRaft, every
topic on 3 with min.insync.replicas 2), PostgreSQL primary + synchronous standby, two tabulators
(`deploy.replicas: 2`, an override this module writes), signatures on. `init` makes the topics (`rekap kafka
setup`, once the three brokers answer); the run stops unless they are on 3 brokers with min.insync.replicas 2.

The faults, in order, spread over the publishing (each over before the next):
the leader of a busy partition SIGKILLed (`podman kill`), started again 5 s later · a broker stopped, its
data volume deleted, started again empty (until every partition has three in-sync replicas again) · a
broker cut off the network (`podman network disconnect`) for 20 s and reconnected · the PostgreSQL primary
SIGKILLed and the standby promoted (deploy/postgres/promote.sh) · a tabulator SIGKILLed, started 5 s later.
For each: when, how long it lasted, records/s counted during it, how soon the count moved on, how soon
every record published before it was counted. Ends with the oracle check (totals at every level, one
outcome row per record). Writes loadtests/results/compose-chaos.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaTimeoutError

from loadtests.chaos import Fault as LocalFault
from loadtests.harness import SECRET, write_results
from loadtests.steady import waves
from rekap.access import KafkaAccess
from rekap.adapters.postgres import night_check as check
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.terminals import register_terminals
from rekap.masterdata.files import read_master_data_folder
from rekap.publisher import Publisher
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.night import Planned, simulated_terminals

ROOT = Path(__file__).parents[1]
PROJECT = "rekap"
NETWORK = f"{PROJECT}_default"
TOPIC, DEAD_LETTERS = "tallies", "tallies.dead-letters"
BROKERS = {1: "kafka-1", 2: "kafka-2", 3: "kafka-3"}
BOOTSTRAP = "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"  # deploy/docker-compose.ports.yml
PASSWORDS = [
    "POSTGRES_SUPERUSER_PASSWORD", "POSTGRES_REPLICATION_PASSWORD", "REKAP_OWNER_PASSWORD",
    "REKAP_TABULATOR_DB_PASSWORD", "REKAP_OPERATOR_DB_PASSWORD", "REKAP_MONITOR_DB_PASSWORD",
    "KAFKA_BROKER_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_TABULATOR_PASSWORD", "KAFKA_TERMINALS_PASSWORD",
]  # fmt: skip
REPLICAS = "services:\n  tabulator:\n    deploy:\n      replicas: 2\n"


def container(service: str, number: int = 1) -> str:
    return f"{PROJECT}_{service}_{number}"


@dataclass
class Compose:
    """The compose project, its passwords (made per run) and the files it is started with."""

    passwords: dict[str, str] = field(default_factory=lambda: {p: secrets.token_hex(12) for p in PASSWORDS})
    override: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rekap-compose-")) / "replicas.yml")

    def __post_init__(self) -> None:
        self.override.write_text(REPLICAS)

    @property
    def env(self) -> dict[str, str]:
        files = f"docker-compose.yml deploy/docker-compose.ports.yml {self.override}"
        return {**os.environ, **self.passwords, "COMPOSE_FILES": files}

    def files(self) -> list[str]:
        return [arg for f in self.env["COMPOSE_FILES"].split() for arg in ("-f", f)]

    def compose(self, *args: str) -> None:
        run(["podman-compose", "-p", PROJECT, *self.files(), *args], env=self.env)

    def up(self, stage: str) -> None:
        run(["sh", "deploy/podman/up.sh", stage], env=self.env)

    def url(self, user: str, password_env: str, database: str = "rekap") -> str:
        return (f"postgresql://{user}:{self.passwords[password_env]}@127.0.0.1:5432,127.0.0.1:5433/{database}"
                "?target_session_attrs=read-write")  # fmt: skip

    def kafka(self, user: str, password_env: str) -> KafkaAccess:
        return KafkaAccess(BOOTSTRAP, user, self.passwords[password_env])


def run(command: list[str], *, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")
    return done.stdout


def podman(*args: str, check: bool = True) -> str:
    return run(["podman", *args], check=check)


@dataclass
class Fault(LocalFault):
    """A fault as the local chaos test records it, and when it was over, and how far publishing and the count
    were then."""

    ended_at: float | None = None  # the fault over (restarted, reconnected, promoted, rejoined)
    applied_at_end: int | None = None
    produced_at_end: int | None = None
    note: str = ""


@dataclass
class Chaos:
    compose: Compose
    started: float = field(default_factory=time.monotonic)
    produced: int = 0
    applied: int = 0
    faults: list[Fault] = field(default_factory=list)
    max_lag: int = 0  # records published and not yet counted, at worst
    refused: int = 0  # times the producer refused a record (its queue full for 40 s) and it was sent again
    cpu: list[float] = field(default_factory=list)  # the machine's busy %, every 0.2 s while publishing

    def now(self) -> float:
        return time.monotonic() - self.started

    async def fault(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        fault = Fault(name, self.now(), self.produced, self.applied)
        self.faults.append(fault)
        print(f"  {fault.at:6.1f} s  {name} (published {self.produced:,}, counted {self.applied:,})", flush=True)
        fault.note = " ".join((await action()).split())
        fault.ended_at, fault.applied_at_end, fault.produced_at_end = self.now(), self.applied, self.produced
        print(f"  {fault.ended_at:6.1f} s  over: {fault.note}", flush=True)

    async def partitions(self) -> list[dict[str, Any]]:
        admin = AIOKafkaAdminClient(**self.compose.kafka("admin", "KAFKA_ADMIN_PASSWORD").options(),
                                    request_timeout_ms=5000)  # fmt: skip
        await admin.start()
        try:
            described = await admin.describe_topics([TOPIC])
        finally:
            await admin.close()
        return list(described[0]["partitions"])

    async def all_in_sync(self, within: float) -> float:
        """Seconds until every partition of the topic has its three replicas in sync again."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            with contextlib.suppress(Exception):
                if all(len(p["isr"]) == 3 for p in await self.partitions()):
                    return time.monotonic() - started
            await asyncio.sleep(1)
        return float("nan")

    async def kill_leader(self) -> str:
        leader = next(p["leader"] for p in await self.partitions() if p["partition"] == 0)
        name = container(BROKERS[leader])
        await asyncio.to_thread(podman, "kill", "--signal", "KILL", name)
        await asyncio.sleep(5)
        await asyncio.to_thread(podman, "start", name)
        synced = await self.all_in_sync(180)
        return f"{BROKERS[leader]} (leader of partition 0) started again after 5 s; all ISRs full {synced:.0f} s later"

    async def wipe_broker(self, node: int) -> str:
        service = BROKERS[node]
        await asyncio.to_thread(podman, "stop", "--time", "30", container(service))
        await asyncio.to_thread(podman, "rm", container(service))
        await asyncio.to_thread(podman, "volume", "rm", f"{PROJECT}_{service}-data")
        await asyncio.to_thread(self.compose.compose, "up", "-d", "--no-deps", service)
        synced = await self.all_in_sync(300)
        return f"{service} started with an empty volume; all ISRs full {synced:.0f} s after its start"

    async def cut_off(self, node: int, seconds: float) -> str:
        service = BROKERS[node]
        await asyncio.to_thread(podman, "network", "disconnect", NETWORK, container(service))
        await asyncio.sleep(seconds)
        await asyncio.to_thread(podman, "network", "connect", "--alias", service, NETWORK, container(service))
        synced = await self.all_in_sync(180)
        return f"{service} cut off for {seconds:.0f} s, reconnected; all ISRs full {synced:.0f} s later"

    async def fail_over(self) -> str:
        await asyncio.to_thread(podman, "kill", "--signal", "KILL", container("postgres-1"))
        await asyncio.sleep(3)  # an operator (or a tool) noticing
        promoted = time.monotonic()
        out = await asyncio.to_thread(podman, "exec", container("postgres-2"), "sh", "/deploy/postgres/promote.sh")
        return f"postgres-1 SIGKILLed, postgres-2 promoted in {time.monotonic() - promoted:.1f} s ({out.strip()})"

    async def kill_tabulator(self) -> str:
        name = container("tabulator", 1)
        await asyncio.to_thread(podman, "kill", "--signal", "KILL", name)
        await asyncio.sleep(5)
        await asyncio.to_thread(podman, "start", name)
        return "tabulator 1 of 2 SIGKILLed, started again after 5 s"


async def play(chaos: Chaos, span: float) -> None:
    """The faults, spread over `span` seconds of publishing; each waits for the one before to be over."""
    steps: list[tuple[float, str, Callable[[], Awaitable[str]]]] = [
        (0.06, "leader broker of partition 0 SIGKILLed", chaos.kill_leader),
        (0.22, "kafka-3 stopped, its data volume deleted, started empty", lambda: chaos.wipe_broker(3)),
        (0.45, "kafka-2 cut off the network (podman network disconnect)", lambda: chaos.cut_off(2, 20)),
        (0.62, "PostgreSQL primary SIGKILLed, standby promoted", chaos.fail_over),
        (0.80, "a tabulator SIGKILLed", chaos.kill_tabulator),
    ]
    for at, name, action in steps:
        await asyncio.sleep(max(0.0, at * span - chaos.now()))
        await chaos.fault(name, action)


async def watch(chaos: Chaos, url: str, stop: asyncio.Event) -> None:
    """How far the count is, every 0.2 s (through the failover), and when each fault is recovered."""
    conn: asyncpg.Connection | None = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = await asyncpg.connect(url, timeout=3)
            chaos.applied = sum((await check.applied(conn, TOPIC)).values())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
            conn = None
        chaos.max_lag = max(chaos.max_lag, chaos.produced - chaos.applied)
        chaos.cpu.append(psutil.cpu_percent())
        for fault in chaos.faults:
            fault.observe(chaos.applied, chaos.now())
        await asyncio.sleep(0.2)
    if conn is not None:
        await conn.close()


def start(compose: Compose) -> None:
    """From nothing: the servers, `init` (the topics: checked to be on 3 brokers, min ISR 2)."""
    print("removing the project's containers and volumes, starting the brokers and PostgreSQL ...", flush=True)
    compose.compose("down", "--volumes")
    for service in ("kafka-1", "kafka-2", "kafka-3", "postgres-1", "postgres-2"):
        podman("volume", "rm", "--force", f"{PROJECT}_{service}-data", check=False)
    compose.up("servers")
    compose.up("init")
    problems = asyncio.run(replication_problems(compose.kafka("admin", "KAFKA_ADMIN_PASSWORD")))
    if problems:
        raise SystemExit("the topics `init` made are not the deployment's: " + "; ".join(problems))


async def replication_problems(admin: KafkaAccess) -> list[str]:
    """What keeps a topic's partitions from being on three brokers with two in sync for every write."""
    client = AIOKafkaAdminClient(**admin.options(), request_timeout_ms=10000)
    await client.start()
    try:
        described = await client.describe_topics([TOPIC, DEAD_LETTERS])
        configs = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in (TOPIC, DEAD_LETTERS)]
        )
    finally:
        await client.close()
    problems = [f"{topic['topic']} partition {p['partition']} has {len(p['replicas'])} replicas"
                for topic in described for p in topic["partitions"] if len(p["replicas"]) != 3]  # fmt: skip
    for response in configs:
        for _, _, _, name, entries in response.resources:
            isr = {entry[0]: entry[1] for entry in entries}.get("min.insync.replicas")
            if isr != "2":
                problems.append(f"{name} has min.insync.replicas={isr}")
    return problems


async def prepare(compose: Compose) -> Any:
    dataset = read_master_data_folder(sumsel_master_data_dir())
    conn = await asyncpg.connect(compose.url("rekap_owner", "REKAP_OWNER_PASSWORD"))
    try:
        await load_master_data(conn, dataset)
        await register_terminals(conn, simulated_terminals(dataset.tps, SECRET))
    finally:
        await conn.close()
    return dataset


async def night(
    compose: Compose, records: int, rate: int, dataset: Any
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    planned, expected = waves(dataset, records, sign=True)
    superuser = compose.url("postgres", "POSTGRES_SUPERUSER_PASSWORD")
    chaos = Chaos(compose)
    span = records / rate
    stop = asyncio.Event()
    chaos.started = time.monotonic()
    watcher = asyncio.create_task(watch(chaos, superuser, stop))
    faults = asyncio.create_task(play(chaos, span))
    sent: list[Any] = []
    try:
        async with Publisher(compose.kafka("terminals", "KAFKA_TERMINALS_PASSWORD"), TOPIC) as publisher:
            per_tick, tick = max(1, rate // 50), 0.02
            next_tick = time.monotonic()
            futures = []
            for index in range(0, len(planned), per_tick):
                futures += [await enqueue(publisher, p, chaos) for p in planned[index : index + per_tick]]
                chaos.produced = min(len(planned), index + per_tick)
                next_tick += tick
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            sent = await asyncio.gather(*futures)
        publishing_s = chaos.now()
        await faults
        ends: dict[int, int] = {}
        for metadata in sent:
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        conn = await asyncpg.connect(superuser)
        try:
            await check.wait_applied(conn, TOPIC, ends, timeout=900)
        finally:
            await conn.close()
        total_s = chaos.now()
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await watcher
    conn = await asyncpg.connect(superuser)
    try:
        problems = await check.differences(conn, TOPIC, planned, expected)
        rows_count = int(await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = $1", TOPIC))
    finally:
        await conn.close()
    if rows_count != len(planned):
        problems.append(f"{rows_count} outcome rows for {len(planned)} records")
    cpu = sorted(chaos.cpu) or [0.0]
    mean, median, p90 = sum(cpu) / len(cpu), cpu[len(cpu) // 2], cpu[int(len(cpu) * 0.9)]
    figures = [
        f"At worst {chaos.max_lag:,} records published and not yet counted. The machine's CPU (both cores: every",
        f"container and the publisher) was {mean:.0f} % busy on average while the night played, {median:.0f} % at",
        f"the median, {p90:.0f} % at the 90th percentile. The producer refused a record (its queue for a",
        f"partition full for 40 s) {chaos.refused} times; each was sent again.",
    ]
    return table(chaos, len(sent), publishing_s, total_s, problems), problems, figures


async def enqueue(publisher: Publisher, planned: Planned, chaos: Chaos) -> Any:
    """Queue a record; while the producer's queue for its partition stays full (a leader cut off: requests
    in flight to it time out after 40 s), it refuses the record, which a terminal then sends again."""
    while True:
        try:
            return await publisher.enqueue(planned.key.decode(), planned.value, planned.headers)
        except KafkaTimeoutError:
            chaos.refused += 1
            print(f"  {chaos.now():6.1f} s  the producer's queue is full: the record is sent again", flush=True)


def table(chaos: Chaos, sent: int, publishing_s: float, total_s: float, problems: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in chaos.faults:
        lasted = (f.ended_at or f.at) - f.at
        during = (f.applied_at_end or f.applied) - f.applied
        published = (f.produced_at_end or f.produced) - f.produced
        rows.append({
            "at s": f"{f.at:.1f}", "fault": f.name, "published by then": f"{f.produced:,}",
            "lasted s": f"{lasted:.1f}", "counted/s during it": f"{during / lasted:,.0f}" if lasted > 0 else "-",
            "published/s during it": f"{published / lasted:,.0f}" if lasted > 0 else "-",
            "count moved on after s": f"{f.moved_at - f.at:.1f}" if f.moved_at is not None else "-",
            "all before it counted after s": f"{f.recovered_at - f.at:.1f}" if f.recovered_at is not None else "never",
            "what happened": f.note,
        })  # fmt: skip
    verdict = "oracle OK" if not problems else f"oracle FAILED ({len(problems)} problems)"
    rows.append({"at s": f"{total_s:.1f}", "fault": f"end: {sent:,} records published in {publishing_s:.0f} s, "
                 f"all counted after {total_s:.0f} s ({sent / total_s:,.0f} records/s overall)",
                 "published by then": f"{sent:,}", "lasted s": "", "counted/s during it": "",
                 "published/s during it": "",
                 "count moved on after s": "", "all before it counted after s": "",
                 "what happened": verdict})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1500, help="records published per second")
    parser.add_argument("--keep", action="store_true", help="leave the containers running at the end")
    args = parser.parse_args()
    compose = Compose()
    started = time.monotonic()
    start(compose)
    dataset = asyncio.run(prepare(compose))
    compose.up("rest")
    print(f"compose up in {time.monotonic() - started:.0f} s; playing {args.records:,} records at {args.rate}/s",
          flush=True)  # fmt: skip
    try:
        rows, problems, figures = asyncio.run(night(compose, args.records, args.rate, dataset))
    finally:
        if not args.keep:
            compose.compose("down", "--volumes")
    notes = [
        "docker-compose.yml under Podman 4.3 / podman-compose 1.0.3 (deploy/podman/up.sh), every container on this",
        "machine with the publisher; 3 brokers (replication 3, min ISR 2), PostgreSQL primary + synchronous standby,",
        "2 tabulators, signatures signed and verified. 'lasted s': from the fault to its end (restarted, rejoined",
        "with full ISRs, reconnected, promoted); 'counted/s during it': records counted over that time.",
        "",
        *figures,
    ]
    write_results("compose-chaos", "Chaos in containers: faults under a steady stream (Podman)",
                  "python -m loadtests.compose_chaos " + " ".join(sys.argv[1:]), rows, notes)  # fmt: skip
    print("\n".join(problems[:50]), file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
