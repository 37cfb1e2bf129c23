"""Waiting between attempts at something that may come back (a server restarting): exponential,
capped, with jitter so that replicas do not retry in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


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
