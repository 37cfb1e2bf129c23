"""The root of Rekap's exceptions, so callers branch on a property rather than on long except lists."""


class RekapError(Exception):
    """Something Rekap can explain to its user in one message, without a stack trace.

    `retriable` says whether the same call may succeed later (a server still starting, say);
    `exit_status` is what the command line exits with when it ends a command.
    """

    retriable: bool = False
    exit_status: int = 1


class ConfigError(RekapError):
    """A setting is missing or wrong."""


class UsageError(RekapError):
    """An argument the command cannot take (as argparse says of its own: exit status 2)."""

    exit_status = 2


class StackError(RekapError):
    """The local stack (Kafka broker, embedded PostgreSQL) cannot be set up, started or stopped."""


class MigrationError(RekapError):
    """The SQL migrations on disk and those recorded in the database disagree."""


class UnavailableError(RekapError):
    """A server (Kafka, PostgreSQL) did not answer in time."""

    retriable = True
