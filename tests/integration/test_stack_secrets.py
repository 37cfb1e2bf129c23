"""The stack's servers and their secrets as other users of the machine meet them: while the local broker is
formatted (the first `rekap stack up`, or after `rekap stack reset`), a sampler of every process's command
line, as any local user reads it in `ps`, finds neither the admin's nor the broker's password; the tests'
PostgreSQL keeps its data where another pytest session does not take it away."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

import asyncpg
import pytest

from rekap.config import KAFKA_VERSION
from rekap.devstack.kafka import LocalKafka
from rekap.devstack.process import free_port
from tests.conftest import jar_cache
from tests.servers import BrokerAccess


def command_lines() -> list[bytes]:
    lines = []
    for process in Path("/proc").iterdir():
        if process.name.isdigit():
            try:
                lines.append((process / "cmdline").read_bytes())
            except OSError:  # it ended meanwhile
                continue
    return lines


def test_formatting_the_broker_puts_no_password_on_a_command_line(kafka: BrokerAccess, tmp_path: Path) -> None:
    del kafka  # only for its jars, fetched once per session
    broker = LocalKafka(version=KAFKA_VERSION, cache_dir=jar_cache(), state_dir=tmp_path / "kafka",
                        port=free_port(), controller_port=free_port(), broker_password=secrets.token_urlsafe(18),
                        admin_password=secrets.token_urlsafe(18))  # fmt: skip
    leaked: list[bytes] = []
    formatting: list[bytes] = []  # the format tool's own command lines: the sampler saw it run
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for line in command_lines():
                if broker.admin_password.encode() in line or broker.broker_password.encode() in line:
                    leaked.append(line)
                if b"java" in line and str(tmp_path).encode() in line:
                    formatting.append(line)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        broker.format()
    finally:
        done.set()
        sampler.join()
    assert formatting, "the sampler saw the format tool run"
    assert leaked == []
    assert not list((tmp_path / "kafka").glob("*.args")), "the argument file is gone"


async def test_the_tests_database_survives_another_pytest_session_closing_its_folder(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A second pytest session makes /tmp/pytest-of-USER 0700 again: the tests' PostgreSQL (another user)
    must still reach its data, or every database created afterwards fails."""
    root = tmp_path_factory.getbasetemp().parent
    mode = root.stat().st_mode
    root.chmod(0o700)  # what another session's start does
    try:
        conn = await asyncpg.connect(postgres_admin_url)
        try:
            name = f"survives_{os.getpid()}"
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.execute(f'DROP DATABASE "{name}"')
        finally:
            await conn.close()
    finally:
        root.chmod(mode)
