"""`rekap simulate`: an election night in Sumatera Selatan, played against the running tabulator,
then the results per kabupaten/kota and province, and a check that the database holds exactly what
the simulated terminals sent."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rekap.access import redact_url
from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres import night_check as check
from rekap.adapters.postgres.masterdata import read_master_data
from rekap.adapters.postgres.readings import has_forms, outcome_counts, summary_rows, vote_rows
from rekap.adapters.postgres.terminals import register_terminals
from rekap.cli.common import KAFKA, OPERATOR_DB, SubParsers, add_command
from rekap.config import Settings
from rekap.devstack.secrets import StackSecrets
from rekap.domain.contests import Contest, ContestKind
from rekap.errors import ConfigError, RekapError
from rekap.numbers import angka, persen
from rekap.publisher import Publisher, play
from rekap.simulation.night import STRESS, Mix, plan_night, simulated_terminals
from rekap.wiring import open_connection

MIXES = {"night": Mix(), "stress": STRESS}
console = Console()


def refuse_a_real_election(settings: Settings, synthetic_into: str | None) -> None:
    """Synthetic master data, terminals and forms go to the local stack, or to a database named on the
    command line (--synthetic-into): never, silently, to whatever DATABASE_URL names."""
    urls = (settings.database_url, settings.operator_database_url, settings.owner_database_url)
    if all(url is None for url in urls) and settings.uses_local_kafka:
        return  # every server is the local stack's
    url = settings.dsn_for("operator")
    database = urlsplit(url).path.lstrip("/")
    if synthetic_into is None:
        raise ConfigError(
            f"This would load synthetic master data, register simulated terminals and publish made-up forms into "
            f"{redact_url(url)} and Kafka at {settings.bootstrap_servers}, which are not the local stack. If that "
            f"is a test system, say so: --synthetic-into {database}"
        )
    if synthetic_into != database:
        raise ConfigError(f"--synthetic-into {synthetic_into}, but the database is {database}: nothing was done.")


def add_synthetic_into(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--synthetic-into", metavar="DATABASE",
        help="allow a database other than the local stack's, named here (it must be a test system)",
    )  # fmt: skip


def simulation_secret(settings: Settings) -> bytes:
    """The simulated terminals' keys derive from the local stack's own random secret (made if missing)."""
    return StackSecrets.load_or_create(settings.stack_dir).simulation


def simulate(settings: Settings, args: argparse.Namespace) -> int:
    refuse_a_real_election(settings, args.synthetic_into)
    return asyncio.run(_simulate(settings, args, simulation_secret(settings)))


async def _simulate(settings: Settings, args: argparse.Namespace, secret: bytes) -> int:
    conn = await open_connection(settings)
    try:
        master = await read_master_data(conn)
        if not master.tps:
            raise ConfigError("The database has no master data: run `rekap masterdata load` first.")
        if args.check and await has_forms(conn):
            raise ConfigError(
                "The database already holds forms, so the end check cannot compare it with this night alone. "
                "Start from an empty stack (`rekap stack reset`, or `make demo`), or pass --no-check."
            )
        tps_list = list(master.tps.values())
        if args.tps:
            tps_list = tps_list[:: max(1, len(tps_list) // args.tps)][: args.tps]
        console.print(f"Registering {len(tps_list):,} simulated KPPS terminals and their PPK operators ...")
        if await register_terminals(conn, simulated_terminals(tps_list, secret)):
            # a running tabulator sees new terminals within its refresh period: wait for it
            console.print(f"Waiting {settings.terminal_refresh_s + 1:.0f} s for running tabulators to see them ...")
            await asyncio.sleep(settings.terminal_refresh_s + 1)
        planned, expected = plan_night(master, tps_list, mix=MIXES[args.mix], seed=args.seed, secret=secret)
        terminals = settings.kafka("terminals")
        await ensure_topics(terminals, {settings.tally_topic: settings.topic_partitions})
        console.print(f"Election night: {len(planned):,} records from {len(tps_list):,} TPS, "
                      f"the evening compressed into {args.duration:.0f} s.")  # fmt: skip
        started = time.monotonic()
        with _bar() as bar:
            sending = bar.add_task("sent by the terminals", total=len(planned))
            async with Publisher(terminals, settings.tally_topic) as publisher:
                ends, _ = await play(publisher, planned, args.duration, lambda n: bar.update(sending, completed=n))
            counting = bar.add_task("counted by the tabulator", total=sum(ends.values()))
            try:
                await check.wait_applied(
                    conn, settings.tally_topic, ends, timeout=args.timeout,
                    progress=lambda n: bar.update(counting, completed=n),
                )  # fmt: skip
            except TimeoutError:
                raise RekapError(
                    f"Not everything was counted within {args.timeout:.0f} s. Is a tabulator running "
                    "(`rekap tabulator run`) on the same topic and database?"
                ) from None
        console.print(f"All counted {time.monotonic() - started:.1f} s after the first form was sent.\n")
        await show_results(conn, settings.tally_topic, headline_race(master.contests.values()))
        if not args.check:
            return 0
        problems = await check.differences(conn, settings.tally_topic, planned, expected)
    finally:
        await conn.close()
    if problems:
        console.print("[bold red]CHECK FAILED[/]: the database differs from what the terminals sent:")
        for problem in problems:
            console.print(f"  {problem}")
        return 1
    console.print(f"[bold green]CHECK OK[/]: every total, at every level, equals what the simulated terminals "
                  f"sent, and each of the {len(planned):,} records has exactly the outcome it had to get.")  # fmt: skip
    return 0


def headline_race(contests: Iterable[Contest]) -> Contest:
    """The race a night's results show: a province's (the first by code, when the master data holds several)."""
    return min((c for c in contests if c.kind is ContestKind.PKWKP), key=lambda c: c.region_code)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)  # fmt: skip


async def show_results(conn: asyncpg.Connection, topic: str, race: Contest) -> None:
    shown = ["kabupaten_kota", "provinsi"]
    votes = [dict(r) for r in await vote_rows(conn, race.contest_id, shown)]
    summary = [dict(r) for r in await summary_rows(conn, race.contest_id, shown)]
    console.print(results_table(race, votes, summary))
    outcomes = sorted((await outcome_counts(conn, topic)).items(), key=lambda item: (item[0][0], -item[1]))
    table = Table(title="What became of every record")
    for column in ("outcome", "reason", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for (outcome, reason), n in outcomes:
        table.add_row(outcome, reason or "", angka(n))
    console.print(table)


def results_table(race: Contest, votes: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]]) -> Table:
    """The race's count per kabupaten/kota and in the province (hasil.votes and hasil.summary rows), within 80
    columns: each choice's votes above their share of the region's votes, long names wrapped."""
    by_region: dict[str, dict[str, int]] = defaultdict(dict)
    names, candidates = {}, {}
    for r in votes:
        by_region[r["region_code"]][r["choice"]] = r["votes"]
        names[r["region_code"]] = r["region_name"]
        candidates[r["choice"]] = r["candidate_name"]
    choices = sorted(candidates)
    progress = {r["region_code"]: r for r in summary}
    table = Table(title=f"{race.name} ({race.contest_id}), simulated count",
                  caption=" · ".join(f"{c} {candidates[c]}" for c in choices))  # fmt: skip
    table.add_column("kabupaten/kota", ratio=1)  # the one column that wraps
    for column in [*choices, "TPS counted", "held"]:
        table.add_column(column, justify="right", no_wrap=True)
    last_kabupaten = max(c for c in by_region if len(c) == 4)
    for code in sorted(by_region, key=lambda c: (len(c) == 2, c)):
        total = sum(by_region[code].values()) or 1
        cells = [f"{angka(by_region[code].get(c, 0))}\n{persen(100 * by_region[code].get(c, 0) / total, 1)}"
                 for c in choices]  # fmt: skip
        s = progress[code]
        table.add_row(names[code], *cells, f"{angka(s['tps_counted'])}/{angka(s['tps_expected'])}",
                      angka(s["tps_quarantined"]), style="bold" if len(code) == 2 else None,
                      end_section=code == last_kabupaten)  # fmt: skip
    return table


def register(commands: SubParsers) -> None:
    sim = add_command(
        commands,
        "simulate",
        simulate,
        "play an election night against the running tabulator",
        reads=(*KAFKA, *OPERATOR_DB, "owner_database_url", "tally_topic", "topic_partitions", "terminal_refresh_s"),
        example="rekap simulate --tps 500 --duration 20 --mix stress   # on the local stack\n"
        "rekap simulate --synthetic-into rekap_rehearsal   # any other database: name it",
    )
    sim.add_argument("--tps", type=int, default=0, help="how many TPS (spread over the province); default all")
    sim.add_argument("--duration", type=float, default=30.0, help="seconds the evening is compressed into")
    sim.add_argument("--mix", choices=sorted(MIXES), default="night",
                     help="night: a realistic share of mishaps; stress: half the TPS meet one")  # fmt: skip
    sim.add_argument("--seed", type=int, default=2024)
    sim.add_argument("--timeout", type=float, default=300.0, help="how long to wait for the count to finish")
    sim.add_argument("--no-check", dest="check", action="store_false",
                     help="skip the final comparison (for a database that already holds forms)")  # fmt: skip
    add_synthetic_into(sim)
