"""How a record's headers are stored (`rekap.record.headers`, JSON): a list of [name, value] pairs, each
base64 (a header's name may be any bytes a client sent, its value any bytes or null), in the record's order."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable


def stored_headers(headers: Iterable[tuple[str, bytes | None]]) -> list[list[str | None]]:
    """A record's headers as stored (names as the consumer decoded them, undecodable bytes kept as they came)."""
    return [[stored_header_name(name), None if value is None else _base64(value)] for name, value in headers]


def stored_header(headers: list[list[str | None]], name: str) -> str | None:
    """A header's value as a record stored it (as `stored_headers` wrote it) as ASCII text:
    the last of that name, as Kafka's lastHeader and the decoder read it; None when absent, null or not text."""
    wanted = stored_header_name(name)
    return stored_text(next((value for stored_name, value in reversed(headers) if stored_name == wanted), None))


@functools.lru_cache(maxsize=1024)  # a record's names are a few, the same on every record
def stored_header_name(name: str) -> str:
    """A header's name as stored (base64 is one text per name: stored names compare as the names do)."""
    return _base64(name.encode("utf-8", "surrogateescape"))


def stored_text(value: str | None) -> str | None:
    """A stored header value as ASCII text (None when null or not text)."""
    if value is None:
        return None
    try:
        return base64.b64decode(value).decode("ascii")
    except UnicodeDecodeError:
        return None


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()
