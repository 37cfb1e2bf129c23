"""What `rekap publish` foresees before sending: from what the database holds of one form's world (its
TPS, the contests, its terminal, the deciding form), the very judgement a tabulator makes, and one line
saying why a form that would not count is not sent."""

from __future__ import annotations

import json

import pytest

from rekap.domain.decode import Authentic, RawRecord
from rekap.domain.forecast import FormWorld, forecast, refusal
from rekap.domain.masterdata import MasterData
from rekap.domain.reasons import Outcome
from rekap.domain.revisions import Authority, CurrentForm
from rekap.domain.signing import SigningKey
from rekap.domain.tally import TallyV1
from tests.unit.contract.test_examples import BY_FILE, EXAMPLES, judged
from tests.unit.world import World


def world_of(world: World, tally: TallyV1, current: CurrentForm | None = None) -> FormWorld:
    """As `rekap publish` reads it: one TPS (if it exists), every contest, one terminal."""
    tps = {tally.tps_id: world.master.tps[tally.tps_id]} if tally.tps_id in world.master.tps else {}
    return FormWorld(MasterData(tps, world.master.contests), world.terminals.get(tally.terminal_id), current)


def record(value: bytes, key: SigningKey, record_key: str) -> RawRecord:
    return RawRecord(
        record_key.encode(), value, (("content-type", b"application/json"), ("signature", key.sign(value)))
    )


@pytest.mark.parametrize("name", [n for n in sorted(BY_FILE) if BY_FILE[n]["outcome"] != "rejected"
                                  or BY_FILE[n]["reason"] not in ("malformed_json", "schema_violation", "duplicate_key")])  # fmt: skip
def test_the_forecast_is_the_tabulator_s_judgement_of_every_example(world: World, name: str) -> None:
    example = BY_FILE[name]
    value = (EXAMPLES / name).read_bytes()
    tally = TallyV1.model_validate_json(value)
    current = None
    if example["after"]:
        before = judged(world, example["after"])
        assert isinstance(before.decoded, Authentic)
        assert before.digest is not None
        current = CurrentForm(before.decoded.tally.revision, before.digest, before.decoded.authority)
    form_world = world_of(world, tally, current)
    foreseen = forecast(record(value, world.key(example["signer"]), example["key"]), form_world)
    assert (foreseen.outcome, foreseen.reason) == (judged(world, name).outcome, judged(world, name).reason)
    said = refusal(foreseen, form_world, tally)
    assert (said is None) == (foreseen.outcome is Outcome.ACCEPTED)
    if said is not None and foreseen.reason is not None:
        assert foreseen.reason.value in said or "bad_signature" in said


def test_a_key_that_is_not_the_registered_one_is_named(world: World) -> None:
    form = world.form()
    value = json.dumps(form).encode()
    tally = TallyV1.model_validate_json(value)
    form_world = world_of(world, tally)
    said = refusal(forecast(record(value, SigningKey.generate(), tally.tps_id), form_world), form_world, tally)
    assert said == f"the key is not the one registered for {tally.terminal_id}: it would be rejected (bad_signature)"


def test_a_held_form_is_refused_with_its_own_numbers(world: World) -> None:
    form = world.form()
    body = {**form, "valid": form["valid"] + 7}
    value = json.dumps(body).encode()
    tally = TallyV1.model_validate_json(value)
    form_world = world_of(world, tally)
    said = refusal(forecast(record(value, world.key(tally.terminal_id), tally.tps_id), form_world), form_world, tally)
    assert said is not None
    assert said.startswith("it would be held for review, not counted: votes_sum_ne_valid: ")
    assert f"valid says {body['valid']}" in said


def test_a_form_already_counted_and_an_older_revision_are_refused(world: World) -> None:
    form = world.form()
    value = json.dumps(form).encode()
    tally = TallyV1.model_validate_json(value)
    signed = record(value, world.key(tally.terminal_id), tally.tps_id)
    same = world_of(world, tally, CurrentForm(tally.revision, tally.content_digest()))
    assert refusal(forecast(signed, same), same, tally) == (
        f"revision {tally.revision} of TPS {tally.tps_id} {tally.contest_id} is counted already, with these "
        "numbers: nothing would change"
    )
    corrected = world_of(world, tally, CurrentForm(2, b"other", Authority.PPK))
    said = refusal(forecast(signed, corrected), corrected, tally)
    assert said == (
        f"TPS {tally.tps_id} {tally.contest_id} is decided by revision 2 (a PPK's correction): revision "
        f"{tally.revision} would not count"
    )
