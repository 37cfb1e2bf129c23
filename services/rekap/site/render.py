"""A page's data drawn as HTML: Bahasa Indonesia, numbers written the Indonesian way (1.234.567; 93,48%),
a small SVG chart of TPS counted over time, no external request. The templates lay every page out; what
a build draws by the hundred thousand (a TPS page's content, the rows of the long tables) is drawn by the
functions here, as the same markup, every text escaped as the templates escape it."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from rekap import numbers
from rekap.site.pages import Page

STATUS = {"counted": "masuk", "held": "ditahan untuk diperiksa", "missing": "belum masuk"}
CHART_WIDTH, CHART_HEIGHT = 320, 90


class _Environment(jinja2.Environment):
    """Reads `race.votes` as the key of a dict first (Jinja tries an attribute first, and the exception
    that follows, per lookup, was most of the time a page took to draw)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


_TEMPLATES = _Environment(
    loader=jinja2.PackageLoader("rekap.site", "templates"),
    autoescape=True,  # names come from master data, forms from terminals: escaped, whatever they hold
    auto_reload=False,  # the templates are part of the package: not checked for changes at every page
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def angka(value: object) -> Markup:
    """An integer as Indonesians write it (rekap.numbers): 1.234.567. Digits and dots: safe."""
    return Markup(numbers.angka(value))  # noqa: S704


def persen(value: object) -> Markup:
    """A percentage with a decimal comma (rekap.numbers): 93,48%."""
    return Markup(numbers.persen(value))  # noqa: S704


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
    return {"points": points, "first": first[11:16], "last": last[11:16], "width": CHART_WIDTH,
            "height": CHART_HEIGHT, "counted": curve[-1][1]}  # fmt: skip


def _text(value: object) -> str:
    """Text escaped for HTML, as the templates escape it (markupsafe's five characters and entities), without
    making a Markup of each piece."""
    text = str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
            .replace('"', "&#34;"))  # fmt: skip


def _cell(value: int | float | None, written: str) -> str:
    """A number's table cell: its value for sorting (`data-n`) and as it is written."""
    if value is None:
        return '<td class="n">-</td>'
    return f'<td class="n" data-n="{value}">{written}</td>'


def region_rows(children: list[dict[str, Any]], choices: list[str]) -> Markup:
    """The rows of the regions below (a kecamatan's page has 50 TPS and more: drawn here rather than by a
    template loop, at a fifth of the cost, as the same markup)."""
    rows = []
    for r in children:
        votes, counted, percent, held = r["votes"], r["tps_counted"], r["percent_counted"], r["tps_quarantined"]
        rows.append(
            f'<tr><th scope="row"><a href="{_text(r["href"])}">{_text(r["name"])}</a></th>'
            f'<td class="n" data-n="{counted}">{numbers.angka(counted)}/{numbers.angka(r["tps_expected"])}</td>'
            f"{_cell(percent, persen(percent))}{_cell(held, numbers.angka(held))}\n"
            + "".join([_cell(votes[c], numbers.angka(votes[c])) for c in choices])
            + "</tr>\n"
        )
    return Markup("".join(rows))  # noqa: S704 (every text in it is escaped)


def tps_rows(tps: list[dict[str, Any]], choices: list[str]) -> Markup:
    """The rows of a kecamatan's TPS (as `region_rows`)."""
    rows = []
    for t in tps:
        votes, status, valid = t["votes"], t["status"], t["valid"]
        marked = ' class="held"' if status == "held" else ""
        rows.append(
            f'<tr><td>{_text(t["desa"])}</td><th scope="row"><a href="{_text(t["href"])}">{_text(t["name"])}</a>'
            f"</th><td{marked}>{_text(STATUS.get(status, status))}</td>\n"
            + "".join([_cell(votes.get(c), numbers.angka(votes.get(c))) for c in choices])
            + f"{_cell(valid, numbers.angka(valid))}</tr>\n"
        )
    return Markup("".join(rows))  # noqa: S704 (every text in it is escaped)


