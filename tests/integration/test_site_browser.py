"""The public site in a real browser (Debian's headless Chromium, driven by Playwright): the province page
shows the governor race as the database counts it, a click through kabupaten/kota, kecamatan and TPS
arrives at a form whose download verifies against its terminal's registered key, and axe-core (from npm)
finds no serious accessibility violation. Screenshots of the province and the TPS page are saved."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nacl.signing
import pytest

from rekap.adapters.photos.folder import FolderStore
from rekap.site.build import build_site
from rekap.site.render import angka, persen
from tests.conftest import jar_cache
from tests.integration.election import index_photos, plan_election, registered_decoder, sample_tps, write_night
from tests.programs import debian_program
from tests.servers import login_url

AXE_VERSION = "4.14.1"
# As root, on a machine whose network is closed: no sandbox, no background connections (docs/testing.md).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = os.environ.get("REKAP_SCREENSHOTS")  # a folder to copy the screenshots to (docs/images/ shows them)

playwright = pytest.importorskip("playwright.async_api")


@pytest.fixture(scope="module")
def chromium() -> str:
    return debian_program("chromium", package="chromium")


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core from npm, fetched once into the cache."""
    folder = jar_cache() / "npm"
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), f"axe-core@{AXE_VERSION}"],
                       check=True, capture_output=True, timeout=300)  # fmt: skip
    return script


@pytest.fixture
async def site(election_database_url: str, tmp_path: Path) -> dict[str, Any]:
    """A night of 60 TPS counted, the site built from it; what the views say, for the checks."""
    tps_list = sample_tps(60)
    planned, expected = plan_election(tps_list, seed=5, photos="")  # every form names a photo of its sheet
    store = FolderStore(tmp_path / "photos")
    received = sorted(expected.photos)[1:]  # the first one never arrives
    await index_photos(election_database_url, [expected.photos[sha256].data for sha256 in received], store)
    conn = await asyncpg.connect(election_database_url)
    try:
        await write_night(election_database_url, planned, await registered_decoder(election_database_url, tps_list))
        operator = await asyncpg.connect(login_url(election_database_url, "operator"))
        try:
            await build_site(operator, tmp_path / "site", photos=store)
        finally:
            await operator.close()
        summary = await conn.fetchrow(
            "SELECT * FROM hasil.summary WHERE level = 'provinsi' AND contest_id = 'pkwkp-16'"
        )
        votes = await conn.fetch("SELECT * FROM hasil.votes WHERE level = 'provinsi' AND contest_id = 'pkwkp-16' "
                                 "ORDER BY choice")  # fmt: skip
        keys = {r["terminal_id"]: bytes(r["public_key"]) for r in await conn.fetch("SELECT * FROM rekap.terminal")}
    finally:
        await conn.close()
    return {"folder": tmp_path / "site", "summary": summary, "votes": votes, "keys": keys,
            "missing_photo": min(expected.photos)}  # fmt: skip


