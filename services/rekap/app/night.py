"""Use case: play a simulated election night against the running tabulator (`rekap simulate`): register the
simulated terminals, send the night's records at their time, wait until every one is counted, read the
headline race's count and what became of every record, and check the database against what was sent."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from rekap.domain.contests import Contest, ContestKind
from rekap.domain.masterdata import MasterData
from rekap.domain.terminals import Terminal
from rekap.errors import ConfigError, RekapError
from rekap.simulation.night import Expected, Mix, Planned, PlannedPhoto, plan_night, simulated_terminals

Progress = Callable[[int], None]  # how many so far


@dataclass(frozen=True)
class NightPlan:
    tps: int  # how many TPS (spread over the master data); 0: all
    mix: Mix
    seed: int
    secret: bytes  # the simulated terminals' keys derive from it
    duration_s: float  # the evening compressed into
    timeout_s: float  # to wait for the count
    check: bool  # compare the database with what was sent, at the end
    terminal_refresh_s: float  # how soon a running tabulator sees new terminals
    photos: str | None = None  # the TPS whose forms name a photo, by the start of their id ("": all); None: none


@dataclass(frozen=True)
class RegionCount:
    level: str
    region_code: str
    region_name: str
    votes: dict[str, int]  # choice -> votes
    tps_counted: int
    tps_expected: int
    tps_quarantined: int


@dataclass(frozen=True)
class RaceCount:
    race: Contest
    candidates: dict[str, str]  # choice -> the pair's name
    regions: list[RegionCount]  # the kabupaten/kota, then the province


@dataclass(frozen=True)
class NightResult:
    records: int
    tps: int
    seconds: float  # from the first record sent to the last counted
    count: RaceCount
    outcomes: Counter[tuple[str, str | None]]  # (outcome, reason) -> records
    problems: list[str] | None  # None: not checked


class NightPorts(Protocol):
    async def master_data(self) -> MasterData: ...

    async def has_forms(self) -> bool: ...

    async def register_terminals(self, terminals: list[Terminal]) -> int: ...

    async def send(self, planned: list[Planned], duration_s: float, sent: Progress) -> dict[int, int]: ...

    async def wait_counted(self, ends: dict[int, int], timeout_s: float, counted: Progress) -> None: ...

    async def send_photos(self, photos: list[PlannedPhoto]) -> None: ...

    async def wait_photos(self, digests: list[str], timeout_s: float) -> None: ...

    async def race_count(self, race: Contest, levels: list[str]) -> RaceCount: ...

    async def outcome_counts(self) -> Counter[tuple[str, str | None]]: ...

    async def differences(self, planned: list[Planned], expected: Expected) -> list[str]: ...


class NightProgress(Protocol):
    def say(self, text: str) -> None: ...

    def sending(self, total: int) -> Progress: ...

    def counting(self, total: int) -> Progress: ...


def headline_race(contests: Iterable[Contest]) -> Contest:
    """The race a night's results show: a province's (the first by code, when the master data holds several)."""
    return min((c for c in contests if c.kind is ContestKind.PKWKP), key=lambda c: c.region_code)


async def play_night(ports: NightPorts, plan: NightPlan, progress: NightProgress) -> NightResult:
    # 1. What there is to play on: master data, and (for the end check) no form yet.
    master = await ports.master_data()
    if not master.tps:
        raise ConfigError("The database has no master data: run `rekap masterdata load` first.")
    if plan.check and await ports.has_forms():
        raise ConfigError(
            "The database already holds forms, so the end check cannot compare it with this night alone. "
            "Start from an empty stack (`rekap stack reset`, or `make demo`), or pass --no-check."
        )
    tps_list = list(master.tps.values())
    if plan.tps:
        tps_list = tps_list[:: max(1, len(tps_list) // plan.tps)][: plan.tps]
    # 2. The terminals, registered (a running tabulator sees new ones within its refresh period: waited for).
    progress.say(f"Registering {len(tps_list):,} simulated KPPS terminals and their PPK operators ...")
    if await ports.register_terminals(simulated_terminals(tps_list, plan.secret)):
        progress.say(f"Waiting {plan.terminal_refresh_s + 1:.0f} s for running tabulators to see them ...")
        await asyncio.sleep(plan.terminal_refresh_s + 1)
    # 3. The night, sent at its times, then counted.
    planned, expected = plan_night(
        master, tps_list, mix=plan.mix, seed=plan.seed, secret=plan.secret, photos=plan.photos
    )
    if expected.photos:
        progress.say(f"Sending {len(expected.photos):,} photos of C.Hasil sheets (every misread form has one) ...")
        await ports.send_photos(sorted(expected.photos.values(), key=lambda photo: photo.at))
    progress.say(
        f"Election night: {len(planned):,} records from {len(tps_list):,} TPS, "
        f"the evening compressed into {plan.duration_s:.0f} s."
    )
    started = time.monotonic()
    ends = await ports.send(planned, plan.duration_s, progress.sending(len(planned)))
    try:
        await ports.wait_counted(ends, plan.timeout_s, progress.counting(sum(ends.values())))
    except TimeoutError:
        raise RekapError(
            f"Not everything was counted within {plan.timeout_s:.0f} s. Is a tabulator running "
            "(`rekap tabulator run`) on the same topic and database?"
        ) from None
    seconds = time.monotonic() - started
    if expected.photos:
        try:
            await ports.wait_photos(list(expected.photos), plan.timeout_s)
        except TimeoutError as error:
            raise RekapError(f"{error}. Is the photo consumer running (`rekap photos run`)?") from None
    # 4. The headline race's count, what became of every record, and the check.
    count = await ports.race_count(headline_race(master.contests.values()), ["kabupaten_kota", "provinsi"])
    outcomes = await ports.outcome_counts()
    problems = await ports.differences(planned, expected) if plan.check else None
    return NightResult(len(planned), len(tps_list), seconds, count, outcomes, problems)


async def register_simulated_terminals(ports: NightPorts, secret: bytes) -> int:
    """Every TPS's simulated KPPS terminal and every kecamatan's PPK operator; how many were new."""
    master = await ports.master_data()
    return await ports.register_terminals(simulated_terminals(list(master.tps.values()), secret))
