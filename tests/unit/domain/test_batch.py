"""tabulate(): outcomes in order, the deciding forms, and totals that move by exactly the difference."""

from __future__ import annotations

import random

from rekap.adapters.kafka.deadletters import copy_of
from rekap.domain.batch import ConsumedRecord, FormState, RecordOutcome, TotalsChange, decode_all, form_keys, tabulate
from rekap.domain.decode import Decoder, Rejected
from rekap.domain.ledger import Basis
from rekap.domain.outcomes import judge
from rekap.domain.reasons import RejectReason
from rekap.simulation.forms import Form, encode
from tests.unit.world import GOVERNOR, TPS_A, TPS_B, World, changed

BASIS = Basis(registry_size=0, judged_at_ms=0)


def consumed(world: World, form: Form, offset: int, partition: int = 0) -> ConsumedRecord:
    record = world.record(form)
    return ConsumedRecord("tallies", partition, offset, 0, record.key, record.value, record.headers)


def run(decoder: Decoder, records: list[ConsumedRecord], current: dict[tuple[str, str], FormState] | None = None):  # type: ignore[no-untyped-def]
    return tabulate(decode_all(decoder, records), current or {})


def test_a_first_form_is_counted_whole(world: World) -> None:
    form = world.form(TPS_A, GOVERNOR)
    changes = run(world.decoder(), [consumed(world, form, 0)])
    assert [o.judgement.outcome for o in changes.outcomes] == ["accepted"]
    change = changes.totals[("pkwkp-16", "167101", 0)]
    assert (change.valid, change.invalid, change.ballots_used, change.tps_counted) == (
        form["valid"],
        form["invalid"],
        form["ballots"]["used"],
        1,
    )
    assert change.votes == form["votes"]


def move_vote(form: Form, revision: int) -> Form:
    new = changed(form, "revision", revision)
    new = changed(new, "votes.1", form["votes"]["1"] - 5)
    return changed(new, "votes.2", form["votes"]["2"] + 5)


def test_a_correction_in_the_same_batch_moves_totals_by_the_difference(world: World) -> None:
    first = world.form(TPS_A, GOVERNOR)
    second = move_vote(first, 2)
    changes = run(world.decoder(), [consumed(world, first, 0), consumed(world, second, 1)])
    change = changes.totals[("pkwkp-16", "167101", 0)]
    assert change.votes == second["votes"]
    assert change.tps_counted == 1
    assert changes.forms[(TPS_A.tps_id, "pkwkp-16")].state.revision == 2


def test_a_correction_of_a_stored_form_is_only_the_difference(world: World) -> None:
    first = world.form(TPS_A, GOVERNOR)
    before = run(world.decoder(), [consumed(world, first, 0)])
    stored = {key: new.state for key, new in before.forms.items()}
    changes = run(world.decoder(), [consumed(world, move_vote(first, 2), 1)], stored)
    change = changes.totals[("pkwkp-16", "167101", 0)]
    assert change == TotalsChange(votes={"1": -5, "2": 5, "3": 0})


def test_holding_and_releasing_a_form(world: World) -> None:
    good = world.form(TPS_A, GOVERNOR)
    held = changed(changed(good, "revision", 2), "votes.1", good["votes"]["1"] + 500)
    fixed = changed(good, "revision", 3)
    decoder = world.decoder()
    first = run(decoder, [consumed(world, good, 0)])
    stored = {key: new.state for key, new in first.forms.items()}
    hold = run(decoder, [consumed(world, held, 1)], stored)
    change = hold.totals[("pkwkp-16", "167101", 0)]
    assert (change.tps_counted, change.tps_quarantined, change.valid) == (-1, 1, -good["valid"])
    stored = {key: new.state for key, new in hold.forms.items()}
    release = run(decoder, [consumed(world, fixed, 2)], stored)
    change = release.totals[("pkwkp-16", "167101", 0)]
    assert (change.tps_counted, change.tps_quarantined, change.valid) == (1, -1, good["valid"])


