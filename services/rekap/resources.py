"""Where the contract files of `schemas/` are, in a checkout (editable install) or an installed wheel."""

from __future__ import annotations

from pathlib import Path


def schemas_dir() -> Path:
    packaged = Path(__file__).parent / "schemas"  # the wheel carries a copy (pyproject.toml)
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


def migrations_dir() -> Path:
    return schemas_dir() / "sql"


def tally_schema_file() -> Path:
    return schemas_dir() / "tally-v1.schema.json"


def sumsel_master_data_dir() -> Path:
    """The derived master data of Sumatera Selatan 2024 (TPS synthetic), shipped with the package."""
    return Path(__file__).parent / "masterdata" / "sumsel-2024"
