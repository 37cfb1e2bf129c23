"""Master data: what the tabulator must know to judge a form (the TPS and the contests, looked up by id),
and a whole dataset as it is loaded (regions, TPS, contests, choices, and what it is)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rekap.domain.contests import Contest
from rekap.domain.regions import Level, Tps


@dataclass(frozen=True)
class MasterData:
    tps: Mapping[str, Tps]
    contests: Mapping[str, Contest]
    _by_region: dict[str, list[Contest]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_region: dict[str, list[Contest]] = defaultdict(list)
        for contest in self.contests.values():
            by_region[contest.region_code].append(contest)
        object.__setattr__(self, "_by_region", dict(by_region))

    def contests_at(self, tps_id: str) -> list[Contest]:
        """The contests a TPS holds (two in a Pilkada: the governor race and its regent/mayor race)."""
        return [*self._by_region.get(tps_id[:2], ()), *self._by_region.get(tps_id[:4], ())]


@dataclass(frozen=True, slots=True)
class Region:
    level: Level
    code: str
    name: str
    kind: str | None = None  # kabupaten or kota, for that level only


@dataclass(frozen=True, slots=True)
class Choice:
    contest_id: str
    choice: str
    candidate_name: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """What the folder is, and where its TPS list comes from (say SYNTHETIC when it is)."""

    name: str
    tps_source: str

    @property
    def synthetic(self) -> bool:
        """Made up, at least in part (the shipped Sumatera Selatan TPS list is): never an election's."""
        return self.tps_source.upper().startswith("SYNTHETIC")


@dataclass(frozen=True)
class MasterDataSet:
    """Everything a master data folder holds, checked for consistency."""

    about: Dataset
    regions: list[Region]
    tps: list[Tps]
    contests: list[Contest]
    choices: list[Choice]

    def regions_at(self, level: Level) -> list[Region]:
        return [r for r in self.regions if r.level is level]

    def master_data(self) -> MasterData:
        return MasterData(tps={t.tps_id: t for t in self.tps}, contests={c.contest_id: c for c in self.contests})
