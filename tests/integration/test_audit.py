"""The audit bundle against someone who holds the operator's database and the election key: a night written
through the tabulator's write path into the real PostgreSQL in three parts, a head kept after the first two
(as a witness keeps them), a terminal revoked, one registered late and a gap accepted between, the bundle
exported by `rekap audit export`, then recounted by `rekap audit verify` and by the independent verifier
(tools/verify_bundle.py, no Rekap code). Both pass the honest bundle; both fail, naming what they found,
each bundle edited after the fact, even when every total, the head and the manifest were made to agree."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rekap.adapters.postgres import connection as pg
from rekap.adapters.postgres.gaps import accept_gap
from rekap.adapters.postgres.terminals import register_terminals, registry_size, revoke_terminal
from rekap.audit.keys import sign_now
from rekap.audit.verify import verify_bundle
from rekap.domain.decode import Decoder
from rekap.domain.head import read_head
from rekap.domain.signing import SigningKey
from rekap.domain.terminals import Scope, ScopeKind, Terminal
from rekap.simulation.night import Expected, simulated_terminals
from tests.conftest import _clone, _drop_database
from tests.integration import bundles
from tests.integration.cli import rekap
from tests.integration.election import MASTER, SECRET, TOPIC, plan_election, registered_decoder, sample_tps, write_night
from tests.servers import login_url

STANDALONE = Path(__file__).parents[2] / "tools" / "verify_bundle.py"
GAP = 3  # offsets of partition 0 lost between the first and second part, and accepted


@dataclass(frozen=True)
class Night:
    bundle: Path
    key_file: Path  # the election key (private): what the one who tampers holds too
    public_key: Path  # as KPU published it
    anchors: list[Path]  # heads kept after the first and the second part
    expected: Expected
    records: int
    revoked: str  # a terminal revoked after the first part
    late: str  # a terminal registered after the first part


def _revocable(planned: list, first: int) -> str:
    """A TPS whose records all came in the first part: its terminal can be revoked without changing the count."""
    last: dict[bytes, int] = {}
    for index, p in enumerate(planned):
        last[p.key] = index
    return next(key.decode() for key, index in last.items() if index < first)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, masterdata_template: str, postgres_admin_url: str) -> Night:
    folder = tmp_path_factory.mktemp("audit")
    tps_list = sample_tps(150)
    planned, expected = plan_election(tps_list, seed=31)
    parts = [planned[: len(planned) // 3], planned[len(planned) // 3 : 2 * len(planned) // 3],
             planned[2 * len(planned) // 3 :]]  # fmt: skip
    key_file, public_key = folder / "election-key.pem", folder / "election-key.pub.pem"
    revoked = f"kpps-{_revocable(planned, len(parts[0]))}"
    late = Terminal(
        "kpps-late-1", SigningKey.derived(SECRET, "kpps-late-1").public_key, Scope(ScopeKind.TPS, tps_list[0].tps_id)
    )

    async def prepare() -> str:
        url = await _clone(postgres_admin_url, f"audit_{os.getpid()}", masterdata_template)
        env = {
            **os.environ,
            "REKAP_OPERATOR_DATABASE_URL": login_url(url, "operator"),
            "REKAP_ELECTION_KEY": str(key_file),
        }
        made = rekap(env, "audit", "key", "create")
        assert made.returncode == 0, made.stderr
        public_key.write_text(rekap(env, "audit", "key", "show").stdout)
        decoder = await registered_decoder(url, tps_list)
        since = await write_night(url, parts[0], decoder)
        conn = await pg.connect(login_url(url, "operator"))
        try:
            (folder / "anchor-1.txt").write_bytes(await sign_now(conn, key_file))
            await revoke_terminal(conn, revoked)
            await register_terminals(conn, [late])
            await accept_gap(conn, TOPIC, 0, since[0] + GAP, accepted_by="test", reason="three records expired")
            size = await registry_size(conn)
        finally:
            await conn.close()
        terminals = {t.terminal_id: t for t in simulated_terminals(tps_list, SECRET)}
        terminals[revoked] = Terminal(revoked, terminals[revoked].public_key, terminals[revoked].scope, active=False)
        decoder = Decoder(MASTER, {**terminals, late.terminal_id: late}, registry_size=size)
        since = await write_night(url, parts[1], decoder, {**since, 0: since[0] + GAP})
        conn = await pg.connect(login_url(url, "operator"))
        try:
            (folder / "anchor-2.txt").write_bytes(await sign_now(conn, key_file))
        finally:
            await conn.close()
        await write_night(url, parts[2], decoder, since)
        done = rekap(env, "audit", "export", str(folder / "bundle"))
        assert done.returncode == 0, done.stderr
        assert "signed head" in done.stdout
        return url

    url = asyncio.run(prepare())
    asyncio.run(_drop_database(postgres_admin_url, url.rsplit("/", 1)[1]))
    return Night(folder / "bundle", key_file, public_key, [folder / "anchor-1.txt", folder / "anchor-2.txt"],
                 expected, len(planned), revoked, late.terminal_id)  # fmt: skip


def both_verifiers(
    folder: Path, *options: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    ours = rekap(dict(os.environ), "audit", "verify", str(folder), *options)
    theirs = subprocess.run([sys.executable, str(STANDALONE), str(folder), *options], capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    return ours, theirs


def trusted(night: Night) -> list[str]:
    """What an auditor brings: the key KPU published, and the heads a witness kept."""
    return ["--election-key", str(night.public_key), "--anchor", *map(str, night.anchors)]


def test_the_honest_bundle_verifies_anchored_and_its_totals_are_what_the_terminals_sent(night: Night) -> None:
    ours, theirs = both_verifiers(night.bundle, *trusted(night), str(night.bundle / "head.txt"))
    assert ours.returncode == 0, ours.stdout
    assert theirs.returncode == 0, theirs.stdout
    assert "VERIFIED" in ours.stdout
    assert "NOT anchored" not in ours.stdout
    assert "VERIFIED" in theirs.stdout
    assert "NOT anchored" not in theirs.stdout
    assert ours.stdout.count("begins with everything it committed to") == 3
    assert theirs.stdout.count("begins with everything it committed to") == 3
    assert f"{night.records:,} records judged again" in ours.stdout
    assert f"{night.records:,} records judged again" in theirs.stdout
    with (night.bundle / "totals.csv").open(newline="") as f:
        totals = {(r["level"], r["region_code"], r["contest_id"]): r for r in csv.DictReader(f)}
    want = night.expected.summary()
    assert totals.keys() == want.keys()
    for key, row in want.items():
        assert [int(totals[key][c]) for c in ("valid", "invalid", "tps_counted", "tps_quarantined")] == [
            row["valid"], row["invalid"], row["tps_counted"], row["tps_quarantined"]], key  # fmt: skip


def test_without_a_published_key_or_anchor_the_verdict_says_what_it_could_not_check(night: Night) -> None:
    ours, theirs = both_verifiers(night.bundle)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stdout + theirs.stdout
    assert "NOT anchored" in ours.stdout
    assert "NOT anchored" in theirs.stdout
    assert "not against a key published outside it" in ours.stdout
    assert "not one published outside it" in theirs.stdout


# -- What someone who holds the database and the key does after the fact ---------------------------------


def _counted(rows: list[dict[str, object]]) -> list[int]:
    return [i for i, r in enumerate(rows) if r["outcome"] == "accepted" and r["prior"] is None]


def key_swap(night: Night, folder: Path) -> None:
    """A terminal's key replaced in the registry, its forms signed again with the new key, votes moved."""
    rows = bundles.records(folder)
    row = rows[_counted(rows)[0]]
    form = bundles.form_of(row)
    new = SigningKey.generate()
    leaves = bundles.registry(folder)
    for leaf in leaves:
        if leaf.get("terminal_id") == form["terminal_id"] and leaf["kind"] == "register":
            leaf["public_key"] = base64.b64encode(new.public_key).decode()
    bundles.write_registry(folder, leaves)
    choices = sorted(form["votes"])
    moved = form["votes"][choices[0]]
    form["votes"][choices[0]], form["votes"][choices[-1]] = 0, form["votes"][choices[-1]] + moved
    bundles.set_form(row, form, new)
    for other in rows:  # the terminal's other forms, signed again as they were
        if other is not row and other["value"] and bundles.form_of(other).get("terminal_id") == form["terminal_id"]:
            bundles.set_form(other, bundles.form_of(other), new)
    bundles.write_records(folder, rows)
    bundles.move_votes(folder, form["tps_id"], form["contest_id"], {choices[0]: -moved, choices[-1]: moved})


