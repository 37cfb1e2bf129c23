"""The published JSON Schema is the code's, and says yes and no where the code does."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from rekap.cli.contract import schema_text
from rekap.domain.tally import TallyV1
from rekap.resources import tally_schema_file
from tests.unit.domain.test_decode_raw import EXAMPLE
from tests.unit.world import changed

SCHEMA = json.loads(tally_schema_file().read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_schema_file_is_generated_from_the_code() -> None:
    assert tally_schema_file().read_text() == schema_text(), (
        "schemas/tally-v1.schema.json is out of date: run `rekap contract schema --write`"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE)
    return loaded


def with_(path: str, value: object) -> dict[str, Any]:
    return changed(example(), path, value)


PHOTO = {"sha256": "0" * 64, "bytes": 1, "media_type": "image/png", "sheet": 1}
CORPUS = [
    (example(), True),
    (with_("votes", {"1": 0, "kolom_kosong": 0}), True),
    (with_("submitted_at", "2024-11-27T07:05:31Z"), True),
    (with_("revision", 2_147_483_647), True),
    (with_("extra", 1), False),
    (with_("ballots.spoilt", 1), False),
    (with_("valid", ...), False),
    (with_("valid", "334"), False),
    (with_("valid", 334.5), False),
    (with_("valid", True), False),
    (with_("valid", -1), False),
    (with_("valid", 10_000), False),
    (with_("revision", 0), False),
    (with_("schema", "tally/v2"), False),
    (with_("tps_id", "16710110010031"), False),
    (with_("contest_id", "pkwkk-16"), False),
    (with_("terminal_id", "Kpps-1"), False),
    (with_("votes", {}), False),
    (with_("votes", {"0": 1}), False),
    (with_("votes", {"x": 1}), False),
    (with_("submission_id", "6f1c2d0e"), False),
    (with_("submitted_at", "2024-11-27T14:05:31"), False),
    (with_("submitted_at", "yesterday"), False),
    # The optional photos (more in test_photos.py).
    (with_("photos", [PHOTO]), True),
    (with_("photos", [{"sha256": "0" * 64, "bytes": 1, "media_type": "image/png", "sheet": 1, "x": 0}]), False),
    (with_("photos", [{"sha256": "A" * 64, "bytes": 1, "media_type": "image/png", "sheet": 1}]), False),
    (with_("photos", [{"sha256": "0" * 64, "bytes": 0, "media_type": "image/png", "sheet": 1}]), False),
    (with_("photos", [{"sha256": "0" * 64, "bytes": 1, "media_type": "image/png", "sheet": True}]), False),
    (with_("photos", [PHOTO, {**PHOTO, "sha256": "1" * 64}]), False),  # two of sheet 1
    (with_("photos", []), False),
    (with_("photos", None), False),
]


@pytest.mark.parametrize(("document", "valid"), CORPUS)
def test_schema_and_code_agree(document: dict[str, Any], valid: bool) -> None:
    schema_says = VALIDATOR.is_valid(document)
    try:
        TallyV1.model_validate_json(json.dumps(document))
        code_says = True
    except ValidationError:
        code_says = False
    assert (schema_says, code_says) == (valid, valid)
