"""Fixtures: a real Kafka broker and a real PostgreSQL for the test session, on free ports.

Each starts once per session (unless REKAP_TEST_KAFKA_BOOTSTRAP / REKAP_TEST_DATABASE_URL name
servers to use instead) and is stopped at the end: no process outlives the test run. Every test gets
its own topics and its own database, cloned from a migrated template, so tests do not see each other.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from rekap.access import KafkaAccess, with_database
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.adapters.postgres.migrations import load_migrations, migrate
from rekap.app.logins import OWNER
from rekap.config import KAFKA_VERSION
from rekap.devstack.kafka import LocalKafka
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import free_port
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import migrations_dir, sumsel_master_data_dir
from tests.servers import BrokerAccess, login_url, provision_database

REPO = Path(__file__).resolve().parents[1]


def jar_cache() -> Path:
    """The broker's jars are shared with the developer's stack, so they are fetched once per clone."""
    return Path(os.environ.get("REKAP_HOME", REPO / ".rekap")).resolve() / "cache"


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAccess]:
    """The broker, with authentication and ACLs; REKAP_TEST_KAFKA_BOOTSTRAP (with REKAP_TEST_KAFKA_USERNAME and
    REKAP_TEST_KAFKA_PASSWORD of a super user) names one to use instead."""
    given = os.environ.get("REKAP_TEST_KAFKA_BOOTSTRAP")
    if given:
        admin = KafkaAccess(given, os.environ["REKAP_TEST_KAFKA_USERNAME"], os.environ["REKAP_TEST_KAFKA_PASSWORD"])
        test_kafka = BrokerAccess(admin)
        test_kafka.set_users()
        yield test_kafka
        return
    admin_password = secrets.token_urlsafe(18)
    broker = LocalKafka(
        version=KAFKA_VERSION,
        cache_dir=jar_cache(),
        state_dir=tmp_path_factory.mktemp("kafka"),
        port=free_port(),
        controller_port=free_port(),
        broker_password=secrets.token_urlsafe(18),
        admin_password=admin_password,
    )
    broker.start()
    try:
        test_kafka = BrokerAccess(KafkaAccess(broker.bootstrap_servers, "admin", admin_password))
        test_kafka.set_users()
        yield test_kafka
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL on a server where the tests may create and drop databases and roles."""
    given = os.environ.get("REKAP_TEST_DATABASE_URL")
    if given:
        yield given
        return
    # Not under pytest's own folder: another pytest session started meanwhile makes /tmp/pytest-of-USER
    # 0700 again, and the server (another user) would lose its way to its data.
    state = Path(tempfile.mkdtemp(prefix="rekap-tests-postgres-"))
    server = LocalPostgres(state_dir=state, port=free_port(), password=secrets.token_urlsafe(18), durable=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(postgres_admin_url: str) -> Iterator[str]:
    """A database set up as production's is (owner, schema, logins), cloned for each test."""
    name = f"rekap_template_{uuid.uuid4().hex[:8]}"
    asyncio.run(provision_database(postgres_admin_url, name))
    try:
        yield name
    finally:
        asyncio.run(_drop_database(postgres_admin_url, name))


@pytest.fixture(scope="session")
def masterdata_template(postgres_admin_url: str, template_database: str) -> Iterator[str]:
    """The migrated template with the shipped Sumatera Selatan master data loaded (by the operator)."""
    name = f"rekap_masterdata_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        url = await _clone(postgres_admin_url, name, template_database)
        conn = await asyncpg.connect(login_url(url, "operator"))
        try:
            await load_master_data(conn, read_master_data_folder(sumsel_master_data_dir()))
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield name
    finally:
        asyncio.run(_drop_database(postgres_admin_url, name))


async def _clone(admin_url: str, name: str, template: str | None) -> str:
    """A new database owned by the owner (from `template`, with its privileges asserted again, as
    `rekap db migrate` does: CREATE DATABASE does not copy a database's own). Returns its superuser URL."""
    admin = await asyncpg.connect(admin_url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{clause} OWNER {OWNER}')
    finally:
        await admin.close()
    url = with_database(admin_url, name)
    if template is not None:
        owner = await asyncpg.connect(login_url(url, "owner"))
        try:
            await migrate(owner, load_migrations(migrations_dir()))
        finally:
            await owner.close()
    return url


async def _drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def empty_database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A new database with nothing in it (not even migrations); owned by the owner, whom the template's
    provisioning makes (so that this fixture works first, or alone)."""
    assert template_database
    async for url in _fresh_database(postgres_admin_url, template=None):
        yield url


@pytest.fixture
async def database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    """A new, migrated database of this test's own."""
    async for url in _fresh_database(postgres_admin_url, template=template_database):
        yield url


async def _fresh_database(admin_url: str, template: str | None) -> AsyncIterator[str]:
    """A superuser's URL (for the tests to look inside); login_url() gives the same database as a role."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await _clone(admin_url, name, template)
    try:
        yield url
    finally:
        await _drop_database(admin_url, name)


@pytest.fixture
async def election_database_url(postgres_admin_url: str, masterdata_template: str) -> AsyncIterator[str]:
    """A new database of this test's own, migrated, with the Sumatera Selatan master data."""
    async for url in _fresh_database(postgres_admin_url, template=masterdata_template):
        yield url


@pytest.fixture
async def topic(kafka: BrokerAccess) -> str:
    """A new topic with three partitions, of this test's own, with its dead-letter topic and ACLs."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    await kafka.new_topic(name)
    return name
