"""The PostgreSQL adapters' one error boundary: driver errors become RekapError, `retriable` or not.

Retriable: the server or the connection is away, busy or restarting, or a transaction lost a race
(serialization failure, deadlock, lock or statement timeout): the same call may work later. Not
retriable: the server or the driver refused what was sent (a value it cannot take, a constraint),
which the same call would meet again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base

from rekap.errors import RekapError, UnavailableError

# Server states and connection trouble that pass.
RETRIABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,  # statement_timeout
    asyncpg.LockNotAvailableError,  # lock_timeout
    asyncpg.IdleInTransactionSessionTimeoutError,
    asyncpg.InsufficientResourcesError,  # disk full, out of memory: an operator's matter, then it passes
)
# The driver's own refusals of what it was given (a value it cannot encode): never worth a retry,
# although they are InterfaceErrors like a closed connection.
REFUSED_BY_DRIVER = (asyncpg_base.DataError, asyncpg_base.ClientConfigurationError)


class RefusedError(RekapError):
    """PostgreSQL or its driver refused what was sent; the same call would fail again."""


# What a database without Rekap's schema, or with an older one, answers.
SCHEMA_MISSING = (
    asyncpg.UndefinedTableError,
    asyncpg.UndefinedFunctionError,
    asyncpg.UndefinedColumnError,
    asyncpg.InvalidSchemaNameError,
)


class SchemaMissingError(RefusedError):
    """The database lacks part of Rekap's schema: not migrated yet, or migrated by an older Rekap."""

    def __init__(self, error: Exception) -> None:
        super().__init__(
            f"the database is not migrated to this version of Rekap ({error}): run `rekap db migrate` "
            "as the owner (`rekap db status` lists what is pending)"
        )


def translated(error: Exception) -> RekapError:
    if isinstance(error, RekapError):
        return error
    if isinstance(error, SCHEMA_MISSING):
        return SchemaMissingError(error)
    if isinstance(error, RETRIABLE) or (
        isinstance(error, asyncpg.InterfaceError) and not isinstance(error, REFUSED_BY_DRIVER)
    ):
        return UnavailableError(f"PostgreSQL: {error!r}")
    return RefusedError(f"PostgreSQL refused it: {error!r}")


def driver_error(error: RekapError, *kinds: type[BaseException]) -> BaseException | None:
    """The driver's error the boundary made `error` of, if it is one of `kinds` (an adapter that answers
    one particular refusal itself: a unique violation, a missing privilege); else None."""
    cause = error.__cause__
    return cause if isinstance(cause, kinds) else None


@contextmanager
def boundary() -> Iterator[None]:
    """Run PostgreSQL calls; whatever the driver raises leaves as a RekapError."""
    try:
        yield
    except (
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
        ValueError,
        TypeError,
    ) as error:  # (ValueError covers UnicodeError: a value the driver cannot encode)
        raise translated(error) from error
