"""The TPS result form (C.Hasil) as tally contract v1 fixes it: field for field, nothing more.

Strict: a count is a JSON integer (not 1.0, not "1", not true), unknown fields are errors.
`schemas/tally-v1.schema.json` is generated from these models (`rekap contract schema`).
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonDict

SCHEMA_ID = "tally/v1"
MAX_COUNT = 9_999
MAX_REVISION = 2_147_483_647  # stored as a PostgreSQL integer
MAX_PHOTOS = 8  # photos of a form's sheets, one per sheet: a C.Hasil has fewer sheets than that
MAX_PHOTO_BYTES = 2 * 1024 * 1024  # 2 MiB, what a sheet's photo needs once its metadata is stripped

# Times and ids exactly as RFC 3339 and RFC 9562 write them: a parser in any language reads the same
# instant and the same id (pydantic alone would also take "1700000000", "2024-11-27 10:00" or a UUID in
# braces, which another parser reads otherwise or not at all).
RFC3339 = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
UUID_TEXT = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_RFC3339 = re.compile(RFC3339)


def _rfc3339(value: object) -> object:
    """Only a JSON string written as RFC 3339 goes on to be read as a time (then not strictly: from text)."""
    if not isinstance(value, str):
        raise ValueError("a time is a JSON string")  # noqa: TRY004 (pydantic reports a ValueError as invalid input)
    if not _RFC3339.fullmatch(value):
        raise ValueError("a time is written YYYY-MM-DDTHH:MM:SS[.ffffff] then Z or +HH:MM")
    return value


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
ChoiceKey = Annotated[str, Field(pattern=r"^([1-9][0-9]?|kolom_kosong)$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BySex(_Part):
    male: Count
    female: Count


class Voted(_Part):
    """Voters who used their right: on the DPT, moved in (DPTb), added on the day with an e-KTP (DPK)."""

    dpt: BySex
    moved_in: BySex
    added: BySex


class Voters(_Part):
    registered: BySex
    voted: Voted
    disabled_voted: BySex


class Ballots(_Part):
    received: Count
    used: Count
    damaged: Count
    unused: Count


class Photo(_Part):
    """A photo of one sheet of the form: which sheet, and the SHA-256 and size of the image's exact bytes.

    The photo itself travels apart (keyed by its digest); the form, and so its signature, binds the numbers to
    these bytes.
    """

    sha256: Annotated[str, Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(alias="bytes", ge=1, le=MAX_PHOTO_BYTES)]
    media_type: Literal["image/jpeg", "image/png"]
    sheet: Annotated[int, Field(ge=1, le=MAX_PHOTOS)]


def _one_per_sheet_and_digest(photos: tuple[Photo, ...]) -> tuple[Photo, ...]:
    if len({p.sheet for p in photos}) != len(photos):
        raise ValueError("two photos of the same sheet")
    if len({p.sha256 for p in photos}) != len(photos):
        raise ValueError("two photos with the same sha256")
    return photos


# What JSON Schema can say of "one photo per sheet": at most one item for each sheet number. (No two with the
# same sha256 it cannot say: docs/contract.md lists it as the one rule the schema leaves to the code.)
_PHOTOS_SCHEMA: dict[str, object] = {
    "uniqueItems": True,
    "allOf": [
        {"contains": {"properties": {"sheet": {"const": sheet}}}, "minContains": 0, "maxContains": 1}
        for sheet in range(1, MAX_PHOTOS + 1)
    ],
}
Photos = Annotated[
    tuple[Photo, ...],
    Field(min_length=1, max_length=MAX_PHOTOS, json_schema_extra=_PHOTOS_SCHEMA),
    AfterValidator(_one_per_sheet_and_digest),
]


def _schema_of_tally(schema: JsonDict) -> None:
    schema["$id"] = "https://rekap.example/schemas/tally-v1.schema.json"
    properties = schema["properties"]
    photos = properties.get("photos") if isinstance(properties, dict) else None
    if isinstance(photos, dict):
        del photos["default"]  # absent means no photos; [] itself is not allowed


class TallyV1(_Part):
    """One form: the result of one contest at one TPS, in one revision."""

    model_config = ConfigDict(title="Rekap tally v1", json_schema_extra=_schema_of_tally)

    schema_: Literal["tally/v1"] = Field(alias="schema")
    submission_id: Annotated[str, Field(pattern=UUID_TEXT, json_schema_extra={"format": "uuid"})]
    terminal_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
    tps_id: Annotated[str, Field(pattern=r"^[0-9]{13}$")]
    contest_id: Annotated[str, Field(pattern=r"^(pkwkp-[0-9]{2}|pkwkk-[0-9]{4})$")]
    revision: Annotated[int, Field(ge=1, le=MAX_REVISION)]
    submitted_at: Annotated[
        AwareDatetime, BeforeValidator(_rfc3339), Field(strict=False, json_schema_extra={"pattern": RFC3339})
    ]
    voters: Voters
    ballots: Ballots
    votes: Annotated[dict[ChoiceKey, Count], Field(min_length=1, json_schema_extra={"additionalProperties": False})]
    valid: Count
    invalid: Count
    # Optional, added to v1 after it was published: absent (never null, never []) when the form has no photos.
    photos: Photos = ()

    def sections(self) -> tuple[int, ...]:
        """The form's numbers beyond valid, invalid and ballots used, in SECTION_NAMES order: what the
        recapitulation (D.Hasil) sums at every level besides them."""
        v, b = self.voters, self.ballots
        registered, disabled, voted = v.registered, v.disabled_voted, v.voted
        dpt, moved_in, added = voted.dpt, voted.moved_in, voted.added
        return (
            registered.male,
            registered.female,
            dpt.male,
            dpt.female,
            moved_in.male,
            moved_in.female,
            added.male,
            added.female,
            disabled.male,
            disabled.female,
            b.received,
            b.damaged,
            b.unused,
        )

    def content_digest(self) -> bytes:
        """What makes two submissions of one revision "identical content": the counted numbers.

        A terminal that sends the same numbers again (even with a new submission_id) sends a
        duplicate; other numbers under the same revision are a revision conflict. (Each count fits in
        16 bits: at most 9,999.)
        """
        b = self.ballots
        voters = self.sections()[:10]  # registered, voted (dpt, moved in, added), disabled: male, female each
        numbers = _NUMBERS.pack(*voters, b.received, b.used, b.damaged, b.unused, self.valid, self.invalid)
        votes = ",".join([f"{choice}={count}" for choice, count in sorted(self.votes.items())])
        return hashlib.sha256(numbers + votes.encode()).digest()


_NUMBERS = struct.Struct(">16H")


# The names of TallyV1.sections(), as the database's columns and the read contract call them.
SECTION_NAMES = (
    "registered_male",
    "registered_female",
    "voted_dpt_male",
    "voted_dpt_female",
    "voted_moved_in_male",
    "voted_moved_in_female",
    "voted_added_male",
    "voted_added_female",
    "disabled_voted_male",
    "disabled_voted_female",
    "ballots_received",
    "ballots_damaged",
    "ballots_unused",
)
NO_SECTIONS = (0,) * len(SECTION_NAMES)


def _keys_of(model: type[BaseModel]) -> int:
    """How many object keys a model's JSON holds, its nested models' included (a dict field counts 1), the
    optional ones (photos) left out."""
    keys = 0
    for field in model.model_fields.values():
        if not field.is_required():
            continue
        keys += 1
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            keys += _keys_of(nested)
    return keys


FIXED_KEYS = _keys_of(TallyV1)  # 32: every object key of a form but its choices
MAX_CHOICES = 100  # what ChoiceKey allows: 1 to 99 and kolom_kosong
# The string values of a form: schema, submission_id, terminal_id, tps_id, contest_id, submitted_at.
STRING_VALUES = 6
# Every key and every string value is written between two quotes, and none of them may hold one (each
# is pattern-checked), so a valid form has exactly this many quote characters unless a JSON object
# repeats a key. One count of the raw bytes bounds the work before parsing and finds a repeated key.
# With photos, the key "photos", then for each photo its 4 keys and 2 strings (sha256, media_type).
PHOTO_QUOTES = 2 * (_keys_of(Photo) + 2)
MAX_QUOTES = 2 * (FIXED_KEYS + MAX_CHOICES + STRING_VALUES) + 2 + MAX_PHOTOS * PHOTO_QUOTES


def quotes_of(tally: TallyV1) -> int:
    """The quote characters of this form's JSON, each key and string written once."""
    quotes = 2 * (FIXED_KEYS + len(tally.votes) + STRING_VALUES)
    if tally.photos:
        quotes += 2 + len(tally.photos) * PHOTO_QUOTES
    return quotes


def json_schema() -> dict[str, object]:
    """The JSON Schema of tally v1, as published in schemas/tally-v1.schema.json."""
    schema = TallyV1.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
