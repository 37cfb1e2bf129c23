"""Building the site from one snapshot, and building it again with only what changed.

1. Take the snapshot: when, from which database, which master data (by its content), how far each
   partition was applied.
2. Decide what to read again: everything on the first build (or when the database or anything in the master
   data changed, or asked), else the TPS of the records applied since the last build and their kecamatan.
3. Read the rows, make the pages: the top page, every provinsi and kabupaten/kota page (cheap: a few rows
   per region), then the kecamatan, desa/kelurahan and TPS pages of what changed, 25 kecamatan at a time
   (when there are many, a process per core makes and draws them from the rows while the next are read).
4. Write each page whose numbers changed (HTML and JSON, each file replaced whole, never half-written),
   and the signed forms and the history of the TPS written.
5. Record what was built (`.rekap-site.json`): the database, the master data, the positions, what was
   published (the audit bundle's address: a later build without one keeps it) and each page's digest.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.site import Positions, SiteSnapshot, site_snapshot
from rekap.audit.publish import Published, publish_head
from rekap.site.pages import Page, SignedForm, Snapshot, index_page, kecamatan_pages, region_pages, signed_forms
from rekap.site.render import assets, to_html

STATE = ".rekap-site.json"
Drawn = tuple[str, str, bool]  # a page's path, its digest, whether it was written
STATE_VERSION = 2
KECAMATAN_PER_READ = 25  # few: the other cores start drawing soon, and the last batch is short
PROGRESS_EVERY = 2.0  # seconds
PAGES_FOR_ALL_CORES = 500  # a build of fewer draws here: starting other processes would cost more


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
    head: Published | None = None  # the signed head published with it (with an election key)


@dataclass
class _State:
    dataset: str | None = None
    database: str = ""
    master_data: str = ""
    audit_href: str | None = None
    positions: Positions = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> _State | None:
        try:
            raw = orjson.loads((folder / STATE).read_bytes())
        except (OSError, ValueError):  # (a JSONDecodeError is a ValueError)
            return None
        if raw.get("version") != STATE_VERSION:
            return None
        positions = {(topic, int(partition)): offset for topic, partition, offset in raw["positions"]}
        return cls(raw["dataset"], raw["database"], raw["master_data"], raw["audit_href"], positions, raw["digests"])

    def save(self, folder: Path, built_at: datetime) -> None:
        raw = {
            "version": STATE_VERSION, "built_at": built_at.isoformat(), "dataset": self.dataset,
            "database": self.database, "master_data": self.master_data, "audit_href": self.audit_href,
            "positions": [[t, p, o] for (t, p), o in sorted(self.positions.items())],
            "digests": self.digests,
        }  # fmt: skip
        _write(folder / STATE, orjson.dumps(raw))


async def build_site(
    conn: Connection, folder: Path, *, full: bool = False, audit_href: str | None = None,
    election_key: Path | None = None, progress: Callable[[str], None] = lambda _: None,
) -> BuildReport:  # fmt: skip
    before = _State.load(folder)  # (a missing folder: the first build)
    async with site_snapshot(conn) as snap:
        # 1. The snapshot.
        taken_at, dataset, database, master_data = await snap.about()
        positions = await snap.positions()
        # 2. What to read again.
        same = before is not None and (before.dataset, before.database, before.master_data) == (
            dataset, database, master_data)  # fmt: skip
        full = full or not same
        previous = {} if full or before is None else before.digests  # each page's digest at the last build
        if audit_href is None and before is not None and before.database == database:
            audit_href = before.audit_href  # what was published from this database stays linked
        state = _State(dataset, database, master_data, audit_href, positions, dict(previous))
        changed = None if full else await snap.changed_tps(before.positions if before else {}, positions)
        report = BuildReport(full, taken_at, tps_changed=-1 if changed is None else len(changed))
        # 3-4. The pages, written when their numbers changed.
        snapshot = await _read_snapshot(snap)
        kecamatan = sorted(r["region_code"] for r in snapshot.regions if r["level"] == "kecamatan")
        if changed is not None:
            kecamatan = sorted({tps_id[:6] for tps_id in changed})
        # A folder never served yet gets its files written in place (creating a file is what costs, and a
        # replacement creates one); a served one gets each file replaced whole.
        write = _write if (folder / "index.html").exists() else _write_new
        drawing = _Drawing(folder, _WrittenAt(taken_at, snapshot.time_zones()), write, snapshot, previous)
        many = changed is None or len(changed) + 2 * len(kecamatan) >= PAGES_FOR_ALL_CORES
        for name, content in assets().items():
            write(folder / "assets" / name, content)
        # The forms of the TPS that changed, in one read (a full build reads each kecamatan's with its rows).
        changed_forms = None if changed is None else await _read_evidence(snap, sorted(changed))
        signed_heads = election_key is not None or (folder / "audit" / "head.txt").exists()
        with _Writer(drawing, state, report, progress, on_all_cores=many) as writer:
            writer.pages([index_page(snapshot, audit_href, signed_heads=signed_heads), *region_pages(snapshot)])
            for start in range(0, len(kecamatan), KECAMATAN_PER_READ):
                chunk = kecamatan[start : start + KECAMATAN_PER_READ]
                rows, evidence = await _read_kecamatan(snap, chunk, changed_forms)
                writer.kecamatan(rows, evidence, changed)
        # 5. The signed head of this snapshot, after the head before it, with the proofs that it extends it.
        if election_key is not None:
            report.head = await publish_head(conn, folder, election_key)
    if full and before is not None:
        report.files_removed = _remove_gone(folder, set(before.digests) - set(state.digests))
    # 6. What was built.
    state.save(folder, taken_at)
    return report


async def _read_snapshot(snap: SiteSnapshot) -> Snapshot:
    contests, choices = await snap.contests()
    return Snapshot(
        summary=await snap.summary(), votes=await snap.votes(),
        regions=await snap.regions(), contests=contests, choices=choices, curves=await snap.curves(),
    )  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """What a TPS page shows besides its rows: each race's signed form, and every record received."""

    forms: dict[str, dict[str, SignedForm]]  # tps_id -> contest -> form
    history: dict[str, list[dict[str, Any]]]  # tps_id -> its records, in the order received

    def of(self, keep: Callable[[str], bool]) -> Evidence:
        return Evidence({t: f for t, f in self.forms.items() if keep(t)},
                        {t: h for t, h in self.history.items() if keep(t)})  # fmt: skip


