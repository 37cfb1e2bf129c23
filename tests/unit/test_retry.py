"""The one retry loop: waits through what passes, gives up on what does not, and when asked to stop."""

from __future__ import annotations

import asyncio

import pytest

from rekap.errors import ConfigError, UnavailableError
from rekap.retry import until_available


async def test_it_waits_through_an_outage_and_returns_what_the_attempt_gives() -> None:
    calls = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise UnavailableError("not yet")
        return "up"

    assert await until_available("server", attempt) == "up"
    assert len(calls) == 3


async def test_an_error_that_is_not_an_outage_is_raised_at_once() -> None:
    async def attempt() -> None:
        raise ConfigError("wrong setting")

    with pytest.raises(ConfigError):
        await until_available("server", attempt)


async def test_a_stop_ends_the_wait() -> None:
    stop = asyncio.Event()
    stop.set()

    async def attempt() -> None:
        raise UnavailableError("down")

    with pytest.raises(UnavailableError, match="a stop was asked for"):
        await until_available("server", attempt, stop=stop)


async def test_a_bounded_wait_gives_up_in_one_message_after_some_attempts() -> None:
    calls = []

    async def attempt() -> None:
        calls.append(1)
        raise UnavailableError("connection refused")

    with pytest.raises(UnavailableError, match=r"server did not answer for 1 s: connection refused"):
        await until_available("server", attempt, within=1)
    assert len(calls) >= 2, "it tried again before giving up"
