"""The read contract answers KPU's questions, on a night written through the tabulator's real write path
into the real PostgreSQL (no Kafka: the store, as a tabulator drives it): the recapitulation at every level
equals the night's oracle section by section, every TPS is named and counted / held / missing as it must
be, its history is every record sent about it, the curve ends at the TPS counted, and every SQL example of
docs/kpu.md runs as a kpu_reader login."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import asyncpg
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.night_check import differences
from rekap.app.recap import NUMBERS
from rekap.domain.decode import Decoder, RawRecord
from rekap.domain.signing import SigningKey
from rekap.numbers import angka, persen
from rekap.simulation.night import Expected, Planned, simulated_terminals
from tests.integration.cli import rekap
from tests.integration.election import MASTER, SECRET, SHIPPED, TOPIC, plan_election, sample_tps, write_night
from tests.servers import login_url

KPU_DOC = Path(__file__).parents[2] / "docs" / "kpu.md"
# The report's heading of each column of the hasil views it shows.
SECTION_COLUMNS = {"dpt_male": "DPT seluruh TPS L", "dpt_female": "DPT seluruh TPS P",
                   "registered_male": "DPT TPS masuk L", "registered_female": "DPT TPS masuk P",
                   "voted_dpt_male": "DPT L", "voted_dpt_female": "DPT P",
                   "voted_moved_in_male": "DPTb L", "voted_moved_in_female": "DPTb P",
                   "voted_added_male": "DPK L", "voted_added_female": "DPK P", "voted": "Jumlah",
                   "disabled_voted_male": "Disabilitas L", "disabled_voted_female": "Disabilitas P",
                   "ballots_received": "Diterima", "ballots_used": "Digunakan", "ballots_damaged": "Rusak",
                   "ballots_unused": "Tidak digunakan", "valid": "Jumlah suara sah", "invalid": "Suara tidak sah"}  # fmt: skip
HISTORY_TPS = "1671011001001"  # the examples of docs/kpu.md ask about it


@dataclass
class Night:
    url: str  # a superuser's, to look inside
    planned: list[Planned]
    expected: Expected


@pytest.fixture
async def night(election_database_url: str) -> Night:
    sampled = sample_tps(300)  # and most TPS of the kecamatan docs/kpu.md's examples ask about
    tps_list = [t for t in sampled if not t.tps_id.startswith(HISTORY_TPS[:6])]
    kecamatan = [t for t in SHIPPED.tps if t.tps_id.startswith(HISTORY_TPS[:6])]
    tps_list += [t for i, t in enumerate(kecamatan) if i % 10 != 9]  # a tenth of them never report
    planned, expected = plan_election(tps_list, seed=12)
    terminals = {t.terminal_id: t for t in simulated_terminals(tps_list, SECRET)}
    await write_night(election_database_url, planned, Decoder(MASTER, terminals))
    return Night(election_database_url, planned, expected)


@pytest.fixture
async def reader(night: Night) -> AsyncIterator[asyncpg.Connection]:
    conn = await pg.connect(login_url(night.url, "reader"))
    try:
        yield conn
    finally:
        await conn.close()


def percent(part: int, whole: int) -> Decimal:
    """As PostgreSQL's round() gives it: two decimals, halves away from zero."""
    return (Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)


async def test_every_section_at_every_level_equals_the_nights_oracle(night: Night) -> None:
    conn = await pg.connect(night.url)
    try:
        assert await differences(conn, TOPIC, night.planned, night.expected) == []
        rows = await conn.fetch("SELECT * FROM hasil.summary WHERE tps_counted > 0")
        percents = await conn.fetch(
            "SELECT level, region_code, contest_id, sum(percent_of_valid) AS total FROM hasil.votes "
            "GROUP BY 1, 2, 3 HAVING sum(votes) > 0"
        )
    finally:
        await conn.close()
    assert rows, "the night counted TPS"
    for row in rows:
        assert row["voted"] == row["ballots_used"], "every counted form has voters who voted = ballots used"
        assert row["ballots_received"] == row["ballots_used"] + row["ballots_damaged"] + row["ballots_unused"]
        assert row["turnout_percent"] == percent(row["voted"], row["registered"])
        assert row["percent_counted"] == percent(row["tps_counted"], row["tps_expected"])
    assert all(abs(r["total"] - 100) <= 0.05 for r in percents), "shares of the valid votes add up to 100%"


