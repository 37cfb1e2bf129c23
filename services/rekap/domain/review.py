"""Why a held form is held, in its own numbers: what a PPK operator reads before correcting it."""

from __future__ import annotations

from collections.abc import Mapping

from rekap.domain.reasons import QuarantineReason, RejectReason
from rekap.domain.regions import MAX_REGISTERED_PER_TPS
from rekap.domain.revisions import MAX_REVISION_STEP
from rekap.domain.tally import SECTION_NAMES

Numbers = Mapping[str, int]  # the form's numbers by the read contract's names, and the TPS's dpt_male/female


def explain(reason: str, n: Numbers, votes: Mapping[str, int]) -> str:
    """One line: the rule and the numbers of this form that break it."""
    return _explanations(n, votes).get(reason, reason)


def _sums(n: Numbers) -> tuple[int, int, int]:
    """Voters who voted (DPT + DPTb + DPK, both sexes), ballots accounted for, registered voters."""
    voted = sum(n[f"voted_{kind}_{sex}"] for kind in ("dpt", "moved_in", "added") for sex in ("male", "female"))
    return (
        voted,
        n["ballots_used"] + n["ballots_damaged"] + n["ballots_unused"],
        n["registered_male"] + n["registered_female"],
    )


def _explanations(n: Numbers, votes: Mapping[str, int]) -> dict[str, str]:
    voted, accounted, registered = _sums(n)
    return {
        QuarantineReason.VOTES_SUM_NE_VALID: f"the choices' votes add up to {sum(votes.values())}, valid says "
        f"{n['valid']}",
        QuarantineReason.VALID_INVALID_NE_USED: f"valid {n['valid']} + invalid {n['invalid']} = "
        f"{n['valid'] + n['invalid']}, ballots used {n['ballots_used']}",
        QuarantineReason.USED_NE_VOTED: f"ballots used {n['ballots_used']}, voters who voted {voted} "
        "(DPT + DPTb + DPK, both sexes)",
        QuarantineReason.BALLOTS_UNBALANCED: f"ballots received {n['ballots_received']}, used + damaged + unused = "
        f"{n['ballots_used']} + {n['ballots_damaged']} + {n['ballots_unused']} = {accounted}",
        QuarantineReason.VOTED_EXCEEDS_REGISTERED: f"DPT voters who voted {n['voted_dpt_male']} L / "
        f"{n['voted_dpt_female']} P, registered {n['registered_male']} L / {n['registered_female']} P",
        QuarantineReason.REGISTERED_EXCEEDS_CAPACITY: f"registered {registered}, a TPS has at most "
        f"{MAX_REGISTERED_PER_TPS}",
        QuarantineReason.REGISTERED_NE_MASTER_DATA: f"registered {n['registered_male']} L / {n['registered_female']} P "
        f"on the form, the master data says {n['dpt_male']} L / {n['dpt_female']} P",
        QuarantineReason.SUBMITTED_IN_FUTURE: "submitted_at is later than it was received (the terminal's clock)",
        QuarantineReason.REVISION_JUMP: f"the revision is more than {MAX_REVISION_STEP} above the last of its sender",
    }


def jelaskan(reason: str, n: Numbers, votes: Mapping[str, int]) -> str:
    """`explain` in Indonesian, as the public site says it: the rule and this form's numbers that break it."""
    return _penjelasan(n, votes).get(reason, alasan(reason))


def alasan(reason: str) -> str:
    """A reason code in a few Indonesian words (a record's, without its numbers)."""
    return _ALASAN.get(reason, reason)


