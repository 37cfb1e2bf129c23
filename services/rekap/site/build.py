"""Building the site from one snapshot, and building it again with only what changed. `build_site` runs these
steps, each a function or class below:

1. Snapshot (`_take_snapshot`): when, from which database, which master data (by its content), how far each
   partition was applied.
2. Decide (`_decide`) what to read again: everything on the first build (or when the database or anything in the
   master data changed, or asked), else the TPS of the records applied since the last build and their kecamatan.
3. Read (`_read_snapshot`, `_read_kecamatan`): the rows every build reads whole (a few per region), then the TPS
   rows of the kecamatan to draw, 25 kecamatan at a time, with the signed forms and the history of their TPS.
4. Draw (`_Drawer`): make the pages from the rows (the top page, every provinsi and kabupaten/kota page, then the
   kecamatan, desa/kelurahan and TPS pages of what changed) and draw each page whose numbers changed. When there
   are many, a process per core makes and draws them from the rows while the next are read (`_Processes`).
5. Write each page drawn (HTML and JSON, each file replaced whole, never half-written; the signed forms and the
   history are in the TPS pages), the photos the forms name that are in (and their thumbnails, under foto/), and,
   with an election key, the signed head of this snapshot.
6. Record (`_record`) what was built (`.rekap-site.json`): the database, the master data, the positions, what was
   published (the audit bundle's address: a later build without one keeps it) and each page's digest; after a full
   build, the pages of regions and TPS gone are removed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection as PipeEnd
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from rekap.adapters.postgres.connection import Connection
from rekap.adapters.postgres.site import Positions, SiteSnapshot, site_snapshot
from rekap.app.photos import FormPhoto, PhotoStore
from rekap.app.site_rows import HistoryRow, TpsRow
from rekap.audit.publish import Published, publish_head
from rekap.site.pages import (
    PHOTO_FOLDER,
    Page,
    SignedForm,
    Snapshot,
    index_page,
    kecamatan_pages,
    region_pages,
    signed_forms,
)
from rekap.site.render import assets, to_html

STATE = ".rekap-site.json"
Drawn = tuple[str, str, bool]  # a page's path, its digest, whether it was written
STATE_VERSION = 2
KECAMATAN_PER_READ = 25  # few: the other cores start drawing soon, and the last batch is short
PROGRESS_EVERY = 2.0  # seconds
PAGES_FOR_ALL_CORES = 500  # a build of fewer draws here: starting other processes would cost more
STOP_WITHIN = 30.0  # seconds a drawing process is given to finish its batch when the build ends


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
            "version": STATE_VERSION,
            "built_at": built_at.isoformat(),
            "dataset": self.dataset,
            "database": self.database,
            "master_data": self.master_data,
            "audit_href": self.audit_href,
            "positions": [[t, p, o] for (t, p), o in sorted(self.positions.items())],
            "digests": self.digests,
        }
        _write(folder / STATE, orjson.dumps(raw))


async def build_site(
    conn: Connection,
    folder: Path,
    *,
    full: bool = False,
    audit_href: str | None = None,
    election_key: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
    photos: PhotoStore | None = None,
) -> BuildReport:
    """Build the site into `folder` from one snapshot: every page (`full`, or the first time), else the pages of
    what changed since the last build (steps 1 to 6 above). `photos`: where the forms' photos are kept (None: the
    pages say which are in, and no photo file is copied)."""
    before = _State.load(folder)  # (a missing folder: the first build)
    async with site_snapshot(conn) as snap:
        plan = await _decide(snap, await _take_snapshot(snap), before, full=full, audit_href=audit_href)
        report = BuildReport(plan.full, plan.taken.at, tps_changed=-1 if plan.changed is None else len(plan.changed))
        signed_heads = election_key is not None or (folder / "audit" / "head.txt").exists()
        digests = await _draw_and_write(snap, folder, plan, report, progress, signed_heads=signed_heads, photos=photos)
        if election_key is not None:  # the signed head of this snapshot, with the proofs that it extends the last
            report.head = await publish_head(conn, folder, election_key)
    _record(folder, plan, before, digests, report)
    return report


@dataclass(frozen=True)
class _Taken:
    """Step 1: the snapshot, as a build records it."""

    at: datetime
    dataset: str | None
    database: str  # the cluster's identifier and the database's name
    master_data: str  # a digest of the master data's content
    positions: Positions


async def _take_snapshot(snap: SiteSnapshot) -> _Taken:
    at, dataset, database, master_data = await snap.about()
    return _Taken(at, dataset, database, master_data, await snap.positions())


@dataclass(frozen=True)
class _Plan:
    """Step 2: what a build reads and draws again."""

    taken: _Taken
    full: bool  # every TPS read, every page written
    changed: set[str] | None  # else: the TPS of the records applied since the last build (None when full)
    previous: dict[str, str]  # each page's digest at the last build ({} when full): the same digest is not written
    audit_href: str | None  # the audit bundle's address the top page links

    def kecamatan(self, snapshot: Snapshot) -> list[str]:
        """The kecamatan whose pages are drawn: every one, or those of the TPS that changed."""
        if self.changed is None:
            return sorted(r.region_code for r in snapshot.regions if r.level == "kecamatan")
        return sorted({tps_id[:6] for tps_id in self.changed})

    def on_all_cores(self, kecamatan: list[str]) -> bool:
        """Whether to draw on every core (a build of few pages draws here: starting processes would cost more)."""
        return self.changed is None or len(self.changed) + 2 * len(kecamatan) >= PAGES_FOR_ALL_CORES


async def _decide(
    snap: SiteSnapshot, taken: _Taken, before: _State | None, *, full: bool, audit_href: str | None
) -> _Plan:
    """Everything again when asked, on the first build, or when the database or the master data is not the last
    build's; else the TPS changed since. A build without an audit bundle's address keeps the last one's (from the
    same database)."""
    if audit_href is None and before is not None and before.database == taken.database:
        audit_href = before.audit_href
    if (
        full
        or before is None
        or (before.dataset, before.database, before.master_data) != (taken.dataset, taken.database, taken.master_data)
    ):
        return _Plan(taken, full=True, changed=None, previous={}, audit_href=audit_href)
    changed = await snap.changed_tps(before.positions, taken.positions)
    return _Plan(taken, full=False, changed=changed, previous=before.digests, audit_href=audit_href)


async def _draw_and_write(
    snap: SiteSnapshot,
    folder: Path,
    plan: _Plan,
    report: BuildReport,
    progress: Callable[[str], None],
    *,
    signed_heads: bool,
    photos: PhotoStore | None,
) -> dict[str, str]:
    """Steps 3 to 5 for the pages: read the rows, make and draw the pages, write those whose numbers changed.
    Each page's digest (those not drawn: the last build's)."""
    snapshot = await _read_snapshot(snap)
    kecamatan = plan.kecamatan(snapshot)
    # A folder never served yet gets its files written in place (creating a file is what costs, and a
    # replacement creates one); a served one gets each file replaced whole.
    write = _write if (folder / "index.html").exists() else _write_new
    for name, content in assets().items():
        write(folder / "assets" / name, content)
    drawer = _Drawer(folder, _WrittenAt(plan.taken.at, snapshot.time_zones()), write, snapshot, plan.previous)
    # The forms of the TPS that changed, in one read (a full build reads each kecamatan's with its rows).
    changed_forms = None if plan.changed is None else await _read_evidence(snap, sorted(plan.changed))
    with _Writer(drawer, report, dict(plan.previous), progress, on_all_cores=plan.on_all_cores(kecamatan)) as writer:
        writer.pages([index_page(snapshot, plan.audit_href, signed_heads=signed_heads), *region_pages(snapshot)])
        for start in range(0, len(kecamatan), KECAMATAN_PER_READ):
            rows, evidence = await _read_kecamatan(snap, kecamatan[start : start + KECAMATAN_PER_READ], changed_forms)
            await _publish_photos(photos, folder, evidence)
            writer.kecamatan(rows, evidence, plan.changed)
    return writer.digests


def _record(folder: Path, plan: _Plan, before: _State | None, digests: dict[str, str], report: BuildReport) -> None:
    """Step 6: after a full build, the pages gone removed; then what was built recorded."""
    if plan.full and before is not None:
        report.files_removed = _remove_gone(folder, set(before.digests) - set(digests))
    taken = plan.taken
    state = _State(taken.dataset, taken.database, taken.master_data, plan.audit_href, taken.positions, digests)
    state.save(folder, taken.at)


async def _read_snapshot(snap: SiteSnapshot) -> Snapshot:
    contests, choices = await snap.contests()
    return Snapshot(
        summary=await snap.summary(),
        votes=await snap.votes(),
        regions=await snap.regions(),
        contests=contests,
        choices=choices,
        curves=await snap.curves(),
    )


@dataclass(frozen=True)
class Evidence:
    """What a TPS page shows besides its rows: each race's signed form and the photos it names, and every record
    received."""

    forms: dict[str, dict[str, SignedForm]]  # tps_id -> contest -> form
    history: dict[str, list[HistoryRow]]  # tps_id -> its records, in the order received
    photos: dict[str, list[FormPhoto]] = field(default_factory=dict)  # tps_id -> the photos its forms name

    def of(self, keep: Callable[[str], bool]) -> Evidence:
        return Evidence(
            {t: f for t, f in self.forms.items() if keep(t)},
            {t: h for t, h in self.history.items() if keep(t)},
            {t: p for t, p in self.photos.items() if keep(t)},
        )


async def _read_evidence(snap: SiteSnapshot, tps_ids: list[str]) -> Evidence:
    photos: dict[str, list[FormPhoto]] = defaultdict(list)
    for photo in await snap.photos(tps_ids):
        photos[photo.tps_id].append(photo)
    return Evidence(signed_forms([form async for form in snap.forms(tps_ids)]), await snap.history(tps_ids), photos)


async def _publish_photos(store: PhotoStore | None, folder: Path, evidence: Evidence) -> None:
    """Step 5 for the photos: each photo the forms of these TPS name that is in, and its thumbnail, copied into
    the site (by digest, as the store keeps it: a photo already there is not copied again)."""
    if store is None:
        return
    for photos in evidence.photos.values():
        for photo in photos:
            if photo.published:
                await store.copy_to(photo.name, folder / PHOTO_FOLDER / photo.name)
                await store.copy_to(photo.thumbnail, folder / PHOTO_FOLDER / photo.thumbnail)


async def _read_kecamatan(
    snap: SiteSnapshot, kecamatan: list[str], changed: Evidence | None
) -> tuple[dict[str, list[TpsRow]], Evidence]:
    """The rows of these kecamatan's TPS (by kecamatan), and the evidence of their TPS: that of `changed`
    (an incremental build's), or all read now (a full build's)."""
    rows: dict[str, list[TpsRow]] = defaultdict(list)
    async for row in snap.tps(kecamatan):
        rows[row.kecamatan_code].append(row)
    if changed is not None:
        return rows, changed.of(lambda tps_id: tps_id[:6] in rows)
    tps_ids = [t for code in rows for t in dict.fromkeys(r.tps_id for r in rows[code])]
    return rows, await _read_evidence(snap, tps_ids)


@dataclass(frozen=True)
class _KecamatanBatch:
    """Kecamatan to make the pages of: theirs, their desa/kelurahan's, and those of their TPS that changed."""

    rows: dict[str, list[TpsRow]]  # kecamatan -> its TPS rows
    evidence: Evidence
    changed: set[str] | None  # the TPS changed (None: every one)

    def pages(self, snapshot: Snapshot) -> list[Page]:
        return [
            page
            for code, rows in self.rows.items()
            for page in kecamatan_pages(
                snapshot,
                code,
                rows,
                self.evidence.forms,
                self.changed,
                history=self.evidence.history,
                photos=self.evidence.photos,
            )
        ]


