"""A database session as the use cases see it: the ports of rekap.app, answered by this package's reads
on one connection."""

from __future__ import annotations

from dataclasses import dataclass

from rekap.adapters.postgres import masterdata, readings, review
from rekap.adapters.postgres.connection import Connection
from rekap.app.review import HeldForm
from rekap.app.status import DecidingForm, Received
from rekap.domain.regions import Level


@dataclass(frozen=True)
class Session:
    conn: Connection

    async def region_exists(self, level: Level, code: str) -> bool:
        return await masterdata.region_exists(self.conn, level, code)

    async def deciding_forms(self, tps_id: str) -> list[DecidingForm]:
        return await readings.tps_forms(self.conn, tps_id)

    async def received(self, tps_id: str) -> list[Received]:
        return await readings.tps_history(self.conn, tps_id)

    async def held_forms(self, kecamatan: str | None) -> list[HeldForm]:
        return await review.held_forms(self.conn, kecamatan)
