"""Peer benchmark: one backlog, produced once into one topic, drained in turn by a ceiling, a Quix Streams
peer and Rekap's tabulators; records/s, CPU-seconds per 100k records (the contender's processes,
PostgreSQL, the broker) and peak memory, side by side.

    .venv/bin/python -m loadtests.peer                     # 12 provinces (~375,000 records), every contender
    .venv/bin/python -m loadtests.peer --provinces 1 --only ceiling quix rekap-1
    .venv/bin/python -m loadtests.peer --runs 3 --skip-verified

The backlog: the synthetic national data set's first N provinces (national.py), a night planned with
the usual mishaps (duplicates, corrections, stale and conflicting revisions, misread forms held,
forged, out-of-scope and malformed records), signed, in 6 partitions. The contenders, one after
another, each in its own process(es) with a consumer group and a database of its own (a copy of one
made as Run.prepare_database makes it: migrated, the master data, the terminals):

  ceiling           aiokafka reads the topic and Rekap's Decoder judges each record (signatures not
                    verified), nothing else (peer_ceiling.py): the most any Python consumer doing
                    Rekap's validation could reach here.
  quix              Quix Streams doing Rekap's job as a competent Quix user would (peer_quix.py: RocksDB
                    state per TPS and contest, a BatchingSink into PostgreSQL, at-least-once), in a
                    virtualenv of its own made on first use (.rekap/peer-venv).
  rekap-1, rekap-2  `rekap tabulator run`, 1 and 2 processes, signatures not verified.
  rekap-1-verified, rekap-2-verified   the same, signatures verified.

Time is from the processes' start until every record is processed: for Rekap, `rekap.partition_offset`
at the end offsets; for Quix, its consumer group's committed offsets (Quix commits after its sink's
transactions, every 5 s by default); for the ceiling, the moment it decoded the last record. CPU is
read with psutil around each contender: its own processes, every process of the local stack's
PostgreSQL (the postmaster, its children, and those of its children that ended meanwhile), the
broker's JVM. Peak RSS is of all the contender's processes together. The machine is shared: whatever else
runs meanwhile (another load test) slows the contenders and adds to PostgreSQL's and the broker's CPU,
so each contender starts once the machine is quiet (for at most 30 s, then with a note in the results).

Every contender's result is checked: Rekap's with the oracle check (when signatures are not verified,
a forged record with the authentic numbers is accepted and the authentic one after it is a duplicate:
the check expects that); Quix's totals per (contest, kecamatan) and per contest and province against
the night's expected totals, and its outcome counts (it checks neither terminal nor scope, so forged
and out-of-scope records are accepted too); the ceiling's verdicts against the night's.
Needs the local stack. Writes loadtests/results/peer.{md,json,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import asyncpg
import matplotlib as mpl
import psutil
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

mpl.use("Agg")
import matplotlib.pyplot as plt

from loadtests.harness import (
    PARTITIONS,
    RESULTS,
    SECRET,
    Processes,
    Run,
    oracle_check,
    produce,
    write_results,
)
from loadtests.national import national_dataset
from rekap.access import KafkaRole, Resources, Topic
from rekap.adapters.kafka.security import acls_of, grant_acls
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres import night_check as check
from rekap.adapters.postgres.migrations import load_migrations, migrate
from rekap.app.logins import OWNER
from rekap.config import Settings
from rekap.devstack.secrets import stack_settings
from rekap.devstack.stack import LocalStack
from rekap.resources import migrations_dir
from rekap.simulation.night import SUMMARY_COLUMNS, Expected, Mix, Planned, plan_night

QUIX_VERSION = "3.28.1"
# Quix pins pydantic <2.14, pydantic-settings <2.16 and confluent-kafka <2.13, below Rekap's: its own venv.
QUIX_REQUIREMENTS = (f"quixstreams=={QUIX_VERSION}", f"asyncpg=={version('asyncpg')}")
SERVICES = Path(__file__).resolve().parent.parent / "services"
POLL_S = 0.25
PROGRESS_S = 5.0
STALL_S = 180.0  # no progress that long: the contender failed
BUSY_PERCENT = 15.0  # the machine's CPU use (of both cores) under which a contender starts
SETTLE_S = 30.0  # how long to wait for that before it starts anyway (the table then says so)
NOTE = """Chart: peer.png. Medians of the runs. Time from the processes' start until every record is processed
(Rekap: applied in PostgreSQL; Quix: committed by its consumer group, which it does after its sink's transactions;
ceiling: decoded). CPU-seconds per 100k records: the contender's processes / every process of the local PostgreSQL /
the broker's JVM, read around each contender. Peak RSS: all the contender's processes together. Signatures are
verified only in the 'verified' Rekap rows. The Quix peer validates with Rekap's pydantic model and arithmetic rules,
keeps (revision, digest, counted numbers) per TPS and contest in RocksDB (with its changelog topic) and writes,
through asyncpg, a row per record with its raw key, value and headers (binary COPY) and the (contest,
kecamatan) totals (upserts) into PostgreSQL at least once; it checks neither terminals nor scopes
(peer_quix.py).""".replace("\n", " ")


@dataclass(frozen=True)
class Contender:
    key: str  # as --only names it
    label: str
    kind: Literal["ceiling", "quix", "rekap"]
    processes: int = 1
    verify: bool = False


CONTENDERS = [
    Contender("ceiling", "ceiling: aiokafka + Rekap's Decoder", "ceiling"),
    Contender("quix", f"Quix Streams {QUIX_VERSION} peer", "quix"),
    Contender("rekap-1", "Rekap, 1 tabulator, unverified", "rekap"),
    Contender("rekap-2", "Rekap, 2 tabulators, unverified", "rekap", processes=2),
    Contender("rekap-1-verified", "Rekap, 1 tabulator, verified", "rekap", verify=True),
    Contender("rekap-2-verified", "Rekap, 2 tabulators, verified", "rekap", processes=2, verify=True),
]


@dataclass
class Measurement:
    seconds: float
    records: int
    cpu_process: float
    cpu_postgres: float
    cpu_broker: float
    peak_rss: int
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    def per_100k(self, cpu: float) -> float:
        return cpu / self.records * 100_000


# -- processes and the stack's servers, measured ------------------------------------------------


def postgres_cpu(postmaster: psutil.Process) -> float:
    """The cluster's CPU seconds so far: the postmaster, its live children, and its ended (reaped) ones."""
    times = postmaster.cpu_times()
    total = float(times.user + times.system + times.children_user + times.children_system)
    for child in postmaster.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


