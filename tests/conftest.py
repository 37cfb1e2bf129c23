"""Fixtures: a real Kafka broker and a real PostgreSQL for the test session, on free ports.

Each starts once per session (unless REKAP_TEST_KAFKA_BOOTSTRAP / REKAP_TEST_DATABASE_URL name
servers to use instead) and is stopped at the end: no process outlives the test run. Every test gets
its own topics and its own database, cloned from a migrated template, so tests do not see each other.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from rekap.adapters.kafka.topics import ensure_topics
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.migrations import load_migrations, migrate
from rekap.config import KAFKA_VERSION, with_database
from rekap.devstack.kafka import LocalKafka
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import free_port
from rekap.masterdata.files import read_master_data
from rekap.resources import migrations_dir, sumsel_master_data_dir

REPO = Path(__file__).resolve().parents[1]


def jar_cache() -> Path:
    """The broker's jars are shared with the developer's stack, so they are fetched once per clone."""
    return Path(os.environ.get("REKAP_HOME", REPO / ".rekap")).resolve() / "cache"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REKAP_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    broker = LocalKafka(
        version=KAFKA_VERSION,
        cache_dir=jar_cache(),
        state_dir=tmp_path_factory.mktemp("kafka"),
        port=free_port(),
        controller_port=free_port(),
    )
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL on a server where the tests may create and drop databases."""
    given = os.environ.get("REKAP_TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = LocalPostgres(state_dir=tmp_path_factory.mktemp("postgres"), port=free_port(), durable=False)
    server.start()
    try:
        yield server.url_for("postgres")
    finally:
        server.stop()


Prepare = Callable[[asyncpg.Connection], Awaitable[object]]


def _session_template(admin_url: str, prefix: str, template: str | None, prepare: Prepare) -> Iterator[str]:
    """A database made once per session (from `template`, then `prepare`d), dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            clause = f' TEMPLATE "{template}"' if template else ""
            await admin.execute(f'CREATE DATABASE "{name}"{clause}')
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(admin_url, name))
        try:
            await prepare(conn)
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield name
    finally:
        asyncio.run(_drop_database(admin_url, name))


@pytest.fixture(scope="session")
def template_database(postgres_admin_url: str) -> Iterator[str]:
    """A database with every migration applied, cloned for each test (much faster than migrating)."""
    yield from _session_template(
        postgres_admin_url, "rekap_template", None, lambda conn: migrate(conn, load_migrations(migrations_dir()))
    )


@pytest.fixture(scope="session")
def masterdata_template(postgres_admin_url: str, template_database: str) -> Iterator[str]:
    """The migrated template with the shipped Sumatera Selatan master data loaded."""
    yield from _session_template(
        postgres_admin_url, "rekap_masterdata", template_database,
        lambda conn: load_master_data(conn, read_master_data(sumsel_master_data_dir())),
    )  # fmt: skip


async def _drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def empty_database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A new database with nothing in it (not even migrations)."""
    async for url in _fresh_database(postgres_admin_url, template=None):
        yield url


@pytest.fixture
async def database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A new, migrated database of this test's own."""
    async for url in _fresh_database(postgres_admin_url, template=template_database):
        yield url


async def _fresh_database(admin_url: str, template: str | None) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    try:
        yield with_database(admin_url, name)
    finally:
        await _drop_database(admin_url, name)


@pytest.fixture
async def election_database_url(postgres_admin_url: str, masterdata_template: str) -> AsyncIterator[str]:
    """A new database of this test's own, migrated, with the Sumatera Selatan master data."""
    async for url in _fresh_database(postgres_admin_url, template=masterdata_template):
        yield url


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    """A new topic with three partitions, of this test's own."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    await ensure_topics(kafka_bootstrap, {name: 3})
    return name
