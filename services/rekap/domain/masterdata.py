"""What the tabulator must know to judge a form: the TPS and the contests, looked up by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from rekap.domain.contests import Contest
from rekap.domain.regions import Tps


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
