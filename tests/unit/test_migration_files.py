"""Migration files: named NNNN_name.sql, numbered without gaps; the project's own files obey."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekap.adapters.postgres.migrations import load_migrations
from rekap.errors import MigrationError
from rekap.resources import migrations_dir


def write(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text(f"-- {name}\n")


def test_files_load_in_version_order(tmp_path: Path) -> None:
    write(tmp_path, "0002_second.sql", "0001_first.sql", "0003_third.sql")
    assert [m.filename for m in load_migrations(tmp_path)] == [
        "0001_first.sql",
        "0002_second.sql",
        "0003_third.sql",
    ]


@pytest.mark.parametrize(
    ("names", "complaint"),
    [
        (["0001_a.sql", "0003_c.sql"], "0002 is missing"),
        (["0001_a.sql", "0001_b.sql"], "0002 is missing or doubled"),
        (["0001_First.sql"], "NNNN_lowercase_name.sql"),
        (["1_a.sql"], "NNNN_lowercase_name.sql"),
    ],
)
def test_bad_folders_are_refused(tmp_path: Path, names: list[str], complaint: str) -> None:
    write(tmp_path, *names)
    with pytest.raises(MigrationError, match=complaint):
        load_migrations(tmp_path)


def test_checksum_follows_the_content(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    before = load_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_a.sql").write_text("-- changed\n")
    assert load_migrations(tmp_path)[0].checksum != before


def test_the_project_migrations_are_well_formed() -> None:
    migrations = load_migrations(migrations_dir())
    assert migrations, f"no migrations found in {migrations_dir()}"
    assert all(m.sql.strip() for m in migrations)
