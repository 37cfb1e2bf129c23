"""When PostgreSQL or Kafka is away, the tabulator waits, says so, loses nothing, and carries on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from rekap.access import KafkaAccess
from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.masterdata import load_master_data
from rekap.bootstrap import tabulator_service
from rekap.devstack.postgres import LocalPostgres
from rekap.devstack.process import free_port
from rekap.errors import UnavailableError
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from tests.integration.election import (
    check_against_oracle,
    plan_election,
    publish,
    register_all_terminals,
    sample_tps,
    settings_for,
    wait_applied,
)
from tests.servers import BrokerAccess, provision_database


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own, to stop and start under the tabulator."""
    server = LocalPostgres(state_dir=tmp_path / "pg", port=free_port(), password="own", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_postgres_going_away_and_coming_back_loses_nothing(
    kafka: BrokerAccess, topic: str, own_postgres: LocalPostgres
) -> None:
    await provision_database(own_postgres.url, "rekap")
    url = own_postgres.url_for("rekap")
    conn = await pg.connect(url)
    try:
        await load_master_data(conn, read_master_data_folder(sumsel_master_data_dir()))
        tps = sample_tps(300)
        await register_all_terminals(conn, tps)
    finally:
        await conn.close()
    planned, oracle = plan_election(tps, seed=5)
    half = len(planned) // 2
    ends = await publish(kafka.terminals, topic, planned[:half])
    stop = asyncio.Event()
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        async with tabulator_service(settings_for(kafka, url, topic), stop) as tabulator:
            running = asyncio.create_task(tabulator.run(stop))
            await wait_applied(url, topic, ends, watch=running)
            await asyncio.to_thread(own_postgres.stop)
            more = await publish(kafka.terminals, topic, planned[half:])
            await asyncio.sleep(3)  # the tabulator tries, fails, waits, tries again
            assert not running.done(), "the tabulator must not die while PostgreSQL is away"
            await asyncio.to_thread(own_postgres.start)
            ends = {p: max(ends.get(p, 0), more.get(p, 0)) for p in ends.keys() | more.keys()}
            await wait_applied(url, topic, ends, watch=running)
            stop.set()
            await running
    retries = [entry for entry in logs if entry["event"] == "batch_retry"]
    assert retries, "it must say that it is retrying"
    assert all(entry["topic"] == topic and entry["batch"] for entry in retries), "with the batch's context"
    await check_against_oracle(url, topic, planned, oracle)


async def test_an_unreachable_kafka_is_waited_for_and_said(election_database_url: str) -> None:
    nowhere = BrokerAccess(KafkaAccess(f"127.0.0.1:{free_port()}", "admin", "none"))
    settings = settings_for(nowhere, election_database_url, "nowhere")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(3, stop.set)
    with capture_logs() as logs, pytest.raises(UnavailableError, match="Kafka"):
        async with tabulator_service(settings, stop):
            pass
    waits = [e for e in logs if e["event"] == "waiting_for"]
    assert waits, "it must say what it waits for"
    assert all(e["what"] == "Kafka" for e in waits)
