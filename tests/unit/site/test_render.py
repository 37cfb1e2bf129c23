"""Every page kind drawn with every text of its data hostile: each one escaped (one escaper), none as markup."""

from __future__ import annotations

from typing import Any

import pytest

from rekap.app.site_rows import HistoryRow
from rekap.site.pages import Page, index_page, kecamatan_pages, region_pages
from rekap.site.render import to_html
from tests.unit.site.test_pages import form_photo, snapshot, tps_row

HOSTILE = "<x-bad a='1' b=\"2\">&amp;"
ESCAPED = "&lt;x-bad a=&#39;1&#39; b=&#34;2&#34;&gt;&amp;amp;"


def hostile(value: Any, key: str | None = None) -> Any:
    """Every text of a page's data with HOSTILE appended (a pair's votes keyed by its hostile number too); a
    status left as it is (it chooses what is shown)."""
    if isinstance(value, str):
        return value if key == "status" else value + HOSTILE
    if isinstance(value, dict):
        if key == "votes":
            return {choice + HOSTILE: votes for choice, votes in value.items()}
        return {k: hostile(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v, None if isinstance(v, dict) else key) for v in value]
    return value


def every_kind() -> list[Page]:
    rows = [tps_row("pkwkp-16", "held", reasons=["votes_sum_ne_valid"], valid=299), tps_row("pkwkk-1601", "counted"),
            tps_row("pkwkp-16", "missing", tps_id="1601011001002", tps_name="TPS 002")]  # fmt: skip
    history = {
        "1601011001001": [HistoryRow("1601011001001", "pkwkp-16", 1, "accepted", None, "T-1", "2024-11-27T13:05")]
    }
    pages = [index_page(snapshot(), "audit/", signed_heads=True), *region_pages(snapshot())]
    photos = {"1601011001001": [form_photo("pkwkp-16", 1, "received", "ab" * 32),
                                form_photo("pkwkp-16", 2, "missing", "cd" * 32)]}  # fmt: skip
    pages += kecamatan_pages(snapshot(), "160101", rows, {}, None, history=history, photos=photos)
    return pages


@pytest.mark.parametrize("page", every_kind(), ids=lambda page: page.path)
def test_every_text_of_every_page_is_escaped(page: Page) -> None:
    drawn = to_html(Page(page.path + HOSTILE, page.kind, hostile(page.data)), "27-11-2024 13:00 WIB" + HOSTILE)
    assert HOSTILE not in drawn
    assert "<x-bad" not in drawn
    assert drawn.count(ESCAPED) >= 5, "the texts are there, escaped"
