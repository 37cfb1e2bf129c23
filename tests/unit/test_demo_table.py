"""The demo's result table (`rekap demo`, `rekap simulate`) on an 80-column terminal: every column shows,
every kabupaten/kota and the province, numbers written as the public site writes them."""

from __future__ import annotations

import io
import random

from rich.console import Console

from rekap.app.night import RaceCount, RegionCount
from rekap.cli.simulate import results_table
from rekap.domain.regions import Level
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_master_data_folder(sumsel_master_data_dir())
GOVERNOR = next(c for c in SHIPPED.contests if c.contest_id == "pkwkp-16")


def drawn(width: int) -> list[str]:
    """The table of a whole province's count, as printed at `width`."""
    rng = random.Random(16)
    choices = {c.choice: c.candidate_name for c in SHIPPED.choices if c.contest_id == GOVERNOR.contest_id}
    regions = [RegionCount("kabupaten_kota", k.code, f"{(k.kind or '').title()} {k.name}",
                           {c: rng.randint(10_000, 260_000) for c in choices}, 2277, 2290, 13)
               for k in SHIPPED.regions_at(Level.KABUPATEN_KOTA)]  # fmt: skip
    province = {c: sum(r.votes[c] for r in regions) for c in choices}
    regions.append(RegionCount("provinsi", "16", "Sumatera Selatan", province, 13_138, 13_206, 68))
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(results_table(RaceCount(GOVERNOR, choices, regions)))
    return out.getvalue().splitlines()


def test_at_80_columns_every_column_and_region_shows() -> None:
    lines = drawn(80)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    header = next(line for line in lines if "kabupaten/kota" in line)
    for column in ("kabupaten/kota", "1", "2", "3", "TPS counted", "held"):
        assert f" {column} " in header, column
    province = next(line for line in lines if line.startswith("│ Sumatera Selatan"))
    assert province.endswith(" 13.138/13.206 │   68 │"), "the province's progress and held TPS, in full"
    assert "Pemilihan Gubernur dan Wakil Gubernur Sumatera Selatan 2024" in " ".join(text.split()), "the race's name"
    first_column = " ".join(" ".join(line.split("│")[1] for line in lines if line.startswith("│")).split())
    for k in SHIPPED.regions_at(Level.KABUPATEN_KOTA):
        assert f"{(k.kind or '').title()} {k.name}" in first_column, "every name, whole (wrapped, not cut)"
    assert first_column.endswith("Sumatera Selatan")
