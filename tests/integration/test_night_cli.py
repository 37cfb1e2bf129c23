"""The terminals' and operators' commands as typed: `rekap publish`, `rekap status`, `rekap simulate`,
against a tabulator process, the real broker and a real database."""

from __future__ import annotations

import asyncio
import json
import random
import stat
import subprocess
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


def test_publish_checks_the_form_waits_for_its_outcome_then_status(
    running: TabulatorProcess, tabulator_env: dict[str, str], terminals_env: dict[str, str], tmp_path: Path
) -> None:
    """`rekap publish` sends what a tabulator would count and refuses the rest in one line (--force sends
    it anyway); --wait says the tabulator's outcome, and the exit status tells it."""
    tps = sample_tps(1)[0]
    terminal = f"kpps-{tps.tps_id}"
    assert rekap(tabulator_env, "terminal", "keygen", terminal, "--out", str(tmp_path)).returncode == 0
    key = str(tmp_path / f"{terminal}.key")
    form = consistent_form(tps, MASTER.contests_at(tps.tps_id)[0], random.Random(3))
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form, indent=2))  # pretty-printed: the exact bytes are what is signed

    def publish(name: str, body: dict[str, object] | None, *flags: str) -> subprocess.CompletedProcess[str]:
        if body is not None:
            (tmp_path / name).write_text(json.dumps(body))
        return rekap(terminals_env, "publish", str(tmp_path / name), "--key", key, *flags)

    unknown = publish("form.json", None)
    assert unknown.returncode == 1
    says = f"rekap: not sent: it would be rejected: unknown_terminal: no terminal {terminal} (--force sends it anyway)"
    assert unknown.stderr.strip() == says
    registered = rekap(tabulator_env, "terminal", "register", terminal, "--scope", f"tps:{tps.tps_id}",
                       "--public-key", str(tmp_path / f"{terminal}.pub"))  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    time.sleep(1.5)  # the running tabulator looks for new terminals every 0.5 s here

    sent = publish("form.json", None, "--wait", "60")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "sent" in sent.stdout
    assert sent.stdout.strip().endswith("accepted: counted")
    again = publish("form.json", None)
    assert again.returncode == 1
    assert "is counted already, with these numbers" in again.stderr
    duplicate = publish("form.json", None, "--force", "--wait")
    assert duplicate.returncode == 0, duplicate.stdout + duplicate.stderr
    assert "duplicate: these numbers were already counted" in duplicate.stdout

    held = {**form, "revision": 2, "valid": form["valid"] + 5}
    refused = publish("held.json", held)
    assert refused.returncode == 1
    assert "it would be held for review, not counted: votes_sum_ne_valid" in refused.stderr
    forced = publish("held.json", None, "--force", "--wait")
    assert forced.returncode == 3, forced.stdout + forced.stderr
    assert "held for review, not counted: votes_sum_ne_valid" in forced.stdout

    rekap(tabulator_env, "terminal", "keygen", "other", "--out", str(tmp_path))
    wrong_key = rekap(terminals_env, "publish", str(path), "--key", str(tmp_path / "other.key"))
    assert wrong_key.returncode == 1
    assert f"the key is not the one registered for {terminal}" in wrong_key.stderr
    forged = rekap(terminals_env, "publish", str(path), "--key", str(tmp_path / "other.key"), "--force", "--wait")
    assert forged.returncode == 4, forged.stdout + forged.stderr
    assert "rejected: bad_signature" in forged.stdout

    broken = publish("broken.json", {**form, "valid": "many"})
    assert broken.returncode == 1
    assert "is not a tally/v1 form (schema_violation: valid: " in broken.stderr
    assert "not sent" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    forced_broken = publish("broken.json", None, "--force", "--wait")  # a vendor replaying a documented rejection
    assert forced_broken.returncode == 4, forced_broken.stdout + forced_broken.stderr
    assert "broken.json's exact bytes (not a tally/v1 form)" in forced_broken.stdout
    assert "rejected: schema_violation" in forced_broken.stdout

    status = rekap(tabulator_env, "status", tps.tps_id)
    assert f"{form['contest_id']}" in status.stdout
    assert "revision 2   quarantined" in status.stdout
    history = [line.split()[5:8] for line in status.stdout.split("Every record received for it:")[1].splitlines()[1:]]
    assert history == [["rev", "1", "accepted"], ["rev", "1", "duplicate"], ["rev", "2", "quarantined"],
                       ["rev", "1", "rejected"], ["rev", "-", "rejected"]]  # fmt: skip
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
