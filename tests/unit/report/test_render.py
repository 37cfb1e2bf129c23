"""The recapitulation as a document (`rekap report`), CSV and HTML: titled by its region once, naming its
race as the master data does, numbers written as the public site writes them, the D.Hasil's five sections
in the form's order, and a signature block left blank for wet signatures."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re

import pytest

from rekap.app.recap import Recap
from rekap.report.render import to_csv, to_html
from rekap.site.render import angka, persen
from tests.unit.report.recaps import kabupaten_recap, province_recap

SECTIONS = ["I. Data pemilih", "II. Pengguna hak pilih", "III. Surat suara", "IV. Suara sah per pasangan calon",
            "V. Suara tidak sah"]  # fmt: skip
RACE = "Pemilihan Gubernur dan Wakil Gubernur Sumatera Selatan 2024"


def text_of(document: str) -> str:
    """The HTML page's text, tags dropped and entities read (what a reader sees), or the CSV as it is."""
    return html.unescape(re.sub(r"<[^>]+>", " ", document))


def parts(csv_text: str) -> tuple[list[list[str]], str, list[list[str]], list[list[str]]]:
    """The CSV's heading lines, its table's text, the table and the signature block (the blank lines part
    them), as a reader would split them."""
    heading, table, signatures = csv_text.split("\n\n")
    read = lambda text: list(csv.reader(io.StringIO(text)))  # noqa: E731
    return read(heading), table, read(table), read(signatures)


@pytest.mark.parametrize(("recap", "title"), [
    (province_recap(), "Rekapitulasi hasil penghitungan suara: Provinsi Sumatera Selatan"),
    (kabupaten_recap(), "Rekapitulasi hasil penghitungan suara: Kabupaten Ogan Komering Ulu"),
])  # fmt: skip
def test_the_title_names_the_region_once_and_the_race_by_its_name(recap: Recap, title: str) -> None:
    heading, *_ = parts(to_csv(recap))
    assert heading[0] == [title]
    assert ["Pemilihan", f"{RACE} (pkwkp-16)"] in heading
    page = to_html(recap)
    assert f"<title>{title}</title>" in page
    assert f"<h1>{title}</h1>" in page
    assert f"{RACE} (pkwkp-16)" in page
    assert "Kabupaten/Kota Kabupaten" not in page + to_csv(recap)


def test_numbers_are_written_as_the_public_site_writes_them() -> None:
    recap = province_recap()
    valid = recap.total.numbers["valid"]
    assert valid is not None
    assert valid > 1_000_000, "a province's numbers: millions"
    _, _, table, _ = parts(to_csv(recap))
    columns, total = table[1], table[-1]
    assert total[columns.index("Jumlah suara sah")] == angka(valid) == f"{valid:,}".replace(",", ".")
    assert total[columns.index("Partisipasi")] == persen(recap.total.turnout)
    assert re.fullmatch(r"\d{1,3},\d\d%", total[columns.index("Partisipasi")])
    assert total[2] == f"{angka(recap.tps_counted)}/{angka(recap.tps_expected)}"
    page = text_of(to_html(recap))
    assert f" {angka(valid)} " in page
    assert f"{angka(recap.tps_counted)} dari {angka(recap.tps_expected)} ({recap.percent_counted})" in page
    for document in (page.replace(recap.digest(), ""), to_csv(recap).replace(recap.digest(), "")):
        assert str(valid) not in document, "no number written without its dots"
        assert not re.search(r"\d\.\d\d\b", document), "no decimal point"


def test_the_five_sections_stand_in_the_forms_order_over_their_columns() -> None:
    recap = province_recap()
    _, _, table, _ = parts(to_csv(recap))
    over, columns = table[0], table[1]
    assert [cell for cell in over if cell] == SECTIONS
    under = {heading: columns[over.index(heading)] for heading in SECTIONS}
    assert under == {"I. Data pemilih": "DPT seluruh TPS L", "II. Pengguna hak pilih": "DPT L",
                     "III. Surat suara": "Diterima", "IV. Suara sah per pasangan calon": "1. Herman Deru - Cik Ujang",
                     "V. Suara tidak sah": "Suara tidak sah"}  # fmt: skip
    for shown in ("DPTb L", "DPTb P", "DPK L", "DPK P", "Disabilitas L", "Jumlah suara sah"):
        assert shown in columns
    page = to_html(recap)
    headings = re.findall(r'<th scope="colgroup" colspan="(\d+)" class="section">([^<]+)</th>', page)
    assert [heading for _, heading in headings] == SECTIONS
    assert sum(int(span) for span, _ in headings) == len(columns) - 3, "each section spans its columns"


def test_what_the_form_does_not_carry_is_said_not_invented() -> None:
    """tally/v1 carries DPTb and DPK voters who voted, not how many were registered on those lists."""
    recap = province_recap()
    said = "tidak memuat jumlah pemilih terdaftar DPTb dan DPK"
    assert said in to_csv(recap)
    assert said in to_html(recap)


def test_a_signature_block_is_left_blank_for_the_members_and_witnesses() -> None:
    for recap, body, members in ((province_recap(), "KPU Provinsi Sumatera Selatan", 7),
                                 (kabupaten_recap(), "KPU Kabupaten Ogan Komering Ulu", 5)):  # fmt: skip
        *_, signatures = parts(to_csv(recap))
        assert signatures[0] == ["Tanda tangan", body]
        assert signatures[1] == ["No.", "Jabatan", "Nama", "Tanda tangan"]
        roles = [row[1] for row in signatures[2:]]
        assert roles == ["Ketua", *["Anggota"] * (members - 1), "Saksi pasangan calon 1", "Saksi pasangan calon 2",
                         "Saksi pasangan calon 3"]  # fmt: skip
        assert all(row[2:] == ["", ""] for row in signatures[2:]), "names and signatures are written by hand"
        page = to_html(recap)
        block = page.split('<section class="signatures"', 1)[1]
        assert f"Tanda tangan {body}" in block
        assert re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", block) == roles
        assert block.count('<td class="blank"></td>') == 2 * len(roles)


def test_the_sha256_is_of_the_table_between_the_blank_lines() -> None:
    recap = province_recap()
    text = to_csv(recap)
    heading, table, _, _ = parts(text)
    assert ["SHA-256 tabel", hashlib.sha256(table.encode() + b"\n").hexdigest()] in heading
    assert recap.digest() in to_html(recap)
