"""The registry and the ledgers in PostgreSQL (0012): their heads, the registry's leaves, and what a signed
election head names, read as one snapshot by whoever signs one (`rekap audit export`, `rekap site build`).
Master data versions and election keys are logged here; registrations, revocations and gaps are logged by
the triggers of the statements that make them."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import cast

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.domain.head import (
    MASTERDATA_FILES,
    ElectionHead,
    LedgerHead,
    TotalsRow,
    TreeHead,
    VotesRow,
    masterdata_digest,
    totals_digest,
)
from rekap.domain.merkle import Frontier

# The master data files, each as `rekap masterdata load` reads it (header row, then rows): what the audit
# bundle holds, and what the registry's master data digest is of.
MASTER_DATA_QUERIES = {
    "dataset.csv": "SELECT name, tps_source FROM rekap.dataset",
    "provinsi.csv": "SELECT code, name FROM rekap.provinsi ORDER BY code",
    "kabupaten_kota.csv": "SELECT code, kind, name FROM rekap.kabupaten_kota ORDER BY code",
    "kecamatan.csv": "SELECT code, name FROM rekap.kecamatan ORDER BY code",
    "desa.csv": "SELECT code, name FROM rekap.desa ORDER BY code",
    "tps.csv": "SELECT tps_id, registered_male, registered_female FROM rekap.tps ORDER BY tps_id",
    "contests.csv": "SELECT contest_id, name FROM rekap.contest ORDER BY contest_id",
    "choices.csv": "SELECT contest_id, choice, candidate_name FROM rekap.choice ORDER BY contest_id, choice",
}
assert tuple(MASTER_DATA_QUERIES) == MASTERDATA_FILES
TOTALS = """
SELECT level, region_code, contest_id, tps_expected, tps_counted, tps_quarantined, valid, invalid, ballots_used
FROM hasil.summary ORDER BY level, region_code, contest_id
"""
VOTES = """
SELECT level, region_code, contest_id, choice, votes FROM hasil.votes ORDER BY level, region_code, contest_id, choice
"""
REGISTRY_HEAD = "SELECT size, root, frontier FROM rekap.registry_head"
REGISTRY_LEAVES = "SELECT leaf FROM rekap.registry_leaf WHERE position >= $1 AND position < $2 ORDER BY position"
REGISTRY_LEAF_HASHES = """
SELECT leaf_hash FROM rekap.registry_leaf WHERE position >= $1 AND position < $2 ORDER BY position
"""
ELECTION_KEYS = "SELECT leaf FROM rekap.registry_leaf WHERE kind = 'election_key' ORDER BY position"
DATASET = "SELECT name FROM rekap.dataset"
HAS_MASTERDATA_LEAF = "SELECT EXISTS (SELECT 1 FROM rekap.registry_leaf WHERE kind = 'masterdata')"
LOG_MASTERDATA = "SELECT rekap.log_masterdata($1, $2)"
HAS_REGISTRY = "SELECT to_regclass('rekap.registry_head') IS NOT NULL"
LOG_ELECTION_KEY = "SELECT rekap.log_election_key($1, $2, $3)"
SNAPSHOT_TIME = "SELECT now()"
# Each partition ever applied: where it stands, and its ledger's tree there (kept with its last record).
LEDGER_HEADS = """
SELECT p.topic, p.partition, p.next_offset,
       (SELECT r.ledger FROM rekap.record r
        WHERE r.topic = p.topic AND r.partition = p.partition AND r."offset" < p.next_offset
        ORDER BY r."offset" DESC LIMIT 1) AS ledger
