"""The site's pages as data, from the rows of a tiny snapshot: which pages exist, their links, their
numbers, and how they are written (Indonesian numbers, the chart)."""

from __future__ import annotations

import base64
from dataclasses import replace
from decimal import Decimal
from typing import Any

from rekap.app.photos import FormPhoto
from rekap.app.site_rows import ChoiceRow, ContestRow, HistoryRow, RegionRow, SummaryRow, TpsRow, VoteRow
from rekap.site.pages import (
    Page,
    SignedForm,
    Snapshot,
    index_page,
    kecamatan_curve,
    kecamatan_pages,
    region_page,
    region_pages,
    relative,
    tps_page,
)
from rekap.site.render import angka, chart, persen, to_html

GOVERNOR = ContestRow(contest_id="pkwkp-16", kind="pkwkp", region_code="16", name="Gubernur")
REGENT = ContestRow(contest_id="pkwkk-1601", kind="pkwkk", region_code="1601", name="Bupati OKU")


def summary(level: str, code: str, contest: str, counted: int, expected: int) -> SummaryRow:
    percent = Decimal(100 * counted / expected).quantize(Decimal("0.01"))
    return SummaryRow(
        level=level, region_code=code, region_name=code, contest_id=contest, valid=counted * 300,
        invalid=counted * 10, tps_expected=expected, tps_counted=counted, tps_quarantined=0, percent_counted=percent,
        dpt=expected * 400, registered=counted * 400, voted=counted * 310, turnout_percent=Decimal("77.50"),
        zone="WIB", time_zone="Asia/Jakarta",
    )  # fmt: skip


def snapshot() -> Snapshot:
    rows = [summary("provinsi", "16", "pkwkp-16", 3, 4), summary("kabupaten_kota", "1601", "pkwkp-16", 3, 4),
            summary("kecamatan", "160101", "pkwkp-16", 3, 4), summary("provinsi", "16", "pkwkk-1601", 1, 4),
            summary("kabupaten_kota", "1601", "pkwkk-1601", 1, 4), summary("kecamatan", "160101", "pkwkk-1601", 1, 4)]  # fmt: skip
    regions = [RegionRow("provinsi", "16", "Sumatera Selatan"),
               RegionRow("kabupaten_kota", "1601", "Kabupaten Ogan Komering Ulu"),
               RegionRow("kecamatan", "160101", "Pengandonan")]  # fmt: skip
    votes = [VoteRow("provinsi", "16", "pkwkp-16", choice="1", candidate_name="A", votes=600,
                     percent_of_valid=Decimal("66.67"))]  # fmt: skip
    choices = [ChoiceRow("pkwkp-16", "1", "A"), ChoiceRow("pkwkp-16", "2", "B")]
    return Snapshot(rows, votes, regions, [GOVERNOR, REGENT], choices, [])


def test_a_region_has_a_page_per_race_held_there_and_links_down_and_up() -> None:
    pages = {page.path: page for page in region_pages(snapshot())}
    assert sorted(pages) == ["wilayah/16/pkwkp-16", "wilayah/1601/pkwkk-1601", "wilayah/1601/pkwkp-16"]
    kabupaten = pages["wilayah/1601/pkwkp-16"].data
    assert kabupaten["title"] == "Kabupaten Ogan Komering Ulu", "its name says Kabupaten: not said twice"
    assert kabupaten["breadcrumb"] == [{"title": "Provinsi Sumatera Selatan", "href": "../../wilayah/16/pkwkp-16.html"}]
    assert [c["href"] for c in kabupaten["children"]] == ["../../wilayah/160101/pkwkp-16.html"]
    assert [r["contest_id"] for r in kabupaten["races"]] == ["pkwkp-16", "pkwkk-1601"]


def test_every_choice_is_shown_with_zero_before_its_first_vote() -> None:
    province = region_page(snapshot(), "provinsi", "16", GOVERNOR)
    assert [(v["choice"], v["votes"], v["percent_of_valid"]) for v in province.data["votes"]] == [
        ("1", 600, 66.67), ("2", 0, None)]  # fmt: skip
    assert province.data["summary"]["percent_counted"] == 75.0


