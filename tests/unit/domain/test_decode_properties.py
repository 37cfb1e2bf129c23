"""Properties of the decoder over generated forms and generated garbage (hypothesis)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekap.domain.decode import Authentic, RawRecord, Rejected
from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.regions import Tps
from rekap.simulation.forms import Form, consistent_form, encode
from tests.unit.world import GOVERNOR, MAYOR, TPS_A, World, changed

FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)

registered = st.integers(min_value=0, max_value=300)
tps_a_variants = st.builds(lambda m, f: Tps(TPS_A.tps_id, m, f), registered, registered)
contests = st.sampled_from([GOVERNOR, MAYOR])
seeds = st.integers(min_value=0, max_value=2**32)


def valid_form(world: World, tps: Tps, contest: Any, seed: int) -> Form:
    return consistent_form(tps, contest, random.Random(seed))


@FIXTURE_OK
@given(tps=tps_a_variants, contest=contests, seed=seeds)
def test_generated_valid_forms_are_counted(world: World, tps: Tps, contest: Any, seed: int) -> None:
    decoded = world.with_tps(tps).decoder().decode(world.record(valid_form(world, tps, contest, seed)))
    assert isinstance(decoded, Authentic), decoded
    assert decoded.problems == ()


Corruption = tuple[Callable[[Form], Form], RejectReason | QuarantineReason]


def bump(path: str, by: int) -> Callable[[Form], Form]:
    def apply(form: Form) -> Form:
        target = form
        for part in path.split("."):
            target = target[part]
        return changed(form, path, target + by)  # type: ignore[operator]

    return apply


CORRUPTIONS: list[Corruption] = [
    (lambda f: changed(f, "extra", 1), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "valid", ...), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "valid", str(f["valid"])), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "invalid", -1), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "ballots.unused", 10_000), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "voters.registered.other", 0), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "schema", "tally/v0"), RejectReason.SCHEMA_VIOLATION),
    (lambda f: changed(f, "tps_id", "1671011001999"), RejectReason.KEY_MISMATCH),
    (lambda f: changed(f, "contest_id", "pkwkk-1699"), RejectReason.UNKNOWN_CONTEST),
    (lambda f: changed(f, "contest_id", "pkwkk-1601"), RejectReason.CONTEST_NOT_AT_TPS),
    (lambda f: changed(f, "votes.9", 0), RejectReason.BAD_CHOICES),
    (lambda f: changed(f, "votes.1", ...), RejectReason.BAD_CHOICES),
    (lambda f: changed(f, "terminal_id", "kpps-0000000000000"), RejectReason.UNKNOWN_TERMINAL),
    (lambda f: changed(f, "terminal_id", "kpps-revoked"), RejectReason.TERMINAL_NOT_AUTHORIZED),
    (bump("votes.1", 1), QuarantineReason.VOTES_SUM_NE_VALID),
    (bump("invalid", 1), QuarantineReason.VALID_INVALID_NE_USED),
    (bump("voters.voted.moved_in.female", 1), QuarantineReason.USED_NE_VOTED),
    (bump("ballots.damaged", 1), QuarantineReason.BALLOTS_UNBALANCED),
]


@FIXTURE_OK
@given(tps=tps_a_variants, contest=contests, seed=seeds, corruption=st.sampled_from(CORRUPTIONS))
def test_each_single_corruption_gets_its_reason(
    world: World, tps: Tps, contest: Any, seed: int, corruption: Corruption
) -> None:
    corrupt, expected = corruption
    form = corrupt(valid_form(world, tps, contest, seed))
    # The corrupted form is signed by the terminal it names, as a buggy (not forged) terminal would.
    # The key stays the terminal's own TPS, whatever the body says.
    signed = world.record(form, signer=str(form["terminal_id"]))
    decoded = world.with_tps(tps).decoder().decode(RawRecord(TPS_A.tps_id.encode(), signed.value, signed.headers))
    if isinstance(expected, RejectReason):
        assert isinstance(decoded, Rejected), decoded
        assert decoded.reason is expected, decoded
    else:
        assert isinstance(decoded, Authentic), decoded
        assert decoded.problems == (expected,)


@FIXTURE_OK
@given(seed=seeds, position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_no_changed_byte_of_a_signed_form_is_ever_counted(world: World, seed: int, position: int, flip: int) -> None:
    record = world.record(valid_form(world, TPS_A, GOVERNOR, seed))
    assert record.value is not None
    value = bytearray(record.value)
    value[position % len(value)] ^= flip
    decoded = world.decoder().decode(RawRecord(record.key, bytes(value), record.headers))
    assert isinstance(decoded, Rejected)


headers = st.lists(st.tuples(st.sampled_from(["signature", "content-type", "x"]), st.binary(max_size=100)), max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


@FIXTURE_OK
@given(key=st.none() | st.binary(max_size=20), value=st.none() | st.binary(max_size=2000), headers=headers)
def test_arbitrary_bytes_never_raise(world: World, key: bytes | None, value: bytes | None, headers: Any) -> None:
    assert isinstance(world.decoder().decode(RawRecord(key, value, headers)), Rejected)


@FIXTURE_OK
@given(document=json_values, headers=headers)
def test_arbitrary_json_never_raises(world: World, document: Any, headers: Any) -> None:
    value = json.dumps(document).encode()
    assert isinstance(world.decoder().decode(RawRecord(b"1671011001003", value, headers)), Rejected)


@FIXTURE_OK
@given(seed=seeds, path=st.sampled_from(["votes", "voters", "ballots", "voters.voted", "revision", "valid", "photos"]),
       replacement=json_values)  # fmt: skip
def test_any_value_in_any_field_never_raises(world: World, seed: int, path: str, replacement: Any) -> None:
    form = changed(valid_form(world, TPS_A, GOVERNOR, seed), path, replacement)
    decoded = world.decoder().decode(world.record(form))
    assert isinstance(decoded, Rejected | Authentic)
    assert encode(form)  # the form itself was encodable: the decoder saw real JSON
