"""The example records of docs/examples/: each, signed by the terminal it names, gets exactly the outcome
and reason docs/examples/examples.json (and docs/contract.md) document for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rekap.domain.decode import Authentic, RawRecord
from rekap.domain.outcomes import Judgement, judge
from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.revisions import CurrentForm
from tests.unit.world import World

EXAMPLES = Path(__file__).parents[3] / "docs" / "examples"
INDEX = json.loads((EXAMPLES / "examples.json").read_text())
BY_FILE = {example["file"]: example for example in INDEX}
# What no form file can show: a header name that is not UTF-8, a value over the limit, a failed write.
NOT_AS_FILES = {RejectReason.UNREADABLE_RECORD, RejectReason.OVERSIZE, RejectReason.UNSTORABLE_RECORD}


def judged(world: World, name: str) -> Judgement:
    """The example judged after the ones it follows (its "after" chain), as the tabulator would."""
    example = BY_FILE[name]
    current = None
    if example["after"]:
        before = judged(world, example["after"])
        decoded = before.decoded
        assert isinstance(decoded, Authentic)
        assert before.digest is not None
        current = CurrentForm(decoded.tally.revision, before.digest, decoded.authority)
    value = (EXAMPLES / name).read_bytes()
    signature = world.key(example["signer"]).sign(value)
    record = RawRecord(
        example["key"].encode(), value, (("content-type", b"application/json"), ("signature", signature))
    )
    return judge(world.decoder().decode(record), current)


@pytest.mark.parametrize("name", sorted(BY_FILE))
def test_each_example_gets_its_documented_outcome(world: World, name: str) -> None:
    example = BY_FILE[name]
    judgement = judged(world, name)
    assert (judgement.outcome.value, judgement.reason.value if judgement.reason else None) == (
        example["outcome"], example["reason"])  # fmt: skip


def test_every_reason_code_has_an_example_or_is_said_to_have_none() -> None:
    shown = {example["reason"] for example in INDEX}
    codes = {r.value for r in RejectReason} | {r.value for r in QuarantineReason}
    assert codes - shown == {r.value for r in NOT_AS_FILES}
    contract = (EXAMPLES.parent / "contract.md").read_text()
    assert all(f"`{code}`" in contract for code in codes), "every code is documented"
