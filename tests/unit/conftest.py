"""The fixtures of the pure tests."""

from __future__ import annotations

import pytest

from tests.unit.world import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
