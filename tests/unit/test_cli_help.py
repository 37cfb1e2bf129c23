"""Every command's --help ends with the environment variables it reads (each a real setting) and an
example that the command line itself accepts."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys

import pytest

from rekap.cli import build_parser
from rekap.config import Settings

VARIABLES = {Settings.environment_variable(field) for field in Settings.model_fields}


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every command that does something (a leaf of the tree), by its words: "terminal register", ..."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if sub.get_default("handler") is not None:
                        found[" ".join([*words, name])] = sub
                    walk(sub, [*words, name])

    walk(build_parser(), [])
    return found


def test_the_tree_is_what_the_readme_lists() -> None:
    assert len(commands()) >= 31
    assert "publish" in commands()
    assert "tabulator run" in commands()


@pytest.mark.parametrize("words", sorted(commands()))
def test_help_shows_the_environment_and_an_example(words: str) -> None:
    text = commands()[words].format_help()
    environment, _, example = text.partition("environment variables:")[2].partition("\nexample:\n")
    assert example, f"`rekap {words} --help` has no example"
    listed = re.findall(r"^  ((?:REKAP_|DATABASE_URL)\w*)", environment, re.MULTILINE)
    assert set(listed) <= VARIABLES, set(listed) - VARIABLES
    assert "REKAP_LOG_LEVEL" in environment
    lines = [line.strip() for line in example.replace("\\\n", " ").splitlines()]
    runs = [shlex.split(line, comments=True) for line in lines if re.match(r"^(\w+=\S*\s+)*rekap\b", line)]
    assert runs, f"`rekap {words} --help` shows no command line"
    for run in runs:
        argv = run[run.index("rekap") + 1 :]
        argv = argv[: next((i for i, word in enumerate(argv) if word in {">", "|"}), len(argv))]  # the shell's
        assert argv[: len(words.split())] == words.split(), f"an example of another command: {run}"
        try:
            build_parser().parse_args(argv)
        except SystemExit as refused:
            pytest.fail(f"the example `{shlex.join(run)}` is refused by the command line ({refused})")


def test_a_command_imports_only_its_own_module() -> None:
    """`rekap site build` runs every 30 s on election night: it does not pay for every other command's
    libraries (the simulator, the audit, the tabulator's decoder...)."""
    script = (
        "import sys\nfrom rekap.cli import main\n"
        "try:\n    main(['site', 'build', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('rekap.cli.') and m != 'rekap.cli.common'))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['rekap.cli.site']"
