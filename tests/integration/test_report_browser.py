"""The recapitulation's printable page (`rekap report --out FILE.html`) in a real browser (Debian's headless
Chromium, driven by Playwright): a whole province's table fits a 1400 px screen without scrolling sideways,
and an A4 landscape page when printed. A screenshot is saved (`REKAP_SCREENSHOTS=DIR` copies it there)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rekap.report.render import to_html
from tests.integration.test_site_browser import CHROMIUM_FLAGS
from tests.programs import debian_program
from tests.unit.report.recaps import province_recap

playwright = pytest.importorskip("playwright.async_api")
SCREENSHOTS = os.environ.get("REKAP_SCREENSHOTS")
A4_LANDSCAPE_PX = round((297 - 2 * 8) / 25.4 * 96)  # the page's width less the template's @page margins
# How wide the page, the table and the box that holds it are drawn.
SIZES = """() => { const table = document.querySelector('table');
  return {page: document.documentElement.scrollWidth, table: table.scrollWidth, box: table.parentElement.clientWidth} }"""


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    chromium = debian_program("chromium", package="chromium")
    async with playwright.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def test_a_provinces_recapitulation_fits_a_1400px_screen_and_an_a4_page(browser: Any, tmp_path: Path) -> None:
    report = tmp_path / "report-16.html"
    report.write_text(to_html(province_recap()), encoding="utf-8")
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(report.as_uri())
    on_screen = await page.evaluate(SIZES)
    assert on_screen["page"] <= 1400, f"the page scrolls sideways: {on_screen}"
    assert on_screen["table"] <= on_screen["box"], f"the table is wider than its box: {on_screen}"
    shot = tmp_path / "report-16.png"
    await page.screenshot(path=str(shot), full_page=True)
    if SCREENSHOTS:
        shutil.copy(shot, Path(SCREENSHOTS) / shot.name)
    await page.emulate_media(media="print")
    await page.set_viewport_size({"width": A4_LANDSCAPE_PX, "height": 700})
    printed = await page.evaluate(SIZES)
    assert printed["table"] <= printed["box"] <= A4_LANDSCAPE_PX, f"the printed table is cut: {printed}"
