"""The site's pages as data, from the rows of a tiny snapshot: which pages exist, their links, their
numbers, and how they are written (Indonesian numbers, the chart)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from rekap.site.pages import (
    Page,
    SignedForm,
    Snapshot,
    index_page,
    kecamatan_curve,
    region_page,
    region_pages,
    relative,
    tps_page,
)
from rekap.site.render import angka, chart, persen, to_html

GOVERNOR = {"contest_id": "pkwkp-16", "kind": "pkwkp", "region_code": "16", "name": "Gubernur"}
REGENT = {"contest_id": "pkwkk-1601", "kind": "pkwkk", "region_code": "1601", "name": "Bupati OKU"}


def summary(level: str, code: str, contest: str, counted: int, expected: int) -> dict[str, Any]:
    percent = Decimal(100 * counted / expected).quantize(Decimal("0.01"))
    return {
        "level": level, "region_code": code, "contest_id": contest, "valid": counted * 300, "invalid": counted * 10,
        "tps_expected": expected, "tps_counted": counted, "tps_quarantined": 0, "percent_counted": percent,
        "dpt": expected * 400, "registered": counted * 400, "voted": counted * 310, "turnout_percent": Decimal("77.50"),
        "zone": "WIB", "region_name": code,
    }  # fmt: skip


def snapshot() -> Snapshot:
    rows = [summary("provinsi", "16", "pkwkp-16", 3, 4), summary("kabupaten_kota", "1601", "pkwkp-16", 3, 4),
            summary("kecamatan", "160101", "pkwkp-16", 3, 4), summary("provinsi", "16", "pkwkk-1601", 1, 4),
            summary("kabupaten_kota", "1601", "pkwkk-1601", 1, 4), summary("kecamatan", "160101", "pkwkk-1601", 1, 4)]  # fmt: skip
    regions = [{"level": "provinsi", "region_code": "16", "region_name": "Sumatera Selatan"},
               {"level": "kabupaten_kota", "region_code": "1601", "region_name": "Kabupaten Ogan Komering Ulu"},
               {"level": "kecamatan", "region_code": "160101", "region_name": "Pengandonan"}]  # fmt: skip
    votes = [{"level": "provinsi", "region_code": "16", "contest_id": "pkwkp-16", "choice": "1", "candidate_name": "A",
              "votes": 600, "percent_of_valid": Decimal("66.67")}]  # fmt: skip
    choices = [{"contest_id": "pkwkp-16", "choice": "1", "candidate_name": "A"},
               {"contest_id": "pkwkp-16", "choice": "2", "candidate_name": "B"}]  # fmt: skip
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


def test_the_top_page_lists_each_race_of_the_province_where_it_is_held() -> None:
    top = index_page(snapshot(), "audit/")
    assert [(r["contest_id"], r["href"]) for r in top.data["provinces"][0]["races"]] == [
        ("pkwkp-16", "wilayah/16/pkwkp-16.html"), ("pkwkk-1601", "wilayah/1601/pkwkk-1601.html")]  # fmt: skip


def test_a_digest_moves_with_the_numbers_only() -> None:
    page = region_page(snapshot(), "provinsi", "16", GOVERNOR)
    again = region_page(snapshot(), "provinsi", "16", GOVERNOR)
    assert page.digest == again.digest
    changed = snapshot()
    changed.summary[0]["valid"] += 1
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
    base.regions[0]["region_name"] = "<script>alert(1)</script>"
    rows = Snapshot(base.summary, base.votes, base.regions, base.contests, base.choices, [])
    html = to_html(Page("wilayah/16/pkwkp-16", "region.html", region_page(rows, "provinsi", "16", GOVERNOR).data),
                   "27-11-2024 13:00 WIB")  # fmt: skip
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def tps_row(contest: str, status: str, **values: Any) -> dict[str, Any]:
    counted = status != "missing"
    return {
        "tps_id": "1601011001001", "tps_name": "TPS 001", "desa_name": "Desa <b>Baru</b>", "zone": "WIB",
        "kecamatan_code": "160101", "contest_id": contest, "status": status, "revision": 2 if counted else None,
        "valid": 300 if counted else None, "invalid": 4 if counted else None,
        "votes": {"1": 200, "2": 100} if counted else None, "reasons": [], "terminal_id": "T-1" if counted else None,
        "dpt_male": 150, "dpt_female": 160, "first_counted_minute": "2024-11-27T13:05" if counted else None,
        "updated_minute": "2024-11-27T13:40" if counted else None,
    } | values  # fmt: skip


def test_a_tps_page_escapes_what_terminals_and_master_data_say_and_says_what_is_missing() -> None:
    rows = [tps_row("pkwkp-16", "held", reasons=["arithmetic <x>"], terminal_id="T-<1>"),
            tps_row("pkwkk-1601", "missing")]  # fmt: skip
    form = SignedForm(b'{"a":1}', "<img src=x onerror=alert(1)>", "AAAA")
    page = tps_page(snapshot(), rows, {"pkwkp-16": form})
    html = to_html(page, "27-11-2024 13:00 WIB")
    assert "<b>" not in html
    assert "<img" not in html
    assert "<x>" not in html
    assert "Desa &lt;b&gt;Baru&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Ditahan karena: arithmetic &lt;x&gt;" in html
    assert "terminal <code>T-&lt;1&gt;</code>" in html
    assert f'href="data:application/json;base64,{base64.b64encode(form.value).decode()}"' in html
    assert html.count("Formulir TPS ini belum masuk.") == 1, "the regent's race: no form yet"
    assert html.count("Unduh formulir bertanda tangan") == 1
    governor = html.index('id="r-pkwkp-16"')
    assert html.index('data-n="200">200<', governor) < html.index('id="r-pkwkk-1601"'), "the widest race first"


def test_a_kecamatan_page_lists_each_tps_escaped_with_its_votes() -> None:
    rows = [tps_row("pkwkp-16", "counted"), tps_row("pkwkp-16", "missing", tps_id="1601011001002", tps_name="TPS 002")]
    html = to_html(region_page(snapshot(), "kecamatan", "160101", GOVERNOR, rows), "27-11-2024 13:00 WIB")
    assert "<b>Baru" not in html
    assert html.count("Desa &lt;b&gt;Baru&lt;/b&gt;") == 2
    assert '<td class="n" data-n="200">200</td><td class="n" data-n="100">100</td>' in html
    assert '<a href="../../tps/160101/1601011001002.html">TPS 002</a></th><td>belum masuk</td>' in html
