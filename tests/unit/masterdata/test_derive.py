"""The derivation is reproducible, and its synthetic TPS keep the real totals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rekap.domain.regions import Level, ancestor
from rekap.masterdata import sumsel2024 as facts
from rekap.masterdata.derive import derive_contests, derive_tps, largest_remainder, regions_from_idn_area_data
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_master_data_folder(sumsel_master_data_dir())


def test_the_shipped_tps_are_what_the_derivation_gives() -> None:
    assert derive_tps(SHIPPED.regions) == SHIPPED.tps


def test_the_shipped_contests_are_what_the_derivation_gives() -> None:
    contests, choices = derive_contests(SHIPPED.regions)
    assert (contests, choices) == (SHIPPED.contests, SHIPPED.choices)


def test_each_kabupaten_kota_has_its_kpu_count_scaled_to_the_final_total() -> None:
    per_kabupaten = Counter(ancestor(t.tps_id, Level.KABUPATEN_KOTA) for t in SHIPPED.tps)
    scale = facts.TPS_FINAL / sum(facts.TPS_JULY_2024.values())
    for code, july in facts.TPS_JULY_2024.items():
        assert abs(per_kabupaten[code] - july * scale) < 1, code


def test_every_village_has_a_tps_numbered_from_001() -> None:
    numbers: dict[str, list[int]] = {}
    for t in SHIPPED.tps:
        numbers.setdefault(ancestor(t.tps_id, Level.DESA), []).append(int(t.tps_id[10:]))
    assert set(numbers) == {r.code for r in SHIPPED.regions_at(Level.DESA)}
    assert all(sorted(n) == list(range(1, len(n) + 1)) for n in numbers.values())


@given(total=st.integers(min_value=0, max_value=100_000),
       weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=50))  # fmt: skip
def test_largest_remainder_adds_up_and_stays_within_one(total: int, weights: list[float]) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    assert all(abs(p - total * w / whole) < 1 for p, w in zip(parts, weights, strict=True))


def test_regions_are_converted_from_the_ministry_spelling(tmp_path: Path) -> None:
    (tmp_path / "provinces.csv").write_text("code,name\n15,JAMBI\n16,SUMATERA SELATAN\n")
    (tmp_path / "regencies.csv").write_text(
        "code,province_code,name\n16.71,16,KOTA PALEMBANG\n16.10,16,KABUPATEN OGAN ILIR\n15.01,15,KABUPATEN KERINCI\n"
    )
    (tmp_path / "districts.csv").write_text("code,regency_code,name\n16.71.01,16.71,Ilir Barat II\n")
    (tmp_path / "villages.csv").write_text("code,district_code,name\n16.71.01.1001,16.71.01,Kemang Manis\n")
    regions = regions_from_idn_area_data(tmp_path)
    assert [(r.level.value, r.code, r.name, r.kind) for r in regions] == [
        ("provinsi", "16", "Sumatera Selatan", None),
        ("kabupaten_kota", "1671", "Palembang", "kota"),
        ("kabupaten_kota", "1610", "Ogan Ilir", "kabupaten"),
        ("kecamatan", "167101", "Ilir Barat II", None),
        ("desa", "1671011001", "Kemang Manis", None),
    ]


def test_every_race_names_its_real_pairs_and_its_sources() -> None:
    """No invented names: each kabupaten/kota's pairs, and the master data folder's sources file giving a public page for each race."""
    sources = (Path(__file__).parents[3] / "services/rekap/masterdata/sumsel-2024/SOURCES.md").read_text()
    for contest in SHIPPED.contests:
        names = [c.candidate_name for c in SHIPPED.choices if c.contest_id == contest.contest_id]
        assert not any("placeholder" in name.lower() or "pasangan calon" in name.lower() for name in names), names
        if contest.contest_id != "pkwkp-16":
            section = sources.split(f"## {contest.contest_id}:")[1].split("\n## ")[0]
            assert "<https://" in section, contest.contest_id