def test_records_that_do_not_decide_change_nothing(world: World) -> None:
    form = world.form(TPS_A, GOVERNOR)
    broken = ConsumedRecord("tallies", 0, 3, 0, b"1671011001003", encode(form)[:-1], ())
    changes = run(world.decoder(), [consumed(world, form, 0), consumed(world, form, 1), broken])
    assert [o.judgement.outcome for o in changes.outcomes] == ["accepted", "duplicate", "rejected"]
    assert len(changes.rejected()) == 1
    assert list(changes.totals) == [("pkwkp-16", "167101", 0)]


def test_totals_are_sharded_by_the_partition_that_wrote_them(world: World) -> None:
    a, b = world.form(TPS_A, GOVERNOR), world.form(TPS_B, GOVERNOR, seed=random.Random(3).randint(0, 99))
    changes = run(world.decoder(), [consumed(world, a, 0, partition=2), consumed(world, b, 0, partition=5)])
    assert set(changes.totals) == {("pkwkp-16", "167101", 2), ("pkwkp-16", "160107", 5)}
    assert form_keys(world.decoder().decode(consumed(world, f, 0).raw) for f in (a, b)) == {
        (TPS_A.tps_id, "pkwkp-16"),
        (TPS_B.tps_id, "pkwkp-16"),
    }


def test_a_dead_letter_carries_the_reason_and_is_never_oversize(world: World) -> None:
    huge = b"{" + b" " * 100_000 + b"}"
    record = ConsumedRecord("tallies", 1, 9, 0, b"1671011001003", huge, (("signature", b"x"),))
    changes = run(world.decoder(), [record])
    key, value, headers = copy_of(changes.rejected()[0])
    assert key == b"1671011001003"
    assert value == huge[:65536]
    assert dict(headers) == {
        "signature": b"x",
        "rekap-reason": b"oversize",
        "rekap-detail": b"100002 bytes, at most 65536",
        "rekap-source": b"tallies/1/9",
        "rekap-truncated": b"100002",
    }


def test_a_dead_letter_copy_fits_whatever_the_key_and_headers() -> None:
    """A record near the broker's 1 MiB limit in key and headers: its copy stays far below it."""
    headers = [(f"h{n}", b"v" * 100_000) for n in range(8)] + [("bad-\udcff", b"x"), ("nul\x00name", None)]
    record = ConsumedRecord("tallies", 0, 3, 0, b"k" * 200_000, b"{}" * 40_000, tuple(headers))
    rejected = RecordOutcome(record, judge(Rejected(RejectReason.MALFORMED_JSON, "no"), None), BASIS, b"")
    key, value, copied = copy_of(rejected)
    size = len(key or b"") + len(value or b"") + sum(len(n.encode()) + len(v or b"") for n, v in copied)
    assert size < 90 * 1024
    named = dict(copied)
    assert named["rekap-truncated-key"] == b"200000"
    assert named["rekap-truncated"] == b"80000"
    assert named["rekap-omitted-headers"] == b"9", "the eight big ones and the name that is not UTF-8"
    assert ("nul\x00name", None) in copied, "a NUL in a name and a null value travel as they are"


def test_the_copy_of_an_unstorable_record_carries_none_of_its_headers() -> None:
    record = ConsumedRecord("tallies", 0, 4, 0, b"k", b"{}", (("x", b"y"),))
    outcome = RecordOutcome(record, judge(Rejected(RejectReason.UNSTORABLE_RECORD, "refused"), None), BASIS, b"")
    _, _, copied = copy_of(outcome)
    assert [name for name, _ in copied] == ["rekap-reason", "rekap-detail", "rekap-source", "rekap-omitted-headers"]


def test_a_detail_is_always_printable_text() -> None:
    outcome = RecordOutcome(
        ConsumedRecord("t", 0, 0, 0, None, None),
        judge(Rejected(RejectReason.SCHEMA_VIOLATION, "votes.\x00: \udc80" + "x" * 900), None),
        BASIS,
        b"",
    )
    detail = outcome.detail
    assert detail is not None
    assert detail.startswith("votes.\\x00: \\udc80")
    assert detail.isprintable()
    assert len(detail) <= 500
    detail.encode()  # no lone surrogate left
