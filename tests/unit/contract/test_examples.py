"""The example records of docs/examples/: each, with the signature docs/examples/examples.json records for it
(the example terminal's key), judged against the shipped master data with the terminals of
docs/examples/terminals.csv (kpps-revoked revoked), gets exactly the outcome and reason documented for it;
tools/make_examples.py makes every file again, byte for byte. tests/integration/test_examples.py sends
them through a broker to a tabulator."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rekap.domain.decode import Authentic, Decoder, RawRecord
from rekap.domain.outcomes import Judgement, judge
from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.revisions import CurrentForm
from rekap.domain.signing import Verifier, read_public_key
from rekap.masterdata.files import read_master_data_folder
from rekap.registration import read_terminals_file
from rekap.resources import sumsel_master_data_dir

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "docs" / "examples"
INDEX = json.loads((EXAMPLES / "examples.json").read_text())
BY_FILE = {example["file"]: example for example in INDEX}
# What no form file can show: a header name that is not UTF-8, a value over the limit, a failed write.
NOT_AS_FILES = {RejectReason.UNREADABLE_RECORD, RejectReason.OVERSIZE, RejectReason.UNSTORABLE_RECORD}
REVOKED = "kpps-revoked"  # registered, then revoked: docs/contract.md says so
MASTER = read_master_data_folder(sumsel_master_data_dir()).master_data()
# The examples' terminals, registered as docs/contract.md says.
TERMINALS = {t.terminal_id: t for t in read_terminals_file(EXAMPLES / "terminals.csv").terminals}
TERMINALS[REVOKED] = dataclasses.replace(TERMINALS[REVOKED], active=False)
DECODER = Decoder(MASTER, TERMINALS)  # a tabulator's, on the shipped master data


def record(name: str) -> RawRecord:
    """The example as a terminal sends it: its key, its exact bytes, its recorded signature."""
    example = BY_FILE[name]
    headers = (("content-type", b"application/json"), ("signature", example["signature"].encode()))
    return RawRecord(example["key"].encode(), (EXAMPLES / name).read_bytes(), headers)


def deciding(name: str) -> CurrentForm | None:
    """The form that decides the example's TPS and contest when it arrives: the one it follows, if any."""
    if not BY_FILE[name]["after"]:
        return None
    before = judged(BY_FILE[name]["after"])
    decoded = before.decoded
    assert isinstance(decoded, Authentic)
    assert before.digest is not None
    return CurrentForm(decoded.tally.revision, before.digest, decoded.authority)


def judged(name: str) -> Judgement:
    """The example judged after the ones it follows (its "after" chain), as the tabulator would."""
    return judge(DECODER.decode(record(name)), deciding(name))


@pytest.mark.parametrize("name", sorted(BY_FILE))
def test_each_example_gets_its_documented_outcome(name: str) -> None:
    judgement = judged(name)
    assert (judgement.outcome.value, judgement.reason.value if judgement.reason else None) == (
        BY_FILE[name]["outcome"], BY_FILE[name]["reason"])  # fmt: skip


def test_the_examples_are_signed_with_the_example_key_which_is_labelled_public() -> None:
    public = read_public_key((EXAMPLES / "example-terminal.pub").read_text())
    verifier = Verifier(public)
    unsigned = [e["file"] for e in INDEX
                if not verifier.verify((EXAMPLES / e["file"]).read_bytes(), e["signature"].encode())]  # fmt: skip
    assert unsigned == ["bad_signature.json"], "only the example of a bad signature is not signed over its bytes"
    for name in ("example-terminal.key", "example-terminal.pub"):
        assert (EXAMPLES / name).read_text().startswith("EXAMPLE KEY, PUBLIC ON PURPOSE")


def test_the_script_makes_every_example_again_byte_for_byte(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "services"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_examples.py"), "--out", str(tmp_path)],
                   check=True, env=env, timeout=60)  # fmt: skip
    made = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    shipped = {p.name: p.read_bytes() for p in EXAMPLES.iterdir() if p.name != "README.md"}
    assert made == shipped


def test_every_reason_code_has_an_example_or_is_said_to_have_none() -> None:
    shown = {example["reason"] for example in INDEX}
    codes = {r.value for r in RejectReason} | {r.value for r in QuarantineReason}
    assert codes - shown == {r.value for r in NOT_AS_FILES}
    contract = (EXAMPLES.parent / "contract.md").read_text()
    assert all(f"`{code}`" in contract for code in codes), "every code is documented"
