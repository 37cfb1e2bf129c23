"""The contract, record by record, in raw bytes as another vendor's terminal would send them."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from rekap.domain.decode import MAX_VALUE_BYTES, Authentic, Decoder, RawRecord, Rejected
from rekap.domain.outcomes import judge
from rekap.domain.reasons import Outcome, QuarantineReason, RejectReason
from rekap.domain.regions import Tps
from rekap.domain.revisions import CurrentForm
from tests.unit.world import TPS_A, TPS_B, World

# The example of docs/contract.md, byte for byte: the page a vendor reads is the form the tests decode.
CONTRACT = Path(__file__).parents[3] / "docs" / "contract.md"
EXAMPLE = re.search(r"```json\n(.*?)\n```", CONTRACT.read_text(), re.DOTALL).group(1).encode()  # type: ignore[union-attr]
TERMINAL = "kpps-1671011001003"


def raw(world: World, value: bytes | None, *, key: bytes | None = b"1671011001003", signer: str = TERMINAL,
        headers: list[tuple[str, bytes]] | None = None) -> RawRecord:  # fmt: skip
    if headers is None:
        signature = world.key(signer).sign(value or b"")
        headers = [("content-type", b"application/json"), ("signature", signature)]
    return RawRecord(key=key, value=value, headers=headers)


def edit(old: bytes, new: bytes, text: bytes = EXAMPLE) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1)


def reason(world: World, record: RawRecord) -> RejectReason | tuple[QuarantineReason, ...]:
    decoded = world.decoder().decode(record)
    return decoded.reason if isinstance(decoded, Rejected) else decoded.problems


def test_the_contract_example_is_counted(world: World) -> None:
    decoded = world.decoder().decode(raw(world, EXAMPLE))
    assert isinstance(decoded, Authentic)
    assert decoded.problems == ()
    assert decoded.tally.votes == {"1": 181, "2": 92, "3": 61}
    assert decoded.tps == TPS_A


def test_the_content_type_header_is_optional(world: World) -> None:
    signature = world.key(TERMINAL).sign(EXAMPLE)
    assert reason(world, raw(world, EXAMPLE, headers=[("signature", signature)])) == ()


def test_a_value_of_exactly_64_kib_is_read(world: World) -> None:
    padded = EXAMPLE[:-1] + b" " * (MAX_VALUE_BYTES - len(EXAMPLE)) + b"}"
    assert len(padded) == MAX_VALUE_BYTES
    assert reason(world, raw(world, padded)) == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EXAMPLE[:-1] + b" " * (MAX_VALUE_BYTES - len(EXAMPLE) + 1) + b"}", RejectReason.OVERSIZE),
        (EXAMPLE[:-2], RejectReason.MALFORMED_JSON),
        (b"", RejectReason.MALFORMED_JSON),
        (None, RejectReason.MALFORMED_JSON),
        (b"\xff\xfe" + EXAMPLE, RejectReason.MALFORMED_JSON),
        (b'{"schema": "\xc3\x28"}', RejectReason.MALFORMED_JSON),  # not UTF-8
        (EXAMPLE + b" trailing", RejectReason.MALFORMED_JSON),
        (b"[" + EXAMPLE + b"]", RejectReason.SCHEMA_VIOLATION),
        (b"42", RejectReason.SCHEMA_VIOLATION),
        (edit(b'"invalid": 25', b'"invalid": 25, "notes": "x"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"damaged": 2,', b'"damaged": 2, "spoilt": 0,'), RejectReason.SCHEMA_VIOLATION),
        (edit(b',\n  "invalid": 25', b""), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"1": 181', b'"1": "181"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"1": 181', b'"1": 181.0'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"invalid": 25', b'"invalid": true'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"invalid": 25', b'"invalid": -25'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"invalid": 25', b'"invalid": 10000'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"invalid": 25', b'"invalid": null'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"tally/v1"', b'"tally/v2"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"revision": 1', b'"revision": 0'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"revision": 1', b'"revision": 2147483648'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"2024-11-27T14:05:31+07:00"', b'"2024-11-27T14:05:31"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77"', b'"not-a-uuid"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"tps_id": "1671011001003"', b'"tps_id": "167101100100"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"contest_id": "pkwkp-16"', b'"contest_id": "pilgub-16"'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"1": 181', b'"01": 181'), RejectReason.SCHEMA_VIOLATION),
        (edit(b'{"1": 181, "2": 92, "3": 61}', b"{}"), RejectReason.SCHEMA_VIOLATION),
        (edit(b'"terminal_id": "kpps-1671011001003"', b'"terminal_id": "KPPS 1"'), RejectReason.SCHEMA_VIOLATION),
    ],
    ids=lambda v: None if isinstance(v, RejectReason) else repr(v)[-40:] if v else repr(v),
)
def test_unreadable_records_are_rejected(world: World, value: bytes | None, expected: RejectReason) -> None:
    assert reason(world, raw(world, value)) == expected


def test_another_content_type_is_rejected(world: World) -> None:
    signature = world.key(TERMINAL).sign(EXAMPLE)
    headers = [("content-type", b"text/plain"), ("signature", signature)]
    assert reason(world, raw(world, EXAMPLE, headers=headers)) == RejectReason.SCHEMA_VIOLATION


@pytest.mark.parametrize("key", [b"1601072001001", b"", None, b"\xff"])
def test_the_key_must_be_the_tps_id(world: World, key: bytes | None) -> None:
    assert reason(world, raw(world, EXAMPLE, key=key)) == RejectReason.KEY_MISMATCH


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        (edit(b'"tps_id": "1671011001003"', b'"tps_id": "1671011001999"'), b"1671011001999", RejectReason.UNKNOWN_TPS),
        (edit(b'"pkwkp-16"', b'"pkwkk-1699"'), b"1671011001003", RejectReason.UNKNOWN_CONTEST),
        (edit(b'"pkwkp-16"', b'"pkwkk-1601"'), b"1671011001003", RejectReason.CONTEST_NOT_AT_TPS),
        (edit(b'"pkwkp-16"', b'"pkwkp-17"'), b"1671011001003", RejectReason.CONTEST_NOT_AT_TPS),
        (edit(b', "3": 61', b""), b"1671011001003", RejectReason.BAD_CHOICES),
        (edit(b'"3": 61', b'"3": 61, "4": 0'), b"1671011001003", RejectReason.BAD_CHOICES),
        (edit(b'"3": 61', b'"kolom_kosong": 61'), b"1671011001003", RejectReason.BAD_CHOICES),
    ],
)
def test_records_that_do_not_fit_the_master_data(
    world: World, value: bytes, key: bytes, expected: RejectReason
) -> None:
    assert reason(world, raw(world, value, key=key)) == expected


def test_an_unknown_terminal_is_rejected(world: World) -> None:
    value = edit(b'"kpps-1671011001003"', b'"kpps-1671011001004"')
    assert reason(world, raw(world, value, signer="kpps-1671011001004")) == RejectReason.UNKNOWN_TERMINAL


def test_a_terminal_out_of_its_scope_is_rejected(world: World) -> None:
    other = f"kpps-{TPS_B.tps_id}"
    value = edit(b'"kpps-1671011001003"', b'"' + other.encode() + b'"')
    assert reason(world, raw(world, value, signer=other)) == RejectReason.TERMINAL_NOT_AUTHORIZED


def test_a_revoked_terminal_is_rejected(world: World) -> None:
    value = edit(b'"kpps-1671011001003"', b'"kpps-revoked"')
    assert reason(world, raw(world, value, signer="kpps-revoked")) == RejectReason.TERMINAL_NOT_AUTHORIZED


def test_a_ppk_operator_may_submit_for_any_tps_of_the_kecamatan(world: World) -> None:
    value = edit(b'"kpps-1671011001003"', b'"ppk-167101"')
    assert reason(world, raw(world, value, signer="ppk-167101")) == ()


def test_a_ppk_operator_may_not_submit_for_another_kecamatan(world: World) -> None:
    form = world.form(TPS_B)
    form["terminal_id"] = "ppk-167101"
    assert reason(world, world.record(form)) == RejectReason.TERMINAL_NOT_AUTHORIZED


@pytest.mark.parametrize(
    "signature",
    [
        None,
        b"",
        b"not base64!",
        b"AAAA",  # valid base64, 3 bytes
        b"A" * 86,  # 64 bytes without padding
    ],
)
def test_missing_or_broken_signatures_are_rejected(world: World, signature: bytes | None) -> None:
    headers = [("content-type", b"application/json")]
    if signature is not None:
        headers.append(("signature", signature))
    assert reason(world, raw(world, EXAMPLE, headers=headers)) == RejectReason.BAD_SIGNATURE


def test_a_forged_signature_is_rejected(world: World) -> None:
    # signed by another (registered) terminal's key, claiming to be the TPS's own terminal
    assert reason(world, raw(world, EXAMPLE, signer="ppk-167101")) == RejectReason.BAD_SIGNATURE


def test_a_signature_covers_the_exact_bytes(world: World) -> None:
    signature = world.key(TERMINAL).sign(EXAMPLE)
    reformatted = EXAMPLE.replace(b"\n", b"\r\n")  # the same JSON, other bytes
    headers = [("signature", signature)]
    assert reason(world, raw(world, reformatted, headers=headers)) == RejectReason.BAD_SIGNATURE


def test_a_changed_number_breaks_the_signature(world: World) -> None:
    signature = world.key(TERMINAL).sign(EXAMPLE)
    inflated = edit(b'"1": 181', b'"1": 681')  # Sirekap read 117 as 617
    record = RawRecord(b"1671011001003", inflated, [("signature", signature)])
    assert reason(world, record) == RejectReason.BAD_SIGNATURE


def test_without_verification_the_signature_is_not_read(world: World) -> None:
    record = raw(world, EXAMPLE, headers=[])
    assert isinstance(world.decoder(verify_signatures=False).decode(record), Authentic)
    assert isinstance(world.decoder().decode(record), Rejected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b'"1": 181', b'"1": 180', QuarantineReason.VOTES_SUM_NE_VALID),
        (b'"invalid": 25', b'"invalid": 26', QuarantineReason.VALID_INVALID_NE_USED),
        (b'"added":    {"male": 3', b'"added":    {"male": 4', QuarantineReason.USED_NE_VOTED),
        (b'"received": 588', b'"received": 589', QuarantineReason.BALLOTS_UNBALANCED),
        (b'"registered": {"male": 300', b'"registered": {"male": 169', QuarantineReason.VOTED_EXCEEDS_REGISTERED),
        (b'"registered": {"male": 300', b'"registered": {"male": 328', QuarantineReason.REGISTERED_EXCEEDS_CAPACITY),
    ],
)
def test_authentic_forms_that_do_not_add_up_are_held(
    world: World, old: bytes, new: bytes, expected: QuarantineReason
) -> None:
    value = edit(old, new)
    registered = json.loads(value)["voters"]["registered"]
    as_registered = world.with_tps(Tps(TPS_A.tps_id, registered["male"], registered["female"]))  # the DPT agrees
    assert reason(as_registered, raw(world, value)) == (expected,)


def test_registered_voters_other_than_the_master_data_are_held(world: World) -> None:
    value = edit(b'"registered": {"male": 300', b'"registered": {"male": 310')
    assert reason(world, raw(world, value)) == (QuarantineReason.REGISTERED_NE_MASTER_DATA,)


def test_a_form_from_the_future_is_held_beyond_the_clock_skew(world: World) -> None:
    submitted = datetime.fromisoformat("2024-11-27T14:05:31+07:00").timestamp()
    record = raw(world, EXAMPLE)
    within = Decoder(world.master, world.terminals, clock=lambda: submitted - 299, max_clock_skew_s=300)
    beyond = Decoder(world.master, world.terminals, clock=lambda: submitted - 301, max_clock_skew_s=300)
    assert within.decode(record).problems == ()  # type: ignore[union-attr]
    assert beyond.decode(record).problems == (QuarantineReason.SUBMITTED_IN_FUTURE,)  # type: ignore[union-attr]


def test_every_broken_rule_is_listed_in_order(world: World) -> None:
    value = edit(b'"received": 588', b'"received": 589', edit(b'"1": 181', b'"1": 180'))
    assert reason(world, raw(world, value)) == (
        QuarantineReason.VOTES_SUM_NE_VALID,
        QuarantineReason.BALLOTS_UNBALANCED,
    )


def test_a_sequence_of_raw_records_gets_one_outcome_each(world: World) -> None:
    """Corrections, duplicates, stale and conflicting revisions, in the order a partition delivers them."""
    current: dict[tuple[str, str], CurrentForm] = {}

    def outcome(value: bytes) -> tuple[Outcome, str | None]:
        judgement = judge(world.decoder().decode(raw(world, value)), current.get(("1671011001003", "pkwkp-16")))
        if judgement.becomes_current:
            tally = judgement.decoded.tally  # type: ignore[union-attr]
            assert judgement.digest is not None
            current[(tally.tps_id, tally.contest_id)] = CurrentForm(tally.revision, judgement.digest)
        return judgement.outcome, judgement.reason

    def edits(text: bytes, *changes: tuple[bytes, bytes]) -> bytes:
        for old, new in changes:
            text = edit(old, new, text)
        return text

    revision_2 = edits(
        EXAMPLE, (b'"revision": 1', b'"revision": 2'), (b'"1": 181', b'"1": 180'), (b'"valid": 334', b'"valid": 333'),
        (b'"invalid": 25', b'"invalid": 26'),
    )  # fmt: skip
    revision_2_again = edit(b'"6f1c2d0e-3b7a', b'"11111111-3b7a', revision_2)  # new submission id, same numbers
    revision_2_other = edits(revision_2, (b'"2": 92', b'"2": 91'), (b'"valid": 333', b'"valid": 332'),
                             (b'"invalid": 26', b'"invalid": 27'))  # fmt: skip
    revision_3_held = edits(revision_2, (b'"revision": 2', b'"revision": 3'), (b'"2": 92', b'"2": 93'))
    assert [
        outcome(v)
        for v in (
            EXAMPLE,
            EXAMPLE,
            revision_2,
            EXAMPLE,
            revision_2_again,
            revision_2_other,
            revision_3_held,
            revision_2,
            EXAMPLE[:-1],
        )
    ] == [
        (Outcome.ACCEPTED, None),
        (Outcome.DUPLICATE, None),
        (Outcome.ACCEPTED, None),  # the correction replaces revision 1
        (Outcome.STALE, None),
        (Outcome.DUPLICATE, None),
        (Outcome.REJECTED, RejectReason.REVISION_CONFLICT),
        (Outcome.QUARANTINED, QuarantineReason.VOTES_SUM_NE_VALID),
        (Outcome.STALE, None),  # revision 3 decides now, though it is held
        (Outcome.REJECTED, RejectReason.MALFORMED_JSON),
    ]
    assert current[("1671011001003", "pkwkp-16")].revision == 3


# -- hostile records (issue 9): each gets one stable outcome, none raises ---------------------------


def test_a_header_name_that_was_not_utf8_is_an_unreadable_record(world: World) -> None:
    record = raw(world, EXAMPLE)
    hostile = RawRecord(
        record.key, record.value, [*record.headers, (b"x-\xff\xfe".decode("utf-8", "surrogateescape"), b"1")]
    )
    decoded = world.decoder().decode(hostile)
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.UNREADABLE_RECORD
    assert "\\xff\\xfe" in decoded.detail


def test_null_header_values_and_nul_in_names_are_harmless(world: World) -> None:
    record = raw(world, EXAMPLE)
    extra = [("x-null", None), ("with\x00nul", b"v"), ("content-type", None)]
    assert isinstance(world.decoder().decode(RawRecord(record.key, record.value, [*extra, *record.headers])), Authentic)
    no_signature = [("content-type", b"application/json"), ("signature", None)]
    assert reason(world, RawRecord(record.key, record.value, no_signature)) is RejectReason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "value",
    [
        edit(b'"valid": 334,', b'"valid": 1, "valid": 334,'),  # pydantic reads the last, another parser the first
        edit(b'"votes": {"1": 181,', b'"votes": {"1": 1, "1": 181,'),
        edit(b'"registered": {"male": 300,', b'"registered": {"male": 0, "male" : 300,'),
        edit(b'"valid": 334,', b'"valid": 334, "val\\u0069d": 334,'),  # the same key, escaped
    ],
)
def test_a_repeated_key_is_rejected_whatever_its_values(world: World, value: bytes) -> None:
    assert reason(world, raw(world, value)) is RejectReason.DUPLICATE_KEY


def test_whitespace_anywhere_is_still_one_form(world: World) -> None:
    spaced = EXAMPLE.replace(b'":', b'"\t\r\n :').replace(b'",', b'" ,')
    assert isinstance(world.decoder().decode(raw(world, spaced)), Authentic)


def test_a_quote_escaped_in_a_string_is_no_way_around(world: World) -> None:
    value = edit(b'"tally/v1"', rb'"tally/v1\\"')  # an escaped backslash at the end: a string, not "tally/v1"
    assert reason(world, raw(world, value)) is RejectReason.SCHEMA_VIOLATION


def test_thousands_of_bogus_votes_keys_are_refused_before_parsing(world: World) -> None:
    bogus = b"".join(b'"%d": 0, ' % n for n in range(5000))
    value = edit(b'"votes": {', b'"votes": {' + bogus)
    decoded = world.decoder().decode(raw(world, value))
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.SCHEMA_VIOLATION
    assert "quotes" in decoded.detail


def test_a_nul_in_a_votes_key_is_a_schema_violation(world: World) -> None:
    assert reason(world, raw(world, edit(b'"votes": {', b'"votes": {"\\u0000": 1, '))) is RejectReason.SCHEMA_VIOLATION
    assert (
        reason(world, raw(world, edit(b'"valid": 334,', b'"\\u0000": 1, "valid": 334,')))
        is RejectReason.SCHEMA_VIOLATION
    )
