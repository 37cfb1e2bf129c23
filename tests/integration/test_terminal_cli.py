"""`rekap terminal register --from FILE` and `rekap terminal list`'s filters, as an operator types them,
against a real database: a file registers whole or not at all, every problem said as file:line."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from rekap.adapters.postgres import connection as pg
from rekap.domain.signing import SigningKey
from tests.integration.cli import rekap as run_rekap
from tests.integration.election import SHIPPED
from tests.servers import login_url


def rekap(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_rekap({**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(database_url, "operator")}, *args)


def key(n: int) -> str:
    return base64.b64encode(SigningKey.derived(b"test", str(n)).public_key).decode()


def terminals_file(path: Path, lines: list[str]) -> Path:
    path.write_text("terminal_id,scope,public_key\n" + "".join(f"{line}\n" for line in lines))
    return path


async def registered(database_url: str) -> int:
    conn = await pg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM rekap.terminal"))
    finally:
        await conn.close()


async def test_a_file_registers_whole_then_the_list_filters(election_database_url: str, tmp_path: Path) -> None:
    tps = SHIPPED.tps[:300]
    lines = [f"kpps-{t.tps_id},tps:{t.tps_id},{key(i)}" for i, t in enumerate(tps)]
    lines.append(f"ppk-{tps[0].kecamatan},kecamatan:{tps[0].kecamatan},{key(999)}")
    path = terminals_file(tmp_path / "terminals.csv", lines)
    done = rekap(election_database_url, "terminal", "register", "--from", str(path))
    assert done.returncode == 0, done.stderr
    assert "301 terminals, 301 newly registered" in done.stdout
    assert "registry: 302 leaves, root " in done.stdout, "the master data's leaf, then a leaf per registration"
    again = rekap(election_database_url, "terminal", "register", "--from", str(path))
    assert "0 newly registered, 301 already registered" in again.stdout, "the same file again is a no-op"
    assert await registered(election_database_url) == 301
    ppk = rekap(election_database_url, "terminal", "list", "--scope", "kecamatan")
    assert f"ppk-{tps[0].kecamatan}" in ppk.stdout
    assert "1 terminal(s)" in ppk.stdout
    in_kecamatan = sum(t.tps_id.startswith(tps[0].kecamatan) for t in tps) + 1
    listed = rekap(election_database_url, "terminal", "list", "--kecamatan", tps[0].kecamatan)
    assert f"{in_kecamatan} terminal(s)" in listed.stdout
    revoking = rekap(election_database_url, "terminal", "revoke", f"kpps-{tps[1].tps_id}")
    assert revoking.returncode == 0
    assert "registry: 303 leaves, root " in revoking.stdout
    revoked = rekap(election_database_url, "terminal", "list", "--revoked")
    assert f"kpps-{tps[1].tps_id}" in revoked.stdout
    assert "1 terminal(s), 0 active" in revoked.stdout


async def test_every_problem_of_a_file_is_said_by_its_line_and_nothing_is_registered(
    election_database_url: str, tmp_path: Path
) -> None:
    tps = SHIPPED.tps[:5]
    path = terminals_file(tmp_path / "bad.csv", [
        f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(0)}",
        f"Bad Id,tps:{tps[1].tps_id},{key(1)}",
        f"kpps-{tps[2].tps_id},tps:123,{key(2)}",
        f"kpps-{tps[3].tps_id},tps:{tps[3].tps_id},not-a-key",
        f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(0)}",
        "only,two",
    ])  # fmt: skip
    done = rekap(election_database_url, "terminal", "register", "--from", str(path))
    assert done.returncode == 1
    for line in (3, 4, 5, 6, 7):
        assert f"{path}:{line}: " in done.stderr, (line, done.stderr)
    assert f"{path}:2: " not in done.stderr
    assert "Traceback" not in done.stderr
    assert "5 problem(s); nothing was registered" in done.stderr
    assert await registered(election_database_url) == 0


async def test_what_only_the_database_knows_is_said_by_line_too(election_database_url: str, tmp_path: Path) -> None:
    tps = SHIPPED.tps[:3]
    first = terminals_file(tmp_path / "first.csv", [f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(0)}"])
    assert rekap(election_database_url, "terminal", "register", "--from", str(first)).returncode == 0
    path = terminals_file(tmp_path / "second.csv", [
        f"kpps-{tps[1].tps_id},tps:{tps[1].tps_id},{key(1)}",
        f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(7)}",  # the same id, another key
        f"kpps-9999999999999,tps:9999999999999,{key(2)}",  # no such TPS
    ])  # fmt: skip
    done = rekap(election_database_url, "terminal", "register", "--from", str(path))
    assert done.returncode == 1
    assert f"{path}:3: kpps-{tps[0].tps_id}: the id is already registered with another key or scope" in done.stderr
    assert f"{path}:4: kpps-9999999999999: its scope tps:9999999999999 is not in the master data" in done.stderr
    assert await registered(election_database_url) == 1, "the good line was not registered either"


async def test_every_problem_of_every_kind_is_said_in_one_run_in_line_order(
    election_database_url: str, tmp_path: Path
) -> None:
    tps = SHIPPED.tps[:4]
    first = terminals_file(tmp_path / "first.csv", [f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(0)}"])
    assert rekap(election_database_url, "terminal", "register", "--from", str(first)).returncode == 0
    path = terminals_file(tmp_path / "mixed.csv", [
        f"kpps-9999999999999,tps:9999999999999,{key(1)}",  # 2: no such TPS (only the database knows)
        f"kpps-{tps[1].tps_id},tps:{tps[1].tps_id},not-a-key",  # 3: no key
        f"kpps-{tps[2].tps_id},tps:{tps[2].tps_id}",  # 4: a field missing
        f"kpps-{tps[0].tps_id},tps:{tps[0].tps_id},{key(7)}",  # 5: the id registered with another key
        f"kpps-{tps[3].tps_id},tps:123,not-a-key",  # 6: no scope, no key
        "ppk-x,kecamatan:999999,not-a-key",  # 7: no key, and no such kecamatan
        f"ppk-{tps[3].kecamatan},kecamatan:{tps[3].kecamatan},{key(8)}",  # 8: good
    ])  # fmt: skip
    done = rekap(election_database_url, "terminal", "register", "--from", str(path))
    assert done.returncode == 1
    no_key = "a public key is a PEM block or the base64 of 32 bytes (Ed25519)"
    assert [line for line in done.stderr.splitlines() if line.startswith(f"{path}:")] == [
        f"{path}:2: kpps-9999999999999: its scope tps:9999999999999 is not in the master data",
        f"{path}:3: {no_key}",
        f"{path}:4: 2 fields, a line has 3",
        f"{path}:5: kpps-{tps[0].tps_id}: the id is already registered with another key or scope",
        f"{path}:6: a scope is tps:<13 digits> or kecamatan:<6 digits>, not 'tps:123'",
        f"{path}:6: {no_key}",
        f"{path}:7: {no_key}",
        f"{path}:7: ppk-x: its scope kecamatan:999999 is not in the master data",
    ]
    assert "8 problem(s); nothing was registered" in done.stderr
    assert await registered(election_database_url) == 1, "the good line was not registered either"


def test_a_listing_read_by_a_reader_that_stops_early_ends_quietly(election_database_url: str, tmp_path: Path) -> None:
    lines = [f"kpps-{t.tps_id},tps:{t.tps_id},{key(i)}" for i, t in enumerate(SHIPPED.tps[:2000])]
    path = terminals_file(tmp_path / "terminals.csv", lines)
    assert rekap(election_database_url, "terminal", "register", "--from", str(path)).returncode == 0
    env = {**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(election_database_url, "operator")}
    listing = subprocess.Popen([sys.executable, "-m", "rekap", "terminal", "list"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert listing.stdout is not None
    assert listing.stderr is not None
    listing.stdout.readline()
    listing.stdout.close()  # `| head -1`
    with listing.stderr:
        stderr = listing.stderr.read().decode()
    assert listing.wait(timeout=60) == 141
    assert stderr == ""
