"""Every error streamgd raises on purpose, in one tree.

    StreamgdError
    ├── ConfigError             the YAML job or an override is invalid
    ├── DataError               a data file cannot be trained on as it is
    │   ├── SchemaError         a column is missing, of the wrong type, or
    │   │                       changes type
    │   ├── MissingValueError   a missing value under `data.missing: error`
    │   └── NonFiniteValueError NaN, +-inf, or a value whose statistics
    │                           overflow
    ├── DivergenceError         the cost or the weights blew up during training
    ├── ModelFileError          a model file cannot be read
    ├── CheckpointError         a checkpoint cannot be read, or does not match the
    │                           job's input files or config (resume refused)
    ├── OutputLockedError       another run holds the output folder's lock
    ├── OutputWriteError        a file cannot be written (disk full, quota,
    │                           I/O error); names the file
    ├── TrainingInterrupted     SIGINT/SIGTERM: a checkpoint was written, resume
    └── MissingExtraError       an optional extra (matplotlib, ...) is missing

Data errors carry the file, the column and, where the reader knows it, the 0-based
row inside the file and the 1-based physical line of a CSV file (header = line 1).
"""

from __future__ import annotations


class StreamgdError(Exception):
    """Base class of the errors streamgd raises on purpose."""


class ConfigError(StreamgdError, ValueError):
    """The job configuration is invalid; raised before any data is read."""


class DataError(StreamgdError, ValueError):
    """A data file cannot be used as it is.

    Args:
        message: what is wrong and how to fix it.
        file: the data file, as given or resolved.
        column: the column concerned, if one is.
        row: 0-based index of the data row inside its file, if known.
        line: 1-based physical line of a CSV file (the header is line 1), if known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        line: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.row = row
        self.line = line
        self.reason = message
        super().__init__(self._locate() + message)

    def __reduce__(self):
        # the fields are keyword-only: default pickling would rebuild the error
        # from its located message alone, and a dask worker's error would lose them
        fields = {"file": self.file, "column": self.column, "row": self.row,
                  "line": self.line}
        return (_rebuild_data_error, (type(self), self.reason, fields))

    def _locate(self) -> str:
        parts = []
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.file is not None:
            parts.append(f"of {self.file}" if parts else str(self.file))
        where = " ".join(parts)
        if self.row is not None:
            where += f", row {self.row}"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: " if where else ""


def _rebuild_data_error(
    kind: type[DataError], reason: str, fields: dict
) -> DataError:
    return kind(reason, **fields)


class SchemaError(DataError):
    """A column is missing, not numeric, or typed differently across files."""


class MissingValueError(DataError):
    """A missing value was met while `data.missing` is `error`."""


class NonFiniteValueError(DataError):
    """A NaN or infinite value, or one so large that its statistics overflow."""


class DivergenceError(StreamgdError, ArithmeticError):
    """Training diverged: the cost or the weights became non-finite or exploded."""


class ModelFileError(StreamgdError, ValueError):
    """A model file is missing, truncated, or of another format."""


class CheckpointError(StreamgdError, ValueError):
    """A checkpoint is unreadable, or belongs to other input files or another job."""


class OutputLockedError(StreamgdError):
    """Another run (pid and host named) is writing into the same output folder."""


class OutputWriteError(StreamgdError, OSError):
    """Writing a file failed part-way (no space left, quota, I/O error).

    The message names the file; the temporary file is removed and a file it
    would have replaced is untouched.
    """


class TrainingInterrupted(StreamgdError):
    """Training stopped on a signal; the message says how to resume.

    Attributes:
        signal_number: the signal received (signal.SIGINT, signal.SIGTERM).
        checkpoint: the checkpoint written before stopping, or None.
    """

    def __init__(self, message: str, signal_number: int, checkpoint=None) -> None:
        self.signal_number = signal_number
        self.checkpoint = checkpoint
        super().__init__(message)


class MissingExtraError(StreamgdError, ImportError):
    """A feature needs an optional extra that is not installed; names the pip line."""
