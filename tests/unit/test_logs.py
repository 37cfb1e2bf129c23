"""During an outage the libraries' repeated messages are held back, and lose their tracebacks."""

from __future__ import annotations

import logging

from rekap.logs import LibraryThrottle


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
