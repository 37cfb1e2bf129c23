"""Tally v1's optional `photos`: the digests of the form's sheet photos, inside the signed form. A form with
valid photos counts exactly the numbers it would count without them; a malformed `photos` is a schema
violation; a changed digest is a bad signature (the terminal's signature binds the numbers to the pictures);
the JSON Schema says yes and no where the code does, but for the one rule it cannot say."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from rekap.domain.decode import Authentic, Rejected
from rekap.domain.reasons import RejectReason
from rekap.domain.tally import MAX_PHOTO_BYTES, MAX_PHOTOS, MAX_QUOTES, TallyV1, quotes_of
from tests.unit.contract.test_json_schema import VALIDATOR
from tests.unit.domain.test_decode_raw import EXAMPLE, raw
from tests.unit.world import World


def digest(sheet: int) -> str:
    return hashlib.sha256(f"sheet {sheet}".encode()).hexdigest()


def photo(sheet: int = 1, /, **fields: object) -> dict[str, object]:
    """A photo of that sheet, with some fields set otherwise (or left out, for ...)."""
    made: dict[str, object] = {"sha256": digest(sheet), "bytes": 812_345, "media_type": "image/jpeg", "sheet": sheet}
    for name, value in fields.items():
        if value is ...:
            del made[name]
        else:
            made[name] = value
    return made


def form(photos: object = ...) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE)
    if photos is not ...:
        loaded["photos"] = photos
    return loaded


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()


VALID = [
    [photo(1)],
    [photo(1), photo(2, media_type="image/png")],
    [photo(2), photo(1)],  # in any order
    [photo(sheet) for sheet in range(1, MAX_PHOTOS + 1)],
    [photo(1, bytes=1), photo(2, bytes=MAX_PHOTO_BYTES)],
]
INVALID = {
    "not hexadecimal": [photo(1, sha256="g" * 64)],
    "uppercase hexadecimal": [photo(1, sha256=digest(1).upper())],
    "63 digits": [photo(1, sha256=digest(1)[:63])],
    "65 digits": [photo(1, sha256=digest(1) + "0")],
    "a newline after the digest": [photo(1, sha256=digest(1) + "\n")],
    "a digest as a number": [photo(1, sha256=int(digest(1), 16))],
    "no digest": [photo(1, sha256=...)],
    "size 0": [photo(1, bytes=0)],
    "over 2 MiB": [photo(1, bytes=MAX_PHOTO_BYTES + 1)],
    "a negative size": [photo(1, bytes=-5)],
    "a size as a string": [photo(1, bytes="812345")],
    "a size as a fraction": [photo(1, bytes=812_345.5)],
    "a bool for a size": [photo(1, bytes=True)],
    "no size": [photo(1, bytes=...)],
    "image/gif": [photo(1, media_type="image/gif")],
    "image/JPEG": [photo(1, media_type="image/JPEG")],
    "image/jpg": [photo(1, media_type="image/jpg")],
    "no media type": [photo(1, media_type=...)],
    "sheet 0": [photo(0)],
    "sheet 9": [photo(1, sheet=MAX_PHOTOS + 1)],
    "a bool for a sheet": [photo(1, sheet=True)],
    "a sheet as a string": [photo(1, sheet="1")],
    "no sheet": [photo(1, sheet=...)],
    "an extra key": [photo(1, location="-2.99,104.75")],
    "the same photo twice": [photo(1), photo(1)],
    "two photos of one sheet": [photo(1), photo(2, sheet=1)],
    "an empty list": [],
    "too many": [photo(sheet) for sheet in range(1, MAX_PHOTOS + 1)] + [photo(1, sheet=MAX_PHOTOS + 1)],
    "null": None,
    "an object, not a list": {"1": photo(1)},
    "a digest, not a photo": [digest(1)],
    "a list in the list": [[photo(1)]],
}
# The one rule JSON Schema cannot say (items compared by one key): the code says no, the schema yes.
SAME_DIGEST = [photo(1), photo(2, sha256=digest(1))]
# JSON Schema calls 812345.0 an integer; tally v1 (as for every count) does not. Not in the agreement test.
AS_FLOAT = [photo(1, bytes=812_345.0)]


@pytest.mark.parametrize("photos", VALID)
def test_valid_photos_are_accepted_and_count_exactly_what_the_form_without_them_counts(
    world: World, photos: list[dict[str, object]]
) -> None:
    without = world.decoder().decode(raw(world, EXAMPLE))
    with_photos = world.decoder().decode(raw(world, encoded(form(photos))))
    assert isinstance(without, Authentic)
    assert isinstance(with_photos, Authentic), with_photos
    assert with_photos.problems == without.problems == ()
    assert with_photos.digest == without.digest  # the same counted numbers: a resend with photos is a duplicate
    assert with_photos.tally.sections() == without.tally.sections()
    assert (with_photos.tally.votes, with_photos.tally.valid, with_photos.tally.invalid) == (
        without.tally.votes, without.tally.valid, without.tally.invalid)  # fmt: skip
    assert [(p.sha256, p.size, p.media_type, p.sheet) for p in with_photos.tally.photos] == [
        (p["sha256"], p["bytes"], p["media_type"], p["sheet"]) for p in photos
    ]
    assert without.tally.photos == ()


@pytest.mark.parametrize(
    "photos", [*INVALID.values(), SAME_DIGEST, AS_FLOAT], ids=[*INVALID, "two photos with one digest", "812345.0"]
)
def test_a_malformed_photos_is_a_schema_violation(world: World, photos: object) -> None:
    decoded = world.decoder().decode(raw(world, encoded(form(photos))))
    assert isinstance(decoded, Rejected), decoded
    assert decoded.reason is RejectReason.SCHEMA_VIOLATION, decoded
    assert decoded.detail.startswith("photos"), decoded.detail


def test_a_changed_digest_breaks_the_terminal_signature(world: World) -> None:
    value = encoded(form([photo(1), photo(2)]))
    signed = raw(world, value)
    assert isinstance(world.decoder().decode(signed), Authentic)
    other = digest(2)[:-1] + ("0" if digest(2)[-1] != "0" else "1")  # one digit of sheet 2's digest changed
    swapped = value.replace(digest(2).encode(), other.encode())
    assert swapped != value
    decoded = world.decoder().decode(raw(world, swapped, headers=list(signed.headers)))
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.BAD_SIGNATURE
    # So do the other photo fields, and taking a photo out.
    for changed in (value.replace(b'"bytes": 812345', b'"bytes": 812346', 1),
                    encoded(form([photo(1)]))):  # fmt: skip
        decoded = world.decoder().decode(raw(world, changed, headers=list(signed.headers)))
        assert isinstance(decoded, Rejected)
        assert decoded.reason is RejectReason.BAD_SIGNATURE


def test_a_key_repeated_in_a_photo_is_a_duplicate_key(world: World) -> None:
    value = encoded(form([photo(1)])).replace(b'"sheet": 1', b'"sheet": 2,\n      "sheet": 1', 1)
    decoded = world.decoder().decode(raw(world, value))
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.DUPLICATE_KEY


def test_the_quote_bound_fits_a_form_with_the_most_choices_and_photos() -> None:
    most = form([photo(sheet) for sheet in range(1, MAX_PHOTOS + 1)])
    most["votes"] = {**{str(n): 0 for n in range(1, 100)}, "kolom_kosong": 0}
    value = encoded(most)
    tally = TallyV1.model_validate_json(value)
    assert value.count(b'"') == quotes_of(tally) == MAX_QUOTES
    assert quotes_of(TallyV1.model_validate_json(EXAMPLE)) == EXAMPLE.count(b'"')


def schema_and_code(document: dict[str, Any]) -> tuple[bool, bool]:
    try:
        TallyV1.model_validate_json(json.dumps(document))
        code_says = True
    except ValidationError:
        code_says = False
    return VALIDATOR.is_valid(document), code_says


@pytest.mark.parametrize(
    ("photos", "valid"),
    [*((p, True) for p in VALID), *((p, False) for p in INVALID.values())],
    ids=[f"valid {n}" for n in range(len(VALID))] + list(INVALID),
)
def test_the_json_schema_and_the_code_agree_on_photos(photos: object, valid: bool) -> None:
    assert schema_and_code(form(photos)) == (valid, valid)


def test_two_photos_with_one_digest_are_the_one_case_the_schema_cannot_refuse() -> None:
    assert schema_and_code(form(SAME_DIGEST)) == (True, False)
