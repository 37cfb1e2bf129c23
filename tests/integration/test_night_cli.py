"""The terminals' and operators' commands as typed: `rekap publish`, `rekap status`, `rekap simulate`,
against a tabulator process, the real broker and a real database."""

from __future__ import annotations

import asyncio
import json
import random
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from loadtests.processes import TabulatorProcess, spawn

from rekap.devstack.secrets import StackSecrets
from rekap.domain.signing import SigningKey
from rekap.simulation.forms import consistent_form
from tests.integration.cli import rekap
from tests.integration.election import MASTER, sample_tps


@pytest.fixture
def running(
    processes: list[TabulatorProcess], tabulator_env: dict[str, str], tmp_path: Path
) -> Iterator[TabulatorProcess]:
    process = spawn(processes, {**tabulator_env, "REKAP_TERMINAL_REFRESH_S": "0.5"}, tmp_path)
    yield process
    assert process.terminate() == 0


def test_a_small_night_is_simulated_and_checked(
    running: TabulatorProcess, terminals_env: dict[str, str], election_database_url: str
) -> None:
    env = {**terminals_env, "REKAP_TERMINAL_REFRESH_S": "0.5"}
    database = urlsplit(election_database_url).path.lstrip("/")
    night = rekap(env, "simulate", "--tps", "60", "--duration", "2", "--mix", "stress", "--synthetic-into", database)
    assert night.returncode == 0, night.stdout + night.stderr
    assert "CHECK OK" in night.stdout
    assert "Sumatera Selatan" in night.stdout  # the province row of the results
    again = rekap(env, "simulate", "--tps", "60", "--duration", "1", "--synthetic-into", database)
    assert again.returncode == 1
    assert "already holds forms" in again.stderr


@pytest.mark.parametrize("flag", [[], ["--synthetic-into", "pilkada"]])
async def test_simulate_and_demo_refuse_a_database_not_named(
    terminals_env: dict[str, str], conn: asyncpg.Connection, flag: list[str]
) -> None:
    for command in (["simulate", "--tps", "5", "--duration", "1"], ["demo", "--tps", "5", "--duration", "1"]):
        refused = await asyncio.to_thread(rekap, terminals_env, *command, *flag)
        assert refused.returncode == 1, refused.stdout
        assert "--synthetic-into" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert await conn.fetchval("SELECT count(*) FROM rekap.terminal") == 0, "nothing was registered"


def test_the_simulated_terminals_keys_come_from_the_stack_s_own_secret(
    running: TabulatorProcess, terminals_env: dict[str, str], election_database_url: str
) -> None:
    """Two stacks, two secrets: a key derived from anything in the source signs nothing that counts."""
    database = urlsplit(election_database_url).path.lstrip("/")
    night = rekap(terminals_env, "simulate", "--tps", "3", "--duration", "1", "--synthetic-into", database)
    assert night.returncode == 0, night.stderr
    stored = StackSecrets.load(Path(terminals_env["REKAP_HOME"]) / "stack")
    assert stored is not None
    assert len(stored.simulation) == 32
    path = Path(terminals_env["REKAP_HOME"]) / "stack" / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "readable by its owner only"
    assert (
        SigningKey.derived(stored.simulation, "kpps-x").public_key
        != SigningKey.derived(b"rekap-simulation", "kpps-x").public_key
    ), "not the constant older versions derived from"


def test_publish_then_status(
    running: TabulatorProcess, tabulator_env: dict[str, str], terminals_env: dict[str, str], tmp_path: Path
) -> None:
    tps = sample_tps(1)[0]
    terminal = f"kpps-{tps.tps_id}"
    assert rekap(tabulator_env, "terminal", "keygen", terminal, "--out", str(tmp_path)).returncode == 0
    registered = rekap(tabulator_env, "terminal", "register", terminal, "--scope", f"tps:{tps.tps_id}",
                       "--public-key", str(tmp_path / f"{terminal}.pub"))  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    time.sleep(1.5)  # the running tabulator looks for new terminals every 0.5 s here
    form = consistent_form(tps, MASTER.contests_at(tps.tps_id)[0], random.Random(3))
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form, indent=2))  # pretty-printed: the exact bytes are what is signed
    sent = rekap(terminals_env, "publish", str(path), "--key", str(tmp_path / f"{terminal}.key"))
    assert sent.returncode == 0, sent.stderr
    assert "sent" in sent.stdout

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**form, "valid": "many"}))
    refused = rekap(terminals_env, "publish", str(broken), "--key", str(tmp_path / f"{terminal}.key"))
    assert refused.returncode == 1
    assert "not sent" in refused.stderr

    for _ in range(100):
        status = rekap(tabulator_env, "status", tps.tps_id)
        if "accepted" in status.stdout:
            break
    assert f"{form['contest_id']}" in status.stdout
    assert "revision 1   accepted" in status.stdout
    assert terminal in status.stdout


async def test_an_operator_url_alone_is_not_the_local_stack(
    tabulator_env: dict[str, str], conn: asyncpg.Connection
) -> None:
    """An operator's host sets only REKAP_OPERATOR_DATABASE_URL: that database is no less real."""
    env = {k: v for k, v in tabulator_env.items() if k not in {"DATABASE_URL", "REKAP_OWNER_DATABASE_URL"}}
    env = {k: v for k, v in env.items() if not k.startswith("REKAP_KAFKA_")}
    refused = await asyncio.to_thread(rekap, env, "simulate", "--tps", "5", "--duration", "1")
    assert refused.returncode == 1, refused.stdout
    assert "--synthetic-into" in refused.stderr
    assert await conn.fetchval("SELECT count(*) FROM rekap.terminal") == 0