_Batch = list[Page] | _KecamatanBatch  # pages made already (the top, provinsi and kabupaten/kota pages), or to make


@dataclass(frozen=True)
class _Drawer:
    """Steps 4 and 5 for a batch of pages, here or in a drawing process: what that needs, given to each drawing
    process once, when it starts (the snapshot's rows are not sent again with every batch)."""

    folder: Path
    written_at: _WrittenAt
    write: Callable[[Path, bytes], None]
    snapshot: Snapshot
    before: dict[str, str]  # each page's digest at the last build: a page whose digest is the same is not written

    def draw(self, batch: _Batch) -> list[Drawn]:
        """Make the batch's pages; draw and write each whose digest changed since the last build (the top page
        always: it says when): (path, digest, written) of each."""
        done = []
        for page in batch.pages(self.snapshot) if isinstance(batch, _KecamatanBatch) else batch:
            digest = page.digest
            if digest == self.before.get(page.path) and page.path != "index":
                done.append((page.path, digest, False))
                continue
            for path, data in self._files(page):
                self.write(path, data)
            done.append((page.path, digest, True))
        return done

    def _files(self, page: Page) -> list[tuple[Path, bytes]]:
        """The page's HTML (saying when it was written, in its zone) and its JSON (the same numbers)."""
        html = to_html(page, self.written_at.local(page.data.get("zone") or "UTC"))
        taken_at = self.written_at.taken_at.isoformat()
        data = page.json[:-1] + f',"taken_at":"{taken_at}"}}'.encode()  # its numbers, and when
        return [(self.folder / f"{page.path}.html", html.encode()), (self.folder / f"{page.path}.json", data)]

    def serve(self, pipe: PipeEnd, builders: list[PipeEnd]) -> None:
        """A drawing process's work: draw each batch the builder hands over, and hand back what was drawn (or the
        error, with where it was raised), until the builder hangs up (`builders`: the builder's ends of the pipes,
        copied by the fork, closed here so that its hanging up, or its end, reaches this process)."""
        for end in builders:
            end.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the builder's: it ends its drawing processes
        while True:
            try:
                batch = pipe.recv()
            except EOFError:  # the build is over
                return
            try:
                pipe.send(self._answer(batch))
            except BrokenPipeError:  # the build failed meanwhile
                return

    def _answer(self, batch: _Batch) -> tuple[list[Drawn], BaseException | None]:
        try:
            return self.draw(batch), None
        except Exception as error:  # noqa: BLE001 (handed to the builder, which raises it)
            error.add_note(f"(in a drawing process)\n{traceback.format_exc().rstrip()}")
            return [], error


