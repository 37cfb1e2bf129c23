"""What a sender can know before it sends a form: the outcome a tabulator would give it now, by the
tabulator's own rules (the decoder, then the revision rules), against what is known of the form's world
(its TPS, the contests, its terminal, the form that decides its TPS and contest). `rekap publish` refuses
a form whose outcome would not be "accepted", and says why in one line."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rekap.domain.decode import Decoder, RawRecord
from rekap.domain.masterdata import MasterData
from rekap.domain.outcomes import Judgement, judge
from rekap.domain.reasons import Outcome, RejectReason
from rekap.domain.review import explain
from rekap.domain.revisions import Authority, CurrentForm
from rekap.domain.tally import SECTION_NAMES, TallyV1
from rekap.domain.terminals import Terminal


@dataclass(frozen=True)
class FormWorld:
    """What the database knows that judges one form: master data (its TPS at least), its terminal (None:
    not registered) and the form that decides its (TPS, contest) now (None: none yet)."""

    master: MasterData
    terminal: Terminal | None
    current: CurrentForm | None


def forecast(record: RawRecord, world: FormWorld, *, clock: Callable[[], float] = time.time) -> Judgement:
    """The judgement a tabulator would make of this record now."""
    terminals = {} if world.terminal is None else {world.terminal.terminal_id: world.terminal}
    return judge(Decoder(world.master, terminals, clock=clock).decode(record), world.current)


def refusal(judgement: Judgement, world: FormWorld, tally: TallyV1) -> str | None:
    """Why a form with this judgement should not be sent, in one line; None when it would be counted."""
    where = f"TPS {tally.tps_id} {tally.contest_id}"
    match judgement.outcome:
        case Outcome.ACCEPTED:
            return None
        case Outcome.REJECTED if judgement.reason is RejectReason.BAD_SIGNATURE and world.terminal is not None:
            terminal = world.terminal.terminal_id
            return f"the key is not the one registered for {terminal}: it would be rejected (bad_signature)"
        case Outcome.REJECTED:
            detail = getattr(judgement.decoded, "detail", "")
            return f"it would be rejected: {judgement.reason}: {detail}"
        case Outcome.QUARANTINED:
            numbers = _numbers(tally, world)
            broken = "; ".join(f"{p}: {explain(p, numbers, tally.votes)}" for p in judgement.problems)
            return f"it would be held for review, not counted: {broken}"
        case Outcome.DUPLICATE:
            return f"revision {tally.revision} of {where} is counted already, with these numbers: nothing would change"
        case _:  # stale
            current = world.current
            assert current is not None  # a form is stale only against one that decides
            by = " (a PPK's correction)" if current.authority is Authority.PPK else ""
            return f"{where} is decided by revision {current.revision}{by}: revision {tally.revision} would not count"


def _numbers(tally: TallyV1, world: FormWorld) -> dict[str, int]:
    """The form's numbers by the read contract's names, with its TPS's registered voters as dpt_*."""
    tps = world.master.tps[tally.tps_id]  # a held form is authentic: its TPS exists
    numbers = dict(zip(SECTION_NAMES, tally.sections(), strict=True))
    return numbers | {
        "valid": tally.valid,
        "invalid": tally.invalid,
        "ballots_used": tally.ballots.used,
        "dpt_male": tps.registered_male,
        "dpt_female": tps.registered_female,
    }
