"""The example records of docs/examples/ against the shipped master data, through a real broker to a real
tabulator: the example terminals registered as docs/contract.md says (`docs/examples/terminals.csv`, then
kpps-revoked revoked), each example sent as it is (its key, its exact bytes, its recorded signature) after
the examples it follows, each into a database and topic of its own, gets the outcome and reason
docs/examples/examples.json documents for it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.terminals import register_terminals, revoke_terminal
from rekap.bootstrap import tabulator_service
from rekap.registration import read_terminals_file
from rekap.simulation.night import Planned
from tests.integration.election import publish, settings_for, wait_applied
from tests.servers import BrokerAccess, login_url

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
INDEX = json.loads((EXAMPLES / "examples.json").read_text())
BY_FILE = {example["file"]: example for example in INDEX}


def chain(name: str) -> list[str]:
    """The examples sent before this one (the ones it follows), then itself."""
    after = BY_FILE[name]["after"]
    return [*(chain(after) if after else []), name]


def sent(name: str) -> Planned:
    example = BY_FILE[name]
    headers = [("content-type", b"application/json"), ("signature", example["signature"].encode())]
    return Planned(example["key"].encode(), (EXAMPLES / name).read_bytes(), headers, example["outcome"])


@pytest.mark.parametrize("name", [example["file"] for example in INDEX])
async def test_each_example_gets_its_documented_outcome_from_a_tabulator(
    kafka: BrokerAccess, election_database_url: str, topic: str, name: str
) -> None:
    operator = await pg.connect(login_url(election_database_url, "operator"))
    try:
        await register_terminals(operator, read_terminals_file(EXAMPLES / "terminals.csv").terminals)
        await revoke_terminal(operator, "kpps-revoked")
    finally:
        await operator.close()
    settings = settings_for(kafka, election_database_url, topic)
    stop = asyncio.Event()
    async with tabulator_service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        ends = await publish(kafka.terminals, topic, [sent(n) for n in chain(name)])
        await wait_applied(election_database_url, topic, ends, watch=running)
        stop.set()
        await running
    conn = await pg.connect(election_database_url)
    try:
        rows = await conn.fetch('SELECT outcome, reason FROM rekap.record WHERE topic = $1 ORDER BY "offset"', topic)
    finally:
        await conn.close()
    assert [(r["outcome"], r["reason"]) for r in rows] == [
        (BY_FILE[n]["outcome"], BY_FILE[n]["reason"]) for n in chain(name)
    ]