async def _read_evidence(snap: SiteSnapshot, tps_ids: list[str]) -> Evidence:
    return Evidence(signed_forms([form async for form in snap.forms(tps_ids)]), await snap.history(tps_ids))


async def _read_kecamatan(
    snap: SiteSnapshot, kecamatan: list[str], changed: Evidence | None
) -> tuple[dict[str, list[dict[str, Any]]], Evidence]:
    """The rows of these kecamatan's TPS (by kecamatan), and the evidence of their TPS: that of `changed`
    (an incremental build's), or all read now (a full build's)."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    async for row in snap.tps(kecamatan):
        rows[row["kecamatan_code"]].append(row)
    if changed is not None:
        return rows, changed.of(lambda tps_id: tps_id[:6] in rows)
    tps_ids = [t for code in rows for t in dict.fromkeys(r["tps_id"] for r in rows[code])]
    return rows, await _read_evidence(snap, tps_ids)


@dataclass(frozen=True)
class _Drawing:
    """What drawing a page needs: given once to each drawing process, when it starts (the snapshot's rows
    are not sent again with every batch)."""

    folder: Path
    written_at: _WrittenAt
    write: Callable[[Path, bytes], None]
    snapshot: Snapshot
    before: dict[str, str]  # each page's digest at the last build: a page whose digest is the same is not written


_drawing: list[_Drawing] = []  # this process's (a drawing process's, or the builder's when it draws itself)


def _start_drawing(drawing: _Drawing) -> None:
    _drawing[:] = [drawing]


@dataclass(frozen=True)
class _KecamatanBatch:
    rows: dict[str, list[dict[str, Any]]]  # kecamatan -> its TPS rows
    evidence: Evidence
    changed: set[str] | None


def _draw_pages(pages: list[Page]) -> list[Drawn]:
    """Draw and write each page whose digest changed since the last build (the top page always: it says
    when): (path, digest, written) of each."""
    drawing = _drawing[0]
    done = []
    for page in pages:
        digest = page.digest
        if digest == drawing.before.get(page.path) and page.path != "index":
            done.append((page.path, digest, False))
            continue
        for path, data in _page_files(drawing.folder, page, drawing.written_at):
            drawing.write(path, data)
        done.append((page.path, digest, True))
    return done


def _draw_kecamatan(batch: _KecamatanBatch) -> list[Drawn]:
    """Make the pages of these kecamatan and their changed TPS, then draw them as `_draw_pages`."""
    snapshot = _drawing[0].snapshot
    return _draw_pages([page for code, rows in batch.rows.items()
                        for page in kecamatan_pages(snapshot, code, rows, batch.evidence.forms, batch.changed,
                                                    history=batch.evidence.history)])  # fmt: skip


@dataclass
class _Writer:
    """Draws and writes pages, here or on every core (when a build has many: drawing is most of it)."""

    drawing: _Drawing
    state: _State
    report: BuildReport
    progress: Callable[[str], None]
    on_all_cores: bool
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    pool: ProcessPoolExecutor | None = None
    next_progress: float = field(default_factory=lambda: time.monotonic() + PROGRESS_EVERY)
    # The pages the other processes are drawing while the next are read: (their results, their forms).
    in_flight: tuple[Iterable[list[Drawn]], dict[str, dict[str, SignedForm]]] | None = None

    def __enter__(self) -> _Writer:
        if self.on_all_cores:
            context = multiprocessing.get_context("fork")  # the drawing processes share the snapshot as it is
            self.pool = ProcessPoolExecutor(self.cores, context, _start_drawing, (self.drawing,))
        else:
            _start_drawing(self.drawing)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.settle()
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def pages(self, pages: list[Page]) -> None:
        size = -(-len(pages) // self.cores)
        self._draw(_draw_pages, [pages[i : i + size] for i in range(0, len(pages), size)], {})

    def kecamatan(self, rows: dict[str, list[dict[str, Any]]], evidence: Evidence,
                  changed: set[str] | None) -> None:  # fmt: skip
        """The pages of these kecamatan and of their TPS that changed (all when `changed` is None)."""
        codes = list(rows)
        size = -(-len(codes) // self.cores)
        parts = [set(codes[i : i + size]) for i in range(0, len(codes), size)]
        batches = [_KecamatanBatch({code: rows[code] for code in codes if code in part},
                                   evidence.of(lambda t, part=part: t[:6] in part),  # type: ignore[misc]
                                   None if changed is None else {t for t in changed if t[:6] in part})
                   for part in parts]  # fmt: skip
        self._draw(_draw_kecamatan, batches, evidence.forms)

    def _draw(self, draw: Callable[[Any], list[Drawn]], batches: list[Any], forms: dict[str, Any]) -> None:
        """Here: draw now. On every core: hand them over, then account for the batches handed over before
        (the next are read meanwhile)."""
        if self.pool is None:
            self._count([page for batch in batches for page in draw(batch)], forms)
            return
        drawing = self.pool.map(draw, batches)
        self.settle()
        self.in_flight = (drawing, forms)
        if time.monotonic() >= self.next_progress:  # a line every few seconds of a long build
            self.progress(f"{self.report.pages_made:,} pages made")
            self.next_progress = time.monotonic() + PROGRESS_EVERY

    def settle(self) -> None:
        """Wait for the pages being drawn elsewhere, and account for them."""
        if self.in_flight is not None:
            drawing, forms = self.in_flight
            self.in_flight = None
            self._count([page for batch in drawing for page in batch], forms)

    def _count(self, done: list[Drawn], forms: dict[str, dict[str, SignedForm]]) -> None:
        self.report.pages_made += len(done)
        for path, digest, written in done:
            self.state.digests[path] = digest
            if written:
                self.report.pages_written += 1
                self.report.written.append(path)
                self.report.forms_written += len(forms.get(path.rsplit("/", 1)[-1], {}))


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
    data = page.json[:-1] + f',"taken_at":"{written_at.taken_at.isoformat()}"}}'.encode()  # its numbers, and when
    return [(folder / f"{page.path}.html", html.encode()), (folder / f"{page.path}.json", data)]


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
