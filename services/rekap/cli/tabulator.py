"""`rekap tabulator run`: the service. SIGTERM or SIGINT stops it gracefully (the batch in flight is
finished and committed, the consumer group is left) within REKAP_SHUTDOWN_TIMEOUT_S."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import structlog
import uvloop

from rekap.app.gaps import accept_gap
from rekap.bootstrap import tabulator_service
from rekap.cli.common import (
    KAFKA,
    OPERATOR_DB,
    TABULATOR,
    TOPICS,
    SubParsers,
    add_command,
    say,
    say_registry,
)
from rekap.config import Settings
from rekap.wiring import with_broker_and_session

log = structlog.get_logger(__name__)


class Service(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


ServiceFactory = Callable[[Settings, asyncio.Event], AbstractAsyncContextManager[Service]]


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's loop on uvloop: the same asyncio, with the event loop and its sockets' transports in
    C (libuv), where the tabulator's drivers spend less of its time than in the standard loop's Python."""
    uvloop.run(main)


async def serve(settings: Settings, service: ServiceFactory = tabulator_service) -> None:
    """Run a service (the tabulator, the photo consumer) until SIGTERM or SIGINT, then let it finish what it
    holds, for REKAP_SHUTDOWN_TIMEOUT_S at most."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with service(settings, stop) as tabulator:
        running = asyncio.create_task(tabulator.run(stop))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set() and not running.done():
            log.info("stopping", deadline_s=settings.shutdown_timeout_s)
            try:
                await asyncio.wait_for(running, settings.shutdown_timeout_s)
            except TimeoutError:
                log.warning("stop_forced", deadline_s=settings.shutdown_timeout_s)  # its batch rolls back
        stopping.cancel()
        if running.done() and not running.cancelled():
            running.result()  # a crash of the loop is the service's crash
    log.info("stopped")


def run(settings: Settings, _: argparse.Namespace) -> int:
    # The process is the tabulator's alone: the automatic garbage collector stays off. A batch's objects
    # live until it commits and are freed by reference counting; the collector's passes over them cost a
    # sixth of the tabulator's time (22 µs a record). The loop collects the rare cycles itself, every
    # GARBAGE_EVERY_S (tabulator/service.py).
    gc.disable()
    run_service(serve(settings))
    return 0


def accept_gap_command(settings: Settings, args: argparse.Namespace) -> int:
    """Records vanished from a partition before they were counted: after a review, go on without them."""
    topic = settings.tally_topic
    accepted = with_broker_and_session(
        settings,
        lambda broker, session: accept_gap(broker, session, topic, args.partition, by=args.by, reason=args.reason),
    )
    gap, head = accepted.gap, accepted.head
    say(
        f"accepted: offsets {gap.first_missing} to {gap.next_offset - 1} of {topic} partition {gap.partition} "
        f"({gap.missing:,} records) are missing, recorded as accepted by {args.by}"
    )
    say(f"the tabulator owning the partition goes on from offset {gap.next_offset} within REKAP_TERMINAL_REFRESH_S")
    say_registry(head)
    return 0


RUN = """DATABASE_URL=postgresql://tabulator:...@db.example/rekap REKAP_KAFKA_BOOTSTRAP=kafka.example:9092 \\
REKAP_KAFKA_USERNAME=tabulator REKAP_KAFKA_PASSWORD=... rekap tabulator run"""


def register(commands: SubParsers) -> None:
    tabulator = commands.add_parser("tabulator", help="the tabulator service")
    actions = tabulator.add_subparsers(title="tabulator commands", required=True, metavar="ACTION")
    add_command(
        actions,
        "run",
        run,
        "consume tallies and count them, until SIGTERM or Ctrl-C",
        reads=("database_url", *KAFKA, *TOPICS, *TABULATOR),
        example=RUN,
    )
    gap = add_command(
        actions,
        "accept-gap",
        accept_gap_command,
        "go on past records that vanished from a partition before they were counted",
        reads=(*OPERATOR_DB, *KAFKA, "tally_topic"),
        example='rekap tabulator accept-gap 3 --by "Ana (KPU IT)" --reason "retention set by mistake"',
    )
    gap.add_argument("partition", type=int)
    gap.add_argument("--by", required=True, help="who reviewed and accepts the gap (recorded)")
    gap.add_argument("--reason", default="", help="why (recorded)")