def _drop(folder: Path, drop: Callable[[dict[str, object]], bool], hide: bool) -> None:
    """Records removed; with `hide`, each hole declared offsets Kafka gave no record for (as a tabulator would
    for transaction markers), on the record after it."""
    rows, kept, owed = bundles.records(folder), [], {}
    for row in rows:
        partition = row["partition"]
        if drop(row):
            owed[partition] = owed.get(partition, 0) + 1 + int(row["skipped"])  # type: ignore[call-overload]
            continue
        if hide and owed.get(partition):
            row["skipped"] = int(row["skipped"]) + owed.pop(partition)  # type: ignore[call-overload]
        kept.append(row)
    bundles.write_records(folder, kept)


def _newest_correction(folder: Path) -> tuple[str, int, int]:
    """The newest deciding record of a TPS and contest that was corrected, within the first anchor."""
    rows = bundles.records(folder)
    firsts = {tuple(r["prior"]) for r in rows if r["prior"] is not None and r["outcome"] == "accepted"}
    corrected = [r for r in rows if r["outcome"] == "accepted" and r["prior"] is not None
                 and tuple(r["prior"]) in firsts and (r["topic"], r["partition"], r["offset"]) not in firsts]  # fmt: skip
    row = corrected[0]
    return row["topic"], row["partition"], row["offset"]  # type: ignore[return-value]