async def test_every_tps_is_named_and_counted_held_or_missing_as_the_night_decided(
    night: Night, reader: asyncpg.Connection
) -> None:
    rows = await reader.fetch("SELECT * FROM hasil.tps_status")
    assert len(rows) == sum(len(MASTER.contests_at(tps_id)) for tps_id in MASTER.tps), "every TPS and contest"
    by_key = {(r["tps_id"], r["contest_id"]): r for r in rows}
    want = {key: "held" if held else "counted" for key, (_, _, held) in night.expected.deciding.items()}
    assert {key: r["status"] for key, r in by_key.items() if r["status"] != "missing"} == want
    for key, (revision, form, held) in night.expected.deciding.items():
        row = by_key[key]
        assert (row["revision"], row["valid"], row["invalid"]) == (revision, form["valid"], form["invalid"])
        assert row["voted_added_female"] == form["voters"]["voted"]["added"]["female"]
        if not held:
            assert row["first_counted_at"] is not None, "counted, so counted a first time"
    named = by_key[(HISTORY_TPS, "pkwkp-16")]
    assert (named["desa_code"], named["kecamatan_code"], named["kabupaten_kota_code"]) == (
        HISTORY_TPS[:10], HISTORY_TPS[:6], HISTORY_TPS[:4])  # fmt: skip
    assert named["kabupaten_kota_name"] == "Kota Palembang"
    assert all(r["desa_name"] and r["kecamatan_name"] and r["provinsi_name"] for r in rows)
    missing = await reader.fetch("SELECT tps_id, contest_id FROM hasil.tps_missing")
    assert {(r["tps_id"], r["contest_id"]) for r in missing} == {
        k for k, r in by_key.items() if r["status"] == "missing"
    }
    assert len(missing) == len(rows) - len(want)


async def test_a_tps_history_is_every_record_sent_about_it_with_its_outcome(
    night: Night, reader: asyncpg.Connection
) -> None:
    # about the TPS: the records whose form could be read (the others have no TPS to show them under)
    decoder = Decoder(MASTER, {})
    sent = [p for p in night.planned
            if p.key == HISTORY_TPS.encode() and decoder.decode(RawRecord(p.key, p.value, tuple(p.headers))).tally]  # fmt: skip
    assert len(sent) > 1, "a TPS with a history"
    rows = await reader.fetch(
        'SELECT * FROM hasil.history WHERE tps_id = $1 ORDER BY received_at, partition, "offset"', HISTORY_TPS
    )
    assert Counter((r["outcome"], r["reason"]) for r in rows) == Counter((p.outcome, p.reason) for p in sent)
    for row in rows:
        assert row["zone"] == "WIB"
        assert row["received_local"] == (row["received_at"] + timedelta(hours=7)).replace(tzinfo=None)


async def test_the_progress_curve_ends_at_the_tps_counted(reader: asyncpg.Connection) -> None:
    curve = await reader.fetch(
        "SELECT contest_id, max(tps_counted_so_far) AS so_far, sum(tps_first_counted) AS counted FROM hasil.progress "
        "WHERE level = 'provinsi' GROUP BY contest_id"
    )
    first = await reader.fetch(
        "SELECT contest_id, count(*) AS n FROM hasil.tps_status WHERE first_counted_at IS NOT NULL GROUP BY contest_id"
    )
    assert {r["contest_id"]: (r["so_far"], r["counted"]) for r in curve} == {
        r["contest_id"]: (r["n"], r["n"]) for r in first
    }
    assert first, "TPS were counted"


def readme_examples() -> list[str]:
    """The SQL statements of docs/kpu.md's section for KPU, `\\copy (query) TO ...` as its query."""
    section = KPU_DOC.read_text().split("## Reading the results (KPU)", 1)[1].split("\n## ", 1)[0]
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL):
        text = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
        for statement in filter(None, (s.strip() for s in text.split(";"))):
            copy = re.match(r"\\copy \((.*)\) TO .*", statement, re.DOTALL)
            statements.append(f"COPY ({copy.group(1)}) TO STDOUT WITH (FORMAT csv, HEADER)" if copy else statement)
    return statements


