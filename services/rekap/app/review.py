"""Use case: what is held for review and why, oldest first (`rekap review list`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from rekap.app.photos import FormPhoto
from rekap.app.regions import Regions, require_region
from rekap.domain.regions import Level
from rekap.domain.review import explain


@dataclass(frozen=True)
class HeldForm:
    """A form held for review, with the numbers its reasons are about."""

    tps_id: str
    contest_id: str
    revision: int
    reasons: list[str]
    terminal_id: str
    authority: int
    received_at: datetime
    time_zone: str  # the region's: Asia/Jakarta
    zone: str  # and its name: WIB
    numbers: dict[str, int]
    votes: dict[str, int]
    photos: list[FormPhoto] = field(default_factory=list)  # the photos of the C.Hasil it names: the paper

    def explained(self) -> list[tuple[str, str]]:
        """Each reason, and what is wrong with this form's own numbers."""
        return [(reason, explain(reason, self.numbers, self.votes)) for reason in self.reasons]


class HeldForms(Regions, Protocol):
    async def held_forms(self, kecamatan: str | None) -> list[HeldForm]: ...


async def held_for_review(held: HeldForms, kecamatan: str | None = None) -> list[HeldForm]:
    """Every held form (of one kecamatan, if named: it must be in the master data), oldest first."""
    if kecamatan is not None:
        await require_region(held, Level.KECAMATAN, kecamatan)
    return await held.held_forms(kecamatan)
