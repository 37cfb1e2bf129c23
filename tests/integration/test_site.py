"""The public site against the database it is built from: every number on every page equals the hasil
views at the snapshot, every TPS's form verifies against its terminal's key, a rebuild after more forms
writes only what changed and ends identical to a full build, and no page is heavy or calls elsewhere."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from rekap.adapters.postgres import connection as pg
from rekap.devstack.process import free_port, wait_until
from rekap.domain.decode import Decoder
from rekap.domain.signing import SigningKey
from rekap.simulation.forms import signed_record
from rekap.simulation.night import Planned, corrected
from rekap.site.build import build_site
from rekap.site.render import angka, persen
from tests.integration.cli import rekap
from tests.integration.election import (
    SECRET,
    SHIPPED,
    plan_election,
    registered_decoder,
    sample_tps,
    write_night,
)
from tests.programs import debian_program
from tests.servers import login_url

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MAX_PAGE_BYTES = 100 * 1024  # HTML + CSS + JS of a region page, uncompressed


@dataclass
class Night:
    url: str
    planned: list[Planned]
    decoder: Decoder
    offsets: dict[int, int]


@pytest.fixture
async def half_night(election_database_url: str) -> Night:
    """The first 60% of a night's records of 120 TPS, written as a tabulator writes them."""
    tps_list = sample_tps(120)
    planned, _ = plan_election(tps_list, seed=21)
    decoder = await registered_decoder(election_database_url, tps_list)
    cut = len(planned) * 6 // 10
    offsets = await write_night(election_database_url, planned[:cut], decoder)
    return Night(election_database_url, planned[cut:], decoder, offsets)


async def build(url: str, folder: Path, **options: Any) -> Any:
    conn = await pg.connect(login_url(url, "operator"))
    try:
        return await build_site(conn, folder, **options)
    finally:
        await conn.close()


async def views(url: str) -> tuple[dict[tuple[str, str, str], Any], dict[tuple[str, str, str], Any], list[Any]]:
    """hasil.summary and hasil.votes by (level, region, contest), and hasil.tps_status, as KPU reads them."""
    conn = await pg.connect(login_url(url, "reader"))
    try:
        summary = {
            (r["level"], r["region_code"], r["contest_id"]): r for r in await conn.fetch("SELECT * FROM hasil.summary")
        }
        votes: dict[tuple[str, str, str], Any] = {}
        for r in await conn.fetch("SELECT * FROM hasil.votes"):
            votes.setdefault((r["level"], r["region_code"], r["contest_id"]), {})[r["choice"]] = r
        return summary, votes, list(await conn.fetch("SELECT * FROM hasil.tps_status"))
    finally:
        await conn.close()


def same(shown: object, held: object) -> bool:
    """A page's number against the view's (numeric columns come as Decimal, JSON has floats)."""
    if isinstance(held, Decimal):
        return shown is not None and Decimal(str(shown)) == held
    return shown == held


async def check_every_number(url: str, folder: Path) -> int:
    """Every region page's and TPS page's numbers (JSON and HTML) equal the views; returns pages checked."""
    summary, votes, tps_rows = await views(url)
    checked = 0
    for (level, code, contest_id), row in summary.items():
        page = folder / "wilayah" / code / f"{contest_id}.json"
        if not contest_id.endswith(f"-{code[: len(contest_id.split('-')[1])]}"):  # a race held elsewhere
            assert not page.exists()
            continue
        data = json.loads(page.read_text())
        wrong = {k: (v, row[k]) for k, v in data["summary"].items() if not same(v, row[k])}
        assert wrong == {}, f"{page}: {wrong}"
        counted = votes.get((level, code, contest_id), {})
        for line in data["votes"]:
            held = counted.get(line["choice"])
            assert line["votes"] == (held["votes"] if held else 0), (page, line)
            assert same(line["percent_of_valid"], held["percent_of_valid"] if held else None), (page, line)
        check_html_against_json(page.with_suffix(".html"), data)
        checked += 1
    by_tps: dict[str, list[Any]] = {}
    for row in tps_rows:
        by_tps.setdefault(row["tps_id"], []).append(row)
    for tps_id, rows in by_tps.items():
        data = json.loads((folder / "tps" / tps_id[:6] / f"{tps_id}.json").read_text())
        races = {race["contest_id"]: race for race in data["races"]}
        for row in rows:
            race = races[row["contest_id"]]
            assert (race["status"], race["revision"], race["valid"], race["invalid"]) == (
                row["status"], row["revision"], row["valid"], row["invalid"]), tps_id  # fmt: skip
            form_votes = json.loads(row["votes"]) if row["votes"] else {}
            assert {v["choice"]: v["votes"] for v in race["votes"] if v["votes"] is not None} == form_votes
            if row["status"] != "missing":
                verify(race)
        checked += 1
    return checked


