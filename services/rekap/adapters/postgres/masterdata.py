"""Master data in PostgreSQL: loaded in one transaction (upsert, so a second load changes nothing),
and read back as the domain's MasterData for the tabulator."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.errors import boundary
from rekap.adapters.postgres.registry import log_master_data
from rekap.app.masterdata import TableChange
from rekap.domain.contests import Contest, ContestKind
from rekap.domain.masterdata import Dataset, MasterData, MasterDataSet
from rekap.domain.regions import Level, Tps
from rekap.errors import RekapError


@dataclass(frozen=True, slots=True)
class Table:
    """A master data table: its key and value columns (the generated parent columns are left out)."""

    name: str
    keys: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.values

    @property
    def staging(self) -> str:
        return "load_" + self.name.removeprefix("rekap.")

    @property
    def create_staging(self) -> str:
        return f"CREATE TEMP TABLE {self.staging} (LIKE {self.name} INCLUDING GENERATED) ON COMMIT DROP"

    @property
    def upsert(self) -> str:
        """Insert new rows, update changed ones, leave equal ones untouched; one row out per write."""
        columns, keys = ", ".join(self.columns), ", ".join(self.keys)
        assignments = ", ".join(f"{v} = excluded.{v}" for v in self.values)
        old = ", ".join(f"t.{v}" for v in self.values)
        new = ", ".join(f"excluded.{v}" for v in self.values)
        return (
            f"INSERT INTO {self.name} AS t ({columns}) SELECT {columns} FROM {self.staging} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {assignments} WHERE ({old}) IS DISTINCT FROM ({new}) "
            "RETURNING (xmax = 0) AS inserted"
        )

    @property
    def count_extra(self) -> str:
        """Rows in the table that the loaded files do not list (kept: forms may refer to them)."""
        match = " AND ".join(f"s.{k} = t.{k}" for k in self.keys)
        return f"SELECT count(*) FROM {self.name} t WHERE NOT EXISTS (SELECT 1 FROM {self.staging} s WHERE {match})"


PROVINSI = Table("rekap.provinsi", ("code",), ("name",))
KABUPATEN_KOTA = Table("rekap.kabupaten_kota", ("code",), ("kind", "name"))
KECAMATAN = Table("rekap.kecamatan", ("code",), ("name",))
DESA = Table("rekap.desa", ("code",), ("name",))
TPS = Table("rekap.tps", ("tps_id",), ("registered_male", "registered_female"))
CONTEST = Table("rekap.contest", ("contest_id",), ("name",))
CHOICE = Table("rekap.choice", ("contest_id", "choice"), ("candidate_name",))

UPSERT_DATASET = """
INSERT INTO rekap.dataset (singleton, name, tps_source) VALUES (true, $1, $2)
ON CONFLICT (singleton) DO UPDATE SET name = excluded.name, tps_source = excluded.tps_source,
    loaded_at = now()
WHERE (rekap.dataset.name, rekap.dataset.tps_source) IS DISTINCT FROM (excluded.name, excluded.tps_source)
"""
# A contest's choices are exactly those of the files: a withdrawn pair must not stay a valid choice.
DELETE_UNLISTED_CHOICES = """
DELETE FROM rekap.choice c
WHERE c.contest_id IN (SELECT contest_id FROM load_contest)
  AND NOT EXISTS (SELECT 1 FROM load_choice l WHERE l.contest_id = c.contest_id AND l.choice = c.choice)
"""
SELECT_TPS = "SELECT tps_id, registered_male, registered_female FROM rekap.tps ORDER BY tps_id"
SELECT_ONE_TPS = "SELECT registered_male, registered_female FROM rekap.tps WHERE tps_id = $1"
SELECT_CONTESTS = """
SELECT c.contest_id, c.kind, c.region_code, c.name, array_agg(ch.choice ORDER BY ch.choice) AS choices
FROM rekap.contest c JOIN rekap.choice ch USING (contest_id)
GROUP BY c.contest_id
"""
COUNT_ROWS = """
SELECT (SELECT count(*) FROM rekap.provinsi) AS provinsi,
       (SELECT count(*) FROM rekap.kabupaten_kota) AS kabupaten_kota,
       (SELECT count(*) FROM rekap.kecamatan) AS kecamatan,
       (SELECT count(*) FROM rekap.desa) AS desa,
       (SELECT count(*) FROM rekap.tps) AS tps,
       (SELECT count(*) FROM rekap.contest) AS contest,
       (SELECT count(*) FROM rekap.choice) AS choice
