"""Background server processes of the local stack: start detached, find again by pid file, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rekap.errors import StackError

# Servers this process started, kept so their handles are waited for (reaped) when stopped here.
_started: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class DetachedProcess:
    """A server started in its own session, so it outlives the command that started it.

    `marker` is a string its command line must contain: it tells our process from an unrelated one
    that reused the pid after a reboot.
    """

    name: str
    pidfile: Path
    logfile: Path
    marker: str

    def pid(self) -> int | None:
        """The pid of the running process, or None if it is not running."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        if self.marker.encode() not in cmdline or _is_zombie(pid):
            return None
        return pid

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start it; the caller may watch the returned handle (pid() is only true once it has exec'd)."""
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with self.logfile.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        _started[proc.pid] = proc
        return proc

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait up to `timeout`, then SIGKILL. True if a process was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        _signal(pid, signal.SIGTERM)
        if not wait_until(lambda: self.pid() is None, timeout):
            _signal(pid, signal.SIGKILL)
            wait_until(lambda: self.pid() is None, 10.0)
        child = _started.pop(pid, None)
        if child is not None:
            child.wait()
        self.pidfile.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `condition()` until it is true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def require_free_port(port: int, what: str, setting: str) -> None:
    if not port_is_free(port):
        raise StackError(
            f"Port {port} on 127.0.0.1, wanted for {what}, is taken by another program. "
            f"Stop that program or choose another port with {setting}=<port>."
        )


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the whole session: a server's helper processes go with it
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
