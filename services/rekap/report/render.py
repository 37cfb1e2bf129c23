"""A recapitulation drawn as CSV (for spreadsheets) or as one printable HTML page (A4 landscape, no
external requests: the page carries its own style)."""

from __future__ import annotations

import csv
import io

import jinja2

from rekap.report.recap import LEVEL_NAMES, SECTIONS, Recap

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("rekap.report", "templates"),
    autoescape=True,  # names come from master data: escaped, whatever they hold
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def title(recap: Recap) -> str:
    return f"Rekapitulasi hasil penghitungan suara: {LEVEL_NAMES[recap.level]} {recap.region_name}"


def heading_lines(recap: Recap) -> list[tuple[str, str]]:
    """What the document says above the table, label and value."""
    progress = f"{recap.tps_counted} dari {recap.tps_expected} ({recap.percent_counted}%)"
    return [
        ("Wilayah", f"{LEVEL_NAMES[recap.level]} {recap.region_name} ({recap.region_code})"),
        ("Pemilihan", recap.contest_id),
        ("TPS masuk", f"{progress}, {recap.tps_held} ditahan untuk diperiksa"),
        ("Diambil", f"{recap.taken_at:%Y-%m-%d %H:%M:%S} {recap.zone}"),
        ("SHA-256 tabel", recap.digest()),
    ]  # fmt: skip


def to_csv(recap: Recap) -> str:
    """The heading lines, a blank line, then the table (what the digest covers, byte for byte)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title(recap)])
    writer.writerows([label, value] for label, value in heading_lines(recap))
    out.write("\n")
    return out.getvalue() + recap.csv_table()


def to_html(recap: Recap) -> str:
    table = recap.table()
    return _TEMPLATES.get_template("recap.html.j2").render(
        title=title(recap), heading=heading_lines(recap), columns=table[0], rows=table[1:-1], total=table[-1],
        sections=len(SECTIONS), choices=[(f"{c}. {name}", recap.vote_share(c)) for c, name in recap.choices],
        child=LEVEL_NAMES[recap.child_level],
    )  # fmt: skip