def older_revision_swapped_in(night: Night, folder: Path) -> None:
    """The deciding form's record removed, its hole declared skipped: the older revision decides again."""
    gone = _newest_correction(folder)
    _drop(folder, lambda r: (r["topic"], r["partition"], r["offset"]) == gone, hide=True)


def newer_judged_stale(night: Night, folder: Path) -> None:
    gone = _newest_correction(folder)
    rows = bundles.records(folder)
    for row in rows:
        if (row["topic"], row["partition"], row["offset"]) == gone:
            row["outcome"] = "stale"
    bundles.write_records(folder, rows)


def _a_tps(folder: Path) -> str:
    return str(bundles.records(folder)[_counted(bundles.records(folder))[3]]["tps_id"])


def tps_dropped(night: Night, folder: Path) -> None:
    tps = _a_tps(folder)
    _drop(folder, lambda r: r["key"] == base64.b64encode(tps.encode()).decode(), hide=False)


def tps_dropped_hidden(night: Night, folder: Path) -> None:
    tps = _a_tps(folder)
    _drop(folder, lambda r: r["key"] == base64.b64encode(tps.encode()).decode(), hide=True)


def record_removed(night: Night, folder: Path) -> None:
    rows = bundles.records(folder)
    middle = rows[len(rows) // 2]
    _drop(folder, lambda r: r is middle or (r["partition"], r["offset"]) == (middle["partition"], middle["offset"]),
          hide=False)  # fmt: skip


def records_reordered(night: Night, folder: Path) -> None:
    lines = bundles.read_lines(folder / "records.jsonl")
    lines[10], lines[11] = lines[11], lines[10]
    bundles.write_lines(folder / "records.jsonl", lines)


def revocation_removed(night: Night, folder: Path) -> None:
    leaves = bundles.registry(folder)
    bundles.write_registry(folder, [leaf for leaf in leaves if leaf["kind"] != "revoke"])


def registration_backdated(night: Night, folder: Path) -> None:
    leaves = bundles.registry(folder)
    late = next(leaf for leaf in leaves if leaf.get("terminal_id") == night.late)
    leaves.remove(late)
    late["at"] = leaves[0]["at"]
    bundles.write_registry(folder, [late, *leaves])


def head_forged(night: Night, folder: Path) -> None:
    text = (folder / "head.txt").read_bytes()
    body, signature = text.rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    (folder / "head.txt").write_bytes(body + b" " + base64.b64encode(bytes(raw)) + b"\n")


@pytest.mark.parametrize(("tamper", "resigned", "ours_say", "theirs_say"), [
    (key_swap, True, "registry of", "the registry it names is not the beginning"),
    (older_revision_swapped_in, True, "records were removed, reordered or judged otherwise", "records were removed"),
    (newer_judged_stale, True, "but judged again against the form before it, accepted", "judged again against the form before it: ('accepted'"),
    (tps_dropped, True, "unaccounted for", "unaccounted for"),
    (tps_dropped_hidden, True, "records were removed, reordered or judged otherwise", "records were removed"),
    (record_removed, False, "unaccounted for", "unaccounted for"),
    (records_reordered, True, "records are in topic, partition and offset order", "not after the record before it"),
    (revocation_removed, True, "leaves or records were removed since", "leaves or records were removed"),
    (registration_backdated, True, "registry of", "the registry it names is not the beginning"),
    (head_forged, False, "its signature is not the registry's election key's", "its signature is not the registry's election key's"),
])  # fmt: skip
def test_each_edit_after_the_fact_fails_both_verifiers_naming_it(
    night: Night, tmp_path: Path, tamper: Callable[[Night, Path], None], resigned: bool, ours_say: str,
    theirs_say: str,
) -> None:  # fmt: skip
    folder = tmp_path / "bundle"
    shutil.copytree(night.bundle, folder)
    tamper(night, folder)
    if resigned:
        bundles.resign(folder, night.key_file)  # the head made to agree with the edited files
        recount = verify_bundle(folder, [], [])
        bundles.write_totals(folder, recount.totals, recount.votes)  # and every total too
        bundles.resign(folder, night.key_file)
    else:
        bundles.reseal(folder)
    ours, theirs = both_verifiers(folder, *trusted(night))
    assert ours.returncode == 1, ours.stdout
    assert theirs.returncode == 1, theirs.stdout
    assert ours_say in ours.stdout
    assert theirs_say in theirs.stdout
    assert "NOT VERIFIED" in ours.stdout
    assert "NOT VERIFIED" in theirs.stdout


def test_a_head_that_forks_from_a_witness_s_is_caught(night: Night, tmp_path: Path) -> None:
    """The key holder signs another history at the size of a head a witness kept: the bundle is not it."""
    fork = tmp_path / "bundle"
    shutil.copytree(night.bundle, fork)
    revocation_removed(night, fork)
    bundles.resign(fork, night.key_file)
    ours, theirs = both_verifiers(night.bundle, "--election-key", str(night.public_key), "--anchor",
                                  str(fork / "head.txt"))  # fmt: skip
    assert (ours.returncode, theirs.returncode) == (1, 1)
    assert "registry of" in ours.stdout
    assert "the registry it names is not the beginning" in theirs.stdout


def test_an_anchor_later_than_the_bundle_is_said_not_checked(night: Night, tmp_path: Path) -> None:
    """The bundle as it stood at the second head (exported then), checked against the first head and the last:
    the first is checked, the last cannot be and the verdict says so."""
    earlier = tmp_path / "earlier"
    shutil.copytree(night.bundle, earlier)
    then = read_head(night.anchors[1].read_bytes()).head
    sizes: dict[tuple[str, int], int] = {}
    rows = []
    for row in bundles.records(earlier):
        key = (str(row["topic"]), int(row["partition"]))  # type: ignore[call-overload]
        sizes[key] = sizes.get(key, 0) + 1
        ledger = then.ledger(*key)
        if ledger is not None and sizes[key] <= ledger.size:
            rows.append(row)
    bundles.write_records(earlier, rows)
    bundles.write_lines(
        earlier / "registry.jsonl", bundles.read_lines(earlier / "registry.jsonl")[: then.registry.size]
    )
    bundles.resign(earlier, night.key_file, like=then)
    recount = verify_bundle(earlier, [], [])
    bundles.write_totals(earlier, recount.totals, recount.votes)
    bundles.resign(earlier, night.key_file, like=then)
    options = [
        "--election-key",
        str(night.public_key),
        "--anchor",
        str(night.anchors[0]),
        str(night.bundle / "head.txt"),
    ]
    ours, theirs = both_verifiers(earlier, *options)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stdout + theirs.stdout
    assert "is later than this bundle's head: it cannot be checked" in ours.stdout
    assert "is later than this bundle's head: it was not checked" in theirs.stdout
    assert "begins with everything it committed to" in ours.stdout


BUNDLE_FILES = ["records.jsonl", "registry.jsonl", "head.txt", "totals.csv", "votes.csv", "manifest.json",
                *(f"masterdata/{n}" for n in ("dataset.csv", "provinsi.csv", "kabupaten_kota.csv", "kecamatan.csv",
                                              "desa.csv", "tps.csv", "contests.csv", "choices.csv"))]  # fmt: skip


@pytest.mark.parametrize("name", BUNDLE_FILES)
@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_a_cut_or_garbage_file_is_one_line_naming_it(night: Night, tmp_path: Path, name: str, damage: str) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(night.bundle, folder)
    path = folder / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7] if damage == "cut" else data + b'{"tps_id": \xff\x00 not a line\n')
    if name != "manifest.json":
        bundles.reseal(folder)
    ours, theirs = both_verifiers(folder, *trusted(night))
    for run in (ours, theirs):
        said = run.stdout + run.stderr
        assert run.returncode in (1, 2), said
        assert "Traceback" not in said
        assert Path(name).name in said, said
        assert max(len(line) for line in said.splitlines()) < 2000


def test_a_file_changed_after_sealing_is_named(night: Night, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(night.bundle, folder)
    path = folder / "totals.csv"
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[6] = str(int(fields[6]) + 1)  # valid
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    ours, theirs = both_verifiers(folder, *trusted(night))
    assert (ours.returncode, theirs.returncode) == (1, 1)
    assert "totals.csv: SHA-256" in ours.stdout
    assert "totals.csv: missing or not the file the manifest seals" in theirs.stdout
    assert json.loads((folder / "manifest.json").read_text())["format"] == "rekap-audit-bundle/2"