async def test_every_readme_example_runs_as_kpu_reader_and_answers(reader: asyncpg.Connection) -> None:
    examples = readme_examples()
    assert len(examples) >= 12, "the examples of docs/kpu.md were found"
    for statement in examples:
        if statement.startswith("COPY"):
            lines: list[bytes] = []

            async def sink(data: bytes, into: list[bytes] = lines) -> None:
                into.append(data)

            await reader.copy_from_query(statement[len("COPY (") : statement.index(") TO STDOUT")],
                                         output=sink, format="csv", header=True)  # fmt: skip
            assert b"".join(lines).count(b"\n") == 1 + 241 * 2, "a header and every kecamatan of both races"
        else:
            assert await reader.fetch(statement), f"no rows: {statement}"


def report(night: Night, *args: str) -> subprocess.CompletedProcess[str]:
    return rekap({**os.environ, "DATABASE_URL": login_url(night.url, "reader")}, "report", *args)


def table_of(csv_text: str) -> tuple[list[list[str]], str]:
    """The table (the lines between the first two blank ones, its two heading rows first) and its SHA-256, as
    a reader would check it."""
    table = csv_text.split("\n\n")[1] + "\n"
    return list(csv.reader(io.StringIO(table)))[1:], hashlib.sha256(table.encode()).hexdigest()


