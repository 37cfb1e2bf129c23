"""The tabulator tests' election: a STRESS night over many TPS (rekap.simulation.night plans it and
keeps the expected totals, from what it sent), published, waited for, and checked."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import asyncpg

from rekap.access import KafkaAccess
from rekap.adapters.photos.folder import FolderStore
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres import night_check as check
from rekap.adapters.postgres.direct import write_directly
from rekap.adapters.postgres.photos import record_photos
from rekap.adapters.postgres.terminals import register_terminals, registry_size
from rekap.app.photos import PhotoRecord, keep
from rekap.config import Settings
from rekap.domain.decode import Decoder
from rekap.domain.photos import inspect
from rekap.domain.regions import Tps
from rekap.domain.signing import SigningKey
from rekap.masterdata.files import read_master_data_folder
from rekap.publisher import Publisher
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import Form, signed_record
from rekap.simulation.night import STRESS, Expected, Planned, plan_night, simulated_terminals
from tests.servers import BrokerAccess, login_url

# The simulated terminals' keys derive from it: made afresh per test run, as a local stack makes its own.
SECRET = secrets.token_bytes(32)
SHIPPED = read_master_data_folder(sumsel_master_data_dir())
MASTER = SHIPPED.master_data()


def sample_tps(count: int) -> list[Tps]:
    """TPS spread over every kabupaten/kota and many kecamatan."""
    step = max(1, len(SHIPPED.tps) // count)
    return SHIPPED.tps[::step][:count]


def plan_election(tps_list: list[Tps], seed: int = 2024, photos: str | None = None) -> tuple[list[Planned], Expected]:
    return plan_night(MASTER, tps_list, mix=STRESS, seed=seed, secret=SECRET, photos=photos)


async def index_photos(url: str, photos: list[bytes], store: FolderStore) -> None:
    """The photos stored and indexed as the photo consumer does (without Kafka: record coordinates made up)."""
    inspected = [inspect(hashlib.sha256(data).hexdigest().encode(), data) for data in photos]
    for verdict, data in zip(inspected, photos, strict=True):
        await keep(store, verdict, data)
    rows = [
        PhotoRecord("photos", 0, offset, None, verdict.sha256.encode() if verdict.sha256 else None, verdict, "stored")
        for offset, verdict in enumerate(inspected)
    ]
    conn = await pg.connect(login_url(url, "tabulator"))
    try:
        await record_photos(conn, rows)
    finally:
        await conn.close()


async def register_all_terminals(conn: asyncpg.Connection, tps_list: list[Tps]) -> None:
    await register_terminals(conn, simulated_terminals(tps_list, SECRET))


async def registered_decoder(url: str, tps_list: list[Tps]) -> Decoder:
    """The simulated terminals of these TPS registered (as the operator), and the decoder a tabulator
    would build of them: what `write_night` judges the records with."""
    conn = await pg.connect(login_url(url, "operator"))
    try:
        await register_all_terminals(conn, tps_list)
        size = await registry_size(conn)
    finally:
        await conn.close()
    return Decoder(MASTER, {t.terminal_id: t for t in simulated_terminals(tps_list, SECRET)}, registry_size=size)


async def publish(terminals: KafkaAccess, topic: str, planned: list[Planned]) -> dict[int, int]:
    """Send in order, at once; returns the end offset of each partition written."""
    async with Publisher(terminals, topic) as publisher:
        futures = [await publisher.enqueue(p.key.decode(), p.value, p.headers) for p in planned]
        sent = await asyncio.gather(*futures)
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    return ends


async def wait_applied(
    database_url: str, topic: str, ends: dict[int, int], timeout: float = 120.0, watch: asyncio.Task[None] | None = None
) -> None:
    """Until every partition is applied up to its end; fails at once if the watched tabulator dies."""
    conn = await pg.connect(database_url)
    try:
        await check.wait_applied(conn, topic, ends, timeout=timeout, alive=lambda: watch is None or not watch.done())
    except RuntimeError:
        assert watch is not None
        watch.result()
        raise
    finally:
        await conn.close()


async def check_against_oracle(database_url: str, topic: str, planned: list[Planned], expected: Expected) -> None:
    """Totals at every level equal what was sent; exactly one outcome row per record, the planned one."""
    conn = await pg.connect(database_url)
    try:
        problems = await check.differences(conn, topic, planned, expected)
        rows = await conn.fetchval("SELECT count(*) FROM rekap.record WHERE topic = $1", topic)
    finally:
        await conn.close()
    assert problems == [], "\n".join(problems)
    assert rows == len(planned), "one outcome row per record, no more, no less"


def settings_for(kafka: BrokerAccess, database_url: str, topic: str) -> Settings:
    """A tabulator's, in its roles: the tabulator's Kafka user and database login (from a superuser's URL)."""
    return Settings(
        kafka_bootstrap=kafka.bootstrap,
        kafka_username=kafka.tabulator.username,
        kafka_password=kafka.tabulator.password,
        DATABASE_URL=login_url(database_url, "tabulator"),
        tally_topic=topic,
        dead_letter_topic=f"{topic}.dead-letters",
        group_id=f"{topic}-tabulators",
        photo_topic=f"{topic}.photos",
        photo_group_id=f"{topic}-photos",
        batch_max_records=500,
        terminal_refresh_s=0.5,
        topic_partitions=3,
        metrics_address="127.0.0.1:0",
        photo_metrics_address="127.0.0.1:0",
    )


def signed(form: Form) -> tuple[bytes, bytes, list[tuple[str, bytes | None]]]:
    """Key, value and headers of a form as its simulated terminal signs and sends it."""
    record = signed_record(form, SigningKey.derived(SECRET, str(form["terminal_id"])))
    assert record.value is not None
    return record.key or b"", record.value, list(record.headers)


TOPIC = "tallies"
PARTITIONS = 3
BATCH = 400


async def write_night(
    url: str, planned: list[Planned], decoder: Decoder, since: dict[int, int] | None = None
) -> dict[int, int]:
    """The records written as a tabulator writes them (without Kafka), after those written before."""
    tabulator = login_url(url, "tabulator")
    return await write_directly(tabulator, TOPIC, planned, decoder, since, partitions=PARTITIONS, batch_size=BATCH)
