"""The independent verifier (tools/verify_bundle.py) judges a record as Rekap's decoder does, from its own
code: on the fuzz load test's hostile records (random bytes, signed forms mutated byte by byte and field by
field, odd keys and headers) and on every way of writing a time or an id that a parser might read
otherwise, both give the same outcome: the same reason (any "not a form" reason for one is one for the
other), or an authentic form with the same authority and the same broken rules. `make fuzz` runs the same
comparison over 120,000 records."""

from __future__ import annotations

import random

import pytest
from loadtests.fuzz import Fuzzed, Generator, IndependentJudge

from rekap.domain.decode import Authentic, Decoded, Decoder, RawRecord, Rejected
from rekap.domain.reasons import RejectReason
from rekap.domain.signing import SigningKey
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir
from rekap.simulation.forms import Form, consistent_form, encode
from rekap.simulation.night import simulated_terminals
from tests.unit.contract.test_photos import AS_FLOAT, INVALID, SAME_DIGEST, VALID, photo

SECRET = b"independent verifier differential"
DATASET = read_master_data_folder(sumsel_master_data_dir())
NOW_MS = 1_732_700_000_000  # 2024-11-27, election evening


@pytest.fixture(scope="module")
def judges() -> tuple[Decoder, IndependentJudge]:
    """Rekap's decoder and the independent verifier's judge, over the same master data and terminals."""
    terminals = simulated_terminals(DATASET.tps, SECRET)
    size = len(terminals) + 1  # the master data's leaf, then a registration each
    decoder = Decoder(DATASET.master_data(), {t.terminal_id: t for t in terminals}, registry_size=size)
    return decoder, IndependentJudge(DATASET, SECRET, size)


def differences(judges: tuple[Decoder, IndependentJudge], fuzzed: Fuzzed, n: int) -> tuple[Decoded, list[str]]:
    decoder, independent = judges
    decoded = decoder.decode(fuzzed.record, NOW_MS)
    return decoded, independent.differs(n, fuzzed, decoded, NOW_MS)


def test_the_fuzz_corpus_is_judged_alike(judges: tuple[Decoder, IndependentJudge]) -> None:
    generator = Generator(DATASET, seed=2024, secret=SECRET)
    found, forms = [], 0
    for n in range(6000):
        decoded, differ = differences(judges, generator.record(), n)
        forms += isinstance(decoded, Authentic)
        found += differ
    assert found == [], "\n".join(found[:20])
    assert forms > 1000, "the corpus holds authentic forms too"


NUMBERS = ["valid", "invalid", "ballots.received", "ballots.used", "ballots.damaged", "ballots.unused",
           "voters.registered.male", "voters.registered.female", "voters.voted.dpt.male", "voters.voted.dpt.female",
           "voters.voted.moved_in.male", "voters.voted.added.female", "voters.disabled_voted.male", "revision"]  # fmt: skip


def signed(form: Form) -> Fuzzed:
    value = encode(form)
    key = SigningKey.derived(SECRET, str(form["terminal_id"]))
    headers = (("content-type", b"application/json"), ("signature", key.sign(value)))
    return Fuzzed("crafted", RawRecord(str(form["tps_id"]).encode(), value, headers), True)


def test_signed_forms_with_numbers_off_are_held_alike(judges: tuple[Decoder, IndependentJudge]) -> None:
    """Authentic forms whose numbers break each rule (and several at once): the same rules, in the same order."""
    rng = random.Random(11)
    master = DATASET.master_data()
    broken: set[str] = set()
    for n in range(3000):
        tps = rng.choice(DATASET.tps)
        form = consistent_form(tps, rng.choice(master.contests_at(tps.tps_id)), rng)
        for path in rng.sample(NUMBERS, rng.randint(0, 3)):
            *parents, last = path.split(".")
            target = form
            for part in parents:
                target = target[part]
            target[last] = max(0, min(9999, target[last] + rng.choice([-400, -7, -1, 1, 2, 150, 600])))
        form["revision"] = max(1, int(form["revision"]))  # type: ignore[call-overload]
        if rng.random() < 0.2:
            form["terminal_id"] = f"ppk-{tps.tps_id[:6]}"
        decoded, differ = differences(judges, signed(form), n)
        assert differ == [], form
        broken.update(p.value for p in decoded.problems) if isinstance(decoded, Authentic) else None
    assert len(broken) >= 7, f"every rule is broken by some form: {sorted(broken)}"


