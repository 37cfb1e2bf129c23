"""The terminals' and operators' commands as typed: `rekap publish`, `rekap status`, `rekap simulate`,
against a tabulator process, the real broker and a real database."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loadtests.processes import TabulatorProcess, spawn

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


def test_a_small_night_is_simulated_and_checked(running: TabulatorProcess, tabulator_env: dict[str, str]) -> None:
    env = {**tabulator_env, "REKAP_TERMINAL_REFRESH_S": "0.5"}
    night = rekap(env, "simulate", "--tps", "60", "--duration", "2", "--mix", "stress")
    assert night.returncode == 0, night.stdout + night.stderr
    assert "CHECK OK" in night.stdout
    assert "Sumatera Selatan" in night.stdout  # the province row of the results
    again = rekap(env, "simulate", "--tps", "60", "--duration", "1")
    assert again.returncode == 1
    assert "already holds forms" in again.stderr


def test_publish_then_status(running: TabulatorProcess, tabulator_env: dict[str, str], tmp_path: Path) -> None:
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
    sent = rekap(tabulator_env, "publish", str(path), "--key", str(tmp_path / f"{terminal}.key"))
    assert sent.returncode == 0, sent.stderr
    assert "sent" in sent.stdout

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**form, "valid": "many"}))
    refused = rekap(tabulator_env, "publish", str(broken), "--key", str(tmp_path / f"{terminal}.key"))
    assert refused.returncode == 1
    assert "not sent" in refused.stderr

    for _ in range(100):
        status = rekap(tabulator_env, "status", tps.tps_id)
        if "accepted" in status.stdout:
            break
    assert f"{form['contest_id']}" in status.stdout
    assert "revision 1   accepted" in status.stdout
    assert terminal in status.stdout
