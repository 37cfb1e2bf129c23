"""Waiting between attempts at something that may come back (a server restarting): exponential,
capped, with jitter so that replicas do not retry in step."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from rekap.errors import RekapError, UnavailableError

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    _next: float = field(default=0.0, init=False)

    def next_delay(self) -> float:
        """The next wait in seconds: initial, then growing by `factor`, never above `maximum`."""
        base = self._next or self.initial
        self._next = min(self.maximum, base * self.factor)
        return base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrets)

    def reset(self) -> None:
        self._next = 0.0


def retriable_rekap_error(error: Exception) -> bool:
    return isinstance(error, RekapError) and error.retriable


async def until_available(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event | None = None,
    retriable: Callable[[Exception], bool] = retriable_rekap_error,
    within: float | None = None,
    quiet: bool = False,
) -> T:
    """Try until it works, saying so (`waiting_for`) while it does not, with backoff; give up only when
    asked to stop, after `within` seconds if given, or on an error that is not `retriable`. The one retry
    loop of Rekap's start-up, repositioning and `rekap publish` (the batch transaction keeps its own: it
    must tell fenced and committed apart). With `within`, no attempt outlasts it either; `quiet`: no
    `waiting_for` lines (a command that says the outcome in one line of its own)."""
    backoff = Backoff()
    loop = asyncio.get_running_loop()
    give_up = None if within is None else loop.time() + within
    while True:
        try:
            if give_up is None:
                return await attempt()
            return await asyncio.wait_for(attempt(), timeout=max(give_up - loop.time(), 0.001))
        except TimeoutError as error:
            if give_up is None or loop.time() < give_up:
                raise
            raise UnavailableError(f"{what} did not answer for {within:g} s") from error
        except Exception as error:
            if not retriable(error):
                raise
            if stop is not None and stop.is_set():
                raise UnavailableError(f"{what} is unavailable, and a stop was asked for: {error!r}") from error
            delay = backoff.next_delay()
            if give_up is not None:
                if loop.time() >= give_up:
                    raise UnavailableError(f"{what} did not answer for {within:g} s: {error}") from error
                delay = min(delay, give_up - loop.time())  # a last attempt when the time is up
            if not quiet:
                log.warning("waiting_for", what=what, error=repr(error), retry_in_s=round(delay, 1))
            await asyncio.sleep(delay)
