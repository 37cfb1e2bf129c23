"""A page's data drawn as HTML: Bahasa Indonesia, numbers written the Indonesian way (1.234.567; 93,48%),
a small SVG chart of TPS counted over time, no external request.

Every page is drawn by the plain functions here: a page's own (index, region, TPS), and the parts pages share
(the frame, the trail of regions above, the votes table, a number's cell). Every text that comes from the data
(names from the master data, what terminals sent, links made of codes) goes through one escaper, markupsafe's
`escape` (& < > ' " as entities); numbers are written by rekap.numbers (digits, dots, commas); the markup is the
code's own. (A Jinja template drew a TPS page in four times the time: a national build draws 435,000.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from markupsafe import escape

from rekap.numbers import angka, persen
from rekap.site.pages import Page

STATUS = {"counted": "masuk", "held": "ditahan untuk diperiksa", "missing": "belum masuk"}
CHART_WIDTH, CHART_HEIGHT = 320, 90


def to_html(page: Page, built_at: str) -> str:
    """The page, saying when it was last written (`built_at`, in the page's zone, as text)."""
    title, main = DRAW[page.kind](page.data)
    return _frame(page, title, main, built_at)


def _frame(page: Page, title: str, main: str, built_at: str) -> str:
    """Every page's frame around its content (`main`): its title, the site's name linking home, when its numbers
    were taken, the link to its JSON twin, and the style and script (relative: the folder is served anywhere)."""
    assets = "../" * page.path.count("/") + "assets/"
    json_href = escape(page.path.rsplit("/", 1)[-1] + ".json")
    return (
        '<!doctype html>\n<html lang="id">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{title} · Hasil Hitung Suara Pilkada</title>\n<link rel="stylesheet" href="{assets}site.css">\n'
        f'</head>\n<body>\n<header><a href="{escape(page.data["home"])}">Hasil Hitung Suara Pilkada</a></header>\n'
        f'<main id="isi">\n{main}</main>\n<footer>\n<p>Angka per {escape(built_at)} (saat diambil dari basis data'
        " penghitungan). Setiap angka dijumlahkan dari formulir C.Hasil yang ditandatangani terminal TPS;\nsetiap"
        " formulir dapat diunduh dan diperiksa tanda tangannya. Data halaman ini juga tersedia sebagai"
        f' <a href="{json_href}">JSON</a>.</p>\n</footer>\n<script src="{assets}site.js" defer></script>\n'
        "</body>\n</html>"
    )


def _cell(value: float | None, written: str) -> str:
    """A number's table cell: its value for sorting (`data-n`) and as it is written."""
    if value is None:
        return '<td class="n">-</td>'
    return f'<td class="n" data-n="{value}">{written}</td>'


def _sorts_by(value: float | None) -> str:
    """A number's `data-n` attribute (the value the script sorts by), none without a value."""
    return "" if value is None else f' data-n="{value}"'


def _trail(page: dict[str, Any], here: str) -> str:
    """The regions above the page, each linked, from the top page down to this one (`here`, escaped)."""
    above = "".join(
        [f'<li><a href="{escape(up["href"])}">{escape(up["title"])}</a></li>\n' for up in page["breadcrumb"]]
    )
    return (
        f'<nav class="trail" aria-label="Wilayah">\n<ol>\n<li><a href="{escape(page["home"])}">Beranda</a></li>\n'
        f'{above}<li aria-current="page">{here}</li>\n</ol>\n</nav>\n'
    )


def _votes_table(votes: list[dict[str, Any]], caption: str) -> str:
    """The votes of a race in a region: each pair's number, name, votes and share of the valid votes (`caption`:
    escaped)."""
    rows = "".join(
        [
            f"<tr><td>{escape(v['choice'])}</td><td>{escape(v['candidate_name'])}</td>"
            f'<td class="n" data-n="{v["votes"]}">{angka(v["votes"])}</td>'
            f'{_cell(v["percent_of_valid"], persen(v["percent_of_valid"]))}<td><div class="bar"'
            f' aria-hidden="true"><span style="width: {v["percent_of_valid"] or 0}%"></span></div></td></tr>\n'
            for v in votes
        ]
    )
    return (
        f'<div class="scroll">\n<table>\n<caption>{caption}</caption>\n<thead><tr><th scope="col">No.</th>'
        '<th scope="col">Pasangan calon</th><th scope="col" class="n">Suara</th><th scope="col" class="n">%</th>'
        f'<th scope="col"><span class="muted">Bagian</span></th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n'
        "</div>\n"
    )


# The top page.
INTRODUCTION = (
    "<h1>Hasil hitung suara Pilkada</h1>\n<p>Angka di situs ini dijumlahkan dari formulir C.Hasil setiap TPS yang"
    " ditandatangani terminalnya. Pilih wilayah untuk melihat perolehan suara sampai ke tingkat TPS.</p>\n"
)


def index_html(page: dict[str, Any]) -> tuple[str, str]:
    """The top page (its title, its content): each province's headline race, then its other races, then where to
    check it all."""
    out = [INTRODUCTION]
    for province in page["provinces"]:
        code, name = escape(province["code"]), escape(province["name"])
        if province["headline"]:
            out.append(_headline(code, name, province["headline"]))
        if province["races"]:
            out.append(_other_races(code, name, province["races"]))
    out.append("<h2>Periksa sendiri</h2>\n")
    if page["audit_href"]:
        out.append(
            f'<p><a href="{escape(page["audit_href"])}">Bundel audit</a>: setiap rekaman yang diterima, dengan byte'
            " bertanda tangannya dan keputusannya, register kunci terminal, data induk dan semua jumlah. Siapa pun"
            " dapat menghitung ulang dari bundel itu saja.</p>\n"
        )
    else:
        out.append('<p class="muted">Bundel audit belum diterbitkan untuk situs ini.</p>\n')
    if page["signed_heads"]:
        out.append(
            '<p><a href="audit/head.txt">Kepala pemilu bertanda tangan</a> (semua yang terdahulu di <a'
            ' href="audit/heads/latest.json">audit/heads/</a>), <a href="audit/election-key.pem">kunci publik'
            ' pemilu</a> dan <a href="audit/registry.jsonl">register terminal</a>: saksi menyimpan setiap kepala'
            " (<code>rekap audit watch</code>) dan dapat membuktikan bahwa yang diterbitkan kemudian tetap memuat"
            " semua yang diterbitkan sebelumnya.</p>\n"
        )
    return "Beranda", "".join(out)


def _headline(code: str, name: str, race: dict[str, Any]) -> str:
    """A province's own race on the top page: its progress and its votes (`code` and `name`: escaped)."""
    counted, expected = race["tps_counted"], race["tps_expected"]
    percent, held = race["percent_counted"], race["tps_quarantined"]
    held_note = (
        f' · <span class="held"><span data-n="{held}">{angka(held)}</span> TPS ditahan untuk diperiksa</span>'
        if held
        else ""
    )
    return (
        f'<section aria-labelledby="h{code}">\n<h2 id="h{code}"><a href="{escape(race["href"])}">'
        f'{escape(race["name"])}</a></h2>\n<p id="progres{code}"><span data-n="{counted}">{angka(counted)}</span>'
        f' dari <span data-n="{expected}">{angka(expected)}</span> TPS masuk (<span data-n="{percent}">'
        f"{persen(percent)}</span>){held_note}</p>\n"
        f'<progress max="{expected}" value="{counted}" aria-labelledby="progres{code}"></progress>\n'
        f"{_votes_table(race['votes'], f'Perolehan suara sah, Provinsi {name}')}\n"
        f'<p class="muted">Suara sah <span data-n="{race["valid"]}">{angka(race["valid"])}</span> · tidak sah'
        f' <span data-n="{race["invalid"]}">{angka(race["invalid"])}</span> · partisipasi'
        f" {persen(race['turnout_percent'])} (dari TPS yang masuk)</p>\n</section>\n"
    )


def _other_races(code: str, name: str, races: list[dict[str, Any]]) -> str:
    """The other races held in a province (its kabupaten/kota's), with their progress."""
    rows = "".join(
        [
            f'<tr><th scope="row"><a href="{escape(r["href"])}">{escape(r["name"])}</a></th><td class="n"'
            f' data-n="{r["tps_counted"]}">{angka(r["tps_counted"])}/{angka(r["tps_expected"])}</td><td class="n"'
            f'{_sorts_by(r["percent_counted"])}>{persen(r["percent_counted"])}</td><td class="n"'
            f' data-n="{r["tps_quarantined"]}">{angka(r["tps_quarantined"])}</td></tr>\n'
            for r in races
        ]
    )
    return (
        f'<h2>Pemilihan lain di Provinsi {name}</h2>\n<div class="scroll">\n<table class="sortable" id="p{code}">\n'
        f"<caption>Pemilihan bupati dan wali kota di Provinsi {name}</caption>\n"
        '<thead><tr><th scope="col" data-sort>Pemilihan</th><th scope="col" class="n" data-sort>TPS masuk</th>'
        '<th scope="col" class="n" data-sort>%</th><th scope="col" class="n" data-sort>Ditahan</th></tr></thead>\n'
        f"<tbody>\n{rows}</tbody>\n</table>\n</div>\n"
    )


# A region's page (provinsi, kabupaten/kota, kecamatan, desa/kelurahan) in one race.


def region_html(page: dict[str, Any]) -> tuple[str, str]:
    """A region's page in one race (its title, its content): the other races held there, progress, the chart of
    TPS counted, the votes, the regions below, and (a desa/kelurahan's) its TPS."""
    s, title, contest = page["summary"], escape(page["title"]), escape(page["contest"]["name"])
    out = [_trail(page, title), f"<h1>{title}</h1>\n"]
    if len(page["races"]) > 1:
        out.append('<ul class="races" aria-label="Pemilihan">\n')
        out += [
            f'<li><strong aria-current="page">{escape(r["name"])}</strong></li>\n'
            if r["current"]
            else f'<li><a href="{escape(r["href"])}">{escape(r["name"])}</a></li>\n'
            for r in page["races"]
        ]
        out.append("</ul>\n")
    out.append(
        f'<p class="muted">{contest} · kode wilayah {escape(page["code"])}</p>\n\n<h2>Progres</h2>\n<p id="progres">'
        f'<span data-n="{s["tps_counted"]}">{angka(s["tps_counted"])}</span> dari <span data-n="{s["tps_expected"]}">'
        f'{angka(s["tps_expected"])}</span> TPS masuk (<span data-n="{s["percent_counted"]}">'
        f'{persen(s["percent_counted"])}</span>)</p>\n<progress max="{s["tps_expected"]}" value="{s["tps_counted"]}"'
        ' aria-labelledby="progres"></progress>\n'
    )
    if s["tps_quarantined"]:  # (the chart follows on the same line, as it always has)
        out.append(
            f'<p class="held"><span data-n="{s["tps_quarantined"]}">{angka(s["tps_quarantined"])}</span> TPS'
            " ditahan untuk diperiksa (angkanya tidak konsisten; belum dijumlahkan).</p>"
        )
    out += [
        _figure(chart(page["curve"], s["tps_expected"]), s["tps_expected"], escape(page["zone"])),
        "\n<h2>Perolehan suara</h2>\n",
        _votes_table(page["votes"], "Suara sah per pasangan calon"),
        "\n",
        _facts(s),
        "\n",
    ]
    choices = [v["choice"] for v in page["votes"]]
    if page["children"]:
        out.append(_children(page, choices))
    out.append("\n")
    if "tps" in page:  # a desa/kelurahan's
        out.append(_tps_table(page, title, choices))
    return f"{contest} · {title}", "".join(out)


def chart(curve: list[tuple[str, int]], expected: int) -> dict[str, Any] | None:
    """The polyline of TPS counted over time, scaled to the chart (the top is every TPS expected)."""
    if not curve or not expected:
        return None
    start = datetime.fromisoformat(curve[0][0]) - timedelta(minutes=1)  # none counted a minute before the first
    curve = [(start.isoformat(timespec="minutes"), 0), *curve]
    first, last = curve[0][0], curve[-1][0]
    span = max(60.0, (datetime.fromisoformat(last) - start).total_seconds())
    points = " ".join(
        f"{(datetime.fromisoformat(minute) - start).total_seconds() * CHART_WIDTH / span:.1f},"
        f"{CHART_HEIGHT - counted * CHART_HEIGHT / expected:.1f}"
        for minute, counted in curve
    )
    return {
        "points": points,
        "first": first[11:16],
        "last": last[11:16],
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "counted": curve[-1][1],
    }


def _figure(c: dict[str, Any] | None, expected: int, zone: str) -> str:
    """The chart of TPS counted over time, in the zone's clock (`zone`: escaped), its axes said (none before the
    first TPS is counted)."""
    if c is None:
        return ""
    width, height, first, last, top = c["width"], c["height"], escape(c["first"]), escape(c["last"]), angka(expected)
    return (
        f'<figure>\n<svg width="100%" viewBox="-34 -6 {width + 42} {height + 36}" role="img" aria-label="TPS masuk'
        f' dari pukul {first} sampai {last} {zone}: {angka(c["counted"])} dari {top} TPS">\n'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="none" stroke="#c9c9c9"/>\n'
        f'<polyline points="{escape(c["points"])}" fill="none" stroke="#0b5394" stroke-width="2"/>\n'
        f'<text x="-4" y="8" text-anchor="end">{top}</text>\n<text x="-4" y="{height}" text-anchor="end">0</text>\n'
        f'<text x="-30" y="{height / 2}" transform="rotate(-90 -30 {height / 2})" text-anchor="middle">TPS masuk'
        f'</text>\n<text x="0" y="{height + 15}">{first}</text>\n'
        f'<text x="{width}" y="{height + 15}" text-anchor="end">{last}</text>\n'
        f'<text x="{width / 2}" y="{height + 28}" text-anchor="middle">Waktu ({zone})</text>\n</svg>\n'
        f'<figcaption class="muted">TPS masuk menurut waktu: sumbu tegak jumlah TPS yang masuk (sampai {top}), sumbu'
        f" datar pukul ({zone})</figcaption>\n</figure>\n"
    )


def _facts(s: dict[str, Any]) -> str:
    """A region's numbers in one race, besides its votes."""
    turnout = s["turnout_percent"]
    return (
        f'<dl class="facts">\n<div><dt>Suara sah</dt><dd data-n="{s["valid"]}">{angka(s["valid"])}</dd></div>\n'
        f'<div><dt>Suara tidak sah</dt><dd data-n="{s["invalid"]}">{angka(s["invalid"])}</dd></div>\n'
        f'<div><dt>DPT (TPS yang masuk)</dt><dd data-n="{s["registered"]}">{angka(s["registered"])}</dd></div>\n'
        f'<div><dt>Pemilih yang memilih</dt><dd data-n="{s["voted"]}">{angka(s["voted"])}</dd></div>\n'
        f"<div><dt>Partisipasi</dt><dd{_sorts_by(turnout)}>{persen(turnout)}</dd></div>\n"
        f'<div><dt>DPT seluruh TPS</dt><dd data-n="{s["dpt"]}">{angka(s["dpt"])}</dd></div>\n</dl>\n'
    )


def _choice_headers(choices: list[str]) -> str:
    """A column's header per pair of candidates, by its number."""
    return "".join([f'<th scope="col" class="n" data-sort>{escape(choice)}</th>' for choice in choices])


def _children(page: dict[str, Any], choices: list[str]) -> str:
    """The regions one level down, each with its progress and votes (sortable)."""
    level = escape(page["children_level"])
    rows = []
    for r in page["children"]:
        votes, counted, percent, held = r["votes"], r["tps_counted"], r["percent_counted"], r["tps_quarantined"]
        rows.append(
            f'<tr><th scope="row"><a href="{escape(r["href"])}">{escape(r["name"])}</a></th>'
            f'<td class="n" data-n="{counted}">{angka(counted)}/{angka(r["tps_expected"])}</td>'
            f"{_cell(percent, persen(percent))}{_cell(held, angka(held))}\n"
            + "".join([_cell(votes[c], angka(votes[c])) for c in choices])
            + "</tr>\n"
        )
    return (
        f'<h2>Per {escape(page["children_level"].lower())}</h2>\n<div class="scroll">\n<table class="sortable"'
        f' id="wilayah">\n<caption>{level} di {escape(page["name"])}</caption>\n<thead><tr><th scope="col" data-sort>'
        f'{level}</th><th scope="col" class="n" data-sort>TPS masuk</th><th scope="col" class="n" data-sort>%</th>'
        f'<th scope="col" class="n" data-sort>Ditahan</th>\n{_choice_headers(choices)}</tr></thead>\n<tbody>\n'
        f"{''.join(rows)}</tbody>\n</table>\n</div>\n"
    )


def _tps_table(page: dict[str, Any], title: str, choices: list[str]) -> str:
    """A desa/kelurahan's TPS, each with its status and votes (sortable, and filtered by the script; `title`:
    escaped)."""
    rows = []
    for t in page["tps"]:
        votes, status, valid = t["votes"], t["status"], t["valid"]
        marked = ' class="held"' if status == "held" else ""
        rows.append(
            f'<tr><td>{escape(t["desa"])}</td><th scope="row"><a href="{escape(t["href"])}">{escape(t["name"])}</a>'
            f"</th><td{marked}>{escape(STATUS.get(status, status))}</td>\n"
            + "".join([_cell(votes.get(c), angka(votes.get(c))) for c in choices])
            + f"{_cell(valid, angka(valid))}</tr>\n"
        )
    return (
        '<h2>TPS</h2>\n<p hidden><label>Cari TPS atau desa<input type="search" data-filter="tps" hidden></label></p>\n'
        f'<div class="scroll">\n<table class="sortable" id="tps">\n<caption>TPS di {title}</caption>\n<thead><tr>'
        '<th scope="col" data-sort>Desa/Kelurahan</th><th scope="col" data-sort>TPS</th><th scope="col" data-sort>'
        f'Status</th>\n{_choice_headers(choices)}<th scope="col" class="n" data-sort>Sah</th></tr></thead>\n<tbody>\n'
        f"{''.join(rows)}</tbody>\n</table>\n</div>\n"
    )


# A TPS's page: each race's deciding form, the signed bytes to download, every record received.


def tps_html(page: dict[str, Any]) -> tuple[str, str]:
    """A TPS's page (its title, its content): where it is, every level linked, then each race."""
    name, desa = escape(page["name"]), escape(page["desa"])
    kecamatan, kabupaten = escape(page["kecamatan"]["name"]), escape(page["kabupaten_kota"]["name"])
    head = (
        f'{_trail(page, name)}<h1>{name} · {desa}</h1>\n<p class="muted">Kode TPS {escape(page["tps_id"])} ·'
        f" Desa/Kelurahan {desa} · Kecamatan {kecamatan} · {kabupaten} · Provinsi {escape(page['provinsi']['name'])}"
        "</p>\n"
    )
    zone = escape(page["zone"])
    return f"{name} {desa}", head + "".join([tps_race(race, zone) for race in page["races"]])


def _when(minute: str | None, zone: str) -> str:
    """A minute of the zone's clock (2024-11-27T14:03) as a TPS page writes it: 27-11-2024 14:03 WIB."""
    if not minute:
        return "-"
    return f"{escape(f'{minute[8:10]}-{minute[5:7]}-{minute[:4]} {minute[11:16]}')} {zone}"


# The C.Hasil's sections, as the form groups them: (heading, [(line, male field, female field)]).
FORM_SECTIONS = (
    ("I. Data pemilih", [("Pemilih terdaftar (DPT)", "registered_male", "registered_female")]),
    (
        "II. Pengguna hak pilih",
        [
            ("Pemilih DPT", "voted_dpt_male", "voted_dpt_female"),
            ("Pemilih pindahan (DPTb)", "voted_moved_in_male", "voted_moved_in_female"),
            ("Pemilih tambahan (DPK)", "voted_added_male", "voted_added_female"),
            ("Pemilih disabilitas", "disabled_voted_male", "disabled_voted_female"),
        ],
    ),
)
BALLOTS = (
    ("Diterima", "ballots_received"),
    ("Digunakan", "ballots_used"),
    ("Rusak/keliru coblos", "ballots_damaged"),
    ("Tidak digunakan", "ballots_unused"),
)


def _form_sections(form: dict[str, Any]) -> str:
    """The form's voters and ballots (sections I-III of the C.Hasil; its votes are IV and V)."""
    head = (
        '<div class="scroll">\n<table>\n<caption>Data pemilih dan pengguna hak pilih</caption>\n<thead><tr>'
        '<th scope="col">Uraian</th><th scope="col" class="n">L</th><th scope="col" class="n">P</th>'
        '<th scope="col" class="n">Jumlah</th></tr></thead>\n<tbody>\n'
    )
    out = [head]
    for heading, lines in FORM_SECTIONS:
        out.append(f'<tr><th scope="rowgroup" colspan="4">{heading}</th></tr>\n')
        for label, male, female in lines:
            m, f = form[male], form[female]
            out.append(
                f'<tr><th scope="row">{label}</th>{_cell(m, angka(m))}{_cell(f, angka(f))}'
                f"{_cell(m + f, angka(m + f))}</tr>\n"
            )
    out.append(
        '</tbody>\n</table>\n</div>\n<div class="scroll">\n<table>\n<caption>III. Surat suara</caption>\n<tbody>\n'
    )
    out += [f'<tr><th scope="row">{label}</th>{_cell(form[key], angka(form[key]))}</tr>\n' for label, key in BALLOTS]
    out.append("</tbody>\n</table>\n</div>\n")
    return "".join(out)


PHOTO_STATUS = {
    "missing": "foto belum diterima",
    "refused": "foto ditolak (melanggar aturan foto), tidak ditampilkan",
    "mismatch": "foto yang diterima bukan jenis berkas yang disebut formulir, tidak ditampilkan",
}


def _photos(photos: list[dict[str, Any]]) -> str:
    """The photos of the C.Hasil the form names: each a small image opening the full one, with its digest (the
    form's signature binds the numbers to it), or why it is not shown."""
    if not photos:
        return ""
    out = ['<h3>Foto formulir C.Hasil</h3>\n<ul class="photos">\n']
    for photo in photos:
        sheet, digest = escape(photo["sheet"]), escape(photo["sha256"])
        if photo["href"] is None:
            why = escape(PHOTO_STATUS.get(photo["status"], photo["status"]))
            out.append(f'<li><p>Lembar {sheet}: <span class="held">{why}</span></p>\n')
        else:
            size = photo["thumbnail_size"]
            sized = f' width="{size[0]}" height="{size[1]}"' if size else ""
            out.append(
                f'<li><figure><a href="{escape(photo["href"])}"><img src="{escape(photo["thumbnail"])}"{sized} '
                f'alt="Foto C.Hasil lembar {sheet}" loading="lazy"></a>\n'
                f'<figcaption>Lembar {sheet} · <a href="{escape(photo["href"])}">foto asli</a> '
                f"({angka(photo['bytes'])} byte)</figcaption></figure>\n"
            )
        out.append(f'<p class="muted">SHA-256 <code class="digest">{digest}</code></p></li>\n')
    out.append(
        '</ul>\n<p class="muted">Foto asli itu tepat byte yang disebut formulir bertanda tangan (di bawah): '
        "SHA-256 berkasnya harus sama dengan <code>sha256</code> di formulir, misalnya <code>sha256sum</code>.</p>\n"
    )
    return "".join(out)


def _history(records: list[dict[str, Any]], zone: str) -> str:
    """Every record received for the race at this TPS, in the order received, with what became of it."""
    if not records:
        return ""
    rows = "".join(
        [
            f"<tr><td>{_when(r['received'], zone)}</td>"
            f"<td>{escape(r['revision'] if r['revision'] is not None else '-')}</td>"
            f"<td><code>{escape(r['terminal_id'] or '-')}</code></td><td>{escape(r['outcome'])}"
            + (f": {escape(r['reason'])}" if r["reason"] else "")
            + "</td></tr>\n"
            for r in records
        ]
    )
    return (
        f'<details>\n<summary>Riwayat formulir ({len(records)} kiriman)</summary>\n<div class="scroll">\n<table>\n'
        '<caption>Setiap kiriman untuk TPS ini, menurut waktu diterima</caption>\n<thead><tr><th scope="col">Diterima'
        '</th><th scope="col">Revisi</th><th scope="col">Terminal</th><th scope="col">Keputusan</th></tr></thead>\n'
        f"<tbody>\n{rows}</tbody>\n</table>\n</div>\n</details>\n"
    )


def tps_race(race: dict[str, Any], zone: str) -> str:
    """A race's section of a TPS page: its status, the form's numbers, the signed form to download and how
    to check it, and every record received (`zone`: escaped)."""
    status, terminal = race["status"], escape(race["terminal_id"])
    marked = ' class="held"' if status == "held" else ""
    contest = escape(race["contest_id"])
    head = f'<section aria-labelledby="r-{contest}">\n<h2 id="r-{contest}">{escape(race["name"])}</h2>\n'
    out = [head, f"<p>Status: <strong{marked}>{escape(STATUS.get(status, status))}</strong>"]
    if status != "missing":
        out.append(f" · revisi {escape(race['revision'])} · terminal <code>{terminal}</code>")
    out.append(f' · <a href="{escape(race["kecamatan_href"])}">TPS lain di kecamatan ini</a></p>\n')
    if race["why_held"]:
        out.append('<p class="held">Ditahan untuk diperiksa, belum dijumlahkan:</p>\n<ul class="held">\n')
        out += [f"<li>{escape(why)}</li>\n" for why in race["why_held"]]
        out.append("</ul>\n")
    if status == "missing":
        out += ['<p class="muted">Formulir TPS ini belum masuk.</p>\n', _history(race["history"], zone), "</section>\n"]
        return "".join(out)
    if race["form"]:
        out.append(_form_sections(race["form"]))
    out.append(
        '<div class="scroll">\n<table>\n<caption>IV. Suara sah per pasangan calon</caption>\n<thead><tr>'
        '<th scope="col">No.</th><th scope="col">Pasangan calon</th><th scope="col" class="n">Suara</th></tr></thead>\n'
        "<tbody>\n"
    )
    out += [
        f"<tr><td>{escape(v['choice'])}</td><td>{escape(v['candidate_name'])}</td>"
        f"{_cell(v['votes'], angka(v['votes']))}</tr>\n"
        for v in race["votes"]
    ]
    out.append(
        '</tbody>\n</table>\n</div>\n<dl class="facts">\n'
        f'<div><dt>Suara sah</dt><dd data-n="{race["valid"]}">{angka(race["valid"])}</dd></div>\n'
        f'<div><dt>V. Suara tidak sah</dt><dd data-n="{race["invalid"]}">{angka(race["invalid"])}</dd></div>\n'
        f'<div><dt>DPT (data induk)</dt><dd data-n="{race["dpt"]}">{angka(race["dpt"])}</dd></div>\n'
        f"<div><dt>Pertama masuk</dt><dd>{_when(race['first_counted'], zone)}</dd></div>\n"
        f"<div><dt>Terakhir berubah</dt><dd>{_when(race['updated'], zone)}</dd></div>\n"
        "</dl>\n"
    )
    out.append(_photos(race["photos"]))
    if race["form_base64"]:
        out.append(
            f'<p><a href="data:application/json;base64,{escape(race["form_base64"])}" '
            f'download="{escape(race["form_name"])}"'
            ' class="form">Unduh formulir bertanda tangan</a> (byte persis seperti dikirim terminal)</p>\n'
            "<details>\n<summary>Periksa tanda tangan</summary>\n"
            f'<p>Tanda tangan Ed25519 (base64): <code class="sig">{escape(race["signature"] or "-")}</code></p>\n'
            f"<p>Kunci publik terminal <code>{terminal}</code> (base64): "
            f'<code class="key">{escape(race["public_key"])}</code></p>\n'
            '<p class="muted">Tanda tangan itu dibuat atas byte formulir yang diunduh, persis; alat pemeriksa mana'
            " pun untuk Ed25519 dapat mengujinya.</p>\n</details>\n"
        )
    out += [_history(race["history"], zone), "</section>\n"]
    return "".join(out)


DRAW: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "index": index_html,
    "region": region_html,
    "tps": tps_html,
}  # a page's kind -> what draws it: (its title, its content), escaped


def assets() -> dict[str, bytes]:
    """The style and the script every page links (assets/NAME), as they are."""
    folder = resources.files("rekap.site") / "assets"
    return {name: (folder / name).read_bytes() for name in ("site.css", "site.js")}