def tps_main(page: dict[str, Any]) -> str:
    """A TPS page's content: where it is, every level linked, then each race (drawn here, not by a template: a
    national build draws 435,000 TPS pages, and a template took most of each one's time)."""
    name, kecamatan = _text(page["name"]), _text(page["kecamatan"]["name"])
    kabupaten, provinsi = _text(page["kabupaten_kota"]["name"]), _text(page["provinsi"]["name"])
    trail = "".join([f'<li><a href="{_text(up["href"])}">{_text(up["title"])}</a></li>\n' for up in page["breadcrumb"]])
    head = (
        f'<nav class="trail" aria-label="Wilayah">\n<ol>\n<li><a href="{_text(page["home"])}">Beranda</a></li>\n'
        f'{trail}<li aria-current="page">{name}</li>\n</ol>\n</nav>\n<h1>{name} · {_text(page["desa"])}</h1>\n'
        f'<p class="muted">Kode TPS {_text(page["tps_id"])} · Desa/Kelurahan {_text(page["desa"])} · Kecamatan '
        f"{kecamatan} · {kabupaten} · Provinsi {provinsi}</p>\n"
    )
    return head + "".join([tps_race(race, page["zone"]) for race in page["races"]])


def _when(minute: str | None, zone: str) -> str:
    """A minute of the zone's clock (2024-11-27T14:03) as a TPS page writes it: 27-11-2024 14:03 WIB."""
    if not minute:
        return "-"
    return f"{minute[8:10]}-{minute[5:7]}-{minute[:4]} {minute[11:16]} {_text(zone)}"


# The C.Hasil's sections, as the form groups them: (heading, [(line, male field, female field)]).
FORM_SECTIONS = (
    ("I. Data pemilih", [("Pemilih terdaftar (DPT)", "registered_male", "registered_female")]),
    ("II. Pengguna hak pilih", [
        ("Pemilih DPT", "voted_dpt_male", "voted_dpt_female"),
        ("Pemilih pindahan (DPTb)", "voted_moved_in_male", "voted_moved_in_female"),
        ("Pemilih tambahan (DPK)", "voted_added_male", "voted_added_female"),
        ("Pemilih disabilitas", "disabled_voted_male", "disabled_voted_female"),
    ]),
)  # fmt: skip
BALLOTS = (("Diterima", "ballots_received"), ("Digunakan", "ballots_used"), ("Rusak/keliru coblos", "ballots_damaged"),
           ("Tidak digunakan", "ballots_unused"))  # fmt: skip


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
            out.append(f'<tr><th scope="row">{label}</th>{_cell(m, numbers.angka(m))}{_cell(f, numbers.angka(f))}'
                       f"{_cell(m + f, numbers.angka(m + f))}</tr>\n")  # fmt: skip
    out.append('</tbody>\n</table>\n</div>\n<div class="scroll">\n<table>\n<caption>III. Surat suara</caption>\n'
               '<tbody>\n')  # fmt: skip
    out += [f'<tr><th scope="row">{label}</th>{_cell(form[key], numbers.angka(form[key]))}</tr>\n'
            for label, key in BALLOTS]  # fmt: skip
    out.append("</tbody>\n</table>\n</div>\n")
    return "".join(out)


def _history(records: list[dict[str, Any]], zone: str) -> str:
    """Every record received for the race at this TPS, in the order received, with what became of it."""
    if not records:
        return ""
    rows = "".join([
        f"<tr><td>{_when(r['received'], zone)}</td><td>{_text(r['revision'] if r['revision'] is not None else '-')}"
        f"</td><td><code>{_text(r['terminal_id'] or '-')}</code></td><td>{_text(r['outcome'])}"
        + (f": {_text(r['reason'])}" if r["reason"] else "") + "</td></tr>\n"
        for r in records
    ])  # fmt: skip
    return (
        f'<details>\n<summary>Riwayat formulir ({len(records)} kiriman)</summary>\n<div class="scroll">\n<table>\n'
        '<caption>Setiap kiriman untuk TPS ini, menurut waktu diterima</caption>\n<thead><tr><th scope="col">Diterima'
        '</th><th scope="col">Revisi</th><th scope="col">Terminal</th><th scope="col">Keputusan</th></tr></thead>\n'
        f"<tbody>\n{rows}</tbody>\n</table>\n</div>\n</details>\n"
    )


