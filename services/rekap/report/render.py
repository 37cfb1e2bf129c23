"""A recapitulation drawn as CSV (for spreadsheets) or as one printable HTML page (A4 landscape, no
external requests: the page carries its own style)."""

from __future__ import annotations

import csv
import io

import jinja2

from rekap.numbers import angka
from rekap.report.recap import LEVEL_NAMES, NOT_CARRIED, Recap

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("rekap.report", "templates"),
    autoescape=True,  # names come from master data: escaped, whatever they hold
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
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
    table = recap.table()
    body, roles = recap.signatories()
    return _TEMPLATES.get_template("recap.html.j2").render(
        title=title(recap),
        heading=heading_lines(recap),
        sections=recap.sections(),
        columns=table[1],
        rows=table[2:-1],
        total=table[-1],
        choices=[(f"{c}. {name}", recap.vote_share(c)) for c, name in recap.choices],
        child=LEVEL_NAMES[recap.child_level],
        body=body,
        roles=roles,
        signature_columns=SIGNATURE_COLUMNS,
    )