"""


class MasterDataConflictError(RekapError):
    """The database holds another dataset than the one being loaded."""


SELECT_DATASET = "SELECT name, tps_source FROM rekap.dataset"


# Whether a region of each level is in the master data (the level's table and its code column: constants).
REGION_TABLES = {
    Level.PROVINSI: ("provinsi", "code"),
    Level.KABUPATEN_KOTA: ("kabupaten_kota", "code"),
    Level.KECAMATAN: ("kecamatan", "code"),
    Level.DESA: ("desa", "code"),
    Level.TPS: ("tps", "tps_id"),
}


async def region_exists(conn: Connection, level: Level, code: str) -> bool:
    table, column = REGION_TABLES[level]
    with boundary():
        return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM rekap.{table} WHERE {column} = $1)", code))


async def read_dataset(conn: Connection) -> Dataset | None:
    """Which master data the database holds (None before the first load)."""
    row = await conn.fetchrow(SELECT_DATASET)
    return None if row is None else Dataset(row["name"], row["tps_source"])


async def load_master_data(conn: Connection, dataset: MasterDataSet, *, replace: bool = False) -> list[TableChange]:
    """Load a checked dataset in one transaction, and log it in the registry (unless it is the version
    logged last). Returns what changed, table by table.

    A database holding another dataset takes this one only with `replace`, and never a synthetic one:
    made-up TPS must not mix with, or stand in for, an election's."""
    rows: list[tuple[Table, list[tuple[object, ...]]]] = [
        (PROVINSI, [(r.code, r.name) for r in dataset.regions_at(Level.PROVINSI)]),
        (KABUPATEN_KOTA, [(r.code, r.kind, r.name) for r in dataset.regions_at(Level.KABUPATEN_KOTA)]),
        (KECAMATAN, [(r.code, r.name) for r in dataset.regions_at(Level.KECAMATAN)]),
        (DESA, [(r.code, r.name) for r in dataset.regions_at(Level.DESA)]),
        (TPS, [(t.tps_id, t.registered_male, t.registered_female) for t in dataset.tps]),
        (CONTEST, [(c.contest_id, c.name) for c in dataset.contests]),
        (CHOICE, [(c.contest_id, c.choice, c.candidate_name) for c in dataset.choices]),
    ]
    changes = []
    async with conn.transaction():
        held = await read_dataset(conn)
        if held is not None and held != dataset.about:
            if dataset.about.synthetic:
                raise MasterDataConflictError(
                    f"The database holds the master data {held.name!r}; synthetic master data "
                    f"({dataset.about.name!r}) is never loaded over other master data. Use an empty database."
                )
            if not replace:
                raise MasterDataConflictError(
                    f"The database holds the master data {held.name!r} ({held.tps_source}), not "
                    f"{dataset.about.name!r}: pass --replace to load it over them."
                )
        await conn.execute(UPSERT_DATASET, dataset.about.name, dataset.about.tps_source)
        for table, records in rows:
            await conn.execute(table.create_staging)
            await conn.copy_records_to_table(table.staging, records=records, columns=table.columns)
            written = await conn.fetch(table.upsert)
            removed = 0
            if table is CHOICE:
                removed = int((await conn.execute(DELETE_UNLISTED_CHOICES)).split()[-1])
            inserted = sum(1 for r in written if r["inserted"])
            extra = await conn.fetchval(table.count_extra)
            changes.append(TableChange(table.name, len(records), inserted, len(written) - inserted, removed, extra))
        await log_master_data(conn)  # the version judged against from now on, in the registry (0012)
    return changes


async def read_master_data(conn: Connection) -> MasterData:
    """What the decoder needs; the TPS streamed, with their ids interned (shared with the terminals')."""
    tps: dict[str, Tps] = {}
    async with conn.transaction():
        async for r in conn.cursor(SELECT_TPS, prefetch=20_000):
            tps_id = sys.intern(r["tps_id"])
            tps[tps_id] = Tps(tps_id, r["registered_male"], r["registered_female"])
    return MasterData(tps=tps, contests=await read_contests(conn))


async def read_master_data_of(conn: Connection, tps_id: str) -> MasterData:
    """The master data one form is judged against: its TPS (if it exists) and every contest."""
    row = await conn.fetchrow(SELECT_ONE_TPS, tps_id)
    tps = {} if row is None else {tps_id: Tps(tps_id, row["registered_male"], row["registered_female"])}
    return MasterData(tps=tps, contests=await read_contests(conn))


async def read_contests(conn: Connection) -> dict[str, Contest]:
    return {
        r["contest_id"]: Contest(
            r["contest_id"], ContestKind(r["kind"]), r["region_code"], r["name"], frozenset(r["choices"])
        )
        for r in await conn.fetch(SELECT_CONTESTS)
    }


async def count_rows(conn: Connection) -> dict[str, int]:
    row = await conn.fetchrow(COUNT_ROWS)
    assert row is not None
    return dict(row.items())
