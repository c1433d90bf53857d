"""Typed errors and the exit-code contract shared by every command.

Exit codes: 0 ok; 1 finished but rejects above the threshold; 2 usage or configuration error;
3 could not complete (source missing, database unreachable, schema out of date).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_REJECTS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3


class HsskError(Exception):
    """An expected problem: the CLI prints ``message`` (and ``hint``) on one line, no traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(HsskError):
    exit_code = EXIT_USAGE


class MappingError(HsskError):
    """A mapping file that does not validate."""

    exit_code = EXIT_USAGE


class SourceError(HsskError):
    """A source file that cannot be read at all (missing, unknown kind, wrong format)."""


class StageError(HsskError):
    """A stage directory that is missing or was written by another stage."""


class DatabaseError(HsskError):
    """The database cannot be reached or used."""


class SchemaOutOfDate(DatabaseError):
    pass