async def test_a_province_report_holds_the_views_numbers_and_the_sha256_of_its_table(
    night: Night, reader: asyncpg.Connection, tmp_path: Path
) -> None:
    done = report(night, "16", "--out", str(tmp_path / "16.csv"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "16.csv").read_text()
    rows, digest = table_of(text)
    assert f"SHA-256 tabel,{digest}" in text
    assert digest in done.stderr
    heading, lines, total = rows[0], rows[1:-1], rows[-1]
    summary = {r["region_code"]: r for r in await reader.fetch(
        "SELECT * FROM hasil.summary WHERE contest_id = 'pkwkp-16' AND level IN ('provinsi', 'kabupaten_kota')")}  # fmt: skip
    assert [line[0] for line in lines] == sorted(code for code in summary if len(code) == 4), "every kabupaten/kota"
    assert set(SECTION_COLUMNS) == set(NUMBERS), "every number the report shows is checked"
    columns = {name: heading.index(title) for name, title in SECTION_COLUMNS.items()}
    for line in [*lines, total]:
        row = summary[line[0]]
        assert line[2] == f"{angka(row['tps_counted'])}/{angka(row['tps_expected'])}"
        for name, at in columns.items():
            assert line[at] == angka(row[name]), (line[0], name)
        assert line[heading.index("Partisipasi")] == persen(row["turnout_percent"])
    votes = {(r["region_code"], f"{r['choice']}. {r['candidate_name']}"): r["votes"] for r in await reader.fetch(
        "SELECT * FROM hasil.votes WHERE contest_id = 'pkwkp-16' AND level IN ('provinsi', 'kabupaten_kota')")}  # fmt: skip
    choices = [title for title in heading if title[:1].isdigit()]
    assert len(choices) == 3
    assert all(line[heading.index(c)] == angka(votes[(line[0], c)]) for line in [*lines, total] for c in choices)
    html = report(night, "16", "--format", "html")
    assert html.returncode == 0, html.stderr
    assert digest in html.stdout
    assert "<h1>Rekapitulasi hasil penghitungan suara: Provinsi Sumatera Selatan</h1>" in html.stdout
    assert "Pemilihan Gubernur dan Wakil Gubernur Sumatera Selatan 2024 (pkwkp-16)" in html.stdout, "from hasil.contest"
    assert html.stdout.startswith("<!doctype html>")


async def test_a_kecamatan_report_has_a_line_per_tps_with_its_status(night: Night, reader: asyncpg.Connection) -> None:
    done = report(night, HISTORY_TPS[:6])
    assert done.returncode == 0, done.stderr
    rows, _ = table_of(done.stdout)
    status = {r["tps_id"]: r for r in await reader.fetch(
        "SELECT * FROM hasil.tps_status WHERE kecamatan_code = $1 AND contest_id = 'pkwkp-16'", HISTORY_TPS[:6])}  # fmt: skip
    lines = rows[1:-1]
    assert [line[0] for line in lines] == sorted(status)
    said = {"masuk": "counted", "ditahan": "held", "belum masuk": "missing"}
    assert {line[0]: said[line[2]] for line in lines} == {tps: r["status"] for tps, r in status.items()}
    valid = rows[0].index(SECTION_COLUMNS["valid"])
    for line in lines:
        assert line[valid] == (angka(status[line[0]]["valid"]) if status[line[0]]["status"] == "counted" else "-")
    assert "missing" in {r["status"] for r in status.values()}, "the night left TPS missing here"


@pytest.mark.parametrize(("args", "says"), [
    (["16x"], "is no region code"),
    (["1699"], "no kabupaten_kota 1699 holding the contest pkwkp-16"),
    (["16", "--out", "recap.pdf"], "say --format csv or --format html"),
])  # fmt: skip
async def test_a_report_that_cannot_be_made_says_why_in_one_line(night: Night, args: list[str], says: str) -> None:
    done = report(night, *args)
    assert done.returncode == 1
    assert says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


async def test_the_review_queue_lists_every_held_form_oldest_first_with_its_numbers(
    night: Night, reader: asyncpg.Connection
) -> None:
    held = await reader.fetch(
        "SELECT tps_id, contest_id, reasons FROM hasil.review WHERE kecamatan_code = $1 ORDER BY received_at, tps_id,"
        " contest_id", HISTORY_TPS[:6])  # fmt: skip
    assert held, "the night held forms in this kecamatan"
    done = rekap({**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(night.url, "operator")},
                 "review", "list", "--kecamatan", HISTORY_TPS[:6])  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = [line.split("  ")[1:3] for line in done.stdout.splitlines() if "  TPS " in line]
    assert listed == [[f"TPS {r['tps_id']}", r["contest_id"]] for r in held]
    for r in held:
        for reason in r["reasons"]:
            assert f"    {reason}: " in done.stdout
    assert " WIB  TPS " in done.stdout
    assert f"{len(held)} form(s) held for review in kecamatan {HISTORY_TPS[:6]}" in done.stdout


async def test_status_terminal_list_and_review_list_say_one_moment_alike_on_the_region_s_clock(night: Night) -> None:
    moment = datetime(2024, 11, 27, 7, 3, 5, tzinfo=UTC)  # 14:03:05 in Sumatera Selatan (WIB, UTC+7)
    conn = await pg.connect(night.url)
    try:
        held = await conn.fetchrow(
            "SELECT tps_id, topic, partition, \"offset\" FROM rekap.form WHERE status = 'quarantined'"
            " AND left(tps_id, 6) = $1 ORDER BY tps_id, contest_id LIMIT 1", HISTORY_TPS[:6])  # fmt: skip
        assert held is not None, "the night held forms in this kecamatan"
        await conn.execute('UPDATE rekap.record SET recorded_at = $1 WHERE (topic, partition, "offset") = ($2, $3, $4)',
                           moment, held["topic"], held["partition"], held["offset"])  # fmt: skip
        await conn.execute("INSERT INTO rekap.terminal (terminal_id, public_key, scope_kind, scope_code, registered_at)"
                           " VALUES ($1, $2, 'tps', $3, $4)", f"kpps-{held['tps_id']}",
                           SigningKey.derived(b"test", "0").public_key, held["tps_id"], moment)  # fmt: skip
    finally:
        await conn.close()
    env = {**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(night.url, "operator")}
    for command in (["status", held["tps_id"]], ["terminal", "list"], ["review", "list"]):
        done = rekap(env, *command)
        assert done.returncode == 0, done.stderr
        assert "2024-11-27 14:03:05 WIB" in done.stdout, (command, done.stdout)
