"""What the tabulator must know to judge a form: the TPS and the contests, looked up by id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rekap.domain.contests import Contest
from rekap.domain.regions import Tps


@dataclass(frozen=True)
class MasterData:
    tps: Mapping[str, Tps]
    contests: Mapping[str, Contest]

    def contests_at(self, tps_id: str) -> list[Contest]:
        """The contests a TPS holds (two in a Pilkada: the governor race and its regent/mayor race)."""
        return [c for c in self.contests.values() if c.is_held_at(tps_id)]
