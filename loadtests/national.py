"""A synthetic national-scale master data set: Sumatera Selatan's structure copied into 33 provinces,
435,798 TPS and 871,596 forms, near Pilkada 2024's 435,296 TPS and about 870,000 forms. SYNTHETIC."""

from __future__ import annotations

from dataclasses import replace

from rekap.domain.contests import Contest
from rekap.domain.masterdata import Choice, Dataset, MasterDataSet, Region
from rekap.domain.regions import Tps
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir

# KPU province codes; 33 of the 38 (Pilkada 2024 elected governors in 37).
PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "51",
    "52",
    "53",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "72",
    "73",
    "74",
    "75",
    "76",
    "81",
    "82",
    "91",
]


def national_dataset(provinces: int = len(PROVINCES)) -> MasterDataSet:
    sumsel = read_master_data_folder(sumsel_master_data_dir())
    regions: list[Region] = []
    tps: list[Tps] = []
    contests: list[Contest] = []
    choices: list[Choice] = []
    for code in PROVINCES[:provinces]:

        def moved(old: str, code: str = code) -> str:
            return code + old[2:]

        regions += [replace(r, code=moved(r.code), name=r.name if len(r.code) > 2 else f"Provinsi {code} (synthetic)")
                    for r in sumsel.regions]  # fmt: skip
        tps += [replace(t, tps_id=moved(t.tps_id)) for t in sumsel.tps]
        for c in sumsel.contests:
            kind, _, region = c.contest_id.partition("-")
            contests.append(replace(c, contest_id=f"{kind}-{moved(region)}", region_code=moved(region)))
        for ch in sumsel.choices:
            kind, _, region = ch.contest_id.partition("-")
            choices.append(replace(ch, contest_id=f"{kind}-{moved(region)}"))
    about = Dataset(f"SYNTHETIC national scale: Sumatera Selatan copied into {provinces} provinces",
                    "SYNTHETIC: copies of the synthetic Sumatera Selatan TPS list")  # fmt: skip
    return MasterDataSet(about, regions, tps, contests, choices)
