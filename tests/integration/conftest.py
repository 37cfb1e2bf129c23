"""Every test in this folder talks to the real broker and database: mark it, so `-m "not integration"` runs
the fast unit tests alone."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)
