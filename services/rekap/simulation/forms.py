"""Building C.Hasil forms as terminals would send them: realistic, consistent numbers, signed bytes.

A form is a plain dict in the contract's JSON shape, so tests can corrupt any field before encoding.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rekap.domain.contests import Contest
from rekap.domain.decode import RawRecord
from rekap.domain.regions import Tps
from rekap.domain.signing import SigningKey, signed_headers
from rekap.domain.tally import SCHEMA_ID

Form = dict[str, Any]
ELECTION_DAY = datetime(2024, 11, 27, 6, 0, tzinfo=UTC)  # 13:00 WIB, when counting starts


def kpps_terminal_id(tps_id: str) -> str:
    return f"kpps-{tps_id}"


def consistent_form(
    tps: Tps, contest: Contest, rng: random.Random, *, revision: int = 1, turnout: float = 0.72
) -> Form:
    """A form that satisfies every rule: what an honest KPPS at `tps` reports for `contest`."""
    registered = {"male": tps.registered_male, "female": tps.registered_female}
    received = tps.registered + math.ceil(tps.registered * 0.025)  # the 2.5% reserve
    dpt = {sex: _binomial(rng, n, turnout) for sex, n in registered.items()}
    # voters not on the DPT vote with the reserve ballots, so there are never more of them
    spare = received - sum(dpt.values())
    moved_in, added = {}, {}
    for sex in registered:
        moved_in[sex] = min(rng.randint(0, 3), spare)
        spare -= moved_in[sex]
        added[sex] = min(rng.randint(0, 3), spare)
        spare -= added[sex]
    used = sum(dpt.values()) + sum(moved_in.values()) + sum(added.values())
    invalid = _binomial(rng, used, 0.07)
    valid = used - invalid
    choices = sorted(contest.choices)
    weights = [rng.random() + 0.2 for _ in choices]
    votes = dict(zip(choices, _split(valid, weights), strict=True))
    damaged = min(rng.randint(0, 3), received - used)
    return {
        "schema": SCHEMA_ID,
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "terminal_id": kpps_terminal_id(tps.tps_id),
        "tps_id": tps.tps_id,
        "contest_id": contest.contest_id,
        "revision": revision,
        "submitted_at": (ELECTION_DAY + timedelta(minutes=rng.randint(60, 600))).isoformat(),
        "voters": {
            "registered": registered,
            "voted": {"dpt": dpt, "moved_in": moved_in, "added": added},
            "disabled_voted": {sex: rng.randint(0, 2) for sex in registered},
        },
        "ballots": {"received": received, "used": used, "damaged": damaged, "unused": received - used - damaged},
        "votes": votes,
        "valid": valid,
        "invalid": invalid,
    }


def encode(form: Form) -> bytes:
    return json.dumps(form, separators=(",", ":")).encode()


def signed_record(form: Form, key: SigningKey, *, value: bytes | None = None) -> RawRecord:
    """The Kafka record a terminal sends: key = tps_id, the signature over the exact value bytes."""
    body = encode(form) if value is None else value
    return RawRecord(key=str(form["tps_id"]).encode(), value=body, headers=signed_headers(body, key))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw by its normal approximation (n is hundreds here), kept within 0..n."""
    return max(0, min(n, round(rng.gauss(n * p, (n * p * (1 - p)) ** 0.5))))


def _split(total: int, weights: list[float]) -> list[int]:
    whole = sum(weights)
    parts = [int(total * w / whole) for w in weights]
    parts[0] += total - sum(parts)
    return parts
