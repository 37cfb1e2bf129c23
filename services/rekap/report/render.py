"""A recapitulation drawn as CSV (for spreadsheets) or as one printable HTML page (A4 landscape, no
external requests: the page carries its own style)."""

from __future__ import annotations

import csv
import io

from markupsafe import escape

from rekap.app.recap import LEVEL_NAMES, NOT_CARRIED, Recap
from rekap.numbers import angka

SIGNATURE_COLUMNS = ["No.", "Jabatan", "Nama", "Tanda tangan"]


def title(recap: Recap) -> str:
    return f"Rekapitulasi hasil penghitungan suara: {recap.title}"


def heading_lines(recap: Recap) -> list[tuple[str, str]]:
    """What the document says above the table, label and value."""
    progress = f"{angka(recap.tps_counted)} dari {angka(recap.tps_expected)} ({recap.percent_counted})"
    return [
        ("Wilayah", f"{recap.title} ({recap.region_code})"),
        ("Pemilihan", f"{recap.contest_name} ({recap.contest_id})"),
        ("TPS masuk", f"{progress}, {angka(recap.tps_held)} ditahan untuk diperiksa"),
        ("Diambil", f"{recap.taken_at:%Y-%m-%d %H:%M:%S} {recap.zone}"),
        ("Catatan", f"DPTb dan DPK: {NOT_CARRIED}"),
        ("SHA-256 tabel", recap.digest()),
    ]


def to_csv(recap: Recap) -> str:
    """The heading lines, a blank line, the table (what the digest covers, byte for byte), a blank line, then
    the signature block (its names and signatures left blank)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title(recap)])
    writer.writerows([label, value] for label, value in heading_lines(recap))
    out.write("\n" + recap.csv_table() + "\n")
    body, roles = recap.signatories()
    writer.writerow(["Tanda tangan", body])
    writer.writerow(SIGNATURE_COLUMNS)
    writer.writerows([str(number), role, "", ""] for number, role in enumerate(roles, 1))
    return out.getvalue()


def to_html(recap: Recap) -> str:
    """One page: the heading lines, the table (sections over their columns, a row per line, the total), each
    choice's share, the signature block. Every text goes through markupsafe's `escape`, as the site's do."""
    table = recap.table()
    columns, rows, total = table[1], table[2:-1], table[-1]
    body, roles = recap.signatories()
    heading = "".join(f"  <dt>{escape(label)}</dt><dd>{escape(value)}</dd>\n" for label, value in heading_lines(recap))
    over = "".join(
        f'<th scope="colgroup" colspan="{len(section)}" class="section">{escape(name)}</th>'
        for name, section in recap.sections()
    )
    shares = "".join(
        f"  <li>{escape(f'{choice}. {name}')}: {escape(recap.vote_share(choice))} suara sah</li>\n"
        for choice, name in recap.choices
    )
    signatures = "".join(
        f'    <tr><td>{number}</td><td>{escape(role)}</td><td class="blank"></td><td class="blank"></td></tr>\n'
        for number, role in enumerate(roles, 1)
    )
    return (
        '<!doctype html>\n<html lang="id">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title(recap))}</title>\n{STYLE}\n</head>\n<body>\n<h1>{escape(title(recap))}</h1>\n"
        f'<dl>\n{heading}</dl>\n<div class="scroll">\n<table class="recap">\n'
        f"  <caption hidden>{escape(LEVEL_NAMES[recap.child_level])}</caption>\n  <thead>\n"
        f"    <tr>{_headings(columns[:3], TWO_ROWS)}{over}</tr>\n    <tr>{_headings(columns[3:], '')}</tr>\n"
        f"  </thead>\n  <tbody>\n{''.join(_row(row) for row in rows)}  </tbody>\n  <tfoot>\n{_row(total)}"
        '  </tfoot>\n</table>\n</div>\n<ul class="shares">\n'
        f'{shares}</ul>\n<section class="signatures" aria-labelledby="tanda-tangan">\n'
        f'<h2 id="tanda-tangan">Tanda tangan {escape(body)}</h2>\n'
        "<p>Tempat dan tanggal: ____________________________</p>\n<table>\n"
        f"  <thead><tr>{_headings(SIGNATURE_COLUMNS, '')}</tr></thead>\n  <tbody>\n{signatures}  </tbody>\n"
        "</table>\n</section>\n</body>\n</html>"
    )


TWO_ROWS = ' rowspan="2"'


def _headings(columns: list[str], attributes: str) -> str:
    return "".join(f'<th scope="col"{attributes}>{escape(column)}</th>' for column in columns)


def _row(row: list[str]) -> str:
    """A line of the table: its code, its name, then a number in each cell."""
    numbers = "".join(f'<td class="n">{escape(cell)}</td>' for cell in row[2:])
    return f'    <tr><td>{escape(row[0])}</td><td class="name">{escape(row[1])}</td>{numbers}</tr>\n'


# The page carries its own style (no external request): A4 landscape when printed.
STYLE = """<style>
  @page { size: A4 landscape; margin: 8mm; }
  body { font: 9px/1.3 system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111; margin: 12px; }
  h1 { font-size: 16px; margin: 0 0 8px; }
  h2 { font-size: 12px; margin: 16px 0 6px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; }
  dt { font-weight: 600; }
  dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
  /* The table fits its container: headings and names wrap; should it still be wider (many choices, a
     narrow window), it scrolls inside its box, never the page. */
  .scroll { overflow-x: auto; max-width: 100%; }
  table { border-collapse: collapse; }
  table.recap { width: 100%; }
  th, td { border: 1px solid #999; padding: 1px 2px; }
  th { background: #eee; font-weight: 600; vertical-align: bottom; overflow-wrap: normal; hyphens: manual; }
  th.section { text-align: center; vertical-align: middle; background: #ddd; }
  td.name { min-width: 10em; }
  td.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  /* The total stands out by its rule and shade; bold figures would widen every column. */
  tfoot td { background: #f0f0f0; border-top: 2px solid #333; }
  tfoot td.name { font-weight: 700; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .shares { margin: 12px 0 0; }
  .shares li { font-variant-numeric: tabular-nums; }
  .signatures { break-inside: avoid; }
  .signatures table { min-width: 60%; }
  .signatures td { height: 9mm; vertical-align: bottom; }
  .signatures td.blank { width: 30%; }
  @media print { body { margin: 0; font-size: 7px; } .scroll { overflow: visible; } td.name { min-width: 7em; } }
</style>"""
