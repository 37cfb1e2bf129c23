"""The use cases of `rekap status` and `rekap review list`, on ports answered in memory: a code the master
data does not hold is refused before anything is read; what the ports answer comes back typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from rekap.app.review import HeldForm, held_for_review
from rekap.app.status import DecidingForm, Received, tps_status
from rekap.domain.regions import Level
from rekap.errors import RekapError

TPS = "1671011001003"
MOMENT = datetime(2024, 11, 27, 7, 3, 5, tzinfo=UTC)
FORM_FIELDS = ("ballots_received", "ballots_damaged", "ballots_unused", "registered_male", "registered_female",
               "voted_dpt_male", "voted_dpt_female", "voted_moved_in_male", "voted_moved_in_female",
               "voted_added_male", "voted_added_female", "dpt_male", "dpt_female")  # fmt: skip


@dataclass
class Ports:
    regions: set[tuple[Level, str]] = field(default_factory=lambda: {(Level.TPS, TPS), (Level.KECAMATAN, TPS[:6])})
    asked: list[str] = field(default_factory=list)

    async def region_exists(self, level: Level, code: str) -> bool:
        return (level, code) in self.regions

    async def deciding_forms(self, tps_id: str) -> list[DecidingForm]:
        self.asked.append(f"forms {tps_id}")
        return [DecidingForm("pkwkp-16", 2, "counted", 300, 4, {"1": 200, "2": 100}, [], "kpps-1")]

    async def received(self, tps_id: str) -> list[Received]:
        self.asked.append(f"history {tps_id}")
        return [Received(0, 7, "pkwkp-16", 2, "accepted", None, "kpps-1", MOMENT, "Asia/Jakarta", "WIB")]

    async def held_forms(self, kecamatan: str | None) -> list[HeldForm]:
        self.asked.append(f"held {kecamatan}")
        numbers = dict.fromkeys(FORM_FIELDS, 0) | {"valid": 299, "invalid": 4, "ballots_used": 303}
        return [HeldForm(TPS, "pkwkp-16", 1, ["votes_sum_ne_valid"], "kpps-1", 1, MOMENT, "Asia/Jakarta", "WIB",
                         numbers, {"1": 200, "2": 100})]  # fmt: skip


async def test_a_tps_s_status_is_its_deciding_forms_and_history() -> None:
    ports = Ports()
    found = await tps_status(ports, TPS)
    assert found.anything_recorded
    assert [f.votes for f in found.forms] == [{"1": 200, "2": 100}]
    assert [(r.partition, r.offset, r.outcome) for r in found.history] == [(0, 7, "accepted")]


async def test_a_tps_the_master_data_does_not_hold_is_refused_before_anything_is_read() -> None:
    ports = Ports()
    with pytest.raises(RekapError, match="TPS 1671011009999 is not in the master data"):
        await tps_status(ports, "1671011009999")
    assert ports.asked == []


async def test_held_forms_say_why_in_their_own_numbers_and_a_kecamatan_must_exist() -> None:
    ports = Ports()
    held = await held_for_review(ports)
    assert held[0].explained() == [("votes_sum_ne_valid", "the choices' votes add up to 300, valid says 299")]
    assert len(await held_for_review(ports, TPS[:6])) == 1
    with pytest.raises(RekapError, match="kecamatan 167199 is not in the master data"):
        await held_for_review(ports, "167199")
    assert ports.asked == ["held None", f"held {TPS[:6]}"]
