"""docs/asyncapi.yaml is a valid AsyncAPI 3.0.0 document (checked against the specification's own JSON
Schema, tests/data/asyncapi-3.0.0.schema.json), and says what the code does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rekap.config import Settings
from rekap.domain.reasons import RejectReason

ROOT = Path(__file__).parents[3]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
SPECIFICATION = ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


def test_the_document_is_valid_asyncapi_3() -> None:
    schema = json.loads(SPECIFICATION.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document()), key=str)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors][:5] == []


def test_a_broken_document_is_refused() -> None:
    broken = document()
    del broken["operations"]["sendTally"]["action"]
    schema = json.loads(SPECIFICATION.read_text())
    assert not jsonschema.Draft7Validator(schema).is_valid(broken), "the check can fail"


def test_it_names_the_topics_the_payload_schema_and_the_key_the_code_uses() -> None:
    doc = document()
    settings = Settings()
    assert doc["channels"]["tallies"]["address"] == settings.tally_topic
    assert doc["channels"]["deadLetters"]["address"] == settings.dead_letter_topic
    assert doc["channels"]["photos"]["address"] == settings.photo_topic
    photos = doc["channels"]["photos"]["bindings"]["kafka"]["topicConfiguration"]
    assert photos["max.message.bytes"] == next(t for t in settings.topics() if t.name == "photos").max_message_bytes
    tally = doc["components"]["messages"]["tally"]
    assert (DOCUMENT.parent / tally["payload"]["schema"]["$ref"]).resolve() == ROOT / "schemas" / "tally-v1.schema.json"
    assert tally["bindings"]["kafka"]["key"]["pattern"] == "^[0-9]{13}$"
    reason = doc["components"]["messages"]["deadLetter"]["headers"]["properties"]["rekap-reason"]
    assert "reason code" in reason["description"]
    assert RejectReason.BAD_SIGNATURE.value in (ROOT / "docs" / "contract.md").read_text()