def test_the_top_page_leads_with_the_province_s_race_and_its_votes_then_the_others() -> None:
    base = snapshot()
    in_database_order = Snapshot(base.summary, base.votes, base.regions, [REGENT, GOVERNOR], base.choices, [])
    top = index_page(in_database_order, "audit/")
    province = top.data["provinces"][0]
    headline = province["headline"]
    assert (headline["contest_id"], headline["href"]) == ("pkwkp-16", "wilayah/16/pkwkp-16.html")
    assert (headline["tps_counted"], headline["tps_expected"]) == (3, 4)
    assert [(v["candidate_name"], v["votes"], v["percent_of_valid"]) for v in headline["votes"]] == [
        ("A", 600, 66.67), ("B", 0, None)]  # fmt: skip
    assert [(r["contest_id"], r["href"]) for r in province["races"]] == [("pkwkk-1601", "wilayah/1601/pkwkk-1601.html")]
    html = to_html(top, "27-11-2024 13:00 WIB")
    assert html.index("Gubernur") < html.index("Bupati OKU"), "the governor's race first"
    assert '<td>A</td><td class="n" data-n="600">600</td><td class="n" data-n="66.67">66,67%</td>' in html


def test_a_regent_race_s_province_links_to_the_province_s_page_in_its_own_race() -> None:
    pages = {page.path: page for page in region_pages(snapshot())}
    regent = pages["wilayah/1601/pkwkk-1601"].data
    assert regent["breadcrumb"] == [{"title": "Provinsi Sumatera Selatan", "href": "../../wilayah/16/pkwkp-16.html"}]
    assert "wilayah/16/pkwkk-1601" not in pages


def test_a_digest_moves_with_the_numbers_only() -> None:
    page = region_page(snapshot(), "provinsi", "16", GOVERNOR)
    again = region_page(snapshot(), "provinsi", "16", GOVERNOR)
    assert page.digest == again.digest
    changed = snapshot()
    changed.summary[0] = replace(changed.summary[0], valid=changed.summary[0].valid + 1)
    assert region_page(Snapshot(changed.summary, changed.votes, changed.regions, changed.contests,
                                changed.choices, []), "provinsi", "16", GOVERNOR).digest != page.digest  # fmt: skip


def test_numbers_are_written_the_indonesian_way() -> None:
    assert (angka(1234567), angka(0), angka(None)) == ("1.234.567", "0", "-")
    assert (persen(Decimal("93.48")), persen(100), persen(None)) == ("93,48%", "100,00%", "-")


def test_links_are_relative_so_the_folder_can_be_served_anywhere() -> None:
    assert relative("tps/160101/1601011001001.html", "index.html") == "../../index.html"
    assert relative("index.html", "wilayah/16/pkwkp-16.html") == "wilayah/16/pkwkp-16.html"


def test_a_kecamatan_s_curve_counts_its_tps_by_the_minute_they_were_first_counted() -> None:
    lines = [{"first_counted": "2024-11-27T14:01", "status": "counted"}, {"first_counted": "2024-11-27T14:00",
             "status": "counted"}, {"first_counted": "2024-11-27T14:01", "status": "counted"},
             {"first_counted": None, "status": "missing"}, {"first_counted": "2024-11-27T14:02", "status": "held"}]  # fmt: skip
    assert kecamatan_curve(lines) == [("2024-11-27T14:00", 1), ("2024-11-27T14:01", 3)]
    drawn = chart(kecamatan_curve(lines), 4)
    assert drawn is not None
    assert (drawn["first"], drawn["last"], drawn["counted"]) == ("13:59", "14:01", 3)
    assert drawn["points"] == "0.0,90.0 160.0,67.5 320.0,22.5", "from none, a minute before the first"
    assert chart([], 4) is None


def test_names_from_the_master_data_are_escaped() -> None:
    base = snapshot()
    base.regions[0] = replace(base.regions[0], region_name="<script>alert(1)</script>")
    rows = Snapshot(base.summary, base.votes, base.regions, base.contests, base.choices, [])
    html = to_html(Page("wilayah/16/pkwkp-16", "region", region_page(rows, "provinsi", "16", GOVERNOR).data),
                   "27-11-2024 13:00 WIB")  # fmt: skip
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def tps_row(contest: str, status: str, **values: Any) -> TpsRow:
    counted = status != "missing"
    row = TpsRow(
        kecamatan_code="160101", desa_name="Desa <b>Baru</b>", tps_id="1601011001001", tps_name="TPS 001",
        contest_id=contest, status=status, revision=2 if counted else None, valid=300 if counted else None,
        invalid=4 if counted else None, votes={"1": 200, "2": 100} if counted else None, reasons=[],
        dpt_male=150, dpt_female=160, terminal_id="T-1" if counted else None, zone="WIB",
        first_counted_minute="2024-11-27T13:05" if counted else None,
        updated_minute="2024-11-27T13:40" if counted else None, numbers=dict(FORM) if counted else None,
    )  # fmt: skip
    return replace(row, **values)


