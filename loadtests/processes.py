"""`rekap tabulator run` in processes of their own, as an operator runs it: for the tests and the chaos
load test, which kill, stop, freeze and thaw them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


class TabulatorProcess:
    """`rekap tabulator run` in a process of its own, as an operator runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "rekap", "tabulator", "run"], env=self._env, stdout=out, stderr=out
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the process is alive and silent, its connections open, a transaction maybe half done."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def terminate(self, timeout: float = 45) -> int:
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(timeout)

    def ensure_stopped(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


def spawn(processes: list[TabulatorProcess], env: dict[str, str], tmp_path: Path) -> TabulatorProcess:
    process = TabulatorProcess(env, tmp_path / f"tabulator-{len(processes)}.log")
    processes.append(process)
    process.start()
    return process


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
