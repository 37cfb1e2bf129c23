"""Reading back what the tabulator made of a night, and comparing it with what was sent."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.readings import outcome_counts, stored_offsets, summary_rows, vote_rows
from rekap.simulation.night import SUMMARY_COLUMNS, Expected, Planned

STORED_PHOTOS = "SELECT sha256 FROM rekap.photo WHERE status = 'stored' AND sha256 = ANY($1::text[])"
INDEXED_PHOTOS = "SELECT count(*) FROM rekap.photo WHERE sha256 = ANY($1::text[])"


async def applied(conn: Connection, topic: str) -> dict[int, int]:
    """partition -> how far the tabulators applied it (the next offset to read)."""
    return await stored_offsets(conn, topic)


async def wait_applied(
    conn: Connection,
    topic: str,
    ends: dict[int, int],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    progress: Callable[[int], None] = lambda _: None,
) -> None:
    """Until each partition is applied up to its end offset. Fails if `alive()` turns false."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (done := await applied(conn, topic)) != ends:
        progress(sum(done.values()))
        if not alive():
            raise RuntimeError("the tabulator stopped before it was done")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"not all applied within {timeout:.0f} s: {done} of {ends}")
        await asyncio.sleep(0.1)
    progress(sum(done.values()))


async def differences(conn: Connection, topic: str, planned: list[Planned], expected: Expected) -> list[str]:
    """Everything in the database that differs from what the night must give; empty when exact."""
    problems = []
    summary = {
        (r.level, r.region_code, r.contest_id): {c: r.counts[c] for c in SUMMARY_COLUMNS}
        for r in await summary_rows(conn)
    }
    want = expected.summary()
    if summary.keys() != want.keys():
        problems.append(f"summary rows: {len(summary)} in the database, {len(want)} expected")
    problems += [
        f"summary {key}: database {summary.get(key)}, expected {row}"
        for key, row in want.items()
        if summary.get(key) != row
    ][:10]
    votes = {(v.level, v.region_code, v.contest_id, v.choice): v.votes for v in await vote_rows(conn)}
    want_votes = expected.votes()
    if votes.keys() != want_votes.keys():
        problems.append(f"vote rows: {len(votes)} in the database, {len(want_votes)} expected")
    problems += [
        f"votes {key}: database {votes.get(key)}, expected {n}" for key, n in want_votes.items() if votes.get(key) != n
    ][:10]
    outcomes = await outcome_counts(conn, topic)
    sent = Counter((p.outcome, p.reason) for p in planned)
    if outcomes != sent:
        problems.append(f"outcomes: database {dict(outcomes)}, sent {dict(sent)}")
    if expected.photos:
        stored = await stored_photos(conn, list(expected.photos))
        problems += [f"photo {sha256} is not stored" for sha256 in sorted(set(expected.photos) - stored)][:10]
    return problems


async def stored_photos(conn: Connection, digests: list[str]) -> set[str]:
    with boundary():
        rows = await conn.fetch(STORED_PHOTOS, digests)
    return {row["sha256"] for row in rows}


async def wait_photos(conn: Connection, digests: list[str], *, timeout: float) -> None:
    """Until every one of these photos is indexed (stored or refused)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with boundary():
            indexed = await conn.fetchval(INDEXED_PHOTOS, digests)
        if indexed >= len(digests):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{indexed:,} of {len(digests):,} photos indexed within {timeout:.0f} s")
        await asyncio.sleep(0.2)