class _Processes:
    """A drawing process per core, forked when the builder holds the snapshot: each shares it as it is, is given
    the drawer when it starts (explicitly, as its work's argument: its own copy, from the fork), then is handed
    one batch at a time over its own pipe, whenever it is free."""

    def __init__(self, drawer: _Drawer, count: int) -> None:
        context = multiprocessing.get_context("fork")
        self._processes: list[tuple[BaseProcess, PipeEnd]] = []
        for _ in range(count):
            mine, theirs = context.Pipe()
            builders = [mine, *(pipe for _, pipe in self._processes)]
            process = context.Process(
                target=drawer.serve, args=(theirs, builders), name="rekap-site-drawer", daemon=True
            )
            process.start()
            theirs.close()
            self._processes.append((process, mine))
        self._busy: dict[int, int] = {}  # a process drawing (its index) -> the number of the batch it draws

    def hand(self, number: int, batch: _Batch) -> list[tuple[int, list[Drawn]]]:
        """Hand batch `number` to a free process (when none is, after one has finished): what was drawn meanwhile,
        by batch number."""
        finished = [self._finished()] if len(self._busy) == len(self._processes) else []
        index = next(i for i in range(len(self._processes)) if i not in self._busy)
        self._processes[index][1].send(batch)
        self._busy[index] = number
        return finished

    def finish(self) -> list[tuple[int, list[Drawn]]]:
        """What the processes drew of the batches they were drawing, by batch number."""
        return [self._finished() for _ in range(len(self._busy))]

    def _finished(self) -> tuple[int, list[Drawn]]:
        """Wait for a process to finish its batch: the batch's number, and what it drew (its error raised here)."""
        busy = [(index, *self._processes[index]) for index in self._busy]
        ready = wait([*(pipe for _, _, pipe in busy), *(process.sentinel for _, process, _ in busy)])
        index, process, pipe = next(b for b in busy if b[2] in ready or b[1].sentinel in ready)
        if not pipe.poll():
            raise RuntimeError(f"a drawing process ended (exit code {process.exitcode}) before handing back its pages")
        drawn, error = pipe.recv()
        number = self._busy.pop(index)
        if error is not None:
            raise error
        return number, drawn

    def stop(self) -> None:
        """Hang up: each process ends once it has drawn what it was handed (one that does not, soon, is ended)."""
        for _, pipe in self._processes:
            pipe.close()
        for process, _ in self._processes:
            process.join(STOP_WITHIN)
            if process.is_alive():
                process.kill()
                process.join()