def process_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class Stack:
    """The local stack's PostgreSQL servers (a primary and its standby, if it has one) and brokers (one, or a
    cluster's three), to read their CPU time."""

    postgres: list[psutil.Process]
    brokers: list[psutil.Process]

    @classmethod
    def find(cls, settings: Settings) -> Stack:
        stack = LocalStack.from_settings(settings)
        postgres = [server.pid() for name, server in stack.postgres.items() if name in stack.shape.postgres]
        brokers = [node.process.pid() for node in stack.kafka]
        if not postgres or not brokers or None in postgres or None in brokers:
            raise SystemExit("the local stack is not running (or not local): `.venv/bin/rekap stack up` first")
        return cls([psutil.Process(pid) for pid in postgres if pid], [psutil.Process(pid) for pid in brokers if pid])

    def cpu(self) -> tuple[float, float]:
        return sum(map(postgres_cpu, self.postgres)), sum(map(process_cpu, self.brokers))


# -- the Quix peer's virtualenv ------------------------------------------------------------------


def peer_python(settings: Settings) -> Path:
    """The Python of the Quix peer's virtualenv (.rekap/peer-venv), made or brought up to date first."""
    venv = settings.home.resolve() / "peer-venv"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    wanted = "\n".join(QUIX_REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"making the Quix peer's virtualenv {venv} ({', '.join(QUIX_REQUIREMENTS)}) ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)  # the interpreter this venv was made from
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *QUIX_REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return python


# -- Kafka: topics and ACLs of the benchmark ----------------------------------------------------


def _admin_client(settings: Settings) -> AdminClient:
    return AdminClient({**settings.kafka("admin").librdkafka(), "log_level": 3})


def grant_changelogs(settings: Settings, user: str, group: str) -> None:
    """Quix's state changelog topics (changelog__<group>--...): the peer creates, writes and reads them."""
    binding = AclBinding(ResourceType.TOPIC, f"changelog__{group}", ResourcePatternType.PREFIXED, f"User:{user}",
                         "*", AclOperation.ALL, AclPermissionType.ALLOW)  # fmt: skip
    client = _admin_client(settings)  # kept until the futures are done: a destroyed client fails them
    for future in client.create_acls([binding]).values():
        future.result(timeout=15)
    deadline = time.monotonic() + 15
    while binding not in acls_of(settings.kafka("admin"), user):  # the authoriser follows the metadata log
        if time.monotonic() > deadline:
            raise RuntimeError(f"the ACL {binding} was not in force 15 s after it was created")
        time.sleep(0.05)


def remove_acls(settings: Settings, prefixes: tuple[str, ...]) -> None:
    """Every ACL on a resource whose name starts with one of the prefixes (this benchmark's own)."""
    client = _admin_client(settings)
    every = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
                             AclOperation.ANY, AclPermissionType.ANY)  # fmt: skip
    ours = [
        AclBindingFilter(a.restype, a.name, a.resource_pattern_type, a.principal, a.host, a.operation,
                         a.permission_type)
        for a in client.describe_acls(every).result(timeout=15) if a.name.startswith(prefixes)
    ]  # fmt: skip
    if ours:
        for future in client.delete_acls(ours).values():
            future.result(timeout=15)


