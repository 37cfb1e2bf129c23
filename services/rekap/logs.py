"""Structured logging: JSON lines (or a console view for people), context bound through contextvars."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog

from rekap.config import Settings


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (aiokafka, asyncpg) through one JSON renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(ExpectedWhileGroupForms())
    handler.addFilter(LibraryThrottle())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # aiokafka reports every reconnect attempt at INFO/ERROR; our own retry loop says it once.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


class ExpectedWhileGroupForms(logging.Filter):
    """aiokafka logs each failed lookup of the consumer group's coordinator as an error, and the lookup is
    how a consumer group forms: at every start the broker first answers COORDINATOR_NOT_AVAILABLE,
    [Error 15], until its coordinator for the group is ready, and aiokafka asks again. Expected: said at
    INFO (when INFO is said). Every other error of the lookup, and of aiokafka, stays an error."""

    LOGGER = "aiokafka.consumer.group_coordinator"
    MESSAGE = "Group Coordinator Request failed: %s"
    COORDINATOR_NOT_AVAILABLE = 15  # aiokafka.errors.GroupCoordinatorNotAvailableError.errno

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.args[0] if isinstance(record.args, tuple) and record.args else None
        coordinator = getattr(error, "errno", None) == self.COORDINATOR_NOT_AVAILABLE
        if not coordinator or (record.name, record.msg) != (self.LOGGER, self.MESSAGE):
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger().isEnabledFor(logging.INFO)


class LibraryThrottle(logging.Filter):
    """During an outage the client libraries repeat themselves (aiokafka: every reconnect, every failed
    coordinator request): each of their messages passes at most once per `every_s`, the next one saying
    how many were held back, and without a traceback (an outage is not a crash; Rekap's own lines,
    `waiting_for`, `batch_retry`, `recovered`, tell the story)."""

    LIBRARIES = ("aiokafka", "asyncpg", "kafka")

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.LIBRARIES):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        last, held = self._seen.get(key, (None, 0))
        if last is not None and now - last < self._every_s:
            self._seen[key] = (last, held + 1)
            return False
        self._seen[key] = (now, 0)
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message}: {record.exc_info[1]!r}"
        if held:
            message = f"{message} (and {held} more like it since)"
        record.msg, record.args, record.exc_info, record.exc_text = message, None, None, None
        return True