def verify(race: dict[str, Any]) -> None:
    """The form's exact bytes, as the page offers them, verify against its terminal's public key."""
    value = base64.b64decode(race["form_base64"])
    key = nacl.signing.VerifyKey(base64.b64decode(race["public_key"]))
    key.verify(value, base64.b64decode(race["signature"]))
    assert json.loads(value)["terminal_id"] == race["terminal_id"]


class Numbers(HTMLParser):
    """Each element carrying data-n, with the text it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[list[str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v for k, v in attrs if k in ("href", "src") and v]
        if "data-n" in values:
            self._open.append([tag, str(values["data-n"]), ""])
        elif self._open:
            self._open.append([tag, "", ""])

    def handle_data(self, data: str) -> None:
        for entry in self._open:
            entry[2] += data

    def handle_endtag(self, tag: str) -> None:  # noqa: ARG002 (every element ends the last opened)
        if self._open:
            _, number, text = self._open.pop()
            if number:
                self.found.append((number, text.strip()))


def check_html_against_json(html: Path, data: dict[str, Any]) -> None:
    parser = Numbers()
    parser.feed(html.read_text())
    assert parser.found, html
    for number, text in parser.found:
        shown = persen(number) if "." in number else angka(number)
        assert text.startswith(shown), (html, number, text)
    summary = data["summary"]
    progress = [n for n, text in parser.found][:3]
    assert progress[:2] == [str(summary["tps_counted"]), str(summary["tps_expected"])], html
    assert not [link for link in parser.links if re.match(r"(https?:)?//", link)], "no request leaves the site"


async def test_every_number_on_every_page_equals_the_views_and_a_rebuild_writes_only_what_changed(
    half_night: Night, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    first = await build(half_night.url, site)
    assert first.full
    assert first.pages_written == first.pages_made > 100
    checked = await check_every_number(half_night.url, site)
    desa = len(list(site.glob("wilayah/" + "?" * 10 + "/*.json")))  # summed from their TPS: checked below
    assert checked == first.pages_made - 1 - desa > 100, "every page but the top one and the desa's was checked"
    heaviest = max((p for p in site.glob("wilayah/*/*.html")), key=lambda p: p.stat().st_size)
    assets = sum(p.stat().st_size for p in (site / "assets").iterdir())
    assert heaviest.stat().st_size + assets <= MAX_PAGE_BYTES, heaviest

    again = await build(half_night.url, site)
    assert (again.full, again.tps_changed, again.written) == (False, 0, ["index"]), "nothing changed"

    await write_night(half_night.url, half_night.planned, half_night.decoder, half_night.offsets)
    later = await build(half_night.url, site)
    assert not later.full
    touched = {p.key.decode() for p in half_night.planned}
    assert later.tps_changed == len(touched)
    written_tps = {path.rsplit("/", 1)[1] for path in later.written if path.startswith("tps/")}
    assert written_tps <= touched
    assert len(written_tps) >= len(touched) // 2, "the TPS whose numbers changed were written again"
    assert later.pages_written < later.pages_made
    await check_every_number(half_night.url, site)

    whole = await build(half_night.url, tmp_path / "whole")
    assert whole.full
    for page in sorted(site.rglob("*.json")):
        if page.name.startswith("."):
            continue
        twin = tmp_path / "whole" / page.relative_to(site)
        mine, theirs = json.loads(page.read_text()), json.loads(twin.read_text())
        mine.pop("taken_at"), theirs.pop("taken_at")
        assert mine == theirs, f"{page.relative_to(site)}: the incremental build differs from a full one"


def test_rekap_site_build_and_its_errors(half_night: Night, tabulator_env: dict[str, str], tmp_path: Path) -> None:
    done = rekap(tabulator_env, "site", "build", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    assert "full build;" in done.stdout
    assert f"open {(tmp_path / 'site' / 'index.html').resolve()}" in done.stdout
    assert (tmp_path / "site" / "index.html").read_text().count("Pemilihan Gubernur") >= 1
    (tmp_path / "file").write_text("x")
    refused = rekap(tabulator_env, "site", "build", str(tmp_path / "file"))
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"rekap: {tmp_path / 'file'} is not a folder"
    empty = rekap(tabulator_env, "site", "serve", str(tmp_path))
    assert empty.returncode == 1
    assert "holds no site" in empty.stderr


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        self.links += [value for name, value in attrs if name in {"href", "src"} and value]


def broken_links(site: Path) -> tuple[int, list[str]]:
    """Every link of every page of a built site that leads to no file: (links followed, the broken ones)."""
    followed, broken = 0, []
    for page in sorted(site.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text())
        for link in parser.links:
            if link.startswith(("data:", "http:", "https:", "mailto:", "#")):
                continue
            followed += 1
            target = (page.parent / link.split("#")[0]).resolve()
            if not (target.is_file() or (link.endswith("/") and target.is_dir())):  # a folder: nginx lists /audit/
                broken.append(f"{page.relative_to(site)} -> {link}")
    return followed, broken


async def test_every_link_of_a_built_site_leads_to_a_page_and_each_desa_sums_its_tps(
    half_night: Night, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    await build(half_night.url, site, audit_href="audit/bundle/")
    (site / "audit" / "bundle").mkdir(parents=True)
    (site / "audit" / "bundle" / "manifest.json").write_text("{}")  # as `rekap audit export` leaves it
    followed, broken = broken_links(site)
    assert broken == [], f"{len(broken)} broken of {followed}: {broken[:5]}"
    regent = next(site.glob("wilayah/????/pkwkk-*.html")).read_text()
    assert 'href="../../wilayah/16/pkwkp-16.html">Provinsi Sumatera Selatan</a>' in regent

    conn = await pg.connect(login_url(half_night.url, "reader"))
    try:
        rows = await conn.fetch("""
            SELECT desa_code, contest_id, count(*) AS tps_expected, count(*) FILTER (WHERE status = 'counted')
                   AS tps_counted, count(*) FILTER (WHERE status = 'held') AS tps_quarantined,
                   coalesce(sum(valid) FILTER (WHERE status = 'counted'), 0) AS valid,
                   coalesce(sum(invalid) FILTER (WHERE status = 'counted'), 0) AS invalid,
                   sum(dpt_male + dpt_female) AS dpt
            FROM hasil.tps_status GROUP BY desa_code, contest_id""")
    finally:
        await conn.close()
    assert len(rows) > 100
    for row in rows:
        page = json.loads((site / "wilayah" / row["desa_code"] / f"{row['contest_id']}.json").read_text())
        held = {key: value for key, value in dict(row).items() if key not in {"desa_code", "contest_id"}}
        assert {key: page["summary"][key] for key in held} == held, row["desa_code"]
        assert sum(line["votes"] for line in page["votes"]) == row["valid"]
        assert len(page["tps"]) == row["tps_expected"]


async def test_a_master_data_change_reaches_every_page_and_a_rebuild_keeps_what_was_published(
    half_night: Night, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    await build(half_night.url, site, audit_href="audit/bundle/")
    assert (await build(half_night.url, site)).written == ["index"], "nothing changed"
    assert 'href="audit/bundle/">Bundel audit</a>' in (site / "index.html").read_text(), "a plain rebuild keeps it"

    tps_id = half_night.planned[0].key.decode()
    conn = await pg.connect(half_night.url)
    try:
        await conn.execute("UPDATE rekap.kecamatan SET name = 'Dinamai Ulang' WHERE code = $1", tps_id[:6])
        await conn.execute("UPDATE rekap.tps SET registered_male = registered_male + 7 WHERE tps_id = $1", tps_id)
        dpt = await conn.fetchval("SELECT registered_male + registered_female FROM rekap.tps WHERE tps_id = $1", tps_id)
    finally:
        await conn.close()
    renamed = await build(half_night.url, site)
    assert renamed.full, "a renamed kecamatan or a changed DPT is a change of the master data"
    shown = [*site.glob(f"wilayah/{tps_id[:6]}*/*.html"), *site.glob(f"tps/{tps_id[:6]}/*.html"),
             *site.glob(f"wilayah/{tps_id[:4]}/*.html")]  # fmt: skip
    assert len(shown) > 4
    stale = [str(page.relative_to(site)) for page in shown if "Dinamai Ulang" not in page.read_text()]
    assert stale == []
    page = json.loads((site / "tps" / tps_id[:6] / f"{tps_id}.json").read_text())
    assert {race["dpt"] for race in page["races"]} == {dpt}
    assert 'href="audit/bundle/">Bundel audit</a>' in (site / "index.html").read_text()

    state = json.loads((site / ".rekap-site.json").read_text())
    assert state["database"].endswith("/" + half_night.url.rsplit("/", 1)[1].split("?")[0])
    state["database"] = "another/rekap"  # the folder was built from another database
    (site / ".rekap-site.json").write_text(json.dumps(state))
    elsewhere = await build(half_night.url, site)
    assert elsewhere.full
    assert "Bundel audit belum diterbitkan" in (site / "index.html").read_text(), "another database's bundle"


@pytest.fixture
def nginx() -> str:
    return debian_program("nginx", package="nginx-light")


async def test_nginx_serves_the_site_as_compose_runs_it(half_night: Night, nginx: str, tmp_path: Path) -> None:
    """Debian's nginx with deploy/nginx/site.conf (only its port and folder changed): the pages, their short
    cache, the JSON open to other sites, the builder's own files hidden, a health check, compression. The site
    is built outside pytest's folder (0700, its own): nginx's workers read as another user, as in a deployment."""
    site = Path(tempfile.mkdtemp(prefix="rekap-tests-site-"))
    site.chmod(0o755)  # noqa: ASYNC240 (once, before the server starts)
    await build(half_night.url, site)
    port = free_port()
    conf = (DEPLOY / "nginx" / "site.conf").read_text()
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("/usr/share/nginx/html", str(site))
    (tmp_path / "site.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ include /etc/nginx/mime.types; access_log off; client_body_temp_path {tmp_path};\n"
        f"  proxy_temp_path {tmp_path}; fastcgi_temp_path {tmp_path}; uwsgi_temp_path {tmp_path}; "
        f"scgi_temp_path {tmp_path};\n  include {tmp_path}/site.conf; }}\n"
    )
    server = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)])  # noqa: ASYNC220
    try:
        assert await asyncio.to_thread(wait_until, lambda: _get(port, "/healthz")[0] == 200, 10)
        status, headers, body = await asyncio.to_thread(_get, port, "/wilayah/16/pkwkp-16.html")
        assert status == 200
        assert "Provinsi Sumatera Selatan" in body.decode()
        assert headers["Cache-Control"] == "public, max-age=30, stale-while-revalidate=30"
        assert headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        status, headers, body = await asyncio.to_thread(_get, port, "/wilayah/16/pkwkp-16.json", gzip=True)
        assert (status, headers["Access-Control-Allow-Origin"], headers["Content-Encoding"]) == (200, "*", "gzip")
        assert (await asyncio.to_thread(_get, port, "/.rekap-site.json"))[0] == 404
        assert (await asyncio.to_thread(_get, port, "/index.html"))[2].startswith(b"<!doctype html>")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(site)


def _get(port: int, path: str, *, gzip: bool = False) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Accept-Encoding": "gzip"} if gzip else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""
    except OSError:
        return 0, {}, b""


async def test_a_tps_page_offers_the_signature_the_form_was_counted_by(half_night: Night, tmp_path: Path) -> None:
    """A record may carry a header twice; the tabulator verifies the last "signature" (as Kafka's lastHeader),
    so that is the one the page offers, and it verifies."""
    accepted = next(p for p in half_night.planned if p.outcome == "accepted" and json.loads(p.value)["revision"] == 1)
    form = corrected(json.loads(accepted.value), random.Random(5), 9)
    record = signed_record(form, SigningKey.derived(SECRET, form["terminal_id"]))
    assert record.value is not None
    headers = [("signature", base64.b64encode(b"\x00" * 64)), ("signature", b"\xff not text"), *record.headers]
    twice = Planned(accepted.key, record.value, headers, "accepted")
    await write_night(half_night.url, [twice], half_night.decoder, half_night.offsets)
    await build(half_night.url, tmp_path / "site")
    page = json.loads((tmp_path / "site" / "tps" / form["tps_id"][:6] / f"{form['tps_id']}.json").read_text())
    race = next(r for r in page["races"] if r["contest_id"] == form["contest_id"])
    assert (race["revision"], race["signature"]) == (9, dict(record.headers)["signature"].decode())
    verify(race)


async def test_the_totals_read_at_every_build_sum_each_kecamatan_once_after_analyze(election_database_url: str) -> None:
    """hasil.summary, read whole by every build (and by KPU): once ANALYZE had run on a province's night, the
    planner expected one region row where there are 723 and summed every kecamatan again for each (0.5 s a
    read on Sumatera Selatan instead of 0.05 s). Migration 0011 sums first: no aggregate runs more than once."""
    tps_list = sample_tps(len(SHIPPED.tps))
    planned, _ = plan_election(tps_list, seed=3)
    await write_night(election_database_url, planned, await registered_decoder(election_database_url, tps_list))
    conn = await pg.connect(election_database_url)
    try:
        await conn.execute("ANALYZE")
        plan = json.loads(await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM hasil.summary"))
    finally:
        await conn.close()

    def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *(n for child in node.get("Plans", []) for n in nodes(child))]

    repeated = [(n["Node Type"], n["Actual Loops"]) for n in nodes(plan[0]["Plan"]) if n["Node Type"] == "Aggregate"
                and n["Actual Loops"] > 1]  # fmt: skip
    assert repeated == []