async def delete_topics(settings: Settings, prefixes: tuple[str, ...]) -> list[str]:
    admin = AIOKafkaAdminClient(**settings.kafka("admin").options())
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


async def committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    """How many records the group has committed on the topic (its offsets, summed)."""
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


# -- databases --------------------------------------------------------------------------------


async def copy_database(run: Run, template: str) -> None:
    """The run's database as a copy of the template (made once by Run.prepare_database: migrated, the
    master data, the terminals); a database's own grants are not copied: `migrate` gives them again, as
    `rekap db migrate` does after a copy or a restore."""
    admin = await asyncpg.connect(run.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{run.name}" TEMPLATE "{template}" OWNER {OWNER}')
    finally:
        await admin.close()
    owner = await asyncpg.connect(run.url_as("owner"))
    try:
        await migrate(owner, load_migrations(migrations_dir()))
    finally:
        await owner.close()


# -- what each contender must give ----------------------------------------------------------------


def unchecked_view(planned: list[Planned], reasons: set[str]) -> list[Planned]:
    """The outcomes a tabulator that does not check `reasons` must record: such a record (whose numbers
    are the authentic form's) is accepted, and the authentic form after it is then a duplicate."""
    pending: dict[bytes, set[str]] = defaultdict(set)
    view = []
    for p in planned:
        if p.reason in reasons:
            pending[p.key].add(json.loads(p.value)["contest_id"])
            view.append(replace(p, outcome="accepted", reason=None))
        elif p.outcome == "accepted" and p.key in pending and json.loads(p.value)["contest_id"] in pending[p.key]:
            pending[p.key].discard(json.loads(p.value)["contest_id"])
            view.append(replace(p, outcome="duplicate"))
        else:
            view.append(p)
    return view


async def quix_check(run: Run, planned: list[Planned], expected: Expected) -> list[str]:
    """The Quix peer's tables against the night: totals per (contest, kecamatan) and per (contest,
    province), votes per choice and kecamatan, one outcome row per record, the outcome counts."""
    conn = await asyncpg.connect(run.url)
    try:
        totals = {(r["kecamatan"], r["contest_id"]): tuple(r[c] for c in PEER_COLUMNS)
                  for r in await conn.fetch("SELECT * FROM peer.total")}  # fmt: skip
        votes = {(r["kecamatan"], r["contest_id"], r["choice"]): r["votes"]
                 for r in await conn.fetch("SELECT * FROM peer.votes")}  # fmt: skip
        by_outcome = await conn.fetch("SELECT outcome, count(*) AS n FROM peer.record GROUP BY outcome")
        outcomes = Counter({r["outcome"]: r["n"] for r in by_outcome})
        counts = await conn.fetchrow(
            'SELECT count(*), count(DISTINCT (partition, "offset")), sum(octet_length(value)) FROM peer.record'
        )
        assert counts is not None
        rows, distinct, raw_bytes = counts
    finally:
        await conn.close()
    problems = []
    zero = (0,) * len(PEER_COLUMNS)
    summary = expected.summary()
    want = {(region, contest): tuple(row[c] for c in PEER_COLUMNS)
            for (level, region, contest), row in summary.items() if level == "kecamatan"}  # fmt: skip
    problems += [f"totals {key}: peer {totals.get(key, zero)}, expected {row}"
                 for key, row in want.items() if totals.get(key, zero) != row][:10]  # fmt: skip
    problems += [f"totals {key}: peer {row}, not expected" for key, row in totals.items()
                 if key not in want and row != zero][:10]  # fmt: skip
    by_province: dict[tuple[str, str], tuple[int, ...]] = {}
    for (kecamatan, contest), row in totals.items():
        key = (kecamatan[:2], contest)
        by_province[key] = tuple(a + b for a, b in zip(by_province.get(key, zero), row, strict=True))
    want_provinces = {(region, contest): tuple(row[c] for c in PEER_COLUMNS)
                      for (level, region, contest), row in summary.items() if level == "provinsi"}  # fmt: skip
    problems += [f"province totals {key}: peer {by_province.get(key, zero)}, expected {row}"
                 for key, row in want_provinces.items() if by_province.get(key, zero) != row][:10]  # fmt: skip
    want_votes = {(region, contest, choice): n for (level, region, contest, choice), n in expected.votes().items()
                  if level == "kecamatan"}  # fmt: skip
    problems += [f"votes {key}: peer {votes.get(key, 0)}, expected {n}"
                 for key, n in want_votes.items() if votes.get(key, 0) != n][:10]  # fmt: skip
    problems += [f"votes {key}: peer {n}, not expected" for key, n in votes.items() if key not in want_votes and n][:10]
    sent = Counter(p.outcome for p in unchecked_view(planned, {"bad_signature", "terminal_not_authorized"}))
    if outcomes != sent:
        problems.append(f"outcomes: peer {dict(outcomes)}, expected {dict(sent)}")
    if rows != len(planned) or distinct != len(planned):
        problems.append(f"{rows} outcome rows ({distinct} records) for {len(planned)} records")
    sent_bytes = sum(len(p.value) for p in planned)
    if raw_bytes != sent_bytes:
        problems.append(f"{raw_bytes} bytes of records kept, {sent_bytes} sent")
    return problems


PEER_COLUMNS = ("valid", "invalid", "ballots_used", "tps_counted", "tps_quarantined")
assert set(PEER_COLUMNS) <= set(SUMMARY_COLUMNS)


def ceiling_check(status: dict[str, object], planned: list[Planned]) -> list[str]:
    """The ceiling's verdicts: without signatures, every record is authentic but those refused for
    their bytes or their terminal's scope."""
    want = Counter(p.reason if p.reason in ("malformed_json", "terminal_not_authorized") else "authentic"
                   for p in planned)  # fmt: skip
    got = Counter(status.get("verdicts") or {})  # type: ignore[call-overload]
    return [] if got == want else [f"ceiling verdicts {dict(got)}, expected {dict(want)}"]


# -- one contender, measured ---------------------------------------------------------------------


@dataclass
class Bench:
    settings: Settings
    stack: Stack
    base: str  # the benchmark's name: its topic, databases, groups and logs start with it
    template: str  # the database every contender's is copied from
    planned: list[Planned]
    expected: Expected
    total: int
    quix_python: Path | None = None
    batch: int = Settings.model_fields["batch_max_records"].default  # REKAP_BATCH_MAX_RECORDS of Rekap's runs
    logs: Path = field(default_factory=lambda: RESULTS / "logs")
    busy: list[str] = field(default_factory=list)  # contenders that started on a busy machine

    @property
    def topic(self) -> str:
        return self.base.replace("_", "-")

    @property
    def dead_letters(self) -> str:
        return f"{self.topic}.dead-letters"

    async def measure(self, contender: Contender, n: int) -> Measurement:
        slug = contender.key.replace("-", "_")
        run = Run(self.settings, name=f"{self.base}_{slug}_{n}", topic_name=self.topic,
                  group_name=f"{self.topic}-{contender.key}-{n}")  # fmt: skip
        print(f"[{contender.key}] database {run.name}, consumer group {run.group} ...", flush=True)
        await copy_database(run, self.template)
        admin = self.settings.kafka("admin")
        names = Resources(self.topic, self.dead_letters, run.group, run.photo_topic, run.photo_group)
        await asyncio.to_thread(grant_acls, admin, "tabulator", KafkaRole.TABULATOR, names)
        try:
            return await self._measure(contender, run)
        finally:
            await run.drop()
            shutil.rmtree(self.state_dir(run), ignore_errors=True)

    async def _measure(self, contender: Contender, run: Run) -> Measurement:
        commands, env = await self._launch(contender, run)
        await self._settle(contender, run)
        processes = Processes(commands, env, self.logs / run.name)
        progress = Progress(self, contender, run)
        await progress.open()
        try:
            postgres_before, broker_before = self.stack.cpu()
            started = time.monotonic()
            processes.start()
            last, moved, reported = -1, started, started
            while (done := await progress.done()) < self.total:
                now = time.monotonic()
                processes.sample()
                if done != last:
                    last, moved = done, now
                if not processes.alive():
                    raise RuntimeError(f"[{contender.key}] a process died: see {self.logs / run.name}")
                if now - moved > STALL_S:
                    raise RuntimeError(f"[{contender.key}] no progress for {STALL_S:.0f} s at {done:,} records")
                if now - reported >= PROGRESS_S:
                    print(f"  [{contender.key}] {done:,} of {self.total:,} after {now - started:.0f} s", flush=True)
                    reported = now
                await asyncio.sleep(POLL_S)
            elapsed = time.monotonic() - started
            processes.sample()
            cpu = processes.cpu_seconds()
            postgres_after, broker_after = self.stack.cpu()
        finally:
            processes.stop()
            await progress.close()
        m = Measurement(elapsed, self.total, cpu, postgres_after - postgres_before, broker_after - broker_before,
                        processes.peak_rss, await self._check(contender, run))  # fmt: skip
        print(f"[{contender.key}] {self.total:,} records in {elapsed:.1f} s: {m.rate:,.0f}/s; CPU-s per 100k: "
              f"{m.per_100k(cpu):.1f} process, {m.per_100k(m.cpu_postgres):.1f} PostgreSQL, "
              f"{m.per_100k(m.cpu_broker):.1f} broker; peak RSS {m.peak_rss / 2**20:.0f} MB; "
              f"{check_name(contender)} {'OK' if not m.problems else 'FAILED'}", flush=True)  # fmt: skip
        for problem in m.problems:
            print(f"  {problem}", file=sys.stderr, flush=True)
        return m

    async def _launch(self, contender: Contender, run: Run) -> tuple[list[list[str]], dict[str, str]]:
        """The contender's command lines and environment."""
        env = run.env(verify=contender.verify, batch=self.batch)
        here = Path(__file__).parent
        if contender.kind == "ceiling":
            env |= {"PEER_TOPIC": self.topic, "PEER_GROUP": run.group, "PEER_DSN": run.url_as("tabulator"),
                    "PEER_STATUS": str(self.logs / run.name / "status.json")}  # fmt: skip
            return [[sys.executable, str(here / "peer_ceiling.py")]], env
        if contender.kind == "quix":
            assert self.quix_python is not None
            await asyncio.to_thread(grant_changelogs, self.settings, "tabulator", run.group)
            env |= {"PEER_TOPIC": self.topic, "PEER_GROUP": run.group, "PEER_DSN": run.url_as("owner"),
                    "PEER_STATE_DIR": str(self.state_dir(run)), "PYTHONPATH": str(SERVICES),
                    "PEER_KAFKA": json.dumps(self.settings.kafka("tabulator").librdkafka())}  # fmt: skip
            return [[str(self.quix_python), str(here / "peer_quix.py")]], env
        return [[sys.executable, "-m", "rekap", "tabulator", "run"]] * contender.processes, env

    async def _settle(self, contender: Contender, run: Run) -> None:
        """Until the machine is quiet: the database's copy written out (a checkpoint), the broker done with
        what came before. Whatever else keeps it busy is noted in the results."""
        conn = await asyncpg.connect(run.url)
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()
        started = time.monotonic()
        while (busy := await asyncio.to_thread(psutil.cpu_percent, 1.0)) > BUSY_PERCENT:
            if time.monotonic() - started > SETTLE_S:
                self.busy.append(f"{contender.label}: the machine was still {busy:.0f}% busy when it started")
                print(f"  [{contender.key}] warning: {self.busy[-1]}", flush=True)
                return
        if time.monotonic() - started > 2:
            print(f"  [{contender.key}] the machine was quiet after {time.monotonic() - started:.0f} s", flush=True)

    def state_dir(self, run: Run) -> Path:
        return self.settings.home.resolve() / "peer-state" / run.name

    async def _check(self, contender: Contender, run: Run) -> list[str]:
        if contender.kind == "ceiling":
            return ceiling_check(json.loads((self.logs / run.name / "status.json").read_text()), self.planned)
        if contender.kind == "quix":
            return await quix_check(run, self.planned, self.expected)
        planned = self.planned if contender.verify else unchecked_view(self.planned, {"bad_signature"})
        return await oracle_check(run, planned, self.expected)


class Progress:
    """How many records a contender has processed: the ceiling's status file, Quix's committed offsets,
    Rekap's applied offsets."""

    def __init__(self, bench: Bench, contender: Contender, run: Run) -> None:
        self._bench, self._contender, self._run = bench, contender, run
        self._kafka: AIOKafkaAdminClient | None = None
        self._conn: asyncpg.Connection | None = None

    async def open(self) -> None:
        if self._contender.kind == "quix":
            self._kafka = AIOKafkaAdminClient(**self._bench.settings.kafka("admin").options())
            await self._kafka.start()
        elif self._contender.kind == "rekap":
            self._conn = await asyncpg.connect(self._run.url)

    async def done(self) -> int:
        if self._kafka is not None:
            return await committed(self._kafka, self._run.group, self._bench.topic)
        if self._conn is not None:
            return sum((await check.applied(self._conn, self._bench.topic)).values())
        try:
            status = json.loads((self._bench.logs / self._run.name / "status.json").read_text())
        except FileNotFoundError:
            return 0
        return self._bench.total if status["done"] else int(status["records"])

    async def close(self) -> None:
        if self._kafka is not None:
            await self._kafka.close()
        if self._conn is not None:
            await self._conn.close()


# -- the table and the chart ----------------------------------------------------------------


def check_name(contender: Contender) -> str:
    return {"ceiling": "decode check", "quix": "peer check", "rekap": "oracle check"}[contender.kind]


def rows_of(results: dict[Contender, list[Measurement]]) -> list[dict[str, object]]:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    quix = next((median([m.rate for m in ms]) for c, ms in results.items() if c.kind == "quix"), None)
    rows: list[dict[str, object]] = []
    for contender, ms in results.items():
        rate = median([m.rate for m in ms])
        process, postgres, broker = (median([m.per_100k(getattr(m, f"cpu_{part}")) for m in ms])
                                     for part in ("process", "postgres", "broker"))  # fmt: skip
        failed = sum(1 for m in ms if m.problems)
        rows.append({
            "contender": contender.label,
            "records": f"{ms[0].records:,}",
            "s": f"{median([m.seconds for m in ms]):.1f}",
            "records/s": f"{rate:,.0f}",
            "vs Quix peer": f"{rate / quix:.2f}x" if quix else "-",
            "CPU-s/100k process": f"{process:.1f}",
            "PostgreSQL": f"{postgres:.1f}",
            "broker": f"{broker:.1f}",
            "total": f"{process + postgres + broker:.1f}",
            "peak RSS MB": f"{median([m.peak_rss for m in ms]) / 2**20:.0f}",
            "check": f"{check_name(contender)} {'OK' if not failed else f'FAILED ({failed} of {len(ms)})'}",
        })  # fmt: skip
    return rows


def chart(path: Path, results: dict[Contender, list[Measurement]], title: str) -> None:
    labels = [c.label for c in results]
    rates = [statistics.median([m.rate for m in ms]) for ms in results.values()]
    parts = {part: [statistics.median([m.per_100k(getattr(m, f"cpu_{part}")) for m in ms]) for ms in results.values()]
             for part in ("process", "postgres", "broker")}  # fmt: skip
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.6 * len(labels) + 2.6), sharey=True)
    y = range(len(labels))
    left.barh(y, rates, color="tab:blue")
    for n, rate in enumerate(rates):
        left.text(rate, n, f" {rate:,.0f}", va="center", fontsize=8)
    left.set_yticks(list(y), labels)
    left.invert_yaxis()
    left.set_xlabel("records/s (from the processes' start)")
    left.set_xlim(0, max(rates) * 1.2)
    offset = [0.0] * len(labels)
    for part, color in (("process", "tab:orange"), ("postgres", "tab:green"), ("broker", "tab:gray")):
        right.barh(y, parts[part], left=offset, color=color, label={"postgres": "PostgreSQL"}.get(part, part))
        offset = [a + b for a, b in zip(offset, parts[part], strict=True)]
    for n, total in enumerate(offset):
        right.text(total, n, f" {total:.1f}", va="center", fontsize=8)
    right.set_xlim(0, max(offset) * 1.15)
    right.set_xlabel("CPU-seconds per 100k records")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)
    for axis in (left, right):
        axis.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the benchmark ------------------------------------------------------------------------------


