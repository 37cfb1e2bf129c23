"""A real PostgreSQL server from the binaries of the `pgserver` wheel, run on loopback.

PostgreSQL refuses to run as root; when we are root (as on CI machines) the server runs as an
unprivileged system user, who is given the right to traverse to its data and binaries.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rekap.devstack.secrets import POSTGRES_SUPERUSER, local_postgres_url
from rekap.errors import StackError

SYSTEM_USER = "rekap-postgres"


@dataclass(frozen=True)
class LocalPostgres:
    """One local PostgreSQL cluster: its data folder, its log, the port it listens on, and its
    superuser's password (every login needs a password: SCRAM-SHA-256, even on loopback).

    `durable=False` turns fsync off: for throwaway test clusters, where a crash of the machine
    (not of a process, which PostgreSQL survives either way) may lose the data.
    """

    state_dir: Path
    port: int
    password: str = field(repr=False)
    durable: bool = True

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "postgres.log"

    @property
    def url(self) -> str:
        """The superuser's, to the maintenance database."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return local_postgres_url(self.port, POSTGRES_SUPERUSER, self.password, database)

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        return pid if str(self.data_dir).encode() in cmdline else None

    def start(self, timeout: float = 60.0) -> int:
        """Initialise the cluster if new, start it. Returns the pid."""
        running = self.pid()
        if running is not None:
            return running
        self.state_dir.mkdir(parents=True, exist_ok=True)
        owner = _server_user()
        if owner is not None:
            _hand_over(self.state_dir, owner)
            _make_traversable(_bin_dir())
        if not self.is_initialised():
            self._initdb()
        elif "scram-sha-256" not in (self.data_dir / "pg_hba.conf").read_text():
            raise StackError(
                f"The PostgreSQL cluster in {self.data_dir} was made by an older Rekap without passwords: "
                "`rekap stack reset` starts over with empty data."
            )
        # Settings on the command line, not in postgresql.conf, so a new port needs no reset.
        options = f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            )
        except StackError as error:
            raise StackError(f"{error}\nLast lines of {self.logfile}:\n{self._log_tail()}") from None
        pid = self.pid()
        if pid is None:
            raise StackError(f"PostgreSQL said it started but is not running. See {self.logfile}.")
        return pid

    def clone_from(self, primary: LocalPostgres, login: str, password: str, name: str) -> None:
        """Make this (new, stopped) cluster a streaming standby of the running `primary`: its data copied by
        pg_basebackup as `login` (a REPLICATION login), the WAL written meanwhile streamed along, and the
        settings to follow the primary as `name` written (standby.signal, primary_conninfo). Start it after."""
        if self.is_initialised():
            raise StackError(f"{self.data_dir} holds a cluster already: a standby is made into an empty folder.")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        owner = _server_user()
        if owner is not None:
            _hand_over(self.state_dir, owner)
        conninfo = f"host=127.0.0.1 port={primary.port} user={login} application_name={name}"
        # The password in the environment of pg_basebackup (never on its command line); -R writes it into the
        # standby's postgresql.auto.conf, in its data folder (mode 700, the server user's).
        self._run(
            "pg_basebackup",
            "-D",
            str(self.data_dir),
            "-d",
            conninfo,
            "-X",
            "stream",
            "-R",
            "--checkpoint=fast",
            *([] if self.durable else ["--no-sync"]),
            env={"PGPASSWORD": password},
        )

    def promote(self, timeout: float = 60.0) -> None:
        """This standby becomes a primary (it stops following, and accepts writes)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", str(int(timeout)), "promote")

    def is_standby(self) -> bool:
        """Whether its data folder says it follows a primary (standby.signal: until it is promoted)."""
        return (self.data_dir / "standby.signal").exists()

    def fence(self, timeout: float = 10.0) -> None:
        """Stop it now, for good (a failover's old primary must take no write again): a fast shutdown, or
        SIGKILL if it has not stopped within `timeout`."""
        pid = self.pid()
        if pid is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop")
        except StackError:
            os.kill(pid, signal.SIGKILL)

    def stop(self) -> bool:
        """Fast shutdown: open sessions are ended, committed data is kept. True if it was running."""
        if self.pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")
        return True

    def _initdb(self) -> None:
        owner = _server_user()
        with tempfile.NamedTemporaryFile("w", prefix="rekap-pw-", dir=self.state_dir) as pwfile:
            pwfile.write(self.password + "\n")
            pwfile.flush()
            if owner is not None:
                os.chown(pwfile.name, owner.pw_uid, owner.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                POSTGRES_SUPERUSER,
                f"--pwfile={pwfile.name}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            )

    def _run(self, program: str, *args: str, env: dict[str, str] | None = None) -> str:
        owner = _server_user()
        result = subprocess.run(
            [str(_bin_dir() / program), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env} if env else None,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            cwd="/",  # the server user may not be allowed into our working folder
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL's {program} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except (FileNotFoundError, PermissionError):
            return "(no log)"


def _bin_dir() -> Path:
    """The PostgreSQL binaries the `pgserver` wheel ships (found, not imported: importing it starts
    its own server machinery, which we do not use)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise StackError(
            "The embedded PostgreSQL comes from the `pgserver` package, which is not installed: "
            "pip install 'rekap[stack]' (make demo does it for you), or point DATABASE_URL at a "
            "PostgreSQL server of your own."
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user the server runs as when we are root, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"PostgreSQL will not run as root, and creating the system user {SYSTEM_USER} failed: "
            f"{result.stderr.strip()}. Run as an ordinary user, or set DATABASE_URL."
        )
    return pwd.getpwnam(SYSTEM_USER)


def _hand_over(folder: Path, owner: pwd.struct_passwd) -> None:
    """Give the server user its folder (what it creates inside is its own), and a way to reach it."""
    os.chown(folder, owner.pw_uid, owner.pw_gid)
    _make_traversable(folder)


def _make_traversable(path: Path) -> None:
    """o+x on every parent: the server user may pass through them, not list them."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
