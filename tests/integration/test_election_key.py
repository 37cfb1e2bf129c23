"""The election key as an operator handles it: made once into a file of mode 600 (or taken from a file that
openssl made), never on a command line nor in the database, refused when others can read it; rotated with
the old key's endorsement, so that a verifier trusting the first key follows the chain to a head the new
one signed; a key nobody endorsed is refused."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from rekap.adapters.postgres import connection as pg
from rekap.domain.signing import SigningKey, private_key_pem
from tests.integration.cli import rekap
from tests.integration.election import registered_decoder, sample_tps
from tests.servers import login_url

STANDALONE = Path(__file__).parents[2] / "tools" / "verify_bundle.py"


def env_for(url: str, key: Path) -> dict[str, str]:
    return {**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(url, "operator"), "REKAP_ELECTION_KEY": str(key)}


def both_verifiers(
    bundle: Path, key: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    ours = rekap(dict(os.environ), "audit", "verify", str(bundle), "--election-key", str(key))
    theirs = subprocess.run([sys.executable, str(STANDALONE), str(bundle), "--election-key", str(key)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    return ours, theirs


def retired(folder: Path) -> int:
    return len(list(folder.glob("election-key.pem.retired-*")))


async def test_the_key_is_a_file_of_mode_600_its_public_half_logged(election_database_url: str, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "election-key.pem"
    env = env_for(election_database_url, key)
    made = rekap(env, "audit", "key", "create")
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    shown = rekap(env, "audit", "key", "show").stdout
    assert shown.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in shown  # noqa: PT018
    assert "registry: " in made.stdout
    conn = await pg.connect(login_url(election_database_url, "owner"))
    try:
        everything = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM rekap.registry_leaf t")
    finally:
        await conn.close()
    secret = key.read_text().split("-----")[2].strip()
    assert secret not in everything, "the private key is never in the database"
    again = rekap(env, "audit", "key", "create")
    assert again.returncode == 1
    assert "rotate" in again.stderr
    key.chmod(0o644)
    refused = rekap(env, "audit", "key", "show")
    assert refused.returncode == 1
    assert "can be read by others" in refused.stderr


async def test_a_key_openssl_made_is_taken(election_database_url: str, tmp_path: Path) -> None:
    key = tmp_path / "election-key.pem"
    made = SigningKey.generate()
    key.write_text(private_key_pem(made))
    key.chmod(0o600)
    done = rekap(env_for(election_database_url, key), "audit", "key", "create")
    assert done.returncode == 0, done.stderr
    assert "the file was there" in done.stdout


async def test_a_rotated_key_is_followed_from_the_first_and_a_stranger_s_is_not(
    election_database_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "election-key.pem"
    env = env_for(election_database_url, key)
    assert rekap(env, "audit", "key", "create").returncode == 0
    first = tmp_path / "first.pub.pem"
    first.write_text(rekap(env, "audit", "key", "show").stdout)
    await registered_decoder(election_database_url, sample_tps(5))
    rotated = rekap(env, "audit", "key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert retired(tmp_path) == 1
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert rekap(env, "audit", "key", "show").stdout != first.read_text()
    bundle = tmp_path / "bundle"
    assert rekap(env, "audit", "export", str(bundle)).returncode == 0
    ours, theirs = both_verifiers(bundle, first)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stdout + theirs.stdout
    stranger = tmp_path / "stranger.pub.pem"
    other = tmp_path / "other.pem"
    other.write_text(private_key_pem(SigningKey.generate()))
    other.chmod(0o600)
    stranger.write_text(rekap({**env, "REKAP_ELECTION_KEY": str(other)}, "audit", "key", "show").stdout)
    ours, theirs = both_verifiers(bundle, stranger)
    assert (ours.returncode, theirs.returncode) == (1, 1)
    assert "never endorsed" in ours.stdout
    assert "never endorsed" in theirs.stdout
