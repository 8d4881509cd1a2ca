"""Load and validate the inputs: events, customers, feedback, channel costs.

Every loader reads CSV, a Parquet file or a partitioned Parquet folder; maps the user's column names onto
the contract's (``columns={"customer_id": "user_pseudo_id", ...}``); validates (pandera schemas plus a few
rules pandera cannot express); and returns a new DataFrame. Bad input raises :class:`cjlib.DataError`
naming the file, the column, the rule and up to five offending rows.

Conventions of the loaded frames (documented in ``data/README.md``):

- Timestamps become timezone-naive UTC: offsets and time zones are converted to UTC and dropped; naive
  values are taken to be UTC already; integer epochs are read in s, ms, us or ns by their magnitude.
- ``event`` and ``channel`` become categoricals.
- Events end ordered by (customer, timestamp, original row order): ties keep the input order.
- Exact duplicate rows are dropped by default (``keep_duplicates=True`` keeps them); the count is warned
  about and kept in ``attrs["duplicates_dropped"]``. A log of dates only (every timestamp at midnight)
  keeps them, counted in ``attrs["duplicates_kept"]``: two equal rows may be two events of one day.
- Events not named in the stage map are counted and warned about (``attrs["unknown_events"]``), not fatal.

Modules: ``columns`` (the column mapping and its options), ``schema`` (required columns, pandera rules,
timestamps, duplicates), ``order`` (sortedness and categoricals), ``loaders`` (one per table), ``inputs``
(:class:`Inputs` and :func:`load_inputs`). Every name is importable from ``cjlib.io``.
"""

from cjlib.io.columns import OPTIONS, parse_columns, read_json_or_yaml
from cjlib.io.inputs import Inputs, load_inputs
from cjlib.io.loaders import (
    events_from_frame,
    load_costs,
    load_customers,
    load_events,
    load_feedback,
    with_personas,
)
from cjlib.io.order import _arrow as _arrow  # used by cjlib.journeys
from cjlib.io.order import _is_sorted as _is_sorted  # used by cjlib.journeys
from cjlib.io.order import categories_used, ensure_sorted, neighbours_differ
from cjlib.io.schema import MAX_AMOUNT, N_EXAMPLES, REQUIRED
from cjlib.io.schema import _validate as _validate  # used by tests/test_fuzz_inputs.py
from cjlib.readers import read_ga4, read_segment  # the export formats (events_format ga4, segment)

__all__ = [
    "MAX_AMOUNT",
    "N_EXAMPLES",
    "OPTIONS",
    "REQUIRED",
    "Inputs",
    "categories_used",
    "ensure_sorted",
    "events_from_frame",
    "load_costs",
    "load_customers",
    "load_events",
    "load_feedback",
    "load_inputs",
    "neighbours_differ",
    "parse_columns",
    "read_ga4",
    "read_json_or_yaml",
    "read_segment",
    "with_personas",
]
