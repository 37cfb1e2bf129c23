"""The tabulator, and beside it the photo consumer, as background processes of the local stack (the demo, or
`stack up --tabulator`, starts them; `stack down` stops them; the next `stack up` starts them again)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from rekap.devstack.process import DetachedProcess, wait_until
from rekap.errors import StackError

COMMAND = (sys.executable, "-m", "rekap", "tabulator", "run")
PHOTOS_COMMAND = (sys.executable, "-m", "rekap", "photos", "run")


@dataclass(frozen=True)
class LocalTabulator:
    state_dir: Path
    shutdown_timeout_s: float = 30.0
    name: str = "tabulator"
    command: tuple[str, ...] = COMMAND

    @property
    def process(self) -> DetachedProcess:
        return DetachedProcess(
            name=self.name,
            pidfile=self.state_dir / f"{self.name}.pid",
            logfile=self.state_dir / f"{self.name}.log",
            marker=" ".join(self.command),
        )

    @property
    def wanted(self) -> bool:
        """Whether the stack runs a tabulator (one was started, and the stack not reset since)."""
        return (self.state_dir / "wanted").exists()

    def start(self, env: dict[str, str] | None = None) -> int:
        """Start it (with the environment's settings) unless it runs; returns its pid."""
        running = self.process.pid()
        if running is not None:
            return running
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "wanted").touch()
        child = self.process.start(self.command, env={**os.environ, **(env or {})})
        if wait_until(lambda: child.poll() is not None, 3.0):
            raise StackError(
                f"The {self.name} exited at once. Last lines of {self.process.logfile}:\n" + self.process.log_tail()
            )
        return child.pid

    def stop(self) -> bool:
        """SIGTERM: it finishes its batch and leaves the group; forced after the shutdown timeout."""
        return self.process.stop(timeout=self.shutdown_timeout_s + 5)
