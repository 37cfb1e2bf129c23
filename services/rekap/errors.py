"""The root of Rekap's exceptions, so callers branch on a property rather than on long except lists."""


class RekapError(Exception):
    """Something Rekap can explain to its user in one message, without a stack trace.

    `retriable` says whether the same call may succeed later (a server still starting, say).
    """

    retriable: bool = False


class ConfigError(RekapError):
    """A setting is missing or wrong."""


class StackError(RekapError):
    """The local stack (Kafka broker, embedded PostgreSQL) cannot be set up, started or stopped."""


class MigrationError(RekapError):
    """The SQL migrations on disk and those recorded in the database disagree."""


class UnavailableError(RekapError):
    """A server (Kafka, PostgreSQL) did not answer in time."""

    retriable = True
