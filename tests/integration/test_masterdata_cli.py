"""`rekap masterdata load` and `rekap terminal` as a user types them, against a real database."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from rekap.resources import sumsel_master_data_dir
from tests.integration.cli import rekap as run_rekap
from tests.servers import login_url


def rekap(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """As an operator does: a login in rekap_operator, no more."""
    return run_rekap({**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(database_url, "operator")}, *args)


def test_load_twice_then_a_bad_folder_loads_nothing(database_url: str, tmp_path: Path) -> None:
    first = rekap(database_url, "masterdata", "load")
    assert first.returncode == 0, first.stderr
    assert "13,206 tps" in first.stdout
    assert "SYNTHETIC" in first.stdout
    second = rekap(database_url, "masterdata", "load")
    assert "rekap.tps                  13206       0        0   13206" in second.stdout

    bad = tmp_path / "bad"
    shutil.copytree(sumsel_master_data_dir(), bad)
    (bad / "provinsi.csv").write_text("code,name\n16,Sumatera Selatan Baru\n")
    with (bad / "tps.csv").open("a") as f:
        f.write("1601072001999,700,0\n")
    third = rekap(database_url, "masterdata", "load", "--from", str(bad))
    assert third.returncode == 1
    assert "tps.csv:13208: registered_male: '700' is not a whole number from 0 to 600" in third.stderr
    assert "nothing was loaded" in third.stderr
    assert "Traceback" not in third.stderr
    fourth = rekap(database_url, "masterdata", "load")
    assert "rekap.provinsi                 1       0        0       1" in fourth.stdout, "the bad load changed nothing"


def test_keygen_register_list_revoke(database_url: str, tmp_path: Path) -> None:
    assert rekap(database_url, "masterdata", "load").returncode == 0
    tps = "1601072001001"
    keygen = rekap(database_url, "terminal", "keygen", f"kpps-{tps}", "--out", str(tmp_path))
    assert keygen.returncode == 0, keygen.stderr
    assert (tmp_path / f"kpps-{tps}.key").stat().st_mode & 0o077 == 0, "the private key is for its owner only"
    public = str(tmp_path / f"kpps-{tps}.pub")
    assert (
        rekap(
            database_url, "terminal", "register", f"kpps-{tps}", "--scope", f"tps:{tps}", "--public-key", public
        ).returncode
        == 0
    )
    assert (
        "kpps-1601072001001           tps:1601072001001        active" in rekap(database_url, "terminal", "list").stdout
    )
    assert rekap(database_url, "terminal", "revoke", f"kpps-{tps}").returncode == 0
    listed = rekap(database_url, "terminal", "list").stdout
    assert "revoked" in listed
    assert "1 terminal(s), 0 active" in listed
    again = rekap(database_url, "terminal", "keygen", f"kpps-{tps}", "--out", str(tmp_path))
    assert again.returncode == 1
    assert "never overwritten" in again.stderr


def test_other_master_data_is_replaced_only_when_asked_and_never_by_synthetic(
    database_url: str, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    shutil.copytree(sumsel_master_data_dir(), real)
    (real / "dataset.csv").write_text("name,tps_source\nPilkada 2024 Sumatera Selatan,KPU DPT list of 2024-09-20\n")
    assert rekap(database_url, "masterdata", "load", "--from", str(real)).returncode == 0

    synthetic = rekap(database_url, "masterdata", "load")
    assert synthetic.returncode == 1
    assert "synthetic master data" in synthetic.stderr
    assert "never loaded over other master data" in synthetic.stderr
    forced = rekap(database_url, "masterdata", "load", "--replace")
    assert forced.returncode == 1, "not even when asked"

    other = tmp_path / "other"
    shutil.copytree(real, other)
    (other / "dataset.csv").write_text("name,tps_source\nPilkada 2024 Sumatera Selatan (revised),KPU DPT list v2\n")
    refused = rekap(database_url, "masterdata", "load", "--from", str(other))
    assert refused.returncode == 1
    assert "--replace" in refused.stderr
    assert rekap(database_url, "masterdata", "load", "--from", str(other), "--replace").returncode == 0
