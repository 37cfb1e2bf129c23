"""Building the site from one snapshot, and building it again with only what changed.

1. Take the snapshot: when, which master data, how far each partition was applied.
2. Decide what to read again: everything on the first build (or when the master data changed, or asked),
   else the TPS of the records applied since the last build and their kecamatan.
3. Read the rows, make the pages: the top page, every provinsi and kabupaten/kota page (cheap: a few rows
   per region), the kecamatan pages and TPS pages of what changed.
4. Write each page whose numbers changed (HTML and JSON, each file replaced whole, never half-written),
   and the signed forms of the TPS written.
5. Record what was built (`.rekap-site.json`): the positions and each page's digest, for the next build.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.site import Positions, SiteSnapshot, site_snapshot
from rekap.site.pages import (
    Page,
    SignedForm,
    Snapshot,
    index_page,
    region_page,
    region_pages,
    signed_forms,
    tps_page,
)
from rekap.site.render import assets, to_html

STATE = ".rekap-site.json"
Drawn = tuple[str, str, bool]  # a page's path, its digest, whether it was written
STATE_VERSION = 1
KECAMATAN_PER_READ = 100
PAGES_FOR_ALL_CORES = 500  # fewer are drawn here: starting the other processes would cost more


@dataclass
class BuildReport:
    full: bool
    taken_at: datetime
    tps_changed: int = 0
    pages_made: int = 0
    pages_written: int = 0
    forms_written: int = 0
    files_removed: int = 0
    written: list[str] = field(default_factory=list)  # page paths, without suffix


@dataclass
class _State:
    dataset: str | None = None
    master_data: str = ""
    positions: Positions = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> _State | None:
        try:
            raw = json.loads((folder / STATE).read_text())
        except (OSError, ValueError):
            return None
        if raw.get("version") != STATE_VERSION:
            return None
        positions = {(topic, int(partition)): offset for topic, partition, offset in raw["positions"]}
        return cls(raw["dataset"], raw["master_data"], positions, raw["digests"])

    def save(self, folder: Path, built_at: datetime) -> None:
        raw = {
            "version": STATE_VERSION, "built_at": built_at.isoformat(), "dataset": self.dataset,
            "master_data": self.master_data, "positions": [[t, p, o] for (t, p), o in sorted(self.positions.items())],
            "digests": self.digests,
        }  # fmt: skip
        _write(folder / STATE, json.dumps(raw, separators=(",", ":")).encode())


async def build_site(
    conn: Connection, folder: Path, *, full: bool = False, audit_href: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> BuildReport:  # fmt: skip
    before = _State.load(folder)  # (a missing folder: the first build)
    async with site_snapshot(conn) as snap:
        # 1. The snapshot.
        taken_at, dataset, master_data = await snap.about()
        positions = await snap.positions()
        # 2. What to read again.
        full = full or before is None or (before.dataset, before.master_data) != (dataset, master_data)
        state = _State(dataset, master_data, positions, {} if full or before is None else dict(before.digests))
        changed = None if full else await snap.changed_tps(before.positions if before else {}, positions)
        report = BuildReport(full, taken_at, tps_changed=-1 if changed is None else len(changed))
        # 3-4. The pages, written when their numbers changed.
        snapshot = await _read_snapshot(snap)
        written_at = _WrittenAt(taken_at, snapshot.time_zones())
        # A folder never built is not served yet: its files are written in place (creating a file is
        # what costs, and a replacement creates one); later, each file is replaced whole.
        writer = _Writer(folder, state, report, written_at, progress, _write if before else _write_new)
        for name, content in assets().items():
            writer.write(folder / "assets" / name, content)
        try:
            await _write_pages(snap, writer, snapshot, changed, audit_href)
            writer.settle()
        finally:
            writer.close()
    if full and before is not None:
        report.files_removed = _remove_gone(folder, set(before.digests) - set(state.digests))
    # 5. What was built.
    state.save(folder, taken_at)
    return report


async def _write_pages(
    snap: SiteSnapshot, writer: _Writer, snapshot: Snapshot, changed: set[str] | None, audit_href: str | None
) -> None:
    """The top page and the upper regions', then the kecamatan and TPS pages a few kecamatan at a time
    (memory stays small, even nationally)."""
    writer.pages([index_page(snapshot, audit_href), *region_pages(snapshot)], {})
    everywhere = sorted(r["region_code"] for r in snapshot.regions if r["level"] == "kecamatan")
    kecamatan = everywhere if changed is None else sorted({tps_id[:6] for tps_id in changed})
    for start in range(0, len(kecamatan), KECAMATAN_PER_READ):
        chunk = kecamatan[start : start + KECAMATAN_PER_READ]
        pages, forms = await _tps_pages(snap, snapshot, chunk, changed)
        writer.pages(pages, forms)


@dataclass
class _Writer:
    """Draws and writes pages, on every core when there are many (drawing them is most of a build)."""

    folder: Path
    state: _State
    report: BuildReport
    written_at: _WrittenAt
    progress: Callable[[str], None]
    write: Callable[[Path, bytes], None]
    pool: ProcessPoolExecutor | None = None
    # The pages the other processes are drawing while the next are read: (their results, their forms).
    in_flight: tuple[Iterable[list[Drawn]], dict[str, dict[str, SignedForm]]] | None = None

    def pages(self, pages: list[Page], forms: dict[str, dict[str, SignedForm]]) -> None:
        """Write each page whose numbers changed (the top page always: it says when), with its forms.
        Many pages go to every core, and are accounted for at the next call or at `settle`."""
        jobs = [(page, None if page.path == "index" else self.state.digests.get(page.path)) for page in pages]
        self.report.pages_made += len(pages)
        if len(jobs) >= PAGES_FOR_ALL_CORES:
            drawing = self._draw_on_all_cores(jobs)
            self.settle()
            self.in_flight = (drawing, forms)
            self.progress(f"{self.report.pages_made:,} pages made")
        else:
            self._count(_draw(self.folder, self.written_at, self.write, jobs), forms)

    def settle(self) -> None:
        """Wait for the pages being drawn elsewhere, and account for them."""
        if self.in_flight is not None:
            drawing, forms = self.in_flight
            self.in_flight = None
            self._count([page for batch in drawing for page in batch], forms)

    def _count(self, done: list[Drawn], forms: dict[str, dict[str, SignedForm]]) -> None:
        for path, digest, written in done:
            self.state.digests[path] = digest
            if written:
                self.report.pages_written += 1
                self.report.written.append(path)
                self.report.forms_written += len(forms.get(path.rsplit("/", 1)[-1], {}))

    def _draw_on_all_cores(self, jobs: list[tuple[Page, str | None]]) -> Iterable[list[Drawn]]:
        """Hand the pages to a process per core; their results come as they are iterated."""
        cores = os.cpu_count() or 1
        if self.pool is None:
            self.pool = ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork"))
        size = -(-len(jobs) // cores)
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        count = len(batches)
        return self.pool.map(_draw, [self.folder] * count, [self.written_at] * count, [self.write] * count, batches)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _draw(
    folder: Path, written_at: _WrittenAt, write: Callable[[Path, bytes], None], jobs: list[tuple[Page, str | None]]
) -> list[Drawn]:
    """Draw and write each page whose digest is not the one given: (path, digest, written) of each."""
    done = []
    for page, before in jobs:
        digest = page.digest
        if digest == before:
            done.append((page.path, digest, False))
            continue
        for path, data in _page_files(folder, page, written_at):
            write(path, data)
        done.append((page.path, digest, True))
    return done


async def _read_snapshot(snap: SiteSnapshot) -> Snapshot:
    contests, choices = await snap.contests()
    return Snapshot(
        summary=await snap.summary(), votes=await snap.votes(),
        regions=await snap.regions(), contests=contests, choices=choices, curves=await snap.curves(),
    )  # fmt: skip


async def _tps_pages(
    snap: SiteSnapshot, snapshot: Snapshot, kecamatan: list[str], changed: set[str] | None
) -> tuple[list[Page], dict[str, dict[str, SignedForm]]]:
    """The pages of these kecamatan and of their TPS that changed (all when `changed` is None), with
    those TPS's signed forms."""
    by_kecamatan: dict[str, list[dict[str, Any]]] = defaultdict(list)
    async for row in snap.tps(kecamatan):
        by_kecamatan[row["kecamatan_code"]].append(row)
    wanted = [t for rows in by_kecamatan.values() for t in dict.fromkeys(r["tps_id"] for r in rows)
              if changed is None or t in changed]  # fmt: skip
    forms = signed_forms([row async for row in snap.forms(wanted)])
    pages: list[Page] = []
    for code, rows in by_kecamatan.items():
        races = snapshot.races("kecamatan", code)
        pages += [region_page(snapshot, "kecamatan", code, contest, rows) for contest in races]
        by_tps: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if changed is None or row["tps_id"] in changed:
                by_tps[row["tps_id"]].append(row)
        pages += [tps_page(snapshot, tps_rows, forms.get(tps_id, {})) for tps_id, tps_rows in by_tps.items()]
    return pages, forms


