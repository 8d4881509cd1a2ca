"""Exceptions and warnings raised by cjlib."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DataError", "DataWarning"]


class DataError(ValueError):
    """Bad input data: names the file, the column, the rule and a few offending rows.

    ``str(err)`` is one line, so a command-line run can print it as is.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The file (or folder) the data came from.
    column : str, optional
        The offending column, in the contract's naming.
    rule : str, optional
        A short name of the rule that failed (``"missing_column"``, ``"negative_revenue"`` …).
    examples : sequence of str, optional
        Up to five offending rows, already formatted.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rule: str | None = None,
        examples: Sequence[str] = (),
    ) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.rule = rule
        self.examples = list(examples)[:5]
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.column:
            parts.append(f"column '{self.column}'")
        if self.rule:
            parts.append(f"rule {self.rule}")
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.examples:
            text += " — e.g. " + "; ".join(self.examples)
        return " ".join(text.split())  # one line, whatever the examples held


class DataWarning(UserWarning):
    """Suspicious but usable input (unknown events, dropped duplicates)."""
