"""Ranges, choices and cross-field rules for the notebooks' parameters, checked before anything runs.

The notebooks' ``parameters`` cells declare each parameter's type (``seed: int = 0``); the runner
(:func:`cjlib.report.validate_parameters`) coerces values to those types, then calls :func:`check` on each
notebook's effective parameters (defaults overlaid with the given values). :func:`check` knows one rule
per parameter name — a range, a set of choices, a duration or a date — and the cross-field rules
(``k_min <= k_max``, ``start_date < end_date``), and raises one :class:`ParameterError` naming every
parameter that breaks its rule, the value and what it accepts. Names it has no rule for pass.

A notebook run with plain papermill can call the same rules on its own namespace in its first cell after
the parameters (``cjlib.parameters.check(globals())``): only the names that have a rule are looked at.

Examples
--------
>>> check({"k_min": 2, "k_max": 8, "window": "7D"})
>>> problems({"window": "-7D", "k_min": 2})
["parameter 'window' is '-7D': accepts 'auto', '' (unbounded) or a positive duration such as 7D or 12h"]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ParameterError", "RULES", "SAMPLE_TABLES", "check", "check_with_stage_map", "problems",
           "sample_tables_off"]


class ParameterError(ValueError):
    """A report parameter that no selected notebook declares, of the wrong type, or out of range."""


# --------------------------------------------------------------------------------------------- rules
# each rule returns '' when the value is fine, else what the parameter accepts
Rule = Callable[[Any], str]


def _int(lo: int, hi: int | None = None, what: str = "") -> Rule:
    accepts = (f"a whole number from {lo} to {hi}" if hi is not None else f"a whole number, {lo} or more")
    accepts += f" ({what})" if what else ""

    def rule(v: Any) -> str:
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
        return "" if ok else accepts
    return rule


def _choice(*choices: str, empty: str = "", fold: bool = False) -> Rule:
    shown = ", ".join(repr(c) for c in choices)
    accepts = f"one of {shown}" + (f", or '' ({empty})" if empty else "")

    def rule(v: Any) -> str:
        if not isinstance(v, str):
            return accepts
        s = v.strip().lower() if fold else v.strip()
        if empty and not s:
            return ""
        return "" if s in (tuple(c.lower() for c in choices) if fold else choices) else accepts
    return rule


_UNIT = re.compile(r"[a-zA-Zµ]")


def _duration_ok(v: Any, allow_zero: bool = False) -> bool:
    """A pandas duration with a unit (``"7D"``, ``"12h"``, ``"1 days 02:00:00"``); a bare number (which
    pandas reads as nanoseconds) is refused."""
    import pandas as pd

    if not isinstance(v, str) or not _UNIT.search(v):
        return False
    try:
        td = pd.Timedelta(v.strip())
    except (ValueError, TypeError, OverflowError):
        return False
    return not pd.isna(td) and (td >= pd.Timedelta(0) if allow_zero else td > pd.Timedelta(0))


def _duration(*, auto: bool = False, empty: str = "") -> Rule:
    extra = (["'auto'"] if auto else []) + ([f"'' ({empty})"] if empty else [])
    accepts = (", ".join(extra) + " or " if extra else "") + "a positive duration such as 7D or 12h"

    def rule(v: Any) -> str:
        if isinstance(v, str) and ((auto and v.strip().lower() == "auto") or (empty and not v.strip())):
            return ""
        return "" if _duration_ok(v) else accepts
    return rule


def _fraction() -> Rule:
    accepts = "a number from 0 up to (not including) 1, such as 0.1 for 10 % a year"

    def rule(v: Any) -> str:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1
        return "" if ok else accepts
    return rule


def _compare_period(v: Any) -> str:
    accepts = "'auto', 'day', 'week', 'month', '' (switched off) or a positive duration such as 30D or 12h"
    if isinstance(v, str) and v.strip().lower() in ("", "auto", "day", "week", "month"):
        return ""
    return "" if _duration_ok(v) else accepts


def _exclude(v: Any) -> str:
    from cjlib.funnel import parse_exclude

    if not isinstance(v, str):
        return "event names like payment_error, a|b for either, NAME@2-3 for between steps 2 and 3"
    try:
        parse_exclude(v)
    except ValueError as exc:
        return str(exc).removeprefix("exclude: ")
    return ""


def _date(empty: str) -> Rule:
    accepts = f"a date such as 2025-01-31, or '' ({empty})"

    def rule(v: Any) -> str:
        return "" if _as_date(v) is not None or (isinstance(v, str) and not v.strip()) else accepts
    return rule


def _as_date(v: Any):
    import pandas as pd

    if not isinstance(v, str) or not v.strip():
        return None
    try:
        ts = pd.Timestamp(v.strip())
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(ts):
        return None
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _nonempty(what: str) -> Rule:
    def rule(v: Any) -> str:
        return "" if isinstance(v, str) and v.strip() else what
    return rule


def _k(v: Any) -> str:
    accepts = "'auto' or a whole number of personas, 2 or more"
    if isinstance(v, int) and not isinstance(v, bool):
        return "" if v >= 2 else accepts
    if not isinstance(v, str):
        return accepts
    s = v.strip().lower()
    return "" if s == "auto" or (s.isdigit() and int(s) >= 2) else accepts


def _models(v: Any) -> str:
    from cjlib.attribution import MODELS

    known = [*MODELS, "time_decay"]
    accepts = "a comma-separated list of " + ", ".join(known)
    if not isinstance(v, str):
        return accepts
    items = [m.strip() for m in v.split(",") if m.strip()]
    return "" if items and set(items) <= set(known) else accepts


def _stage_model(v: Any) -> str:
    from cjlib.attribution import MODELS

    return _choice(*MODELS)(v)


RULES: dict[str, Rule] = {
    # shared by every notebook
    "events_path": _nonempty("a file or folder of events (it cannot be switched off)"),
    "events_format": _choice("table", "ga4", "segment", empty="table", fold=True),
    "output_dir": _nonempty("a folder for the CSV exports"),
    "start_date": _date("keeps all"),
    "end_date": _date("keeps all"),
    "seed": _int(0, 2**32 - 1),
    # 00, 01 and 04
    "trend_freq": _choice("M", "W"),
    "retention_based_on": _choice("conversion", "activity"),
    "min_segment_customers": _int(1, what="customers"),
    # 01
    "k": _k,
    "k_min": _int(2, what="personas"),
    "k_max": _int(2, what="personas"),
    "method": _choice("kmeans", "gmm"),
    # 02
    "touch_col": _nonempty("an event column such as channel"),
    "lookback": _duration(),
    "models": _models,
    "markov_order": _int(1, 10, "a state is that many consecutive channels"),
    "half_life": _duration(),
    "n_bootstrap": _int(1, what="bootstrap replicates"),
    "stage_model": _stage_model,
    "min_touches": _int(1, what="touches"),
    # 03
    "window": _duration(auto=True, empty="unbounded"),
    "mode": _choice("ordered", "strict", "any"),
    "unit": _choice("customer", "session"),
    "checkout_unit": _choice("session", "customer", empty="session when the log has web visits, else customer"),
    "min_segment_units": _int(1, what="units"),
    "min_support": _int(1, what="units"),
    "recovery_days": _int(1, what="days"),
    "cohort_freq": _choice("week", "month", fold=True),
    "compare_period": _compare_period,
    "exclude": _exclude,
    # 04
    "cutoff": _date("the last event date + 1 day - churn_window_days"),
    "churn_window_days": _int(0, what="days; 0 fits the window to the customers' gaps between active days"),
    "model": _choice("auto", "gbm", "logistic", "bgnbd", "ensemble"),
    "rank_by": _choice("value_at_risk", "risk"),
    "value_horizon_days": _int(1, what="days of future value"),
    "discount_rate": _fraction(),
}


def _cross(params: Mapping[str, Any]) -> list[str]:
    """Rules between parameters (each of them already within its own rule)."""
    out = []
    lo, hi = params.get("k_min"), params.get("k_max")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        out.append(f"parameters 'k_min' = {lo} and 'k_max' = {hi}: k_min must be at most k_max")
    start, end = _as_date(params.get("start_date")), _as_date(params.get("end_date"))
    if start is not None and end is not None and start >= end:
        out.append(f"parameters 'start_date' = {params['start_date']!r} and 'end_date' = {params['end_date']!r}: "
                   "start_date must be before end_date (events are kept from start_date up to end_date)")
    return out


def problems(params: Mapping[str, Any]) -> list[str]:
    """One sentence per parameter of ``params`` that breaks its rule (names without a rule pass).

    Parameters
    ----------
    params : mapping
        Parameter name → typed value (a notebook's ``globals()`` works).

    Returns
    -------
    list of str
        One sentence per broken rule (the cross-field rules only when every single value passes); empty
        when all pass.

    Examples
    --------
    >>> problems({"seed": 0})
    []
    >>> problems({"start_date": "2025-02-01", "end_date": "2025-01-01"})[0][:40]
    "parameters 'start_date' = '2025-02-01' a"
    """
    out = []
    for name, rule in RULES.items():
        if name in params:
            accepts = rule(params[name])
            if accepts:
                out.append(f"parameter '{name}' is {params[name]!r}: accepts {accepts}")
    return out if out else _cross(params)


def check(params: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` naming every parameter of ``params`` out of its range or choices.

    ``params`` is a mapping of parameter names to typed values (a notebook's ``globals()`` works: only
    the names that have a rule in :data:`RULES` are looked at).

    Parameters
    ----------
    params : mapping
        Parameter name → typed value.

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        One line naming every broken rule (see :func:`problems`).
    """
    bad = problems(params)
    if bad:
        raise ParameterError("; ".join(bad))


def check_with_stage_map(params: Mapping[str, Any], *, stage_map) -> None:
    """The rules that need the stage map: ``journey`` and ``checkout_journey`` must name its journeys.

    Parameters
    ----------
    params : mapping
        Parameter name → typed value; ``journey`` (unless ``steps`` is given) and ``checkout_journey`` are
        read.
    stage_map : StageMap
        The loaded stage map.

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        A name that is not one of the stage map's journeys, with the names it has.
    """
    from cjlib.funnel import resolve_checkout, resolve_journey

    try:
        if isinstance(params.get("journey"), str) and not str(params.get("steps") or "").strip():
            resolve_journey(params["journey"], stage_map=stage_map)
        if isinstance(params.get("checkout_journey"), str):
            resolve_checkout(params["checkout_journey"], stage_map=stage_map)
    except ValueError as exc:
        raise ParameterError(f"parameter {exc}") from None


# ------------------------------------------------------------------------------ the sample's tables
SAMPLE_TABLES = ("customers_path", "feedback_path", "costs_path")


def _in_sample(path: Any) -> bool:
    """Whether ``path`` is a local file of the bundled sample (``data/sample``)."""
    from cjlib.paths import SAMPLE_DIR, resolve

    if not isinstance(path, str) or not path.strip() or "://" in path:
        return False
    try:
        return resolve(path).is_relative_to(SAMPLE_DIR)
    except (OSError, ValueError):
        return False


def sample_tables_off(params: Mapping[str, Any]) -> dict[str, str]:
    """The optional tables to switch off because they are the sample's while the events are not.

    The notebooks' defaults point every table at the bundled sample (``data/sample``), so a run given only
    ``events_path`` would otherwise join the sample's customer attributes, feedback and spend to another
    log's customers. Both the runner and :func:`cjlib.report.load` (plain papermill) apply this.

    Parameters
    ----------
    params : Mapping
        Parameters with ``events_path`` and any of :data:`SAMPLE_TABLES`.

    Returns
    -------
    dict
        ``{name: ""}`` for each of :data:`SAMPLE_TABLES` that is a sample file while ``events_path`` is not
        (empty when the events are the sample's).

    Examples
    --------
    >>> sample_tables_off({"events_path": "/data/shop.csv", "customers_path": "data/sample/customers.parquet",
    ...                    "costs_path": "/data/spend.csv"})
    {'customers_path': ''}
    >>> sample_tables_off({"events_path": "data/sample/events.parquet", "customers_path": "data/sample/customers.parquet"})
    {}
    """
    if not params.get("events_path") or _in_sample(params.get("events_path")):
        return {}
    return {k: "" for k in SAMPLE_TABLES if _in_sample(params.get(k))}
