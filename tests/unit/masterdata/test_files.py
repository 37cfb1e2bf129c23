"""Master data folders: the shipped one is complete; a bad one is refused with file, line and field."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from rekap.domain.regions import Level
from rekap.masterdata.files import MasterDataError, read_master_data_folder, write_master_data
from rekap.masterdata.sumsel2024 import DPT_FEMALE, DPT_MALE, TPS_FINAL
from rekap.resources import sumsel_master_data_dir

SHIPPED = read_master_data_folder(sumsel_master_data_dir())


def test_the_shipped_folder_is_sumatera_selatan() -> None:
    levels = Counter(r.level for r in SHIPPED.regions)
    assert levels == {Level.PROVINSI: 1, Level.KABUPATEN_KOTA: 17, Level.KECAMATAN: 241, Level.DESA: 3258}
    assert len(SHIPPED.tps) == TPS_FINAL == 13_206
    assert len(SHIPPED.contests) == 18
    kinds = Counter(r.kind for r in SHIPPED.regions_at(Level.KABUPATEN_KOTA))
    assert kinds == {"kabupaten": 13, "kota": 4}


def test_the_shipped_tps_add_up_to_the_real_dpt() -> None:
    assert sum(t.registered_male for t in SHIPPED.tps) == DPT_MALE
    assert sum(t.registered_female for t in SHIPPED.tps) == DPT_FEMALE
    assert max(t.registered for t in SHIPPED.tps) <= 600


def test_the_shipped_tps_list_says_it_is_synthetic() -> None:
    assert SHIPPED.about.tps_source.startswith("SYNTHETIC")


def test_every_tps_holds_two_contests() -> None:
    master = SHIPPED.master_data()
    assert {len(master.contests_at(t.tps_id)) for t in SHIPPED.tps} == {2}


def test_a_written_folder_reads_back_the_same(tmp_path: Path) -> None:
    write_master_data(SHIPPED, tmp_path)
    assert read_master_data_folder(tmp_path) == SHIPPED


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "masterdata"
    shutil.copytree(sumsel_master_data_dir(), copy)
    return copy


def replace_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text + "\n")


def problems(folder: Path) -> list[str]:
    with pytest.raises(MasterDataError) as caught:
        read_master_data_folder(folder)
    assert "nothing was loaded" in str(caught.value)
    return [str(p) for p in caught.value.problems]


def test_a_missing_file_is_named(folder: Path) -> None:
    (folder / "choices.csv").unlink()
    assert "choices.csv:0: -: the file is missing" in problems(folder)


def test_a_wrong_header_is_named(folder: Path) -> None:
    replace_line(folder / "tps.csv", 1, "tps,male,female")
    assert any(
        p.startswith("tps.csv:1: header: expected tps_id,registered_male,registered_female") for p in problems(folder)
    )


@pytest.mark.parametrize(
    ("file", "row", "expected"),
    [
        ("tps.csv", "1671011001,200,200", "tps.csv:13208: tps_id: '1671011001' is not 13 digits"),
        ("tps.csv", "1601072001001,1,1", "tps.csv:13208: tps_id: 1601072001001 is listed twice"),
        ("tps.csv", "9999999999001,1,1", "tps.csv:13208: tps_id: its desa 9999999999 is not listed"),
        ("tps.csv", "1601072001099,abc,1", "tps.csv:13208: registered_male: 'abc' is not a whole number from 0 to 600"),
        ("tps.csv", "1601072001099,-1,1", "tps.csv:13208: registered_male: '-1' is not a whole number from 0 to 600"),
        ("tps.csv", "1601072001099,301,300", "tps.csv:13208: registered_female: 601 voters, at most 600 per TPS"),
        ("tps.csv", "1601072001099,1", "tps.csv:13208: -: 2 fields, expected 3"),
        ("desa.csv", "16.01.07.2099,Desa Baru", "desa.csv:3260: code: '16.01.07.2099' is not a desa code (digits, no dots)"),
        ("desa.csv", "1699072001,Desa Baru", "desa.csv:3260: code: its kecamatan 169907 is not listed"),
        ("desa.csv", "1601072099,", "desa.csv:3260: name: empty"),
        ("kabupaten_kota.csv", "1699,kota madya,Baru", "kabupaten_kota.csv:19: kind: 'kota madya' is neither kabupaten nor kota"),
        ("contests.csv", "pilgub-16,Gubernur", "contests.csv:20: contest_id: 'pilgub-16' is neither pkwkp-<2 digits> nor pkwkk-<4 digits>"),
        ("contests.csv", "pkwkk-1699,Bupati", "contests.csv:20: contest_id: its kabupaten_kota 1699 is not listed"),
        ("choices.csv", "pkwkk-1699,1,X", "choices.csv:50: contest_id: 'pkwkk-1699' is not in contests.csv"),
        ("choices.csv", "pkwkp-16,01,X", "choices.csv:50: choice: '01' is neither a nomor urut (1-99) nor kolom_kosong"),
        ("choices.csv", "pkwkp-16,5,X", "choices.csv:0: choice: pkwkp-16: nomor urut must run 1..n without gaps, found 1, 2, 3, 5"),
        ("choices.csv", "pkwkp-16,kolom_kosong,Kolom kosong", "choices.csv:0: choice: pkwkp-16: the kolom kosong is a choice exactly when a single pair runs"),
    ],
)  # fmt: skip
def test_bad_rows_are_named_by_file_line_and_field(folder: Path, file: str, row: str, expected: str) -> None:
    append(folder / file, row)
    assert expected in problems(folder)


def test_every_problem_is_reported_not_only_the_first(folder: Path) -> None:
    append(folder / "tps.csv", "1,1,1")
    append(folder / "tps.csv", "2,2,2")
    append(folder / "desa.csv", "3,Three")
    assert len(problems(folder)) == 3


def test_text_that_is_not_utf8_is_refused(folder: Path) -> None:
    (folder / "kecamatan.csv").write_bytes(b"code,name\n160107,Sosoh \xff\n")
    assert any("kecamatan.csv:0: -: not UTF-8" in p for p in problems(folder))


def test_a_byte_order_mark_from_a_spreadsheet_is_fine(folder: Path) -> None:
    path = folder / "provinsi.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_master_data_folder(folder) == SHIPPED
