# ruff: noqa: ARG002, ARG005  (fakes of the ports answer what the use case asks, not all they are told)
"""The simulated night's use case on ports answered in memory: what it refuses before anything is sent,
what it sends, what it says when the count does not finish, and the check it hands back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from rekap.app.night import NightPlan, RaceCount, play_night
from rekap.domain.contests import Contest
from rekap.domain.masterdata import MasterData
from rekap.domain.terminals import Terminal
from rekap.errors import ConfigError, RekapError
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.night import Expected, Mix, Planned

MASTER = read_master_data_folder(sumsel_master_data_dir()).master_data()
PLAN = NightPlan(tps=3, mix=Mix(), seed=1, secret=b"s" * 32, duration_s=0, timeout_s=5, check=True,
                 terminal_refresh_s=0)  # fmt: skip


@dataclass
class Ports:
    forms: bool = False
    counted: bool = True
    sent: list[Planned] = field(default_factory=list)
    registered: list[Terminal] = field(default_factory=list)

    async def master_data(self) -> MasterData:
        return MASTER

    async def has_forms(self) -> bool:
        return self.forms

    async def register_terminals(self, terminals: list[Terminal]) -> int:
        self.registered += terminals
        return 0  # all known already: nothing to wait for

    async def send(self, planned: list[Planned], duration_s: float, sent: object) -> dict[int, int]:
        self.sent += planned
        return {0: len(planned)}

    async def wait_counted(self, ends: dict[int, int], timeout_s: float, counted: object) -> None:
        if not self.counted:
            raise TimeoutError

    async def race_count(self, race: Contest, levels: list[str]) -> RaceCount:
        return RaceCount(race, {}, [])

    async def outcome_counts(self) -> Counter[tuple[str, str | None]]:
        return Counter({("accepted", None): len(self.sent)})

    async def differences(self, planned: list[Planned], expected: Expected) -> list[str]:
        return [] if planned == self.sent else ["not what was sent"]


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    def sending(self, total: int) -> object:
        return lambda n: None

    def counting(self, total: int) -> object:
        return lambda n: None


async def test_a_night_is_sent_counted_and_checked_and_shows_the_province_s_race() -> None:
    ports = Ports()
    result = await play_night(ports, PLAN, Said())  # type: ignore[arg-type]
    assert result.tps == 3
    assert len({t.scope.code for t in ports.registered if t.scope.kind.value == "tps"}) == 3
    assert result.records == len(ports.sent) > 3
    assert result.count.race.contest_id == "pkwkp-16", "the province's race, from the master data"
    assert result.problems == []


async def test_a_database_with_forms_is_refused_before_anything_is_sent() -> None:
    ports = Ports(forms=True)
    with pytest.raises(ConfigError, match="already holds forms"):
        await play_night(ports, PLAN, Said())  # type: ignore[arg-type]
    assert ports.sent == []
    assert ports.registered == []


async def test_a_count_that_does_not_finish_says_to_look_for_a_tabulator() -> None:
    with pytest.raises(RekapError, match="Is a tabulator running"):
        await play_night(Ports(counted=False), PLAN, Said())  # type: ignore[arg-type]
