"""`rekap simulate`: an election night in Sumatera Selatan, played against the running tabulator,
then the results per kabupaten/kota and province, and a check that the database holds exactly what
the simulated terminals sent."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rekap.access import redact_url
from rekap.app.night import NightPlan, RaceCount, play_night
from rekap.cli.common import KAFKA, OPERATOR_DB, SubParsers, add_command
from rekap.config import Settings
from rekap.devstack.secrets import StackSecrets
from rekap.errors import ConfigError
from rekap.numbers import angka, persen
from rekap.simulation.night import STRESS, Mix
from rekap.wiring import NightOnServers, with_session

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
        "--synthetic-into",
        metavar="DATABASE",
        help="allow a database other than the local stack's, named here (it must be a test system)",
    )


def simulation_secret(settings: Settings) -> bytes:
    """The simulated terminals' keys derive from the local stack's own random secret (made if missing)."""
    return StackSecrets.load_or_create(settings.stack_dir).simulation


def simulate(settings: Settings, args: argparse.Namespace) -> int:
    refuse_a_real_election(settings, args.synthetic_into)
    plan = NightPlan(
        tps=args.tps,
        mix=MIXES[args.mix],
        seed=args.seed,
        secret=simulation_secret(settings),
        duration_s=args.duration,
        timeout_s=args.timeout,
        check=args.check,
        terminal_refresh_s=settings.terminal_refresh_s,
        photos=args.photos,
    )
    with _Bars() as bars:
        result = with_session(settings, lambda session: play_night(NightOnServers(session, settings), plan, bars))
    console.print(f"All counted {result.seconds:.1f} s after the first form was sent.\n")
    console.print(results_table(result.count))
    console.print(outcomes_table(result.outcomes))
    if result.problems is None:
        return 0
    if result.problems:
        console.print("[bold red]CHECK FAILED[/]: the database differs from what the terminals sent:")
        for problem in result.problems:
            console.print(f"  {problem}")
        return 1
    console.print(
        f"[bold green]CHECK OK[/]: every total, at every level, equals what the simulated terminals "
        f"sent, and each of the {result.records:,} records has exactly the outcome it had to "
        "get."
    )
    return 0


class _Bars:
    """The night's progress on the terminal: lines said, and a bar for what was sent and what was counted."""

    def __enter__(self) -> _Bars:
        self._bar = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def say(self, text: str) -> None:
        console.print(text)

    def sending(self, total: int) -> Callable[[int], None]:
        self._bar.start()
        task = self._bar.add_task("sent by the terminals", total=total)
        return lambda n: self._bar.update(task, completed=n)

    def counting(self, total: int) -> Callable[[int], None]:
        task = self._bar.add_task("counted by the tabulator", total=total)
        return lambda n: self._bar.update(task, completed=n)


def outcomes_table(outcomes: Mapping[tuple[str, str | None], int]) -> Table:
    """What became of every record: by outcome, the most frequent reason first."""
    table = Table(title="What became of every record")
    for column in ("outcome", "reason", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for (outcome, reason), n in sorted(outcomes.items(), key=lambda item: (item[0][0], -item[1])):
        table.add_row(outcome, reason or "", angka(n))
    return table


def results_table(count: RaceCount) -> Table:
    """The race's count per kabupaten/kota and in the province, within 80 columns: each choice's votes above
    their share of the region's votes, long names wrapped."""
    race, choices = count.race, list(count.candidates)
    table = Table(
        title=f"{race.name} ({race.contest_id}), simulated count",
        caption=" · ".join(f"{c} {name}" for c, name in count.candidates.items()),
    )
    table.add_column("kabupaten/kota", ratio=1)  # the one column that wraps
    for column in [*choices, "TPS counted", "held"]:
        table.add_column(column, justify="right", no_wrap=True)
    last_below = max((i for i, r in enumerate(count.regions) if r.level != "provinsi"), default=-1)
    for index, region in enumerate(count.regions):
        total = sum(region.votes.values()) or 1
        cells = [f"{angka(region.votes.get(c, 0))}\n{persen(100 * region.votes.get(c, 0) / total, 1)}" for c in choices]
        table.add_row(
            region.region_name,
            *cells,
            f"{angka(region.tps_counted)}/{angka(region.tps_expected)}",
            angka(region.tps_quarantined),
            style="bold" if region.level == "provinsi" else None,
            end_section=index == last_below,
        )
    return table


def register(commands: SubParsers) -> None:
    sim = add_command(
        commands,
        "simulate",
        simulate,
        "play an election night against the running tabulator",
        reads=(
            *KAFKA,
            *OPERATOR_DB,
            "owner_database_url",
            "tally_topic",
            "photo_topic",
            "topic_partitions",
            "terminal_refresh_s",
        ),
        example="rekap simulate --tps 500 --duration 20 --mix stress   # on the local stack\n"
        "rekap simulate --synthetic-into rekap_rehearsal   # any other database: name it",
    )
    sim.add_argument("--tps", type=int, default=0, help="how many TPS (spread over the province); default all")
    sim.add_argument("--duration", type=float, default=30.0, help="seconds the evening is compressed into")
    sim.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="night",
        help="night: a realistic share of mishaps; stress: half the TPS meet one",
    )
    sim.add_argument("--seed", type=int, default=2024)
    sim.add_argument(
        "--photos",
        metavar="TPS_PREFIX",
        help="draw a photo of the C.Hasil sheet for each form of the TPS whose id starts so (16: the province, "
        "1671011: one kecamatan) and of every misread form; needs a photo consumer (`rekap photos run`)",
    )
    sim.add_argument("--timeout", type=float, default=300.0, help="how long to wait for the count to finish")
    sim.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip the final comparison (for a database that already holds forms)",
    )
    add_synthetic_into(sim)
