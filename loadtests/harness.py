"""What every load test shares: a fresh database and topic on the local stack, tabulator processes to
measure, the records of a planned night, the oracle check, and the result files (Markdown, JSON, PNG).

The local stack must be up (`.venv/bin/rekap stack up`); each run makes its own database and topic,
so runs never see each other, and drops the database at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from rekap.access import KafkaRole, Resources, Topic, with_database
from rekap.adapters.kafka.security import grant_acls
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres import night_check as check
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.migrations import load_migrations, migrate
from rekap.adapters.postgres.terminals import register_terminals
from rekap.app.logins import OWNER
from rekap.config import PHOTO_RECORD_BYTES, DbUser, Settings
from rekap.devstack.secrets import StackSecrets, stack_postgres_url
from rekap.domain.masterdata import MasterDataSet
from rekap.publisher import Publisher
from rekap.resources import migrations_dir
from rekap.simulation.night import Expected, Planned, simulated_terminals

# The simulated terminals' keys derive from it: made afresh per run, never a constant of the source.
SECRET = secrets.token_bytes(32)

ROOT = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results"
PARTITIONS = 6


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores, {memory:.0f} GiB; broker, PostgreSQL and load on the same machine"


@dataclass
class Run:
    """One database and one topic of its own on the local stack."""

    settings: Settings
    name: str = field(default_factory=lambda: f"load_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:4]}")
    # Unset: a topic and a consumer group named after the run. Set: a topic shared by several runs, each
    # with a database and a consumer group of its own (peer.py).
    topic_name: str | None = None
    group_name: str | None = None

    @property
    def admin_url(self) -> str:
        """The local stack's superuser: load tests make and drop databases."""
        secrets = StackSecrets.load(self.settings.stack_dir)
        if secrets is None:
            raise RuntimeError("the local stack is not set up: `rekap stack up` first")
        password = secrets.postgres["postgres"]
        return stack_postgres_url(
            self.settings.stack_dir, self.settings.postgres_port, "postgres", password, "postgres"
        )

    @property
    def url(self) -> str:
        """The superuser's, to look inside; the tabulators connect as the tabulator (`env`)."""
        return with_database(self.admin_url, self.name)

    def url_as(self, user: DbUser) -> str:
        return with_database(self.settings.dsn_for(user), self.name)

    @property
    def topic(self) -> str:
        return self.topic_name or self.name.replace("_", "-")

    @property
    def group(self) -> str:
        return self.group_name or f"{self.topic}-tabulators"

    @property
    def photo_topic(self) -> str:
        return f"{self.topic}.photos"

    @property
    def photo_group(self) -> str:
        return f"{self.topic}-photos"

    async def prepare(self, dataset: MasterDataSet) -> None:
        await self.prepare_database(dataset)
        admin = self.settings.kafka("admin")
        await ensure_topics(admin, [Topic(self.topic, PARTITIONS), Topic(f"{self.topic}.dead-letters", PARTITIONS),
                                    Topic(self.photo_topic, PARTITIONS, PHOTO_RECORD_BYTES)])  # fmt: skip
        names = Resources(self.topic, f"{self.topic}.dead-letters", self.group, self.photo_topic, self.photo_group)
        for role in KafkaRole:
            await asyncio.to_thread(grant_acls, admin, role.value, role, names)

    async def prepare_database(self, dataset: MasterDataSet, *, terminals: bool = True) -> None:
        """Its database: migrated, the master data loaded, a simulated terminal per TPS and kecamatan."""
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}" OWNER {OWNER}')
        finally:
            await admin.close()
        conn = await asyncpg.connect(self.url_as("owner"))
        try:
            await migrate(conn, load_migrations(migrations_dir()))
            await load_master_data(conn, dataset)
            if terminals:
                await register_terminals(conn, simulated_terminals(dataset.tps, SECRET))
        finally:
            await conn.close()

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()

    def env(self, *, verify: bool, batch: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REKAP_") and k != "DATABASE_URL"}
        env.update(
            DATABASE_URL=self.url_as("tabulator"),
            REKAP_KAFKA_BOOTSTRAP=self.settings.kafka("tabulator").bootstrap_servers,  # every broker of a cluster
            REKAP_KAFKA_USERNAME=str(self.settings.kafka("tabulator").username),
            REKAP_KAFKA_PASSWORD=str(self.settings.kafka("tabulator").password),
            REKAP_TALLY_TOPIC=self.topic,
            REKAP_DEAD_LETTER_TOPIC=f"{self.topic}.dead-letters",
            REKAP_GROUP_ID=self.group,
            REKAP_VERIFY_SIGNATURES=str(verify).lower(),
            REKAP_BATCH_MAX_RECORDS=str(batch),
            REKAP_TOPIC_PARTITIONS=str(PARTITIONS),
            REKAP_METRICS_ADDRESS="127.0.0.1:0",
            REKAP_PHOTO_TOPIC=self.photo_topic,
            REKAP_PHOTO_GROUP_ID=self.photo_group,
            REKAP_PHOTO_METRICS_ADDRESS="127.0.0.1:0",
        )
        return env


class Processes:
    """Processes started together and measured: CPU seconds (with their children's) and peak resident
    memory, of all of them together and of the largest."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], log_dir: Path, name: str = "process") -> None:
        self._commands, self._env, self._log_dir, self._name = commands, env, log_dir, name
        self.popens: list[subprocess.Popen[bytes]] = []
        self.peak_rss = 0  # all together
        self.peak_rss_largest = 0  # the largest one (its children included)

    def start(self) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        for n, command in enumerate(self._commands):
            with (self._log_dir / f"{self._name}-{n}.log").open("wb") as log:
                self.popens.append(subprocess.Popen(command, env=self._env, stdout=log, stderr=log))

    def _trees(self) -> list[list[psutil.Process]]:
        trees = []
        for p in self.popens:
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(p.pid)
                trees.append([parent, *parent.children(recursive=True)])
        return trees

    def sample(self) -> None:
        sizes = []
        for tree in self._trees():
            size = 0
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    size += p.memory_info().rss
            sizes.append(size)
        self.peak_rss = max(self.peak_rss, sum(sizes))
        self.peak_rss_largest = max(self.peak_rss_largest, max(sizes, default=0))

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.popens)

    def cpu_seconds(self) -> float:
        total = 0.0
        for tree in self._trees():
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = p.cpu_times()
                    total += times.user + times.system
        return total

    def stop(self) -> None:
        stop_processes(self.popens)


def tabulator_processes(env: dict[str, str], count: int, log_dir: Path) -> Processes:
    """`rekap tabulator run` processes, as an operator runs them (logs tabulator-N.log)."""
    return Processes([[sys.executable, "-m", "rekap", "tabulator", "run"]] * count, env, log_dir, "tabulator")


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (a tabulator finishes its batch and leaves the group), SIGKILL after a minute."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


async def produce(
    settings: Settings, topic: str, planned: list[Planned], label: str = "produced"
) -> tuple[dict[int, int], list[Any]]:
    """Everything, as fast as the producer goes; returns end offsets and each record's metadata."""
    started = time.monotonic()
    async with Publisher(settings.kafka("terminals"), topic) as publisher:
        futures = []
        for n, p in enumerate(planned):
            futures.append(await publisher.enqueue(p.key.decode(), p.value, p.headers))
            if n and n % 100_000 == 0:
                print(f"  {label} {n:,} records ...", flush=True)
        sent = await asyncio.gather(*futures)
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    print(f"  {label} {len(planned):,} records in {time.monotonic() - started:.1f} s", flush=True)
    return ends, sent


async def oracle_check(run: Run, planned: list[Planned], expected: Expected) -> list[str]:
    conn = await asyncpg.connect(run.url)
    try:
        return await check.differences(conn, run.topic, planned, expected)
    finally:
        await conn.close()


# What KPU reads, timed after a load test (the median of three reads, on the loaded database).
READS = {
    "summary read ms (all levels)": "SELECT * FROM hasil.summary",
    "drill-down ms (a kecamatan's TPS)": "SELECT * FROM hasil.tps_status WHERE kecamatan_code = "
    "(SELECT min(code) FROM rekap.kecamatan)",
    "curve ms (province)": "SELECT * FROM hasil.progress WHERE level = 'provinsi'",
}


async def read_times(run: Run) -> dict[str, str]:
    conn = await asyncpg.connect(run.url)
    try:
        times = {}
        for name, query in READS.items():
            took = []
            for _ in range(3):
                started = time.perf_counter()
                await conn.fetch(query)
                took.append(time.perf_counter() - started)
            times[name] = f"{sorted(took)[1] * 1000:,.0f}"
        return times
    finally:
        await conn.close()


def write_results(name: str, title: str, command: str, rows: list[dict[str, Any]], notes: list[str]) -> Path:
    """results/<name>.md and .json: the command, the machine, a table of the rows."""
    RESULTS.mkdir(exist_ok=True)
    columns = list(rows[0]) if rows else []
    lines = [
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}",
        "",
    ]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    lines += ["", *notes]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps({"title": title, "command": command, "machine": machine(),
                                                       "rows": rows, "notes": notes}, indent=2))  # fmt: skip
    print("\n" + "\n".join(lines), flush=True)
    return path