TIMES = [
    "2024-11-27T14:05:31+07:00", "2024-11-27T14:05:31Z", "2024-11-27T14:05:31.5Z", "2024-11-27T14:05:31.123456-00:00",
    "2024-11-27T14:05:31.1234567Z", "2024-11-27t14:05:31Z", "2024-11-27 14:05:31Z", "2024-11-27T14:05:31z",
    "2024-11-27T14:05Z", "1700000000", "2024-11-27T14:05:31", "2024-11-27T14:05:31+0700", "2024-11-27T14:05:31+07",
    "2024-11-27T14:05:31+07:60", "2024-11-27T14:05:31+24:00", "2024-11-27T14:05:31+23:59", "2024-11-27T14:05:31-23:59",
    "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
    "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z",
    "2024-11-27T24:00:00Z", "2024-11-27T23:60:00Z", "2024-11-27T23:59:60Z", "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999-23:59", "2999-01-01T00:00:00+07:00",
    "2024-11-27T14:10:31+07:00", "2024-11-27T07:10:00.000001Z", "2024-11-27T07:10:00Z", "+2024-11-27T14:05:31Z",
    " 2024-11-27T14:05:31Z", "2024-11-27T14:05:31Z ", "\uff12\uff10\uff12\uff14-11-27T14:05:31Z", "2024-11-27T14:05:31.Z", "",
]  # fmt: skip
IDS = [
    "6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77", "6F1C2D0E-3B7A-4F0E-9A55-2F3C8D9E1A77", "6f1c2d0e3b7a4f0e9a552f3c8d9e1a77",
    "{6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77}", "urn:uuid:6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77",
    "6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a7", "6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77 ", "6f1c2d0e-3b7a4f0e-9a55-2f3c8d9e1a77-",
    "00000000-0000-0000-0000-000000000000", "g f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77",
]  # fmt: skip


@pytest.mark.parametrize("field", ["submitted_at", "submission_id"])
def test_every_way_of_writing_a_time_or_an_id_is_judged_alike(
    judges: tuple[Decoder, IndependentJudge], field: str
) -> None:
    rng = random.Random(7)
    tps = DATASET.tps[5]
    contest = DATASET.master_data().contests_at(tps.tps_id)[0]
    for n, text in enumerate(TIMES if field == "submitted_at" else IDS):
        form = consistent_form(tps, contest, rng)
        form[field] = text
        _, differ = differences(judges, signed(form), n)
        assert differ == [], text


def test_every_photos_valid_or_not_is_judged_alike(judges: tuple[Decoder, IndependentJudge]) -> None:
    """Tally v1's optional photos: each valid and malformed list of tests/unit/contract/test_photos.py, and one
    with a key repeated inside a photo."""
    rng = random.Random(5)
    tps = DATASET.tps[7]
    contest = DATASET.master_data().contests_at(tps.tps_id)[0]
    for n, photos in enumerate([*VALID, *INVALID.values(), SAME_DIGEST, AS_FLOAT]):
        form = consistent_form(tps, contest, rng)
        form["photos"] = photos
        decoded, differ = differences(judges, signed(form), n)
        assert differ == [], photos
        assert isinstance(decoded, Authentic) is (n < len(VALID))
    form = consistent_form(tps, contest, rng)
    form["photos"] = [photo(1)]
    value = encode(form).replace(b'"sheet":1', b'"sheet":2,"sheet":1', 1)
    assert value != encode(form)
    fuzzed = signed(form)
    key = SigningKey.derived(SECRET, str(form["terminal_id"]))
    repeated = Fuzzed("crafted", RawRecord(fuzzed.record.key, value, (("signature", key.sign(value)),)), True)
    decoded, differ = differences(judges, repeated, 999)
    assert differ == []
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.DUPLICATE_KEY