@dataclass(frozen=True)
class _WrittenAt:
    """When the snapshot was taken, and the time zones to say it in (from the database: WIB -> Asia/Jakarta)."""

    taken_at: datetime
    time_zones: dict[str, str]

    def local(self, zone: str) -> str:
        return f"{self.taken_at.astimezone(ZoneInfo(self.time_zones.get(zone, 'UTC'))):%d-%m-%Y %H:%M} {zone}"


def _page_files(folder: Path, page: Page, written_at: _WrittenAt) -> list[tuple[Path, bytes]]:
    """The page's HTML (saying when it was written, in its zone) and its JSON (the same numbers)."""
    html = to_html(page, written_at.local(page.data.get("zone") or "UTC"))
    data = {**page.data, "taken_at": written_at.taken_at.isoformat()}
    return [
        (folder / f"{page.path}.html", html.encode()),
        (folder / f"{page.path}.json", json.dumps(data, ensure_ascii=False, default=str).encode()),
    ]


def _write(path: Path, data: bytes) -> None:
    """Replace the file whole: a server reading it meanwhile gets the old or the new, never half. (One
    builder writes a folder at a time: the temporary name is the file's own.)"""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(handle, data)
    finally:
        os.close(handle)
    os.replace(temporary, path)  # noqa: PTH105 (the atomic rename itself)


def _write_new(path: Path, data: bytes) -> None:
    """Write the file in place (in a folder not yet served)."""
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _remove_gone(folder: Path, paths: set[str]) -> int:
    """The pages of regions and TPS no longer in the master data."""
    removed = 0
    for path in paths:
        for suffix in (".html", ".json"):
            target = folder / f"{path}{suffix}"
            if target.exists():
                target.unlink()
                removed += 1
    return removed
