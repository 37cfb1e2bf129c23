"""Every test in this folder talks to the real broker and database: mark it, so `-m "not integration"` runs
the fast unit tests alone."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from loadtests.processes import TabulatorProcess


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
def tabulator_env(kafka_bootstrap: str, election_database_url: str, topic: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKAP_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=election_database_url,
        REKAP_KAFKA_BOOTSTRAP=kafka_bootstrap,
        REKAP_TALLY_TOPIC=topic,
        REKAP_DEAD_LETTER_TOPIC=f"{topic}.dead-letters",
        REKAP_GROUP_ID=f"{topic}-tabulators",
        REKAP_BATCH_MAX_RECORDS="300",
        REKAP_SESSION_TIMEOUT_MS="6000",  # a killed tabulator's partitions move on sooner
        REKAP_LOG_LEVEL="INFO",
        REKAP_METRICS_ADDRESS="127.0.0.1:0",  # several at once: each takes a free port
    )
    return env


@pytest.fixture
def processes(tabulator_env: dict[str, str], tmp_path: Path) -> Iterator[list[TabulatorProcess]]:
    started: list[TabulatorProcess] = []
    yield started
    for process in started:
        process.ensure_stopped()
