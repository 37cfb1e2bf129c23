"""Use case: load an election's master data (`rekap masterdata load`): a checked dataset in one
transaction, what changed table by table, and what the database then holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rekap.domain.masterdata import MasterDataSet


@dataclass(frozen=True, slots=True)
class TableChange:
    table: str
    rows: int  # in the files
    inserted: int
    updated: int
    removed: int  # choices only
    not_in_files: int  # kept

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


@dataclass(frozen=True)
class Loaded:
    changes: list[TableChange]  # table by table
    totals: dict[str, int]  # table -> rows now


class MasterDataStore(Protocol):
    async def load_master_data(self, dataset: MasterDataSet, *, replace: bool) -> list[TableChange]: ...

    async def count_rows(self) -> dict[str, int]: ...


async def load(store: MasterDataStore, dataset: MasterDataSet, *, replace: bool = False) -> Loaded:
    """Load it (a database holding another dataset takes it only with `replace`, never a synthetic one)."""
    changes = await store.load_master_data(dataset, replace=replace)
    return Loaded(changes, await store.count_rows())
