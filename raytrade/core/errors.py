"""The one exception hierarchy of raytrade.

Every error raytrade raises on purpose derives from :class:`RaytradeError`, so callers (the CLI,
the API) can tell a user's mistake from a bug. Messages say what was wrong and where.
"""

from __future__ import annotations


class RaytradeError(Exception):
    """Base class of every error raytrade raises on purpose."""


class ConfigError(RaytradeError):
    """A configuration file or value is missing, malformed or out of range."""


class DomainError(RaytradeError, ValueError):
    """A domain object (order, instrument, bar, ...) was constructed with an invalid value."""


class DataError(RaytradeError):
    """Market data failed validation.

    Carries where the problem is: ``source`` (file or dataset name), ``column`` and ``row``
    (the 1-based line number in a file, header included, or the position in a frame) when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str,
        column: str | None = None,
        row: int | None = None,
        timestamp: object | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.column = column
        self.row = row
        self.timestamp = timestamp
        where = [source]
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        if timestamp is not None:
            where.append(f"({timestamp})")
        super().__init__(f"{', '.join(where)}: {problem}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: rebuilt explicitly so the error crosses Ray and Serve intact.
        return (_data_error, (self.problem, self.source, self.column, self.row, self.timestamp))


def _data_error(problem: str, source: str, column: str | None, row: int | None, timestamp: object | None) -> DataError:
    return DataError(problem, source=source, column=column, row=row, timestamp=timestamp)


class BacktestError(RaytradeError):
    """A backtest was asked for something it cannot compute (shapes, parameters, sizing)."""


class ClusterError(RaytradeError):
    """Ray could not be started or reached."""


class StoreError(RaytradeError):
    """The event store refused or failed an operation."""


class StoreUnavailableError(StoreError):
    """The event store cannot be reached; nothing was written (fail closed)."""


class StoreOutcomeUnknownError(StoreError):
    """An append reached the store but its reply was lost, and the store could not be asked in
    time whether it committed: the events may or may not be in the log. Never "nothing written":
    whoever holds state derived from the log must rebuild it from the log before answering."""


class AuditError(RaytradeError):
    """The audit chain is broken: a record was altered, removed, inserted or reordered."""


class OrderStateError(DomainError):
    """An order was asked to make a transition its state machine does not allow."""


class BrokerError(RaytradeError):
    """The broker refused or failed a request."""


class BrokerUnavailableError(BrokerError):
    """The broker cannot be reached; new orders are rejected (fail closed)."""
