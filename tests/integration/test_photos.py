"""The photos of the forms against the real broker and database: the terminals send them on their own topic,
before or after their forms; the photo consumer stores each once by digest and refuses what breaks a rule
(the service going on); the site shows the counted and held forms' photos, says which are not received, and
never publishes a photo no form names or one refused; the audit bundle carries them, both verifiers check
them, and a photo swapped is caught."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from PIL import Image

from rekap.adapters.kafka.photos import PhotoPublisher
from rekap.adapters.photos.folder import FolderStore
from rekap.adapters.postgres import connection as pg
from rekap.audit.export import export_bundle
from rekap.audit.keys import create_key
from rekap.audit.verify import verify_bundle
from rekap.bootstrap import photo_service, tabulator_service
from rekap.config import Settings
from rekap.simulation.forms import Form, consistent_form
from rekap.simulation.night import Planned, corrected
from rekap.simulation.sheets import draw_sheet, photo_entry
from rekap.site.build import build_site
from tests.integration.election import MASTER, publish, register_all_terminals, sample_tps, settings_for, signed
from tests.servers import BrokerAccess, login_url

STANDALONE = Path(__file__).parents[2] / "tools" / "verify_bundle.py"


def with_photo(form: Form, data: bytes) -> Form:
    return dict(form, photos=[photo_entry(data)])


def gps_photo() -> bytes:
    image = Image.new("RGB", (200, 280), (240, 240, 230))
    exif = image.getexif()
    exif.get_ifd(0x8825).update({1: "S", 2: (2.0, 59.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[list[asyncio.Task[None]]]:
    """The tabulator and the photo consumer, each in its own task, until the block ends."""
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator, photo_service(settings, stop) as photos:
        tasks = [asyncio.create_task(tabulator.run(stop)), asyncio.create_task(photos.run(stop))]
        try:
            yield tasks
        finally:
            stop.set()
            await asyncio.gather(*tasks)


async def until(conn: asyncpg.Connection, query: str, wanted: int, tasks: list[asyncio.Task[None]]) -> None:
    for _ in range(600):
        for task in tasks:
            if task.done():
                task.result()  # a service that stopped: its error is the test's
        if await conn.fetchval(query) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query}: not {wanted} within a minute (now {await conn.fetchval(query)})")


async def send_forms(kafka: BrokerAccess, topic: str, forms: list[Form]) -> None:
    await publish(kafka.terminals, topic, [Planned(*signed(form), outcome="") for form in forms])


async def site_of(url: str, folder: Path, store: FolderStore) -> None:
    conn = await pg.connect(login_url(url, "operator"))
    try:
        await build_site(conn, folder, photos=store)
    finally:
        await conn.close()


def page(folder: Path, tps_id: str) -> str:
    return (folder / "tps" / tps_id[:6] / f"{tps_id}.html").read_text()


async def test_photos_before_and_after_their_forms_are_stored_shown_bundled_and_verified(
    kafka: BrokerAccess, election_database_url: str, topic: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    settings = settings_for(kafka, election_database_url, topic).model_copy(update={"photo_dir": tmp_path / "store"})
    store = FolderStore(tmp_path / "store")
    tps = sample_tps(5)
    await register_all_terminals(conn, tps)
    rng = random.Random(5)
    race = {t.tps_id: MASTER.contests_at(t.tps_id)[0] for t in tps}
    forms = [consistent_form(t, race[t.tps_id], rng) for t in tps]
    early, late, never, unreferenced = (draw_sheet(f) for f in (*forms[:3], forms[4]))
    fixed = corrected(forms[4], rng, 2)
    fixed_paper = draw_sheet(fixed)
    before = with_photo(forms[0], early)  # its photo sent before it
    after = with_photo(forms[1], late)  # its photo sent after the first site build
    missing = with_photo(forms[2], never)  # its photo never sent
    refused = with_photo(forms[3], gps_photo())  # its photo carries GPS
    first = with_photo(forms[4], unreferenced)  # corrected: the first photo is then named by no deciding form
    second = with_photo(fixed, fixed_paper)
    pdf = b"%PDF-1.7\n"
    hostile = [(None, early), (sha(early).encode(), None), (b"not-a-digest", early), (sha(pdf).encode(), pdf)]

    async with running(settings) as tasks:
        async with PhotoPublisher(kafka.terminals, settings.photo_topic) as photos:
            await photos.publish([(sha(early), early), (sha(early), early), (sha(gps_photo()), gps_photo())])
            await photos.publish([(sha(unreferenced), unreferenced), (sha(fixed_paper), fixed_paper)])
        producer = AIOKafkaProducer(**kafka.terminals.options(), max_request_size=3 * 2**20)
        await producer.start()
        try:
            for key, value in hostile:
                await producer.send_and_wait(settings.photo_topic, value, key=key)
        finally:
            await producer.stop()
        await send_forms(kafka, topic, [before, missing, refused, first, after])
        await until(conn, "SELECT count(*) FROM rekap.form", 5, tasks)
        await send_forms(kafka, topic, [second])  # a correction replaces a deciding form, its photos with it
        await until(conn, "SELECT count(*) FROM rekap.form WHERE revision = 2", 1, tasks)
        await until(conn, "SELECT count(*) FROM rekap.photo_record", 9, tasks)

        outcomes = await conn.fetch("SELECT outcome, reason, count(*) AS n FROM rekap.photo_record GROUP BY 1, 2")
        assert {(r["outcome"], r["reason"]): r["n"] for r in outcomes} == {
            ("stored", None): 3,
            ("duplicate", None): 1,
            ("refused", "identifying_metadata"): 1,
            ("refused", "no_image"): 1,
            ("refused", "key_not_digest"): 2,
            ("refused", "not_an_image"): 1,
        }
        statuses = {
            (r["tps_id"], r["photo_status"])
            for r in await conn.fetch("SELECT tps_id, photo_status FROM hasil.form_photo")
        }
        assert statuses == {
            (tps[0].tps_id, "received"),
            (tps[1].tps_id, "missing"),
            (tps[2].tps_id, "missing"),
            (tps[3].tps_id, "refused"),
            (tps[4].tps_id, "received"),  # the correction's photo: the deciding form's
        }
        counts = await conn.fetchrow(
            "SELECT sum(photos_named) AS named, sum(photos_received) AS received FROM hasil.tps_status "
            "WHERE tps_id = ANY($1) AND status <> 'missing'",
            [t.tps_id for t in tps[:5]],
        )
        assert (counts["named"], counts["received"]) == (5, 2)
        assert (tmp_path / "store" / "ditolak" / sha(gps_photo())).read_bytes() == gps_photo(), "kept privately"

        site = tmp_path / "site"
        await site_of(election_database_url, site, store)
        assert "foto belum diterima" in page(site, tps[1].tps_id)
        async with PhotoPublisher(kafka.terminals, settings.photo_topic) as photos:
            await photos.publish([(sha(late), late)])  # after its form, and after the site was built
        await until(conn, "SELECT count(*) FROM rekap.photo_record", 10, tasks)
    await site_of(election_database_url, site, store)  # again: only what changed, the late photo's TPS among it

    published = {path.name for path in (site / "foto").rglob("*") if path.is_file()}
    assert published == {f"{sha(p)}.{kind}" for p in (early, late, fixed_paper) for kind in ("jpg", "kecil.jpg")}
    assert (site / "foto" / sha(late)[:2] / f"{sha(late)}.jpg").read_bytes() == late
    shown = page(site, tps[1].tps_id)
    assert f'foto/{sha(late)[:2]}/{sha(late)}.kecil.jpg"' in shown
    assert "foto belum diterima" not in shown, "the photo that came after its form is shown"
    assert "foto belum diterima" in page(site, tps[2].tps_id)
    assert "foto ditolak" in page(site, tps[3].tps_id)
    assert sha(unreferenced) not in page(site, tps[4].tps_id), "a photo no deciding form names is not shown"

    bundle = tmp_path / "bundle"
    await bundle_of(election_database_url, bundle, tmp_path / "election-key.pem", store)
    files = {path.name for path in (bundle / "photos").rglob("*") if path.is_file()}
    assert files == {f"{sha(p)}.jpg" for p in (early, late, fixed_paper)}
    assert_verified(bundle, photos=5, files=3)
    swapped = bundle / "photos" / sha(early)[:2] / f"{sha(early)}.jpg"
    swapped.write_bytes(late)  # another photo, under the first one's name
    assert_not_verified(bundle, f"{sha(early)}.jpg")
    swapped.write_bytes(early)
    (bundle / "photos" / "xx").mkdir()
    (bundle / "photos" / "xx" / "extra.jpg").write_bytes(unreferenced)  # a photo no deciding form names
    assert_not_verified(bundle, "extra.jpg")


async def bundle_of(url: str, folder: Path, key_file: Path, store: FolderStore) -> None:
    conn = await pg.connect(login_url(url, "operator"))
    try:
        await create_key(conn, key_file)
        await export_bundle(conn, folder, key_file, photos=store)
    finally:
        await conn.close()


def verifiers(folder: Path) -> tuple[Callable[[], object], subprocess.CompletedProcess[str]]:
    theirs = subprocess.run([sys.executable, str(STANDALONE), str(folder)], capture_output=True, text=True,
                            timeout=300, check=False, env=dict(os.environ))  # fmt: skip
    return (lambda: verify_bundle(folder, [], [])), theirs


def assert_verified(folder: Path, *, photos: int, files: int) -> None:
    ours, theirs = verifiers(folder)
    verdict = ours()
    assert verdict.problems == []  # type: ignore[attr-defined]
    assert (verdict.photos_named, verdict.photo_files) == (photos, files)  # type: ignore[attr-defined]
    assert theirs.returncode == 0, theirs.stdout
    assert f"{photos} photos named, {files} photo files checked" in theirs.stdout


def assert_not_verified(folder: Path, named: str) -> None:
    ours, theirs = verifiers(folder)
    problems = ours().problems  # type: ignore[attr-defined]
    assert any(named in problem for problem in problems), problems
    assert theirs.returncode == 1, theirs.stdout
    assert named in theirs.stdout
