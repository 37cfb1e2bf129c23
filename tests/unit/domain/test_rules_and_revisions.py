"""The arithmetic rules one by one, and the revision rules of corrections."""

from __future__ import annotations

import pytest

from rekap.domain.outcomes import judge
from rekap.domain.reasons import QuarantineReason
from rekap.domain.revisions import (
    MAX_REVISION_STEP,
    Authority,
    CurrentForm,
    RevisionVerdict,
    is_revision_jump,
    judge_revision,
)
from rekap.domain.rules import arithmetic_problems
from rekap.domain.tally import MAX_REVISION, TallyV1
from rekap.simulation.forms import encode
from tests.unit.world import TPS_A, World, changed


def tally(world: World, *edits: tuple[str, object]) -> TallyV1:
    form = world.form(TPS_A)
    for path, value in edits:
        form = changed(form, path, value)
    return TallyV1.model_validate_json(encode(form))


def test_a_consistent_form_breaks_no_rule(world: World) -> None:
    assert arithmetic_problems(tally(world)) == ()


def test_registered_voters_at_the_cap_are_allowed(world: World) -> None:
    t = tally(world, ("voters.registered", {"male": 300, "female": 300}))
    assert QuarantineReason.REGISTERED_EXCEEDS_CAPACITY not in arithmetic_problems(t)


def test_one_over_the_cap_is_held(world: World) -> None:
    t = tally(world, ("voters.registered", {"male": 301, "female": 300}))
    assert arithmetic_problems(t) == (QuarantineReason.REGISTERED_EXCEEDS_CAPACITY,)


@pytest.mark.parametrize("sex", ["male", "female"])
def test_dpt_voters_above_registered_are_held_per_sex(world: World, sex: str) -> None:
    base = tally(world)
    voted = getattr(base.voters.voted.dpt, sex)
    t = tally(world, (f"voters.registered.{sex}", voted - 1))
    assert arithmetic_problems(t) == (QuarantineReason.VOTED_EXCEEDS_REGISTERED,)


def test_kolom_kosong_votes_count_towards_valid(world: World) -> None:
    t = tally(world, ("contest_id", "pkwkk-1601"), ("votes", {"1": 1, "kolom_kosong": 0}))
    assert QuarantineReason.VOTES_SUM_NE_VALID in arithmetic_problems(t)


DIGEST, OTHER = b"a" * 32, b"b" * 32


@pytest.mark.parametrize(
    ("current", "revision", "digest", "verdict"),
    [
        (None, 1, DIGEST, RevisionVerdict.NEWER),
        (None, 7, DIGEST, RevisionVerdict.NEWER),  # revisions may skip numbers
        (CurrentForm(1, DIGEST), 2, OTHER, RevisionVerdict.NEWER),
        (CurrentForm(1, DIGEST), 5, DIGEST, RevisionVerdict.NEWER),  # same numbers, new revision: replaces
        (CurrentForm(2, DIGEST), 2, DIGEST, RevisionVerdict.DUPLICATE),
        (CurrentForm(2, DIGEST), 2, OTHER, RevisionVerdict.CONFLICT),
        (CurrentForm(2, DIGEST), 1, DIGEST, RevisionVerdict.STALE),
        (CurrentForm(2, DIGEST), 1, OTHER, RevisionVerdict.STALE),
    ],
)
def test_revision_rules(current: CurrentForm | None, revision: int, digest: bytes, verdict: RevisionVerdict) -> None:
    assert judge_revision(current, revision, digest) is verdict


def test_content_digest_ignores_identity_fields_but_not_numbers(world: World) -> None:
    base = tally(world)
    resent = tally(world, ("submission_id", "00000000-0000-4000-8000-000000000000"),
                   ("submitted_at", "2024-11-27T20:00:00+07:00"), ("terminal_id", "ppk-167101"))  # fmt: skip
    corrected = tally(world, ("invalid", base.invalid + 1))
    assert resent.content_digest() == base.content_digest()
    assert corrected.content_digest() != base.content_digest()


def test_content_digest_does_not_depend_on_key_order(world: World) -> None:
    form = world.form(TPS_A)
    reordered = dict(reversed(list(form.items())))
    reordered["votes"] = dict(reversed(list(form["votes"].items())))
    a = TallyV1.model_validate_json(encode(form))
    b = TallyV1.model_validate_json(encode(reordered))
    assert a.content_digest() == b.content_digest()


# -- who may supersede whom (issue 9): no KPPS terminal can lock its TPS -----------------------------


def test_a_ppk_form_supersedes_any_kpps_revision_and_the_kpps_cannot_take_it_back() -> None:
    locked = CurrentForm(MAX_REVISION, b"a", Authority.KPPS)
    assert judge_revision(locked, 1, b"b", Authority.PPK) is RevisionVerdict.NEWER
    ppk = CurrentForm(1, b"b", Authority.PPK)
    assert judge_revision(ppk, MAX_REVISION, b"c", Authority.KPPS) is RevisionVerdict.STALE
    assert judge_revision(ppk, 2, b"c", Authority.PPK) is RevisionVerdict.NEWER


@pytest.mark.parametrize(
    ("current", "revision", "jump"),
    [
        (None, MAX_REVISION_STEP, False),
        (None, MAX_REVISION_STEP + 1, True),
        (CurrentForm(5, b"", Authority.KPPS), 5 + MAX_REVISION_STEP, False),
        (CurrentForm(5, b"", Authority.KPPS), 6 + MAX_REVISION_STEP, True),
        (CurrentForm(500, b"", Authority.PPK), 2, False),  # a KPPS after a PPK: counted from 0 (and stale)
    ],
)
def test_an_implausible_revision_jump_is_flagged(current: CurrentForm | None, revision: int, jump: bool) -> None:
    assert is_revision_jump(current, revision, Authority.KPPS) is jump


def test_a_jump_is_held_and_then_the_ppk_corrects_it(world: World) -> None:
    form = changed(world.form(TPS_A), "revision", MAX_REVISION)
    held = judge(world.decoder().decode(world.record(form)), None)
    assert (held.outcome, held.reason, held.problems) == (
        "quarantined",
        "revision_jump",
        (QuarantineReason.REVISION_JUMP,),
    )
    correction = changed(changed(world.form(TPS_A), "terminal_id", "ppk-167101"), "revision", 1)
    decoded = world.decoder().decode(world.record(correction))
    current = CurrentForm(MAX_REVISION, held.digest or b"", Authority.KPPS)
    assert judge(decoded, current).outcome == "accepted"
