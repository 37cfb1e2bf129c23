"""The stable codes of docs/contract.md: each record's outcome and, when not counted, why.

The values are used as they are in metrics, logs and the database: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    STALE = "stale"


class RejectReason(StrEnum):
    """Why a record is not counted and goes to the dead-letter topic. In the order they are checked."""

    UNREADABLE_RECORD = "unreadable_record"  # not a Kafka record as the protocol defines it (a header name not UTF-8)
    OVERSIZE = "oversize"
    MALFORMED_JSON = "malformed_json"
    SCHEMA_VIOLATION = "schema_violation"
    DUPLICATE_KEY = "duplicate_key"  # a JSON object repeats a key: two parsers could read two forms
    KEY_MISMATCH = "key_mismatch"
    UNKNOWN_TPS = "unknown_tps"
    UNKNOWN_CONTEST = "unknown_contest"
    CONTEST_NOT_AT_TPS = "contest_not_at_tps"
    BAD_CHOICES = "bad_choices"
    UNKNOWN_TERMINAL = "unknown_terminal"
    TERMINAL_NOT_AUTHORIZED = "terminal_not_authorized"
    BAD_SIGNATURE = "bad_signature"
    REVISION_CONFLICT = "revision_conflict"
    UNSTORABLE_RECORD = "unstorable_record"  # its batch could not be written with it: kept raw, not judged


class QuarantineReason(StrEnum):
    """Why an authentic form is held for review instead of counted. In the order they are checked."""

    VOTES_SUM_NE_VALID = "votes_sum_ne_valid"
    VALID_INVALID_NE_USED = "valid_invalid_ne_used"
    USED_NE_VOTED = "used_ne_voted"
    BALLOTS_UNBALANCED = "ballots_unbalanced"
    VOTED_EXCEEDS_REGISTERED = "voted_exceeds_registered"
    REGISTERED_EXCEEDS_CAPACITY = "registered_exceeds_capacity"
    REGISTERED_NE_MASTER_DATA = "registered_ne_master_data"  # the form's DPT is not the TPS's DPT
    SUBMITTED_IN_FUTURE = "submitted_in_future"  # submitted_at beyond the allowed clock skew
    REVISION_JUMP = "revision_jump"  # more than MAX_REVISION_STEP above the last revision
