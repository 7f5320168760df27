"""Typed, actionable errors raised while reading and validating input tables.

Every error names the file (or database URL) it is about and says what to do, so that a
scheduled run that fails leaves a message a data owner can act on without reading code.

- :class:`DataSourceError`: the source cannot be read at all (missing or empty file, wrong
  delimiter or encoding, bad SQL, unknown table).
- :class:`DataValidationError`: the source was read but cannot be used (a mandatory column
  is missing, a column is almost entirely unparseable, too many rows were rejected).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["DataError", "DataSourceError", "DataValidationError"]

_MAX_EXAMPLE_ROWS = 5


class DataError(Exception):
    """Base class of the project's input-data errors.

    Parameters
    ----------
    message : what went wrong, in one sentence.
    file : the file path or (password-masked) database URL the error is about.
    hint : what to do about it (which parameter to set, which column to map).
    """

    def __init__(self, message: str, *, file: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.hint = hint

    def _lines(self) -> list[str]:
        lines = [self.message]
        if self.file is not None:
            lines.append(f"  file: {self.file}")
        return lines

    def __str__(self) -> str:
        lines = self._lines()
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return "\n".join(lines)

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only attributes survive pickling (multiprocessing, papermill workers)
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[DataError], message: str, state: dict[str, Any]) -> DataError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class DataSourceError(DataError):
    """A source that cannot be read: missing/unreadable/empty file, wrong delimiter, wrong
    encoding, unknown table, bad SQL."""


class DataValidationError(DataError):
    """A source that was read but cannot be used as a whole.

    Parameters
    ----------
    message : what went wrong, in one sentence.
    file : the file path or (password-masked) database URL.
    table : the contract table (``customers``, ``bookings``, ``interactions``, ``feedback``).
    column : the contract column concerned, if one is.
    rows : a few offending rows (at most five are shown), e.g. columns ``row_number`` and
        ``value``; ``row_number`` is the 1-based data row in the source.
    hint : what to do about it.
    rejects : optional full table of rejected rows (same columns as
        :attr:`src.data.loading.LoadedData.rejects`), so a caller can still write them out.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        table: str | None = None,
        column: str | None = None,
        rows: pd.DataFrame | None = None,
        hint: str | None = None,
        rejects: pd.DataFrame | None = None,
    ):
        super().__init__(message, file=file, hint=hint)
        self.table = table
        self.column = column
        self.rows = (
            rows.head(_MAX_EXAMPLE_ROWS).reset_index(drop=True) if rows is not None else None
        )
        self.rejects = rejects

    def _lines(self) -> list[str]:
        lines = super()._lines()
        if self.table is not None:
            lines.append(f"  table: {self.table}")
        if self.column is not None:
            lines.append(f"  column: {self.column}")
        if self.rows is not None and len(self.rows):
            lines.append("  example rows:")
            text = self.rows.astype(str).to_string(index=False, max_colwidth=60)
            lines.extend("    " + line for line in text.splitlines())
        return lines


class InsufficientDataError(DataError):
    """The input is valid but holds too little for a model to say anything (no completed
    booking, no repeat customer, a single customer): fix or extend the input, not the code."""