def _penjelasan(n: Numbers, votes: Mapping[str, int]) -> dict[str, str]:
    if any(n.get(key) is None for key in _NUMBERS):  # a form rejected or not in: no numbers to speak of
        return {}
    voted, accounted, registered = _sums(n)
    return {
        QuarantineReason.VOTES_SUM_NE_VALID: f"jumlah suara para pasangan calon {sum(votes.values())}, tetapi "
        f"suara sah tertulis {n['valid']}",
        QuarantineReason.VALID_INVALID_NE_USED: f"suara sah {n['valid']} + suara tidak sah {n['invalid']} = "
        f"{n['valid'] + n['invalid']}, tetapi surat suara yang digunakan {n['ballots_used']}",
        QuarantineReason.USED_NE_VOTED: f"surat suara yang digunakan {n['ballots_used']}, tetapi pemilih yang "
        f"menggunakan hak pilih {voted} (DPT + DPTb + DPK, laki-laki dan perempuan)",
        QuarantineReason.BALLOTS_UNBALANCED: f"surat suara diterima {n['ballots_received']}, tetapi digunakan + rusak "
        f"+ tidak digunakan = {n['ballots_used']} + {n['ballots_damaged']} + {n['ballots_unused']} = {accounted}",
        QuarantineReason.VOTED_EXCEEDS_REGISTERED: f"pemilih DPT yang memilih {n['voted_dpt_male']} L / "
        f"{n['voted_dpt_female']} P, lebih dari yang terdaftar {n['registered_male']} L / "
        f"{n['registered_female']} P",
        QuarantineReason.REGISTERED_EXCEEDS_CAPACITY: f"pemilih terdaftar {registered}, padahal satu TPS paling banyak "
        f"{MAX_REGISTERED_PER_TPS}",
        QuarantineReason.REGISTERED_NE_MASTER_DATA: f"formulir mencatat DPT {n['registered_male']} L / "
        f"{n['registered_female']} P, data induk mencatat {n['dpt_male']} L / {n['dpt_female']} P",
        QuarantineReason.SUBMITTED_IN_FUTURE: "waktu pengiriman di formulir lebih lambat dari saat diterima (jam "
        "terminal salah)",
        QuarantineReason.REVISION_JUMP: f"nomor revisi melompat lebih dari {MAX_REVISION_STEP} di atas revisi "
        "terakhir pengirimnya",
    }


# The numbers the explanations read: a form's sections, its votes' totals, the TPS's DPT.
_NUMBERS = (*SECTION_NAMES, "valid", "invalid", "ballots_used", "dpt_male", "dpt_female")

# Each reason in a few words (a TPS's history on the site says why each record was held or not counted).
_ALASAN: dict[str, str] = {
    QuarantineReason.VOTES_SUM_NE_VALID: "jumlah suara pasangan calon tidak sama dengan suara sah",
    QuarantineReason.VALID_INVALID_NE_USED: "suara sah + tidak sah tidak sama dengan surat suara yang digunakan",
    QuarantineReason.USED_NE_VOTED: "surat suara yang digunakan tidak sama dengan pemilih yang memilih",
    QuarantineReason.BALLOTS_UNBALANCED: "surat suara diterima tidak sama dengan digunakan + rusak + sisa",
    QuarantineReason.VOTED_EXCEEDS_REGISTERED: "pemilih DPT yang memilih lebih dari yang terdaftar",
    QuarantineReason.REGISTERED_EXCEEDS_CAPACITY: "pemilih terdaftar melebihi daya tampung TPS",
    QuarantineReason.REGISTERED_NE_MASTER_DATA: "DPT di formulir tidak sama dengan data induk",
    QuarantineReason.SUBMITTED_IN_FUTURE: "waktu pengiriman lebih lambat dari saat diterima",
    QuarantineReason.REVISION_JUMP: "nomor revisi melompat terlalu jauh",
    RejectReason.UNREADABLE_RECORD: "rekaman Kafka tidak terbaca",
    RejectReason.OVERSIZE: "rekaman terlalu besar",
    RejectReason.MALFORMED_JSON: "bukan JSON yang sah",
    RejectReason.SCHEMA_VIOLATION: "isi formulir tidak sesuai kontrak",
    RejectReason.DUPLICATE_KEY: "nama kolom JSON berulang",
    RejectReason.UNKNOWN_TPS: "TPS tidak dikenal",
    RejectReason.KEY_MISMATCH: "kunci rekaman tidak sama dengan TPS di formulir",
    RejectReason.CONTEST_NOT_AT_TPS: "pemilihan itu tidak diadakan di TPS ini",
    RejectReason.BAD_CHOICES: "nomor pasangan calon tidak sesuai dengan pemilihannya",
    RejectReason.UNKNOWN_TERMINAL: "terminal pengirim tidak terdaftar",
    RejectReason.TERMINAL_NOT_AUTHORIZED: "terminal pengirim tidak berwenang untuk TPS ini",
    RejectReason.BAD_SIGNATURE: "tanda tangan tidak sah",
    RejectReason.REVISION_CONFLICT: "revisi yang sama dikirim dengan angka yang berbeda",
    RejectReason.UNKNOWN_CONTEST: "pemilihan tidak dikenal",
    RejectReason.UNSTORABLE_RECORD: "rekaman tidak dapat disimpan (disimpan mentah untuk diperiksa)",
}