FORM = {"registered_male": 150, "registered_female": 160, "voted_dpt_male": 140, "voted_dpt_female": 150,
        "voted_moved_in_male": 5, "voted_moved_in_female": 4, "voted_added_male": 3, "voted_added_female": 2,
        "disabled_voted_male": 1, "disabled_voted_female": 0, "ballots_received": 320, "ballots_used": 304,
        "ballots_damaged": 1, "ballots_unused": 15}  # fmt: skip


def test_a_tps_page_escapes_what_terminals_and_master_data_say_and_says_what_is_missing() -> None:
    rows = [tps_row("pkwkp-16", "held", reasons=["arithmetic <x>"], terminal_id="T-<1>"),
            tps_row("pkwkk-1601", "missing")]  # fmt: skip
    form = SignedForm(b'{"a":1}', "<img src=x onerror=alert(1)>", "AAAA")
    history = [HistoryRow("1601011001001", "pkwkp-16", 1, "rejected", "bad_signature", "T-<2>", "2024-11-27T13:01")]
    page = tps_page(snapshot(), rows, {"pkwkp-16": form}, history)
    html = to_html(page, "27-11-2024 13:00 WIB")
    assert "<b>" not in html
    assert "<img" not in html
    assert "<x>" not in html
    assert "Desa &lt;b&gt;Baru&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<li>arithmetic &lt;x&gt;</li>" in html, "a reason nobody knows: said as it is, escaped"
    assert "terminal <code>T-&lt;1&gt;</code>" in html
    assert "<code>T-&lt;2&gt;</code>" in html
    assert f'href="data:application/json;base64,{base64.b64encode(form.value).decode()}"' in html
    assert html.count("Formulir TPS ini belum masuk.") == 1, "the regent's race: no form yet"
    assert html.count("Unduh formulir bertanda tangan") == 1
    governor = html.index('id="r-pkwkp-16"')
    assert html.index('data-n="200">200<', governor) < html.index('id="r-pkwkk-1601"'), "the widest race first"


def test_a_tps_page_links_every_level_and_shows_the_whole_form_its_history_and_why_it_is_held() -> None:
    held = tps_row("pkwkp-16", "held", reasons=["votes_sum_ne_valid"], valid=299)
    history = [
        HistoryRow("1601011001001", "pkwkp-16", 1, "accepted", None, "T-1", "2024-11-27T13:05"),
        HistoryRow("1601011001001", "pkwkp-16", 2, "quarantined", "votes_sum_ne_valid", "T-1", "2024-11-27T13:40"),
    ]
    page = tps_page(snapshot(), [held, tps_row("pkwkk-1601", "counted")], {}, history)
    assert page.data["breadcrumb"] == [
        {"title": "Provinsi Sumatera Selatan", "href": "../../wilayah/16/pkwkp-16.html"},
        {"title": "Kabupaten Ogan Komering Ulu", "href": "../../wilayah/1601/pkwkp-16.html"},
        {"title": "Kecamatan Pengandonan", "href": "../../wilayah/160101/pkwkp-16.html"},
        {"title": "Desa/Kelurahan Desa <b>Baru</b>", "href": "../../wilayah/1601011001/pkwkp-16.html"},
    ]
    html = to_html(page, "27-11-2024 13:00 WIB")
    assert "votes_sum_ne_valid" not in html, "a reason is said in Indonesian, not as its code"
    assert "<li>jumlah suara para pasangan calon 300, tetapi suara sah tertulis 299</li>" in html
    for section in ("I. Data pemilih", "II. Pengguna hak pilih", "III. Surat suara", "IV. Suara sah per pasangan calon",
                    "V. Suara tidak sah"):  # fmt: skip
        assert section in html, section
    assert html.index("I. Data pemilih") < html.index("III. Surat suara") < html.index("IV. Suara sah")
    assert (
        '<th scope="row">Pemilih pindahan (DPTb)</th><td class="n" data-n="5">5</td><td class="n" data-n="4">4</td>'
        in html
    )
    assert '<th scope="row">Diterima</th><td class="n" data-n="320">320</td>' in html
    assert "<dt>Pertama masuk</dt><dd>27-11-2024 13:05 WIB</dd>" in html, "a date with its time"
    assert "Riwayat formulir (2 kiriman)" in html
    assert "<td>27-11-2024 13:40 WIB</td><td>2</td><td><code>T-1</code></td><td>ditahan untuk diperiksa: jumlah" in html


