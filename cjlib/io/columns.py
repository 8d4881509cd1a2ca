"""The column mapping (``columns=``): contract name → the data's column, flat or per table, plus options."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from cjlib.errors import DataError
from cjlib.io.schema import REQUIRED
from cjlib.paths import resolve
from cjlib.reading import column_names, read_text
from cjlib.timestamps import check_timestamp_format

OPTIONS = ("timestamp_format",)  # keys of a column mapping that are options, not column names


def parse_columns(columns: Mapping[str, str] | str | Path | None) -> dict:
    """Normalise a column mapping (contract name → the data's name).

    Accepts a dict, YAML/JSON text (``"{customer_id: user_pseudo_id}"``), the path of a YAML/JSON file,
    or ``None``/``""`` for no mapping. A mapping is either flat (``{"customer_id": "user_pseudo_id"}``) or
    per table (``{"events": {...}, "customers": {...}, "feedback": {...}, "costs": {...}}``);
    :func:`load_inputs` applies a flat one to each table that has the named column. The key
    ``timestamp_format`` (``dayfirst``, ``monthfirst`` or a strftime format) is an option, not a column:
    at the top level it applies to every table, inside a table's part to that table.

    Parameters
    ----------
    columns : dict, str, Path or None
        The mapping, as a dict, YAML/JSON text or the path of a YAML/JSON file.

    Returns
    -------
    dict
        The mapping as a dict (flat or per table, as given); ``{}`` for ``None`` or ``""``.

    Raises
    ------
    DataError
        (a ``ValueError``; rule ``column_mapping``, parameter ``columns``) Not a mapping; a per-table
        mapping naming another table; flat and per-table entries mixed; a bad ``timestamp_format``; a
        mapping file that is missing or not UTF-8 text.

    Examples
    --------
    >>> parse_columns("{customer_id: user_pseudo_id, timestamp: event_timestamp}")
    {'customer_id': 'user_pseudo_id', 'timestamp': 'event_timestamp'}
    >>> parse_columns("{events: {event: event_name}}")
    {'events': {'event': 'event_name'}}
    >>> parse_columns("{events: {event: event_name, timestamp_format: dayfirst}}")
    {'events': {'event': 'event_name', 'timestamp_format': 'dayfirst'}}
    """
    if columns is None or (isinstance(columns, str) and not columns.strip()):
        return {}
    if isinstance(columns, Mapping):
        return _checked_mapping(dict(columns), columns)
    if not isinstance(columns, (str, os.PathLike)):
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, got {columns!r}")
    text, source = str(columns), None
    candidate = resolve(text) if len(text) < 4096 and "\n" not in text and ":" not in text else None
    if candidate is not None and candidate.is_file():
        text, source = read_text(candidate, "column mapping", "columns"), str(candidate)
    elif candidate is not None and candidate.suffix.lower() in {".yml", ".yaml", ".json"}:
        raise DataError("column mapping file not found", file=str(candidate), parameter="columns",
                        rule="file_exists")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        where = "this file is not valid YAML/JSON" if source else f"got {columns!r}"
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, {where}", source) from None
    if not isinstance(parsed, Mapping):
        raise _mapping_error(f"columns must be a mapping as YAML/JSON text or a file, got {columns!r}", source)
    return _checked_mapping(dict(parsed), columns, source)


def _mapping_error(message: str, file: str | None = None) -> DataError:
    """A :class:`DataError` about the ``columns`` parameter. Its text starts with the message itself, which
    names ``columns`` (the report runner prefixes "parameter 'columns':"); ``rule`` and ``parameter`` are set."""
    err = DataError(f"{message} (rule column_mapping)", file=file)
    err.rule, err.parameter = "column_mapping", "columns"
    return err


def _checked_mapping(mapping: dict, given: object, source: str | None = None) -> dict:
    """``mapping`` if it is flat (name → name) or per table (table → flat mapping), each part with valid
    options, else :class:`DataError`."""
    options = {k: _checked_option(k, mapping.pop(k), source) for k in OPTIONS if k in mapping}
    nested = [k for k, v in mapping.items() if isinstance(v, Mapping) or (v is None and k in REQUIRED)]
    if not nested:
        bad = next((k for k, v in mapping.items() if not isinstance(v, str)), None)
        if bad is not None:
            raise _mapping_error(f"columns: '{bad}' must map to a column name, got {mapping[bad]!r}", source)
        return {**mapping, **options}
    if len(nested) < len(mapping):
        flat = next(k for k in mapping if k not in nested)
        raise _mapping_error(f"columns must be either flat ({{customer_id: user_pseudo_id}}) or per table "
                             f"({{events: {{...}}, customers: {{...}}}}), not both: '{flat}' is flat, "
                             f"'{nested[0]}' is a table, in {given!r}", source)
    unknown = [k for k in nested if k not in REQUIRED]
    if unknown:
        raise _mapping_error(f"columns names the table '{unknown[0]}'; tables are {', '.join(REQUIRED)}", source)
    parts = {k: _checked_mapping(dict(v or {}), v, source) for k, v in mapping.items()}
    for k, part in parts.items():
        if any(isinstance(v, Mapping) for v in part.values()):
            raise _mapping_error(f"columns: the '{k}' part must be flat (contract name: your column name)", source)
    return {**parts, **options}


def _checked_option(key: str, value: object, source: str | None) -> str | None:
    try:
        return check_timestamp_format(value)
    except DataError as exc:
        raise _mapping_error(f"columns: {exc.message}", source) from None


def _is_per_table(columns: Mapping) -> bool:
    tables = [v for k, v in columns.items() if k not in OPTIONS]
    return bool(tables) and all(isinstance(v, Mapping) for v in tables)


def _table_mapping(columns: Mapping, table: str, present: list[str] | None = None) -> dict[str, str]:
    """The part of a (flat or per-table) mapping that applies to ``table``, options included.

    With ``present`` (the table's column names), a flat mapping keeps only the entries whose column the
    table has; a per-table mapping is used as it is (each of its entries must name a column). Options at
    the top level apply to every table unless its part sets them.
    """
    options = {k: v for k, v in columns.items() if k in OPTIONS and v is not None}
    if _is_per_table(columns):
        return {**options, **(columns.get(table) or {})}
    if present is None:
        return dict(columns)
    return {k: v for k, v in columns.items() if v in present or k in OPTIONS}


def _split_options(mapping: Mapping) -> tuple[dict[str, str], dict[str, str]]:
    """(renames, options) of one table's mapping."""
    return ({k: v for k, v in mapping.items() if k not in OPTIONS},
            {k: v for k, v in mapping.items() if k in OPTIONS and v is not None})


def _rename(df: pd.DataFrame, mapping: Mapping[str, str], file: str) -> pd.DataFrame:
    """Rename the data's columns to the contract's; every entry must name a column of ``df``."""
    if not mapping:
        return df
    missing = {k: v for k, v in mapping.items() if v not in df.columns}
    if missing:
        k, v = next(iter(missing.items()))
        raise DataError(
            f"the column mapping names '{v}' for '{k}', but the data has no such column "
            f"(columns: {', '.join(map(str, df.columns[:12]))})",
            file=file,
            column=k,
            rule="missing_column",
        )
    clash = [k for k, v in mapping.items() if k != v and k in df.columns and k not in mapping.values()]
    if clash:
        raise DataError(f"the column mapping renames '{mapping[clash[0]]}' to '{clash[0]}', but the data "
                        f"already has a '{clash[0]}' column", file=file, column=clash[0], rule="duplicate_column")
    return df.rename(columns={v: k for k, v in mapping.items()})


def _mapping_parts(mapping: dict, files: Mapping[str, str],
                   events_columns: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Each table's part of the column mapping (see :func:`load_inputs`).

    A flat entry that no loaded table has raises :class:`DataError` before anything is loaded, naming
    the entry and each table's columns, so a typo is caught. ``events_columns``: the columns an export
    reader gives (the events file's own fields are not what the mapping names).
    """
    tables = ("events", "customers", "feedback", "costs")
    if _is_per_table(mapping) or not mapping:
        return {t: _table_mapping(mapping, t) for t in tables}
    present = {t: events_columns if t == "events" and events_columns else column_names(p) for t, p in files.items()}
    if all(cols is not None for cols in present.values()):
        unused = [k for k, v in mapping.items()
                  if k not in OPTIONS and not any(v in cols for cols in present.values())]
        if unused:
            k = unused[0]
            have = "; ".join(f"{_shown(files[t]).rstrip('/').rsplit('/', 1)[-1]}: {', '.join(cols[:12])}"
                             for t, cols in present.items())
            raise DataError(f"the column mapping names '{mapping[k]}' for '{k}', but no input has such a "
                            f"column ({have})", file=", ".join(_shown(p) for p in files.values()),
                            column=k, rule="missing_column")
    return {t: _table_mapping(mapping, t, present.get(t)) for t in tables}


def _shown(path) -> str:
    """A table's path as messages name it: resolved (:func:`cjlib.paths.resolve`), a URL as given."""
    return str(path) if "://" in str(path) else str(resolve(path))


def read_json_or_yaml(text: str) -> object:
    """Parse a parameter given as JSON or YAML text.

    Parameters
    ----------
    text : str
        JSON, or else YAML, text.

    Returns
    -------
    object
        The parsed value (JSON first; YAML when the text is not valid JSON).

    Examples
    --------
    >>> read_json_or_yaml('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> read_json_or_yaml("a: b")
    {'a': 'b'}
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return yaml.safe_load(text)
