"""During an outage the libraries' repeated messages are held back, and lose their tracebacks; what a
library says as an error but is expected (the consumer group forming) is no error line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from aiokafka.errors import GroupCoordinatorNotAvailableError, NotCoordinatorError

from rekap.config import Settings
from rekap.logs import LibraryThrottle, configure_logging


def record(name: str, message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_library_message_passes_once_a_minute_and_says_how_many_were_held() -> None:
    now = [0.0]
    throttle = LibraryThrottle(every_s=60, clock=lambda: now[0])
    passed = []
    for second in range(130):
        now[0] = float(second)
        r = record("aiokafka.conn", "Unable connect to node with id %s", 1)
        if throttle.filter(r):
            passed.append(r.getMessage())
    assert passed == [
        "Unable connect to node with id 1",
        "Unable connect to node with id 1 (and 59 more like it since)",
        "Unable connect to node with id 1 (and 59 more like it since)",
    ]


def test_library_tracebacks_become_one_line_and_rekap_lines_pass_untouched() -> None:
    throttle = LibraryThrottle()
    r = record("aiokafka.consumer.group_coordinator", "Error sending request", exc=ConnectionResetError("peer"))
    assert throttle.filter(r)
    assert (r.getMessage(), r.exc_info) == ("Error sending request: ConnectionResetError('peer')", None)
    own = record("rekap.tabulator.service", "batch_retry", exc=ConnectionResetError("peer"))
    for _ in range(5):
        assert throttle.filter(own)
    assert own.exc_info is not None


@pytest.fixture
def restored() -> Iterator[None]:
    """The logging configuration as it was before the test configured it as `rekap` does."""
    root, aiokafka = logging.getLogger(), logging.getLogger("aiokafka")
    handlers, levels = root.handlers[:], (root.level, aiokafka.level)
    yield
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    aiokafka.setLevel(levels[1])
    structlog.reset_defaults()


@pytest.mark.usefixtures("restored")
def test_the_coordinator_not_available_while_the_group_forms_is_no_error_line_and_other_errors_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_level="INFO", log_format="json"))  # writing to the captured stderr
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())  # as aiokafka
    coordinator.error("Group Coordinator Request failed: %s", NotCoordinatorError())
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["level"], line["event"]) for line in lines] == [
        ("info", "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"),
        ("error", "Group Coordinator Request failed: [Error 16] NotCoordinatorForGroupError"),
    ]
