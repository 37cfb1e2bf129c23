"""Loading master data: what changed, then what the database holds, in that order."""

from __future__ import annotations

from rekap.app import masterdata
from rekap.app.masterdata import TableChange
from rekap.domain.masterdata import MasterDataSet
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_master_data_folder(sumsel_master_data_dir())


class Store:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def load_master_data(self, dataset: MasterDataSet, *, replace: bool) -> list[TableChange]:
        self.asked.append(f"load {len(dataset.tps)} replace={replace}")
        return [TableChange("rekap.tps", len(dataset.tps), 10, 2, 0, 0)]

    async def count_rows(self) -> dict[str, int]:
        self.asked.append("count")
        return {"tps": len(SHIPPED.tps)}


async def test_the_changes_then_what_the_database_holds() -> None:
    store = Store()
    loaded = await masterdata.load(store, SHIPPED, replace=True)
    assert store.asked == ["load 13206 replace=True", "count"]
    assert [(c.table, c.unchanged) for c in loaded.changes] == [("rekap.tps", 13206 - 12)]
    assert loaded.totals == {"tps": 13206}
