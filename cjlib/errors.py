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
    parameter : str, optional
        The parameter (``events_path``, ``start_date``, ``columns`` …) whose value is at fault.

    Examples
    --------
    >>> str(DataError("2 value(s) are not finite", file="events.csv", column="revenue", rule="finite_revenue",
    ...               examples=["row 3: revenue=inf"]))
    "events.csv: column 'revenue': rule finite_revenue: 2 value(s) are not finite — e.g. row 3: revenue=inf"
    >>> str(DataError("must be a date like 2025-01-31, got 'soon'", parameter="start_date", rule="parseable_date"))
    "parameter 'start_date': rule parseable_date: must be a date like 2025-01-31, got 'soon'"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rule: str | None = None,
        examples: Sequence[str] = (),
        parameter: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.rule = rule
        self.examples = list(examples)[:5]
        self.parameter = parameter
        super().__init__(self._one_line())

    def __reduce__(self):  # picklable (Dask workers, papermill) with its keyword-only fields
        return (_rebuild, (self.message, self.file, self.column, self.rule, self.examples, self.parameter))

    def _one_line(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.parameter:
            parts.append(f"parameter '{self.parameter}'")
        if self.column:
            parts.append(f"column '{self.column}'")
        if self.rule:
            parts.append(f"rule {self.rule}")
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.examples:
            text += " — e.g. " + "; ".join(self.examples)
        return " ".join(text.split())  # one line, whatever the examples held


def _rebuild(message, file, column, rule, examples, parameter) -> DataError:
    return DataError(message, file=file, column=column, rule=rule, examples=examples, parameter=parameter)


def row_examples(df, mask, cols: Sequence[str] | None = None, limit: int = 5) -> list[str]:
    """Up to ``limit`` rows of ``df`` where ``mask`` holds, each formatted ``row 3: revenue=inf, …``
    (the examples of a :class:`DataError`); ``cols`` picks the columns shown.

    Parameters
    ----------
    df : DataFrame
        The table the rows come from.
    mask : array-like of bool
        One flag per row of ``df``: the rows to show.
    cols : sequence of str, optional
        Columns shown, those ``df`` has (default: every column).
    limit : int, default 5
        Most rows shown (the first ones).

    Returns
    -------
    list of str
        One line per row, labelled by its index.
    """
    import numpy as np

    rows = df.loc[np.asarray(mask, dtype=bool)].head(limit)
    if cols:
        rows = rows[[c for c in cols if c in rows.columns]]
    out = []
    for idx, row in rows.iterrows():
        fields = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in row.items())
        out.append(f"row {idx}: {fields}")
    return out


class DataWarning(UserWarning):
    """Suspicious but usable input (unknown events, dropped duplicates)."""