@pytest.fixture
def served(site: dict[str, Any]) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(site["folder"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """The test reads pages, not the server's log."""


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    async with playwright.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def test_a_click_through_from_the_province_to_a_verified_form(
    browser: Any, served: str, site: dict[str, Any], tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 412, "height": 915}, accept_downloads=True)  # a phone
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(served) else None)
    await page.goto(f"{served}/index.html")
    await page.get_by_role("link", name="Pemilihan Gubernur dan Wakil Gubernur Sumatera Selatan 2024").click()

    s = site["summary"]
    assert await page.locator("h1").inner_text() == "Provinsi Sumatera Selatan"
    progress = await page.locator("#progres").inner_text()
    assert (
        progress
        == f"{angka(s['tps_counted'])} dari {angka(s['tps_expected'])} TPS masuk ({persen(s['percent_counted'])})"
    )
    assert await page.locator("progress").get_attribute("value") == str(s["tps_counted"])
    rows = page.locator("table").first.locator("tbody tr")
    assert await rows.count() == len(site["votes"])
    for i, vote in enumerate(site["votes"]):
        cells = rows.nth(i).locator("td")
        assert await cells.nth(1).inner_text() == vote["candidate_name"]
        assert await cells.nth(2).inner_text() == angka(vote["votes"])
        assert await cells.nth(3).inner_text() == persen(vote["percent_of_valid"])
    await shot(page, tmp_path / "site-province.png")

    await page.locator("#wilayah tbody a").first.click()  # a kabupaten/kota
    assert (await page.locator("h1").inner_text()).startswith(("Kabupaten ", "Kota "))
    await page.locator("#wilayah tbody a").first.click()  # a kecamatan
    assert (await page.locator("h1").inner_text()).startswith("Kecamatan ")
    await page.locator("#wilayah tbody a").first.click()  # a desa/kelurahan
    assert (await page.locator("h1").inner_text()).startswith("Desa/Kelurahan ")
    await page.locator("#tps tbody tr", has_text="masuk").first.locator("a").click()  # a TPS whose form counts
    assert (await page.locator("h1").inner_text()).startswith("TPS ")
    await shot(page, tmp_path / "site-tps.png")

    section = page.locator("section").first
    async with page.expect_download() as download:
        await section.locator("a.form").click()
    done = await download.value
    value = Path(await done.path()).read_bytes()  # noqa: ASYNC240 (a small file, once)
    assert done.suggested_filename.endswith(".form.json")
    await section.locator("summary", has_text="Periksa tanda tangan").click()
    signature = base64.b64decode(await section.locator("code.sig").inner_text())
    terminal = json.loads(value)["terminal_id"]
    nacl.signing.VerifyKey(site["keys"][terminal]).verify(value, signature)  # raises unless it verifies
    assert base64.b64decode(await section.locator("code.key").inner_text()) == site["keys"][terminal]

    named = json.loads(value)["photos"][0]["sha256"]  # the photo the signed form names
    thumbnail = section.locator("ul.photos img")
    assert await thumbnail.evaluate("img => img.complete && img.naturalWidth > 0"), "the thumbnail loads"
    assert await section.locator("ul.photos code").first.inner_text() == named
    async with page.expect_download() as download:
        await section.locator("ul.photos figcaption a").evaluate("a => a.setAttribute('download', '')")
        await section.locator("ul.photos figcaption a").click()
    photo = Path(await (await download.value).path()).read_bytes()  # noqa: ASYNC240 (a small file, once)
    assert hashlib.sha256(photo).hexdigest() == named, "the full photo is the one the signature binds"
    assert outside == [], "no request leaves the site"


async def shot(page: Any, path: Path) -> None:
    await page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # noqa: ASYNC240 (a small file, once)
    if SCREENSHOTS:
        shutil.copy(path, Path(SCREENSHOTS) / path.name)


async def test_axe_finds_no_serious_accessibility_violation(
    browser: Any, served: str, axe: Path, site: dict[str, Any]
) -> None:
    folder = site["folder"]
    kecamatan = next(folder.glob("wilayah/??????/pkwkp-16.html")).relative_to(folder)
    tps = next(folder.glob("tps/*/*.html")).relative_to(folder)
    without_photo = next(p for p in folder.glob("tps/*/*.html") if site["missing_photo"] in p.read_text())
    assert "foto belum diterima" in without_photo.read_text()
    page = await browser.new_page()
    found = {}
    for path in (
        "index.html",
        "wilayah/16/pkwkp-16.html",
        str(kecamatan),
        str(tps),
        str(without_photo.relative_to(folder)),
    ):
        await page.goto(f"{served}/{path}")
        await page.add_script_tag(path=str(axe))
        result = await page.evaluate("async () => (await axe.run(document)).violations")
        found[path] = [
            (v["id"], v["impact"], len(v["nodes"])) for v in result if v["impact"] in ("serious", "critical")
        ]
        assert await page.evaluate("typeof axe.run") == "function", "axe-core ran in the page"
    assert found == {path: [] for path in found}
