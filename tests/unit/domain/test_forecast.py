"""What `rekap publish` foresees before sending: from what the database holds of one form's world (its
TPS, the contests, its terminal, the deciding form), the very judgement a tabulator makes, and one line
saying why a form that would not count is not sent."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from rekap.domain.decode import RawRecord
from rekap.domain.forecast import FormWorld, forecast, refusal
from rekap.domain.masterdata import MasterData
from rekap.domain.reasons import Outcome
from rekap.domain.revisions import Authority, CurrentForm
from rekap.domain.signing import SigningKey
from rekap.domain.tally import TallyV1
from rekap.domain.terminals import Terminal
from tests.unit.contract import test_examples as examples
from tests.unit.world import World


def world_of(world: World, tally: TallyV1, current: CurrentForm | None = None) -> FormWorld:
    return known(world.master, world.terminals, tally, current)


def known(
    master: MasterData, terminals: Mapping[str, Terminal], tally: TallyV1, current: CurrentForm | None
) -> FormWorld:
    """As `rekap publish` reads it: one TPS (if it exists), every contest, one terminal."""
    tps = {tally.tps_id: master.tps[tally.tps_id]} if tally.tps_id in master.tps else {}
    return FormWorld(MasterData(tps, master.contests), terminals.get(tally.terminal_id), current)


def record(value: bytes, key: SigningKey, record_key: str) -> RawRecord:
    return RawRecord(
        record_key.encode(), value, (("content-type", b"application/json"), ("signature", key.sign(value)))
    )


@pytest.mark.parametrize("name", [n for n, e in sorted(examples.BY_FILE.items()) if e["outcome"] != "rejected"
                                  or e["reason"] not in ("malformed_json", "schema_violation", "duplicate_key")])  # fmt: skip
def test_the_forecast_is_the_tabulator_s_judgement_of_every_example(name: str) -> None:
    sent = examples.record(name)
    assert sent.value is not None
    tally = TallyV1.model_validate_json(sent.value)
    form_world = known(examples.MASTER, examples.TERMINALS, tally, examples.deciding(name))
    foreseen = forecast(sent, form_world)
    judged = examples.judged(name)
    assert (foreseen.outcome, foreseen.reason) == (judged.outcome, judged.reason)
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