def chosen(args: argparse.Namespace) -> list[Contender]:
    keys = {c.key for c in CONTENDERS}
    unknown = set(args.only or ()) - keys
    if unknown:
        raise SystemExit(f"--only: no contender {', '.join(sorted(unknown))}; there are {', '.join(sorted(keys))}")
    contenders = [c for c in CONTENDERS if not args.only or c.key in args.only]
    return [c for c in contenders if not (args.skip_verified and c.verify)]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provinces", type=int, default=12, help="the national data set's first N provinces")
    parser.add_argument("--runs", type=int, default=1, help="runs of each contender (the table gives medians)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"these contenders: {[c.key for c in CONTENDERS]}")
    parser.add_argument("--skip-verified", action="store_true", help="leave out Rekap with signatures verified")
    parser.add_argument("--batch", type=int, default=Bench.batch, help="REKAP_BATCH_MAX_RECORDS of Rekap's runs")
    args = parser.parse_args()
    main_task = asyncio.current_task()
    assert main_task is not None
    for stop in (signal.SIGINT, signal.SIGTERM):  # stopped, it still stops its processes and cleans up
        asyncio.get_running_loop().add_signal_handler(stop, main_task.cancel)
    contenders = chosen(args)
    if not contenders:
        raise SystemExit("no contender left to run")
    settings = stack_settings()
    stack = Stack.find(settings)
    quix_python = peer_python(settings) if any(c.kind == "quix" for c in contenders) else None
    base = f"peer_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:4]}"
    topic = base.replace("_", "-")
    dataset = national_dataset(args.provinces)
    print(f"planning the night of {args.provinces} province(s), {len(dataset.tps):,} TPS, signed ...", flush=True)
    started = time.monotonic()
    planned, expected = plan_night(dataset.master_data(), dataset.tps, mix=Mix(), sign=True, secret=SECRET)
    print(f"  {len(planned):,} records planned in {time.monotonic() - started:.0f} s", flush=True)
    template = Run(settings, name=f"{base}_template", topic_name=topic)
    try:
        print(f"template database {template.name} (master data, terminals) ...", flush=True)
        await template.prepare_database(dataset)
        admin = settings.kafka("admin")
        print(f"topic {topic}, {PARTITIONS} partitions ...", flush=True)
        await ensure_topics(admin, [Topic(topic, PARTITIONS), Topic(f"{topic}.dead-letters", PARTITIONS)])
        names = Resources(topic, f"{topic}.dead-letters", f"{topic}-terminals", template.photo_topic,
                          template.photo_group)  # fmt: skip
        await asyncio.to_thread(grant_acls, admin, "terminals", KafkaRole.TERMINALS, names)
        ends, _ = await produce(settings, topic, planned)
        bench = Bench(settings, stack, base, template.name, planned, expected, sum(ends.values()), quix_python,
                      args.batch)  # fmt: skip
        results: dict[Contender, list[Measurement]] = {c: [] for c in contenders}
        failures: list[str] = []
        for n in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"-- run {n} of {args.runs}", flush=True)
            for contender in contenders:
                try:
                    results[contender].append(await bench.measure(contender, n))
                except RuntimeError as error:  # it died or stalled: the others still run
                    print(str(error), file=sys.stderr, flush=True)
                    failures.append(f"{contender.label}, run {n}: {error}")
    finally:
        print("cleaning up: template database, topics, ACLs ...", flush=True)
        await template.drop()
        deleted = await delete_topics(settings, (topic, f"changelog__{topic}"))
        await asyncio.to_thread(remove_acls, settings, (topic, f"changelog__{topic}"))
        print(f"  deleted topics {', '.join(deleted)}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    provinces = f"{args.provinces} province{'s' if args.provinces > 1 else ''}"
    title = f"Peer benchmark: {bench.total:,} records ({provinces}), {PARTITIONS} partitions"
    results = {c: ms for c, ms in results.items() if ms}
    if not results:
        return 1
    chart(RESULTS / "peer.png", results, title)
    notes = [
        NOTE,
        f"Quix Streams {QUIX_VERSION} in its own virtualenv ({', '.join(QUIX_REQUIREMENTS)}).",
        *(f"FAILED (no figures): {failure}" for failure in failures),
        *(f"Warning: {busy}." for busy in bench.busy),
    ]
    command = "python -m loadtests.peer " + " ".join(sys.argv[1:])
    write_results("peer", title, command.strip(), rows_of(results), notes)
    return 0 if not failures and all(not m.problems for ms in results.values() for m in ms) else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except asyncio.CancelledError:
        print("stopped", file=sys.stderr)
        sys.exit(130)
