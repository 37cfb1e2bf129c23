"""Use cases of `rekap publish`, a terminal's side: foresee what a tabulator would make of a form now (so
that one it would not count is not sent), and wait for the outcome a tabulator recorded for a record sent.
Sending itself is the wiring's (a producer that retries while the broker does not answer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from rekap.domain.decode import RawRecord
from rekap.domain.forecast import FormWorld, forecast, refusal
from rekap.domain.tally import TallyV1


@dataclass(frozen=True)
class RecordOutcome:
    outcome: str  # accepted, duplicate, quarantined, rejected, stale
    reason: str | None
    detail: str | None


class FormWorlds(Protocol):
    async def form_world(self, tps_id: str, terminal_id: str, contest_id: str) -> FormWorld: ...


class Outcomes(Protocol):
    async def record_outcome(self, topic: str, partition: int, offset: int) -> RecordOutcome | None: ...


async def why_not_counted(worlds: FormWorlds, record: RawRecord, tally: TallyV1) -> str | None:
    """Why a tabulator would not count this form now (None: it would), judged against the database's master
    data, the terminal's registration and the form that decides its TPS and contest."""
    known = await worlds.form_world(tally.tps_id, tally.terminal_id, tally.contest_id)
    return refusal(forecast(record, known), known, tally)


async def outcome_within(
    outcomes: Outcomes, topic: str, partition: int, offset: int, seconds: float, *, every: float = 0.2
) -> RecordOutcome | None:
    """The outcome a tabulator recorded for the record at (topic, partition, offset), asked every `every`
    seconds; None if none within `seconds`."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (found := await outcomes.record_outcome(topic, partition, offset)) is None:
        if loop.time() >= end:
            return None
        await asyncio.sleep(every)
    return found