def test_a_kecamatan_page_lists_its_desa_and_a_desa_page_its_tps_summed_from_their_rows() -> None:
    rows = [tps_row("pkwkp-16", "counted"), tps_row("pkwkp-16", "missing", tps_id="1601011001002", tps_name="TPS 002"),
            tps_row("pkwkp-16", "counted", tps_id="1601011002001", desa_name="Lain", votes={"1": 10, "2": 5}, valid=15)]  # fmt: skip
    pages = {p.path: p for p in kecamatan_pages(snapshot(), "160101", rows, {}, set())}
    kecamatan = pages["wilayah/160101/pkwkp-16"].data
    assert [(c["name"], c["href"], c["tps_counted"], c["tps_expected"], c["votes"]) for c in kecamatan["children"]] == [
        ("Desa <b>Baru</b>", "../../wilayah/1601011001/pkwkp-16.html", 1, 2, {"1": 200, "2": 100}),
        ("Lain", "../../wilayah/1601011002/pkwkp-16.html", 1, 1, {"1": 10, "2": 5})]  # fmt: skip
    desa = pages["wilayah/1601011001/pkwkp-16"].data
    assert desa["title"] == "Desa/Kelurahan Desa <b>Baru</b>"
    assert [c["href"] for c in desa["breadcrumb"]] == [
        "../../wilayah/16/pkwkp-16.html", "../../wilayah/1601/pkwkp-16.html", "../../wilayah/160101/pkwkp-16.html"]  # fmt: skip
    assert {k: desa["summary"][k] for k in ("tps_expected", "tps_counted", "percent_counted", "dpt", "valid")} == {
        "tps_expected": 2, "tps_counted": 1, "percent_counted": 50.0, "dpt": 620, "valid": 300}  # fmt: skip
    assert [(v["votes"], v["percent_of_valid"]) for v in desa["votes"]] == [(200, 66.67), (100, 33.33)]
    html = to_html(pages["wilayah/1601011001/pkwkp-16"], "27-11-2024 13:00 WIB")
    assert "<b>Baru" not in html
    assert '<td class="n" data-n="200">200</td><td class="n" data-n="100">100</td>' in html
    assert '<a href="../../tps/160101/1601011001002.html">TPS 002</a></th><td>belum masuk</td>' in html
    assert not any(path.startswith("tps/") for path in pages), "no TPS changed: no TPS page"


def form_photo(contest: str, sheet: int, status: str, sha256: str) -> FormPhoto:
    return FormPhoto("1601011001001", contest, 2, "counted", sheet, sha256, 123_456, "image/jpeg", status,
                     "identifying_metadata" if status == "refused" else None, 1200, 1600)  # fmt: skip


def test_a_tps_page_shows_each_photo_the_form_names_beside_its_numbers_or_why_not() -> None:
    rows = [tps_row("pkwkp-16", "counted"), tps_row("pkwkk-1601", "held", reasons=["votes_sum_ne_valid"])]
    photos = [form_photo("pkwkp-16", 1, "received", "ab" * 32), form_photo("pkwkp-16", 2, "missing", "cd" * 32),
              form_photo("pkwkk-1601", 1, "refused", "ef" * 32)]  # fmt: skip
    page = tps_page(snapshot(), rows, {}, (), photos)
    governor = next(r for r in page.data["races"] if r["contest_id"] == "pkwkp-16")
    shown = governor["photos"][0]
    assert shown["href"] == f"../../foto/ab/{'ab' * 32}.jpg"
    assert shown["thumbnail"] == f"../../foto/ab/{'ab' * 32}.kecil.jpg"
    assert shown["thumbnail_size"] == (240, 320)
    html = to_html(page, "27-11-2024 13:00 WIB")
    governor_html = html[html.index('id="r-pkwkp-16"') : html.index('id="r-pkwkk-1601"')]
    assert f'<img src="../../foto/ab/{"ab" * 32}.kecil.jpg" width="240" height="320"' in governor_html
    assert 'Lembar 2: <span class="held">foto belum diterima</span>' in governor_html
    assert "cd" * 32 in governor_html, "the digest of a photo not received is said, to look for"
    regent_html = html[html.index('id="r-pkwkk-1601"') :]
    assert "foto ditolak" in regent_html, "a held form's photo is shown too, or why not"
    assert "<img" not in regent_html, "a refused photo is never shown"
    assert html.index("IV. Suara sah") < html.index("Foto formulir C.Hasil"), "the numbers, then the paper"


def test_a_tps_without_a_form_shows_no_photo_and_a_form_without_photos_no_heading() -> None:
    page = tps_page(snapshot(), [tps_row("pkwkp-16", "missing"), tps_row("pkwkk-1601", "counted")], {}, ())
    assert [r["photos"] for r in page.data["races"]] == [[], []]
    assert "Foto formulir" not in to_html(page, "27-11-2024 13:00 WIB")