FROM rekap.partition_offset p ORDER BY p.topic, p.partition
"""
# A ledger's leaf hashes between two offsets, and its tree at an offset (for consistency proofs).
LEDGER_LEAF_HASHES = """
SELECT leaf_hash FROM rekap.record WHERE topic = $1 AND partition = $2 AND "offset" >= $3 AND "offset" < $4
ORDER BY "offset"
"""
LEDGER_AT = """
SELECT ledger FROM rekap.record WHERE topic = $1 AND partition = $2 AND "offset" < $3 ORDER BY "offset" DESC LIMIT 1
"""


async def registry_head(conn: Connection) -> TreeHead:
    with boundary():
        row = await conn.fetchrow(REGISTRY_HEAD)
    assert row is not None  # 0012 inserts the one row
    return TreeHead(row["size"], bytes(row["root"]))


async def registry_frontier(conn: Connection) -> Frontier:
    with boundary():
        row = await conn.fetchrow(REGISTRY_HEAD)
    assert row is not None
    return Frontier(row["size"], [bytes(h) for h in row["frontier"]])


async def registry_leaves(conn: Connection, start: int, end: int) -> AsyncIterator[bytes]:
    """The leaves [start, end), in order, as their exact bytes (inside a transaction: a cursor)."""
    with boundary():
        async for row in conn.cursor(REGISTRY_LEAVES, start, end, prefetch=10_000):
            yield bytes(row["leaf"])


async def registry_leaf_hashes(conn: Connection, start: int, end: int) -> list[bytes]:
    with boundary():
        return [bytes(r["leaf_hash"]) for r in await conn.fetch(REGISTRY_LEAF_HASHES, start, end)]


async def election_key_leaves(conn: Connection) -> list[bytes]:
    with boundary():
        return [bytes(r["leaf"]) for r in await conn.fetch(ELECTION_KEYS)]


async def master_data_files(conn: Connection) -> dict[str, bytes]:
    """Each master data file's bytes, as the audit bundle holds it."""
    files = {}
    for name, query in MASTER_DATA_QUERIES.items():
        parts: list[bytes] = []

        async def sink(data: bytes, parts: list[bytes] = parts) -> None:
            parts.append(data)

        with boundary():
            await conn.copy_from_query(query, output=sink, format="csv", header=True)
        files[name] = b"".join(parts)
    return files


async def master_data_digest(conn: Connection) -> bytes:
    files = await master_data_files(conn)
    return masterdata_digest({name: hashlib.sha256(data).hexdigest() for name, data in files.items()})


async def log_master_data(conn: Connection) -> None:
    """Log the master data as it stands (in the caller's transaction, after loading it), unless the last
    version logged is this one. A database without a registry yet (before 0012) gets it logged when the
    migration that makes one is applied (`log_master_data_if_never`)."""
    with boundary():
        if not await conn.fetchval(HAS_REGISTRY):
            return
    digest = await master_data_digest(conn)
    with boundary():
        dataset = await conn.fetchval(DATASET)
        await conn.fetchval(LOG_MASTERDATA, dataset, digest.hex())


async def log_master_data_if_never(conn: Connection) -> bool:
    """Log the master data a database held before it had a registry (once). True if it was logged."""
    with boundary():
        if await conn.fetchval(DATASET) is None or await conn.fetchval(HAS_MASTERDATA_LEAF):
            return False
    await log_master_data(conn)
    return True


async def log_election_key(conn: Connection, name: str, public_key: bytes, endorsement: bytes | None) -> TreeHead:
    with boundary():
        await conn.fetchval(LOG_ELECTION_KEY, name, public_key, endorsement)
    return await registry_head(conn)


async def ledger_heads(conn: Connection) -> list[LedgerHead]:
    with boundary():
        rows = await conn.fetch(LEDGER_HEADS)
    heads = []
    for r in rows:
        tree = Frontier.from_bytes(r["ledger"])
        heads.append(LedgerHead(r["topic"], r["partition"], tree.size, r["next_offset"], tree.root()))
    return heads


async def ledger_at(conn: Connection, topic: str, partition: int, next_offset: int) -> Frontier:
    """A partition's tree when it stood at `next_offset` (a batch's end: where a head saw it)."""
    with boundary():
        return Frontier.from_bytes(await conn.fetchval(LEDGER_AT, topic, partition, next_offset))


async def ledger_leaf_hashes(conn: Connection, topic: str, partition: int, start: int, end: int) -> list[bytes]:
    """The leaf hashes of the records at offsets [start, end) of a partition, in order."""
    with boundary():
        rows = await conn.fetch(LEDGER_LEAF_HASHES, topic, partition, start, end)
    return [bytes(r["leaf_hash"]) for r in rows]


async def totals_rows(conn: Connection) -> tuple[list[TotalsRow], list[VotesRow]]:
    """The totals and votes published (hasil.summary, hasil.votes), at every level the bundle holds."""
    with boundary():
        totals = [tuple(r) for r in await conn.fetch(TOTALS)]
        votes = [tuple(r) for r in await conn.fetch(VOTES)]
    return cast("list[TotalsRow]", totals), cast("list[VotesRow]", votes)


async def election_head(conn: Connection) -> ElectionHead:
    """What a head names now; call inside one snapshot (errors.one_snapshot), so that it is one moment."""
    with boundary():
        taken_at: datetime = await conn.fetchval(SNAPSHOT_TIME)
    totals, votes = await totals_rows(conn)
    return ElectionHead(
        time=taken_at,
        masterdata=await master_data_digest(conn),
        registry=await registry_head(conn),
        ledgers=tuple(await ledger_heads(conn)),
        totals=totals_digest(totals, votes),
    )
