"""The arithmetic rules one by one, and the revision rules of corrections."""

from __future__ import annotations

import pytest

from rekap.domain.reasons import QuarantineReason
from rekap.domain.revisions import CurrentForm, RevisionVerdict, judge_revision
from rekap.domain.rules import arithmetic_problems
from rekap.domain.tally import TallyV1
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