@dataclass
class _Writer:
    """Steps 4 and 5 for a build's pages: here, or on every core (when a build has many: drawing is most of it,
    and the processes draw the pages of the rows read before while the builder reads the next); each page's
    digest kept, and counted in the report, in the order the batches were handed over."""

    drawer: _Drawer
    report: BuildReport
    digests: dict[str, str]  # each page's: as drawn, else the last build's
    progress: Callable[[str], None]
    on_all_cores: bool
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    processes: _Processes | None = None
    handed: int = 0  # batches handed to the processes
    counted: int = 0  # of those, counted (in order)
    # The batches handed over and not counted yet, by number: the forms of each, and what was drawn of it.
    forms: dict[int, dict[str, dict[str, SignedForm]]] = field(default_factory=dict)
    drawn: dict[int, list[Drawn]] = field(default_factory=dict)
    next_progress: float = field(default_factory=lambda: time.monotonic() + PROGRESS_EVERY)

    def __enter__(self) -> _Writer:
        if self.on_all_cores:
            self.processes = _Processes(self.drawer, self.cores)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None and self.processes is not None:
                self._drawn(self.processes.finish())
        finally:
            if self.processes is not None:
                self.processes.stop()

    def pages(self, pages: list[Page]) -> None:
        size = -(-len(pages) // self.cores)
        self._draw([pages[i : i + size] for i in range(0, len(pages), size)], {})

    def kecamatan(self, rows: dict[str, list[TpsRow]], evidence: Evidence, changed: set[str] | None) -> None:
        """The pages of these kecamatan and of their TPS that changed (all when `changed` is None)."""
        codes = list(rows)
        size = -(-len(codes) // self.cores)
        parts = [set(codes[i : i + size]) for i in range(0, len(codes), size)]
        batches: list[_Batch] = [
            _KecamatanBatch(
                {code: rows[code] for code in codes if code in part},
                evidence.of(lambda t, part=part: t[:6] in part),  # type: ignore[misc]
                None if changed is None else {t for t in changed if t[:6] in part},
            )
            for part in parts
        ]
        self._draw(batches, evidence.forms)

    def _draw(self, batches: list[_Batch], forms: dict[str, dict[str, SignedForm]]) -> None:
        """Here: draw them now. On every core: hand each to a process as one is free (each draws the batch it was
        handed before, of rows read meanwhile)."""
        if self.processes is None:
            for batch in batches:
                self._count(self.drawer.draw(batch), forms)
            return
        for batch in batches:
            self.forms[self.handed] = forms
            self._drawn(self.processes.hand(self.handed, batch))
            self.handed += 1
        if time.monotonic() >= self.next_progress:  # a line every few seconds of a long build
            self.progress(f"{self.report.pages_made:,} pages made")
            self.next_progress = time.monotonic() + PROGRESS_EVERY

    def _drawn(self, finished: list[tuple[int, list[Drawn]]]) -> None:
        """Count what the processes drew, batch after batch in the order they were handed over."""
        self.drawn |= dict(finished)
        while self.counted in self.drawn:
            self._count(self.drawn.pop(self.counted), self.forms.pop(self.counted))
            self.counted += 1

    def _count(self, done: list[Drawn], forms: dict[str, dict[str, SignedForm]]) -> None:
        self.report.pages_made += len(done)
        for path, digest, written in done:
            self.digests[path] = digest
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
