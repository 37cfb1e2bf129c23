"""Everyday mistakes end in one line that says what to do, never a traceback: run as a user runs `rekap`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rekap.devstack.process import free_port
from tests.integration.cli import rekap as run_rekap
from tests.servers import login_url


def rekap(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("REKAP_") and k != "DATABASE_URL"}
    return run_rekap({**base, **env}, *args)


def one_line(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_bare_rekap_prints_the_help() -> None:
    done = rekap()
    assert done.returncode == 2
    assert "usage: rekap" in done.stdout
    assert "report" in done.stdout, "the commands are listed"


@pytest.mark.parametrize(("name", "says"), [("missing.json", "No such file or directory"), (".", "Is a directory")])
def test_a_form_file_that_is_missing_or_a_folder(tmp_path: Path, name: str, says: str) -> None:
    done = rekap("publish", str(tmp_path / name), "--key", str(tmp_path / "key.pem"))
    assert done.returncode == 1
    one_line(done, f"{says}: no form was sent")


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://u:p@localhost:notaport/rekap", "DATABASE_URL: its port is not a number"),
    ("mysql://u:p@localhost/rekap", "DATABASE_URL is not a PostgreSQL URL"),
])  # fmt: skip
def test_a_malformed_database_url(url: str, says: str) -> None:
    done = rekap("status", "1671011001001", DATABASE_URL=url)
    assert done.returncode == 1
    one_line(done, says)
    assert "u:p" not in done.stderr, "the URL's password is not shown"


@pytest.mark.parametrize("command", [
    ["status", "1671011001001"], ["terminal", "list"], ["report", "16"], ["tabulator", "run"],
])  # fmt: skip
def test_a_database_not_migrated_says_to_migrate(empty_database_url: str, command: list[str], tmp_path: Path) -> None:
    done = rekap(*command, DATABASE_URL=empty_database_url, REKAP_HOME=str(tmp_path), REKAP_LOG_FORMAT="console",
                 REKAP_METRICS_ADDRESS="127.0.0.1:0")  # (a tabulator running here holds the default port)  # fmt: skip
    assert done.returncode == 1
    one_line(done, "the database is not migrated to this version of Rekap")
    assert "rekap db migrate" in done.stderr


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("REKAP_LOG_LEVEL", "LOUD", "REKAP_LOG_LEVEL=LOUD: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("REKAP_BATCH_MAX_RECORDS", "0", "REKAP_BATCH_MAX_RECORDS=0: Input should be greater than or equal to 1"),
])  # fmt: skip
def test_a_setting_with_a_bad_value_is_named_as_it_is_set(variable: str, value: str, says: str) -> None:
    done = rekap("stack", "status", **{variable: value})
    assert done.returncode == 2
    one_line(done, says)


@pytest.mark.parametrize("text", ["A" * 256, "A" * 5000, "not/a/key/at/all", "-----BEGIN PUBLIC KEY-----\nAAAA\n"])
def test_a_public_key_that_is_no_key_nor_a_file_is_one_line_exit_2(text: str) -> None:
    """Text too long for a file name was taken for a path (OSError: File name too long)."""
    done = rekap("terminal", "register", "kpps-x01", "--scope", "tps:1671011001001", "--public-key", text,
                 DATABASE_URL="postgresql://u:p@127.0.0.1:1/rekap")  # fmt: skip
    assert done.returncode == 2, done.stderr
    one_line(done, "--public-key")
    assert text[:200] not in done.stderr, "the argument is not echoed back"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_tabulator_whose_metrics_port_is_taken_says_so_before_anything_else(taken_port: int) -> None:
    done = rekap("tabulator", "run", REKAP_METRICS_ADDRESS=f"127.0.0.1:{taken_port}",
                 DATABASE_URL="postgresql://u:p@127.0.0.1:1/rekap", REKAP_LOG_LEVEL="ERROR")  # fmt: skip
    assert done.returncode == 1
    one_line(done, f"REKAP_METRICS_ADDRESS=127.0.0.1:{taken_port}: cannot listen there")


@pytest.mark.parametrize(("options", "status", "says"), [
    (["--port", "{taken}"], 1, "cannot listen on 127.0.0.1:{taken}"),
    (["--port", "99999"], 2, "--port 99999: a port is a number from 0 to 65535"),
    (["--bind", "203.0.113.7", "--port", "0"], 1, "cannot listen on 203.0.113.7:0"),
    (["--bind", "no-such-host.invalid", "--port", "0"], 1, "cannot listen on no-such-host.invalid:0"),
])  # fmt: skip
def test_site_serve_where_it_cannot_listen_is_one_line(
    tmp_path: Path, taken_port: int, options: list[str], status: int, says: str
) -> None:
    (tmp_path / "index.html").write_text("<html></html>")
    done = rekap("site", "serve", str(tmp_path), *(o.format(taken=taken_port) for o in options))
    assert done.returncode == status, done.stderr
    one_line(done, says.format(taken=taken_port))


def test_the_independent_verifier_without_pynacl_says_how_to_install_it(tmp_path: Path) -> None:
    script = (
        "import runpy, sys; sys.modules['nacl'] = None; sys.argv = ['verify_bundle.py', sys.argv[1]]; "
        "runpy.run_path(sys.argv[0].replace('verify_bundle.py', '') + 'tools/verify_bundle.py', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], check=False)  # fmt: skip
    assert done.returncode == 2
    one_line(done, "pip install pynacl")


def test_a_form_over_the_size_limit_is_refused_as_oversize(tmp_path: Path) -> None:
    assert rekap("terminal", "keygen", "kpps-big", "--out", str(tmp_path)).returncode == 0
    form = tmp_path / "big.json"
    form.write_bytes(b'{"schema": "tally/v1", "pad": "' + b"x" * 5_000_000 + b'"}')
    done = rekap("publish", str(form), "--key", str(tmp_path / "kpps-big.key"))
    assert done.returncode == 1
    one_line(done, "5,000,033 bytes, more than a form may be (65,536: oversize): not sent")


@pytest.mark.parametrize(("command", "status", "says"), [
    (["status", "abc"], 2, "a TPS is 13 digits"),
    (["status", "9" * 13], 1, "TPS 9999999999999 is not in the master data"),
    (["status", "1" * 65536], 2, "a TPS is 13 digits"),
    (["review", "list", "--kecamatan", "99"], 2, "a kecamatan is 6 digits"),
    (["review", "list", "--kecamatan", "999999"], 1, "kecamatan 999999 is not in the master data"),
    (["terminal", "list", "--kecamatan", "abc"], 2, "a kecamatan is 6 digits"),
    (["terminal", "list", "--kecamatan", "160199"], 1, "kecamatan 160199 is not in the master data"),
])  # fmt: skip
def test_a_code_not_in_the_master_data_is_said_unknown(
    election_database_url: str, command: list[str], status: int, says: str
) -> None:
    """Unknown codes were answered "Nothing recorded ... yet" or an empty list, as if they were real."""
    done = rekap(*command, REKAP_OPERATOR_DATABASE_URL=login_url(election_database_url, "operator"))
    assert done.returncode == status, done.stdout + done.stderr
    one_line(done, says)
    assert len(done.stderr) < 300, "a long argument is not echoed back"


def test_publish_to_a_broker_that_is_down_says_so_in_one_line_within_its_timeout(tmp_path: Path) -> None:
    """Nothing listens at the bootstrap address: `rekap publish` tries again for --timeout seconds, then says
    so in one line, no traceback (six log lines, aiokafka's own errors and each retry's, came first, and it
    took 15.8 s for 10)."""
    assert rekap("terminal", "keygen", "kpps-1671011001001", "--out", str(tmp_path)).returncode == 0
    form = tmp_path / "form.json"
    form.write_text('{"tps_id": "1671011001001"}')
    started = time.monotonic()
    done = rekap("publish", str(form), "--key", str(tmp_path / "kpps-1671011001001.key"), "--force", "--timeout", "5",
                 REKAP_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}")  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 1
    one_line(done, "did not answer for 5 s")
    assert took < 5 + 6, f"{took:.1f} s: the timeout is the command's, not each attempt's (6 s: Python's start)"
