"""Why a held form is held, in its own numbers: every reason the rules give has its line."""

from __future__ import annotations

import pytest

from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.review import alasan, explain, jelaskan

NUMBERS = {
    "valid": 249, "invalid": 21, "ballots_used": 271, "ballots_received": 401, "ballots_damaged": 3,
    "ballots_unused": 128, "registered_male": 196, "registered_female": 195, "voted_dpt_male": 135,
    "voted_dpt_female": 131, "voted_moved_in_male": 0, "voted_moved_in_female": 2, "voted_added_male": 1,
    "voted_added_female": 1, "disabled_voted_male": 0, "disabled_voted_female": 1, "dpt_male": 196, "dpt_female": 190,
}  # fmt: skip
VOTES = {"1": 146, "2": 52, "3": 52}


@pytest.mark.parametrize(("reason", "says"), [
    (QuarantineReason.VOTES_SUM_NE_VALID, "the choices' votes add up to 250, valid says 249"),
    (QuarantineReason.VALID_INVALID_NE_USED, "valid 249 + invalid 21 = 270, ballots used 271"),
    (QuarantineReason.USED_NE_VOTED, "ballots used 271, voters who voted 270"),
    (QuarantineReason.BALLOTS_UNBALANCED, "ballots received 401, used + damaged + unused = 271 + 3 + 128 = 402"),
    (QuarantineReason.VOTED_EXCEEDS_REGISTERED, "DPT voters who voted 135 L / 131 P, registered 196 L / 195 P"),
    (QuarantineReason.REGISTERED_EXCEEDS_CAPACITY, "registered 391, a TPS has at most 600"),
    (QuarantineReason.REGISTERED_NE_MASTER_DATA, "on the form, the master data says 196 L / 190 P"),
    (QuarantineReason.SUBMITTED_IN_FUTURE, "later than it was received"),
    (QuarantineReason.REVISION_JUMP, "more than 100 above the last"),
])  # fmt: skip
def test_each_reason_is_explained_with_the_forms_numbers(reason: QuarantineReason, says: str) -> None:
    assert says in explain(reason.value, NUMBERS, VOTES)


def test_every_reason_has_an_explanation() -> None:
    assert all(explain(r.value, NUMBERS, VOTES) != r.value for r in QuarantineReason)


@pytest.mark.parametrize(("reason", "says"), [
    (QuarantineReason.VOTES_SUM_NE_VALID, "jumlah suara para pasangan calon 250, tetapi suara sah tertulis 249"),
    (QuarantineReason.VALID_INVALID_NE_USED, ("suara sah 249 + suara tidak sah 21 = 270, tetapi surat suara yang "
     "digunakan 271")),
    (QuarantineReason.USED_NE_VOTED, "surat suara yang digunakan 271, tetapi pemilih yang menggunakan hak pilih 270"),
    (QuarantineReason.BALLOTS_UNBALANCED, ("surat suara diterima 401, tetapi digunakan + rusak + tidak digunakan = "
     "271 + 3 + 128 = 402")),
    (QuarantineReason.VOTED_EXCEEDS_REGISTERED, "pemilih DPT yang memilih 135 L / 131 P"),
    (QuarantineReason.REGISTERED_EXCEEDS_CAPACITY, "pemilih terdaftar 391, padahal satu TPS paling banyak 600"),
    (QuarantineReason.REGISTERED_NE_MASTER_DATA, "data induk mencatat 196 L / 190 P"),
    (QuarantineReason.SUBMITTED_IN_FUTURE, "jam terminal salah"),
    (QuarantineReason.REVISION_JUMP, "lebih dari 100 di atas revisi"),
])  # fmt: skip
def test_the_site_says_each_reason_in_indonesian_with_the_forms_numbers(reason: QuarantineReason, says: str) -> None:
    assert says in jelaskan(reason.value, NUMBERS, VOTES)


def test_every_reason_has_indonesian_words_even_without_numbers() -> None:
    reasons = [*QuarantineReason, *RejectReason]
    assert all(alasan(r.value) != r.value for r in reasons)
    assert jelaskan("votes_sum_ne_valid", {}, {}) == "jumlah suara pasangan calon tidak sama dengan suara sah"
