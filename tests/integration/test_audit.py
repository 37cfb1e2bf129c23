"""The audit bundle, round trip: a night written through the tabulator's write path into the real
PostgreSQL, exported by `rekap audit export`, recounted by `rekap audit verify` and by the small
independent verifier (tools/verify_bundle.py, no Rekap code). Both pass the honest bundle, whose totals are
what the simulated terminals sent; both fail, naming the problem, each bundle tampered with in a way that
matters, even when the tamperer seals the manifest again."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rekap.simulation.night import Expected
from tests.conftest import _clone, _drop_database
from tests.integration.cli import rekap
from tests.integration.election import plan_election, registered_decoder, sample_tps, write_night
from tests.servers import login_url

STANDALONE = Path(__file__).parents[2] / "tools" / "verify_bundle.py"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, masterdata_template: str, postgres_admin_url: str,
           ) -> tuple[Path, Expected, int]:  # fmt: skip
    """One honest bundle (with every record) for the module: exported once, copied by each test."""
    folder = tmp_path_factory.mktemp("audit") / "bundle"
    tps_list = sample_tps(150)
    planned, expected = plan_election(tps_list, seed=31)

    async def prepare() -> str:
        url = await _clone(postgres_admin_url, f"audit_{os.getpid()}", masterdata_template)
        await write_night(url, planned, await registered_decoder(url, tps_list))
        return url

    url = asyncio.run(prepare())
    try:
        done = rekap({**os.environ, "REKAP_OPERATOR_DATABASE_URL": login_url(url, "operator")},
                     "audit", "export", str(folder), "--all-records")  # fmt: skip
    finally:
        asyncio.run(_drop_database(postgres_admin_url, url.rsplit("/", 1)[1]))
    assert done.returncode == 0, done.stderr
    assert "manifest SHA-256" in done.stdout
    return folder, expected, len(planned)


def both_verifiers(folder: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    ours = rekap(dict(os.environ), "audit", "verify", str(folder))
    theirs = subprocess.run([sys.executable, str(STANDALONE), str(folder)], capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    return ours, theirs


def test_the_honest_bundle_verifies_and_its_totals_are_what_the_terminals_sent(
    bundle: tuple[Path, Expected, int],
) -> None:
    folder, expected, records = bundle
    ours, theirs = both_verifiers(folder)
    assert ours.returncode == 0, ours.stdout
    assert theirs.returncode == 0, theirs.stdout
    assert "VERIFIED" in ours.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["records.jsonl"]["rows"] == records, "every record received, with --all-records"
    seal = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert seal in ours.stdout
    assert seal in theirs.stdout
    with (folder / "totals.csv").open(newline="") as f:
        totals = {(r["level"], r["region_code"], r["contest_id"]): r for r in csv.DictReader(f)}
    want = expected.summary()
    assert totals.keys() == want.keys()
    for key, row in want.items():
        assert [int(totals[key][c]) for c in ("valid", "invalid", "tps_counted", "tps_quarantined")] == [
            row["valid"], row["invalid"], row["tps_counted"], row["tps_quarantined"]], key  # fmt: skip


def forms_of(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "forms.jsonl").read_text().splitlines()]


def write_forms(folder: Path, forms: list[dict[str, object]]) -> None:
    (folder / "forms.jsonl").write_text("".join(json.dumps(f, separators=(",", ":")) + "\n" for f in forms))


def counted(forms: list[dict[str, object]]) -> list[int]:
    return [i for i, f in enumerate(forms) if f["status"] == "counted"]


def changed_number(folder: Path) -> None:
    forms = forms_of(folder)
    form = forms[counted(forms)[0]]
    value = json.loads(base64.b64decode(str(form["value"])))
    first = min(value["votes"])
    value["votes"][first] += 50
    value["valid"] += 50  # consistent arithmetic: only the signature can tell
    value["ballots"]["used"] += 50
    form["value"] = base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    write_forms(folder, forms)


def swapped_signature(folder: Path) -> None:
    forms = forms_of(folder)
    a, b = (forms[i] for i in counted(forms)[:2])
    a["signature"], b["signature"] = b["signature"], a["signature"]
    write_forms(folder, forms)


def dropped_form(folder: Path) -> None:
    forms = forms_of(folder)
    del forms[counted(forms)[0]]
    write_forms(folder, forms)


def added_form(folder: Path) -> None:
    forms = forms_of(folder)
    write_forms(folder, [*forms, forms[counted(forms)[0]]])


def revoked_terminal(folder: Path) -> None:
    form = forms_of(folder)[counted(forms_of(folder))[0]]
    received = datetime.fromisoformat(str(form["received_at"]))
    path = folder / "terminals.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["terminal_id"] == form["terminal_id"]:
            row["revoked_at"] = (received - timedelta(seconds=1)).isoformat()
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def edited_total(folder: Path) -> None:
    path = folder / "totals.csv"
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[6] = str(int(fields[6]) + 1)  # valid
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def garbage_line(folder: Path) -> None:
    with (folder / "forms.jsonl").open("ab") as f:
        f.write(b'{"tps_id": \xff\x00 not json\n')


def reseal(folder: Path) -> None:
    """What a tamperer does next: the manifest made to match the edited files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, described in manifest["files"].items():
        described["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


@pytest.mark.parametrize(("tamper", "ours_say", "theirs_say"), [
    (changed_number, "the signature is not", "BadSignatureError"),
    (swapped_signature, "the signature is not", "BadSignatureError"),
    (dropped_form, "totals.csv", "totals "),
    (added_form, "a second form", "a second form"),
    (revoked_terminal, "was not registered and active", "was not registered and active"),
    (edited_total, "totals.csv", "totals "),
    (garbage_line, "not a form line", "not a form line"),
])  # fmt: skip
def test_each_tampered_bundle_fails_both_verifiers_naming_the_problem(
    bundle: tuple[Path, Expected, int], tmp_path: Path, tamper: Callable[[Path], None], ours_say: str,
    theirs_say: str,
) -> None:  # fmt: skip
    folder = tmp_path / "bundle"
    shutil.copytree(bundle[0], folder)
    tamper(folder)
    reseal(folder)
    ours, theirs = both_verifiers(folder)
    assert ours.returncode == 1, ours.stdout
    assert theirs.returncode == 1, theirs.stdout
    assert ours_say in ours.stdout
    assert theirs_say in theirs.stdout
    assert "NOT VERIFIED" in ours.stdout


def test_a_file_changed_after_sealing_is_named(bundle: tuple[Path, Expected, int], tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle[0], folder)
    edited_total(folder)  # and the manifest left as it was
    ours, theirs = both_verifiers(folder)
    assert (ours.returncode, theirs.returncode) == (1, 1)
    assert "totals.csv: SHA-256" in ours.stdout
    assert "totals.csv: missing or not the file the manifest seals" in theirs.stdout
