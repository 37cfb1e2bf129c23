"""A header name that aiokafka's pure-Python batch builder writes as these exact bytes (it calls
`name.encode("utf-8")`): how a test sends a name that is not UTF-8, as a C or Go client can."""

from __future__ import annotations


class RawName(str):
    raw: bytes

    def __new__(cls, raw: bytes) -> RawName:
        name = super().__new__(cls, raw.decode("latin-1"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:  # noqa: ARG002
        return self.raw
