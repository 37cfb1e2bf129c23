"""Playing a planned night: records sent at their time in a compressed evening."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rekap.publisher import Publisher
from rekap.simulation.night import Planned


async def play(
    publisher: Publisher, planned: list[Planned], duration_s: float, progress: Callable[[int], None] = lambda _: None
) -> tuple[dict[int, int], list[Any]]:
    """Send every record at `at * duration_s` after the start. Returns the end offset of each partition
    written and every record's metadata (partition, offset, timestamp), in the order sent."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    futures = []
    for index, record in enumerate(planned):
        delay = start + record.at * duration_s - loop.time()
        if delay > 0.005:
            await asyncio.sleep(delay)
        futures.append(await publisher.enqueue(record.key.decode(), record.value, record.headers))
        if index % 500 == 0:
            progress(index)
    sent = await asyncio.gather(*futures)
    progress(len(planned))
    ends: dict[int, int] = {}
    for metadata in sent:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    return ends, sent
