"""Every test in this folder talks to the real broker and database: mark it, so `-m "not integration"` runs
the fast unit tests alone."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from loadtests.processes import TabulatorProcess

from tests.servers import BrokerAccess, login_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def conn(election_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database, master data loaded."""
    connection = await asyncpg.connect(election_database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def tabulator_env(kafka: BrokerAccess, election_database_url: str, topic: str, tmp_path: Path) -> dict[str, str]:
    """A tabulator's environment, in its roles; the operators' and the owner's database URLs too, for the
    CLI commands a test runs with it (terminals_env gives the terminals' Kafka user instead)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKAP_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=login_url(election_database_url, "tabulator"),
        REKAP_OPERATOR_DATABASE_URL=login_url(election_database_url, "operator"),
        REKAP_OWNER_DATABASE_URL=login_url(election_database_url, "owner"),
        REKAP_KAFKA_BOOTSTRAP=kafka.bootstrap,
        REKAP_KAFKA_USERNAME=str(kafka.tabulator.username),
        REKAP_KAFKA_PASSWORD=str(kafka.tabulator.password),
        REKAP_HOME=str(tmp_path / "rekap-home"),  # the simulation's secret, never the developer's stack
        REKAP_TALLY_TOPIC=topic,
        REKAP_DEAD_LETTER_TOPIC=f"{topic}.dead-letters",
        REKAP_GROUP_ID=f"{topic}-tabulators",
        REKAP_PHOTO_TOPIC=f"{topic}.photos",
        REKAP_PHOTO_GROUP_ID=f"{topic}-photos",
        REKAP_PHOTO_DIR=str(tmp_path / "photos"),
        REKAP_PHOTO_METRICS_ADDRESS="127.0.0.1:0",
        REKAP_BATCH_MAX_RECORDS="300",
        REKAP_SESSION_TIMEOUT_MS="6000",  # a killed tabulator's partitions move on sooner
        REKAP_LOG_LEVEL="INFO",
        REKAP_METRICS_ADDRESS="127.0.0.1:0",  # several at once: each takes a free port
    )
    return env


@pytest.fixture
def terminals_env(kafka: BrokerAccess, tabulator_env: dict[str, str]) -> dict[str, str]:
    """The same, as the terminals' Kafka user: for `rekap publish` and `rekap simulate`."""
    return {**tabulator_env, "REKAP_KAFKA_USERNAME": str(kafka.terminals.username),
            "REKAP_KAFKA_PASSWORD": str(kafka.terminals.password)}  # fmt: skip


@pytest.fixture
def processes(tabulator_env: dict[str, str], tmp_path: Path) -> Iterator[list[TabulatorProcess]]:
    started: list[TabulatorProcess] = []
    yield started
    for process in started:
        process.ensure_stopped()
