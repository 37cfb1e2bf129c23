"""Drawing a build's pages in processes of their own: the same files and accounts as drawing them here, each
process given its drawing state explicitly, an error in one raised in the builder, none left running."""

from __future__ import annotations

import multiprocessing
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rekap.app.site_rows import HistoryRow
from rekap.site.build import BuildReport, _Drawer, _write_new, _Writer, _WrittenAt
from rekap.site.pages import index_page, region_pages
from tests.unit.site.test_pages import snapshot, tps_row

TAKEN_AT = datetime(2024, 11, 27, 9, 30, tzinfo=UTC)


def draw(folder: Path, *, on_all_cores: bool, cores: int = 2) -> tuple[BuildReport, dict[str, str]]:
    rows = snapshot()
    drawer = _Drawer(folder, _WrittenAt(TAKEN_AT, {"WIB": "Asia/Jakarta"}), _write_new, rows, {})
    report = BuildReport(full=True, taken_at=TAKEN_AT)
    pages = [index_page(rows, None), *region_pages(rows)]
    with _Writer(drawer, report, {}, lambda _: None, on_all_cores=on_all_cores, cores=cores) as writer:
        writer.pages(pages[:2])
        writer.pages(pages[2:])  # handed over while the first are drawn: taken back in order
    return report, writer.digests


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_pages_drawn_on_every_core_are_those_drawn_here(tmp_path: Path) -> None:
    here, here_digests = draw(tmp_path / "here", on_all_cores=False)
    there, there_digests = draw(tmp_path / "there", on_all_cores=True, cores=3)
    assert files(tmp_path / "there") == files(tmp_path / "here")
    assert len(files(tmp_path / "here")) == 2 * 4, "the top page and 3 region pages, HTML and JSON"
    assert list(there_digests.items()) == list(here_digests.items()), "in the same order"
    assert (there.pages_made, there.pages_written, there.written) == (here.pages_made, here.pages_written, here.written)
    assert multiprocessing.active_children() == [], "the drawing processes ended with the build"


def test_an_error_while_drawing_in_a_process_is_raised_in_the_builder(tmp_path: Path) -> None:
    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device", str(path))

    rows = snapshot()
    drawer = _Drawer(tmp_path, _WrittenAt(TAKEN_AT, {}), full_disk, rows, {})
    report = BuildReport(full=True, taken_at=TAKEN_AT)
    with (
        pytest.raises(OSError, match="No space left on device") as raised,
        _Writer(drawer, report, {}, lambda _: None, on_all_cores=True, cores=2) as writer,
    ):
        writer.pages([index_page(rows, None), *region_pages(rows)])
    assert any("in a drawing process" in note for note in raised.value.__notes__), "where it was raised"
    assert multiprocessing.active_children() == []


def test_the_rows_handed_to_a_drawing_process_come_back_the_same() -> None:
    rows = [tps_row("pkwkp-16", "held", reasons=["votes_sum_ne_valid"]), tps_row("pkwkk-1601", "missing")]
    history = [HistoryRow("1601011001001", None, None, "rejected", "bad_signature", None, None)]
    assert pickle.loads(pickle.dumps((rows, history))) == (rows, history)
