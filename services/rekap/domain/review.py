"""Why a held form is held, in its own numbers: what a PPK operator reads before correcting it."""

from __future__ import annotations

from collections.abc import Mapping

from rekap.domain.reasons import QuarantineReason
from rekap.domain.regions import MAX_REGISTERED_PER_TPS
from rekap.domain.revisions import MAX_REVISION_STEP

Numbers = Mapping[str, int]  # the form's numbers by the read contract's names, and the TPS's dpt_male/female


def explain(reason: str, n: Numbers, votes: Mapping[str, int]) -> str:
    """One line: the rule and the numbers of this form that break it."""
    return _explanations(n, votes).get(reason, reason)


def _explanations(n: Numbers, votes: Mapping[str, int]) -> dict[str, str]:
    voted = sum(n[f"voted_{kind}_{sex}"] for kind in ("dpt", "moved_in", "added") for sex in ("male", "female"))
    accounted = n["ballots_used"] + n["ballots_damaged"] + n["ballots_unused"]
    registered = n["registered_male"] + n["registered_female"]
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
