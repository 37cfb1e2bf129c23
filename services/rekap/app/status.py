"""Use case: what counts now for one TPS, and every record received for it (`rekap status`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rekap.app.regions import Regions, require_region
from rekap.domain.regions import Level


@dataclass(frozen=True)
class DecidingForm:
    """The form that decides one contest of a TPS now, counted or held."""

    contest_id: str
    revision: int
    status: str  # counted, quarantined
    valid: int
    invalid: int
    votes: dict[str, int]
    reasons: list[str]
    terminal_id: str


@dataclass(frozen=True)
class Received:
    """A record received about a TPS, and what became of it."""

    partition: int
    offset: int
    contest_id: str | None  # None: a record too broken to name one
    revision: int | None
    outcome: str
    reason: str | None
    terminal_id: str | None
    recorded_at: datetime
    time_zone: str | None  # the region's clock (None: a key that names no province)
    zone: str | None


@dataclass(frozen=True)
class TpsStatus:
    tps_id: str
    forms: list[DecidingForm]
    history: list[Received]  # in the order received

    @property
    def anything_recorded(self) -> bool:
        return bool(self.forms or self.history)


class TpsReadings(Regions, Protocol):
    async def deciding_forms(self, tps_id: str) -> list[DecidingForm]: ...

    async def received(self, tps_id: str) -> list[Received]: ...


async def tps_status(readings: TpsReadings, tps_id: str) -> TpsStatus:
    """Raises RekapError for a TPS the master data does not hold."""
    await require_region(readings, Level.TPS, tps_id)
    return TpsStatus(tps_id, await readings.deciding_forms(tps_id), await readings.received(tps_id))
