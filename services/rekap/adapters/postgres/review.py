"""The review queue: forms held for review, oldest first, with the numbers that break the rules."""

from __future__ import annotations

import json

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.photos import form_photos
from rekap.app.photos import FormPhoto
from rekap.app.review import HeldForm

SELECT_HELD = """
SELECT f.tps_id, f.contest_id, f.revision, f.reasons, f.terminal_id, f.authority,
       f.valid, f.invalid, f.ballots_used, f.votes::text AS votes, f.registered_male, f.registered_female,
       f.voted_dpt_male, f.voted_dpt_female, f.voted_moved_in_male, f.voted_moved_in_female, f.voted_added_male,
       f.voted_added_female, f.ballots_received, f.ballots_damaged, f.ballots_unused,
       t.registered_male AS dpt_male, t.registered_female AS dpt_female, r.recorded_at AS received_at,
       z.time_zone, z.zone
FROM rekap.form f
JOIN rekap.record r ON (r.topic, r.partition, r."offset") = (f.topic, f.partition, f."offset")
JOIN rekap.tps t ON t.tps_id = f.tps_id
JOIN rekap.provinsi_zone z ON z.provinsi_code = t.provinsi_code
WHERE f.status = 'quarantined' AND ($1::text IS NULL OR left(f.tps_id, 6) = $1)
ORDER BY r.recorded_at, f.tps_id, f.contest_id
"""


async def held_forms(conn: Connection, kecamatan: str | None) -> list[HeldForm]:
    with boundary():
        rows = await conn.fetch(SELECT_HELD, kecamatan)
    photos: dict[tuple[str, str], list[FormPhoto]] = {}
    for photo in await form_photos(conn, sorted({r["tps_id"] for r in rows})) if rows else []:
        photos.setdefault((photo.tps_id, photo.contest_id), []).append(photo)
    fixed = (
        "tps_id",
        "contest_id",
        "revision",
        "reasons",
        "terminal_id",
        "authority",
        "votes",
        "received_at",
        "time_zone",
        "zone",
    )
    return [
        HeldForm(
            r["tps_id"],
            r["contest_id"],
            r["revision"],
            list(r["reasons"]),
            r["terminal_id"],
            r["authority"],
            r["received_at"],
            r["time_zone"],
            r["zone"],
            {k: v for k, v in r.items() if k not in fixed},
            json.loads(r["votes"]),
            photos.get((r["tps_id"], r["contest_id"]), []),
        )
        for r in rows
    ]
