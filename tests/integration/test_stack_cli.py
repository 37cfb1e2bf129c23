"""`rekap stack` as a user types it: up, status, check, down, up again with the data kept, reset."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from rekap.adapters.postgres.migrations import load_migrations
from rekap.devstack.process import answers, free_port
from rekap.resources import migrations_dir
from tests.conftest import jar_cache
from tests.integration.cli import rekap

SERVER_SETTINGS = {"DATABASE_URL", "REKAP_DATABASE_URL", "REKAP_KAFKA_BOOTSTRAP", "JAVA_HOME"}


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A stack of this test's own, on free ports, sharing the jars already fetched for this clone."""
    home = tmp_path / "home"
    home.mkdir()
    jar_cache().mkdir(parents=True, exist_ok=True)
    (home / "cache").symlink_to(jar_cache())
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(
        REKAP_HOME=str(home),
        REKAP_KAFKA_PORT=str(free_port()),
        REKAP_KAFKA_CONTROLLER_PORT=str(free_port()),
        REKAP_POSTGRES_PORT=str(free_port()),
    )
    yield env
    rekap(env, "stack", "down")  # whatever the test did, nothing is left running


def test_up_check_down_up_keeps_data_then_reset(stack_env: dict[str, str]) -> None:
    up = rekap(stack_env, "stack", "up")
    assert up.returncode == 0, up.stderr
    assert f"127.0.0.1:{stack_env['REKAP_KAFKA_PORT']}" in up.stdout
    assert f"postgresql://tabulator:***@127.0.0.1:{stack_env['REKAP_POSTGRES_PORT']}/rekap" in up.stdout
    secrets = Path(stack_env["REKAP_HOME"]) / "stack" / "secrets.json"
    assert secrets.stat().st_mode & 0o077 == 0, "the stack's passwords are its owner's"
    assert f"{len(load_migrations(migrations_dir()))} migration(s) applied" in up.stdout

    assert rekap(stack_env, "stack", "status").returncode == 0
    check = rekap(stack_env, "stack", "check")
    assert check.returncode == 0, check.stderr
    assert "read back at offset 0" in check.stdout
    assert rekap(stack_env, "db", "migrate").returncode == 0

    down = rekap(stack_env, "stack", "down")
    assert down.returncode == 0, down.stderr
    status = rekap(stack_env, "stack", "status")
    assert status.returncode == 3
    assert status.stdout.count("stopped") == 2
    assert not answers(int(stack_env["REKAP_KAFKA_PORT"]))
    assert not answers(int(stack_env["REKAP_POSTGRES_PORT"]))

    assert rekap(stack_env, "stack", "up").returncode == 0
    # the data survived: migrations are still applied, and the check topic holds the first record
    assert rekap(stack_env, "db", "status").returncode == 0
    assert "read back at offset 1" in rekap(stack_env, "stack", "check").stdout

    reset = rekap(stack_env, "stack", "reset")
    assert reset.returncode == 0, reset.stderr
    assert not (Path(stack_env["REKAP_HOME"]) / "stack").exists()
    assert (Path(stack_env["REKAP_HOME"]) / "cache").exists(), "reset keeps the downloaded jars"


async def test_the_printed_reader_url_reads_the_results_and_writes_nothing(stack_env: dict[str, str]) -> None:
    missing = rekap(stack_env, "stack", "url")
    assert missing.returncode == 1
    assert "`rekap stack up`" in missing.stderr
    assert rekap(stack_env, "stack", "up").returncode == 0
    assert rekap(stack_env, "masterdata", "load").returncode == 0
    printed = rekap(stack_env, "stack", "url")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("postgresql://kpu:")
    assert url.endswith(f"@127.0.0.1:{stack_env['REKAP_POSTGRES_PORT']}/rekap")
    conn = await asyncpg.connect(url)
    try:
        province = "SELECT region_name, tps_expected FROM hasil.summary WHERE level = 'provinsi' AND contest_id = $1"
        assert tuple(await conn.fetchrow(province, "pkwkp-16")) == ("Sumatera Selatan", 13206)
        assert await conn.fetchval("SHOW transaction_read_only") == "on"
        await conn.execute("SET default_transaction_read_only = off")  # as a reader may: still she writes nothing
        for write in ("DELETE FROM rekap.record", "CREATE TEMP TABLE mine (id int)", "CREATE TABLE hasil.mine ()"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(write)
    finally:
        await conn.close()


def test_missing_java_is_explained_without_a_traceback(stack_env: dict[str, str], tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**stack_env, "PATH": str(empty_bin)}
    result = rekap(env, "stack", "up")
    assert result.returncode == 1
    assert "Java 17 or newer" in result.stderr
    assert "docker compose up" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_named_with_the_setting_to_change(stack_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(stack_env["REKAP_KAFKA_PORT"])))
        squatter.listen()
        result = rekap(stack_env, "stack", "up")
    assert result.returncode == 1
    assert f"Port {stack_env['REKAP_KAFKA_PORT']}" in result.stderr
    assert "REKAP_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_commands_say_when_postgres_is_not_there(stack_env: dict[str, str]) -> None:
    result = rekap(stack_env, "db", "migrate")  # the stack is not up
    assert result.returncode == 1
    assert "Cannot connect to PostgreSQL" in result.stderr
    assert "rekap stack up" in result.stderr


def test_a_tabulator_the_stack_ran_is_listed_when_stopped_and_started_again(stack_env: dict[str, str]) -> None:
    """After `stack down` then `stack up` no tabulator ran, and `stack status` dropped its line (exit 0); the
    photo consumer is started, stopped and listed with it."""
    env = {**stack_env, "REKAP_METRICS_ADDRESS": "127.0.0.1:0", "REKAP_PHOTO_METRICS_ADDRESS": "127.0.0.1:0"}
    assert rekap(env, "stack", "up").returncode == 0
    assert "tabulator  off" in rekap(env, "stack", "status").stdout
    assert rekap(env, "masterdata", "load").returncode == 0
    started = rekap(env, "stack", "up", "--tabulator")
    assert started.returncode == 0, started.stderr
    assert "Tabulator started" in started.stdout
    assert "Photo consumer started" in started.stdout
    assert rekap(env, "stack", "down").returncode == 0
    status = rekap(env, "stack", "status")
    assert status.returncode == 3
    assert status.stdout.count("stopped") == 4
    assert "tabulator  stopped" in status.stdout
    assert "photos     stopped" in status.stdout
    again = rekap(env, "stack", "up")
    assert again.returncode == 0, again.stderr
    assert "Tabulator started" in again.stdout
    running = rekap(env, "stack", "status")
    assert running.returncode == 0
    assert "tabulator  running" in running.stdout
    assert "photos     running" in running.stdout
