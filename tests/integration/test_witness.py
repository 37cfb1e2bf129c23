"""A witness on election night: `rekap site build` publishes a signed head whenever anything changed, with
the proofs that it extends the one before; `rekap audit watch` keeps each head and checks the next, and the
independent verifier makes the same check offline. A head that forks from the one kept, or a history the
site rewrote, is an alarm, with both heads kept as evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from rekap.audit.keys import read_key_file
from rekap.domain.head import read_head, sign_head
from tests.integration.cli import rekap
from tests.integration.election import plan_election, registered_decoder, sample_tps, write_night
from tests.servers import login_url

STANDALONE = Path(__file__).parents[2] / "tools" / "verify_bundle.py"


@dataclass(frozen=True)
class Site:
    folder: Path
    key_file: Path
    public_key: Path
    witness: Path


@pytest.fixture
async def night_site(election_database_url: str, tmp_path: Path) -> Site:
    """Two heads published as a night goes on, the witness having kept the first before the second came."""
    site, witness, key = tmp_path / "site", tmp_path / "witness", tmp_path / "election-key.pem"
    env = {**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(election_database_url, "operator"),
           "REKAP_ELECTION_KEY": str(key)}  # fmt: skip
    assert rekap(env, "audit", "key", "create").returncode == 0
    (tmp_path / "election-key.pub.pem").write_text(rekap(env, "audit", "key", "show").stdout)
    tps_list = sample_tps(60)
    planned, _ = plan_election(tps_list, seed=5)
    decoder = await registered_decoder(election_database_url, tps_list)
    offsets = await write_night(election_database_url, planned[: len(planned) // 2], decoder)
    built = rekap(env, "site", "build", str(site))
    assert built.returncode == 0, built.stderr
    assert "signed head 1:" in built.stdout
    public = ["--election-key", str(tmp_path / "election-key.pub.pem")]
    first = rekap(dict(os.environ), "audit", "watch", str(site), "--keep", str(witness), *public)
    assert first.returncode == 0, first.stdout
    assert "head 1 kept" in first.stdout
    await write_night(election_database_url, planned[len(planned) // 2 :], decoder, offsets)
    assert "signed head 2:" in rekap(env, "site", "build", str(site)).stdout
    again = rekap(env, "site", "build", str(site))
    assert "signed head 2 (nothing changed: kept)" in again.stdout
    return Site(site, key, tmp_path / "election-key.pub.pem", witness)


def watch(site: Site) -> subprocess.CompletedProcess[str]:
    return rekap(dict(os.environ), "audit", "watch", str(site.folder), "--keep", str(site.witness),
                 "--election-key", str(site.public_key))  # fmt: skip


def offline(site: Site, old: Path, new: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(STANDALONE), "--heads", str(old), str(new), "--site", str(site.folder),
                           "--election-key", str(site.public_key)], capture_output=True, text=True, check=False)  # fmt: skip


async def test_each_new_head_extends_the_one_kept(night_site: Site) -> None:
    done = watch(night_site)
    assert done.returncode == 0, done.stdout
    assert "head 2 extends head 1" in done.stdout
    assert (night_site.witness / "heads" / "2.txt").read_bytes() == (
        night_site.folder / "audit" / "head.txt"
    ).read_bytes()
    assert "nothing new" in watch(night_site).stdout
    heads = night_site.witness / "heads"
    checked = offline(night_site, heads / "1.txt", heads / "2.txt")
    assert checked.returncode == 0, checked.stdout
    assert "heads 1 to 2: each checked against the one before" in checked.stdout


def publish_fork(site: Site) -> None:
    """The key holder publishes a head 3 whose ledger is not the one head 2 committed to."""
    heads = site.folder / "audit" / "heads"
    two = read_head((heads / "2.txt").read_bytes())
    ledger = two.head.ledgers[0]
    forked = replace(two.head, ledgers=(replace(ledger, size=ledger.size + 1, next_offset=ledger.next_offset + 1,
                                                root=bytes(32)), *two.head.ledgers[1:]))  # fmt: skip
    text = sign_head(forked, read_key_file(site.key_file))
    (heads / "3.txt").write_bytes(text)
    proof = json.loads((heads / "2.proof.json").read_text())
    proof["from"], proof["to"] = two.sha256, read_head(text).sha256
    (heads / "3.proof.json").write_text(json.dumps(proof))
    (heads / "latest.json").write_text(json.dumps({"number": 3, "sha256": read_head(text).sha256}))


async def test_a_head_that_forks_raises_the_alarm_and_keeps_the_evidence(night_site: Site) -> None:
    assert watch(night_site).returncode == 0
    publish_fork(night_site)
    alarm = watch(night_site)
    assert alarm.returncode == 1, alarm.stdout
    assert "ALARM head 3 does not extend head 2" in alarm.stdout
    evidence = next((night_site.witness / "evidence").iterdir())
    assert (evidence / "kept-2.txt").read_bytes() == (night_site.witness / "heads" / "2.txt").read_bytes()
    assert (evidence / "fetched.txt").read_bytes() == (night_site.folder / "audit" / "heads" / "3.txt").read_bytes()
    assert not (night_site.witness / "heads" / "3.txt").exists(), "a forked head is not kept as the next"
    heads = night_site.folder / "audit" / "heads"
    checked = offline(night_site, heads / "2.txt", heads / "3.txt")
    assert checked.returncode == 1, checked.stdout
    assert "does not begin with that of head 2" in checked.stdout


async def test_a_history_the_site_rewrote_raises_the_alarm(night_site: Site) -> None:
    assert watch(night_site).returncode == 0
    heads = night_site.folder / "audit" / "heads"
    two = read_head((heads / "2.txt").read_bytes())
    (heads / "2.txt").write_bytes(sign_head(replace(two.head, totals=bytes(32)), read_key_file(night_site.key_file)))
    alarm = watch(night_site)
    assert alarm.returncode == 1, alarm.stdout
    assert "head 2 on the site is not the head 2 kept" in alarm.stdout


async def test_a_head_not_signed_by_the_election_key_is_an_alarm(night_site: Site, tmp_path: Path) -> None:
    from rekap.domain.signing import SigningKey  # noqa: PLC0415 (only this test forges)

    heads = night_site.folder / "audit" / "heads"
    three = sign_head(read_head((heads / "2.txt").read_bytes()).head, SigningKey.generate())
    (heads / "3.txt").write_bytes(three)
    (heads / "latest.json").write_text(json.dumps({"number": 3, "sha256": read_head(three).sha256}))
    alarm = watch(night_site)
    assert alarm.returncode == 1
    assert "audit/heads/3.txt: not signed by the election key" in alarm.stdout


def test_a_site_that_cannot_be_read_is_said_in_one_line_not_an_alarm(tmp_path: Path) -> None:
    for source in (str(tmp_path / "nowhere"), str(tmp_path)):
        done = rekap(dict(os.environ), "audit", "watch", source, "--keep", str(tmp_path / "witness"))
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
