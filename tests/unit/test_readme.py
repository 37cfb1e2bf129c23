"""The README documents what the code does: every setting, every sub-command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rekap.cli import build_parser
from rekap.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        variable = Settings.environment_variable(name)
        assert f"`{variable}`" in README, f"{variable} ({field.description}) is not in the README"


def test_every_command_is_documented() -> None:
    assert [f"rekap {c}" for c in commands(build_parser()) if not re.search(f"`rekap {c}[` ]", README)] == []


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix}{name} ")
                found.extend(nested or [f"{prefix}{name}"])
    return found