def tps_race(race: dict[str, Any], zone: str) -> str:
    """A race's section of a TPS page: its status, the form's numbers, the signed form to download and how
    to check it, and every record received (every text in it escaped)."""
    status, terminal = race["status"], _text(race["terminal_id"])
    marked = ' class="held"' if status == "held" else ""
    contest = _text(race["contest_id"])
    head = f'<section aria-labelledby="r-{contest}">\n<h2 id="r-{contest}">{_text(race["name"])}</h2>\n'
    out = [head, f"<p>Status: <strong{marked}>{_text(STATUS.get(status, status))}</strong>"]
    if status != "missing":
        out.append(f" · revisi {_text(race['revision'])} · terminal <code>{terminal}</code>")
    out.append(f' · <a href="{_text(race["kecamatan_href"])}">TPS lain di kecamatan ini</a></p>\n')
    if race["why_held"]:
        out.append('<p class="held">Ditahan untuk diperiksa, belum dijumlahkan:</p>\n<ul class="held">\n')
        out += [f"<li>{_text(why)}</li>\n" for why in race["why_held"]]
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
    out += [f"<tr><td>{_text(v['choice'])}</td><td>{_text(v['candidate_name'])}</td>"
            f"{_cell(v['votes'], numbers.angka(v['votes']))}</tr>\n" for v in race["votes"]]  # fmt: skip
    out.append(
        '</tbody>\n</table>\n</div>\n<dl class="facts">\n'
        f'<div><dt>Suara sah</dt><dd data-n="{race["valid"]}">{numbers.angka(race["valid"])}</dd></div>\n'
        f'<div><dt>V. Suara tidak sah</dt><dd data-n="{race["invalid"]}">{numbers.angka(race["invalid"])}</dd></div>\n'
        f'<div><dt>DPT (data induk)</dt><dd data-n="{race["dpt"]}">{numbers.angka(race["dpt"])}</dd></div>\n'
        f"<div><dt>Pertama masuk</dt><dd>{_when(race['first_counted'], zone)}</dd></div>\n"
        f"<div><dt>Terakhir berubah</dt><dd>{_when(race['updated'], zone)}</dd></div>\n"
        "</dl>\n"
    )
    if race["form_base64"]:
        out.append(
            f'<p><a href="data:application/json;base64,{_text(race["form_base64"])}" '
            f'download="{_text(race["form_name"])}"'
            ' class="form">Unduh formulir bertanda tangan</a> (byte persis seperti dikirim terminal)</p>\n'
            "<details>\n<summary>Periksa tanda tangan</summary>\n"
            f'<p>Tanda tangan Ed25519 (base64): <code class="sig">{_text(race["signature"] or "-")}</code></p>\n'
            f"<p>Kunci publik terminal <code>{terminal}</code> (base64): "
            f'<code class="key">{_text(race["public_key"])}</code></p>\n'
            '<p class="muted">Tanda tangan itu dibuat atas byte formulir yang diunduh, persis; alat pemeriksa mana'
            " pun untuk Ed25519 dapat mengujinya.</p>\n</details>\n"
        )
    out += [_history(race["history"], zone), "</section>\n"]
    return "".join(out)


_TEMPLATES.filters.update(angka=angka, persen=persen)
_TEMPLATES.globals.update(chart=chart, region_rows=region_rows, tps_rows=tps_rows)


def to_html(page: Page, built_at: str) -> str:
    """The page, saying when it was last written (`built_at`, in the page's zone, as text)."""
    json_href = page.path.rsplit("/", 1)[-1] + ".json"
    assets = "../" * page.path.count("/") + "assets/"
    if page.template == "tps.html":
        filled = {"title": f"{_text(page.data['name'])} {_text(page.data['desa'])}", "home": _text(page.data["home"]),
                  "main": tps_main(page.data), "json_href": _text(json_href)}  # fmt: skip
        return "".join(filled[piece] if marker else piece for marker, piece in _tps_layout(built_at, assets))
    return _TEMPLATES.get_template(page.template).render(
        page=page.data, built_at=built_at, json_href=json_href, assets=assets
    )


@functools.lru_cache(maxsize=16)
def _tps_layout(built_at: str, assets: str) -> list[tuple[bool, str]]:
    """The TPS pages' layout (tps.html and the base it extends), drawn once with a marker where each page
    fills in its own, cut there: (is it a marker, the text or the marker's name). A national build draws
    435,000 TPS pages; drawing the template for each took a third of their time."""
    drawn = _TEMPLATES.get_template("tps.html").render(
        title="\0title\0", page={"home": "\0home\0"}, main=Markup("\0main\0"), json_href="\0json_href\0",
        built_at=built_at, assets=assets,
    )  # fmt: skip
    return [(index % 2 == 1, piece) for index, piece in enumerate(drawn.split("\0"))]


def assets() -> dict[str, bytes]:
    """The style and the script every page links (assets/NAME), as they are."""
    folder = resources.files("rekap.site") / "assets"
    return {name: (folder / name).read_bytes() for name in ("site.css", "site.js")}
