"""What each section of 03_dropoff records and says: its metrics dict (for :func:`cjlib.report.record_all`),
its findings as one text, and the summary bullets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from cjlib.findings import paragraphs
from cjlib.findings.dropoff.diagnostics import (
    _cart_days,
    cart_line,
    cart_sentence,
    drivers_line,
    drivers_sentence,
    dwell_sentence,
    flows_line,
    friction_line,
    friction_sentence,
    time_to_convert_line,
)
from cjlib.findings.dropoff.periods import period_line
from cjlib.findings.dropoff.sentences import (
    CART_METHOD,
    SEGMENT_METHOD,
    _steps,
    ambiguity_note,
    bullets,
    checkout_line,
    data_sentence,
    error_events_sentence,
    funnel_line,
    segment_gaps_title,
    segment_notes,
    setup_notes,
    step_worst_line,
    worst_segment_line,
    worst_segment_sentence,
)


# ------------------------------------------------------------------------------- a section's metrics and notes
def data_metrics(summary: Mapping) -> dict:
    """``n_events`` and ``n_customers`` of :meth:`cjlib.Inputs.summary`.

    Parameters
    ----------
    summary : Mapping
        :meth:`cjlib.Inputs.summary`.

    Returns
    -------
    dict

    Examples
    --------
    >>> data_metrics({"events": 10, "customers": 3, "first_event": "2025-01-01", "last_event": "2025-01-31"})
    {'n_events': 10, 'n_customers': 3}
    """
    return {"n_events": summary["events"], "n_customers": summary["customers"]}


def setup_findings(data, chosen, by: str, *, ambiguous: Sequence[str] = ()) -> str:
    """The opening finding of 03_dropoff: the **Data:** line, then notes on named segment columns the data
    lacks or that are identifiers or outcomes, on a missing customer table, and on step names that are both
    a stage and an event.

    Parameters
    ----------
    data : Inputs
        :func:`cjlib.report.load` (its ``summary()``, ``profile`` and ``customers``).
    chosen : ReportSegments
        :func:`cjlib.funnel.report_segments`.
    by : str
        The ``segments`` parameter as written (``""``: the profile's choice, whose notes are not repeated).
    ambiguous : list of str
        :func:`cjlib.funnel.ambiguous_steps` of the report's funnels.

    Returns
    -------
    str
    """
    prof = data.profile
    wanted = [c for c in str(by).split(",") if c.strip()]
    notes = (segment_notes(wanted, chosen.columns, chosen.missing, id_like=prof.id_like,
                           outcome_like=prof.outcome_like, auto=not str(by).strip())
             + setup_notes(has_customers=data.customers is not None))
    return paragraphs(data_sentence(data.summary()), *(f"*Note:* {note}" for note in notes),
                      ambiguity_note(list(ambiguous)))


def _steps_rows(table: pd.DataFrame) -> list[dict]:
    return [{"step": r.step, "reached": int(r.reached), "conversion_from_start": r.conversion_from_start}
            for r in table.itertuples()]


def _conversion(table: pd.DataFrame) -> float | None:
    return float(table["conversion_from_start"].iloc[-1]) if table["reached"].iloc[0] else None


def funnel_metrics(table: pd.DataFrame, *, window) -> dict:
    """The main funnel's metrics: ``funnel`` (step, reached, conversion from start per step),
    ``funnel_conversion`` (``None`` when nobody enters), ``funnel_window`` and ``largest_drop_step``
    (:func:`cjlib.funnel.largest_drop`).

    Parameters
    ----------
    table : DataFrame
        The main :func:`cjlib.funnel.funnel` table.
    window : str or None
        The conversion window in use (``None``: unbounded).

    Returns
    -------
    dict

    Examples
    --------
    >>> t = pd.DataFrame({"step": ["a", "b"], "reached": [4, 1], "conversion_from_start": [1.0, 0.25],
    ...                   "dropped": [0, 3], "drop_off_rate": [float("nan"), 0.75]})
    >>> funnel_metrics(t, window=None)["funnel_conversion"], funnel_metrics(t, window="7D")["funnel_window"]
    (0.25, '7D')
    """
    from cjlib.funnel import largest_drop

    drop = largest_drop(table)
    return {"funnel": _steps_rows(table), "funnel_conversion": _conversion(table),
            "funnel_window": window or "unbounded", "largest_drop_step": drop["to_step"] if drop else None}


def checkout_metrics(table: pd.DataFrame, *, unit: str) -> dict:
    """The checkout funnel's metrics: ``checkout_funnel``, ``checkout_funnel_conversion``, ``checkout_unit``.

    Parameters
    ----------
    table : DataFrame
        The checkout funnel table.
    unit : str
        Its unit.

    Returns
    -------
    dict
    """
    return {"checkout_funnel": _steps_rows(table), "checkout_funnel_conversion": _conversion(table),
            "checkout_unit": unit}


def segment_metrics(comparisons: Mapping[str, pd.DataFrame], steps: Sequence[str], *, min_units: int) -> dict:
    """``worst_segment`` (into the last step) and ``worst_segments`` (the worst at each later step, where one
    is earned) of :func:`cjlib.funnel.compare_segments` results per column (:func:`cjlib.funnel.worst_segment`).

    Parameters
    ----------
    comparisons : mapping of str to DataFrame
        Segment column → :func:`cjlib.funnel.compare_segments` result.
    steps : list of str
        The funnel's step labels.
    min_units : int
        Smaller levels are never named.

    Returns
    -------
    dict
    """
    from cjlib.funnel import worst_segment

    per_step = [worst_segment(comparisons, to_step=s, min_units=min_units) for s in steps[1:]]
    return {"worst_segment": worst_segment(comparisons, to_step=steps[-1], min_units=min_units),
            "worst_segments": [w for w in per_step if w]}


def segment_findings(worst: dict | None, *, to_step: str, unit: str, min_units: int,
                     any_segments: bool = True, comparisons: Mapping[str, pd.DataFrame] | None = None) -> str:
    """The segment section's finding: the method (:data:`SEGMENT_METHOD`), then the worst segment
    (``""`` without segment columns).

    Parameters
    ----------
    worst : dict or None
        ``segment_metrics(...)["worst_segment"]``.
    to_step, unit, min_units
        As in :func:`worst_segment_sentence`.
    any_segments : bool, default True
        ``False``: there are no segment columns (nothing to say).
    comparisons : mapping of str to DataFrame, optional
        The :func:`cjlib.funnel.compare_segments` results the worst was picked from; with them, when no
        level has ``min_units`` units at the transition into ``to_step``, the sentence says none was
        compared (default ``None``: some level is assumed large enough).

    Returns
    -------
    str
    """
    if not any_segments:
        return ""
    compared = comparisons is None or _any_compared(comparisons, min_units, to_step=to_step)
    return paragraphs(SEGMENT_METHOD.format(min_units=min_units),
                      worst_segment_sentence(worst, to_step=to_step, unit=unit, min_units=min_units,
                                             compared=compared))


def _any_compared(comparisons: Mapping[str, pd.DataFrame], min_units: int, *, to_step=None) -> bool:
    """Whether any level of any column has ``min_units`` units at a transition (into ``to_step``, when given)."""
    for c in comparisons.values():
        if to_step is not None:
            c = c[c["to_step"] == to_step]
        if (pd.to_numeric(c["units"], errors="coerce") >= min_units).any():
            return True
    return False


def segment_gaps_titles(comparisons: Mapping[str, pd.DataFrame], *, unit: str, funnel: str,
                        min_units: int) -> dict[str, str]:
    """Column → title of its segment-gap heatmap (:func:`segment_gaps_title` of its worst level);
    ``funnel`` names the funnel (``"checkout"`` → "checkout funnel").

    Parameters
    ----------
    comparisons : mapping of str to DataFrame
    unit : str
    funnel : str
    min_units : int

    Returns
    -------
    dict of str to str
    """
    from cjlib.funnel import worst_segment

    return {col: segment_gaps_title(worst_segment({col: c}, min_units=min_units), col, unit=unit,
                                    funnel=f"{funnel} funnel", min_units=min_units,
                                    compared=_any_compared({col: c}, min_units)) for col, c in comparisons.items()}


def worst_transition(comparisons: Mapping[str, pd.DataFrame], worst: dict) -> pd.DataFrame:
    """The rows of the worst segment's column at the worst segment's transition (for its interval chart).

    Parameters
    ----------
    comparisons : mapping of str to DataFrame
    worst : dict
        :func:`cjlib.funnel.worst_segment`.

    Returns
    -------
    DataFrame
    """
    c = comparisons[worst["column"]]
    return c[c["to_step"] == worst["to_step"]]


DRIVERS_METHOD = ("For every event seen after entering the funnel and before converting (or the window's end), the odds "
                  "of converting for units that did it against those that did not (+1 smoothing, 95 % interval). These "
                  "are associations, not effects: non-converters are watched for longer.")


def drivers_findings(drv, *, unit: str) -> str:
    """The drivers section's finding: the method (:data:`DRIVERS_METHOD`), then :func:`drivers_sentence`.

    Parameters
    ----------
    drv : Drivers
    unit : str

    Returns
    -------
    str
    """
    return paragraphs(DRIVERS_METHOD, drivers_sentence(drv, unit=unit))


def drivers_metrics(drv) -> dict:
    """``drivers``: event, units with it, conversion with and without it, odds ratio (nothing when no
    event has the support).

    Parameters
    ----------
    drv : Drivers

    Returns
    -------
    dict
    """
    if not len(drv.table):
        return {}
    return {"drivers": drv.table[["event", "units_with", "rate_with", "rate_without", "odds_ratio"]]}


PATHS_INTRO = "Top paths after the last step reached (share of the droppers at that step):"
FLOWS_METHOD = ("The next three events of every unit that entered the funnel but did not finish it, after the last "
                "step it reached (`(end)`: nothing followed in the unit).")


def flows_metrics(flows) -> dict:
    """``dropper_end_share`` of a :class:`cjlib.funnel.DropoffFlows`.

    Parameters
    ----------
    flows : DropoffFlows

    Returns
    -------
    dict
    """
    from cjlib.funnel import dropper_end_share

    return {"dropper_end_share": dropper_end_share(flows.flows)}


def no_droppers(unit: str, table: pd.DataFrame | None = None) -> str:
    """Why the droppers' flow is not shown.

    Parameters
    ----------
    unit : str
    table : DataFrame, optional
        The funnel's :func:`cjlib.funnel.funnel` table (``step``, ``reached``): when nobody reached its step
        1 the reason is that nobody entered, not that nobody dropped out.

    Returns
    -------
    str

    Examples
    --------
    >>> no_droppers("customer", pd.DataFrame({"step": ["product_view", "purchase"], "reached": [0, 0]}))
    'no customer entered the funnel (nobody reached product_view), so nobody could drop out of it.'
    """
    if table is not None and len(table) and not int(table["reached"].iloc[0]):
        return f"no {unit} entered the funnel (nobody reached {table['step'].iloc[0]}), so nobody could drop out of it."
    return f"no {unit} that entered the funnel dropped out of it."


def friction_method(min_units: int) -> str:
    """What the friction chart shows and which signals can earn a finding.

    Parameters
    ----------
    min_units : int
        Signals met by fewer units earn no finding.

    Returns
    -------
    str
    """
    return ("Per transition: units that repeated the step (loops) or met an error event, and how each signal goes "
            f"with moving on (signals met by fewer than {min_units} units earn no finding); units that dwelt longer "
            "than 9 in 10 converters took are counted, not compared.")


def friction_findings(fr, worst: dict | None, *, unit: str, min_units: int) -> str:
    """The friction section's finding: the method, the worst friction when earned, the error events.

    Parameters
    ----------
    fr : Friction
    worst : dict or None
        :func:`cjlib.funnel.worst_friction`.
    unit : str
    min_units : int

    Returns
    -------
    str
    """
    return paragraphs(friction_method(min_units), friction_sentence(worst, unit=unit),
                      dwell_sentence(fr.table, unit=unit, min_units=min_units), error_events_sentence(fr.error_events))


def friction_metrics(fr) -> dict:
    """``friction``: the friction table without its dwell threshold.

    Parameters
    ----------
    fr : Friction

    Returns
    -------
    dict
    """
    return {"friction": fr.table.drop(columns="dwell_threshold")}


def cart_method(cart) -> str:
    """The definition of a cart, abandonment and recovery, with the events and the window in use.

    Parameters
    ----------
    cart : CartAbandonment

    Returns
    -------
    str
    """
    return CART_METHOD.format(carts=", ".join(cart.cart_event), buys=", ".join(cart.purchase_event),
                              days=_cart_days(cart))


def cart_findings(cart) -> str:
    """The cart section's finding: :func:`cart_method`, then :func:`cart_sentence`.

    Parameters
    ----------
    cart : CartAbandonment

    Returns
    -------
    str
    """
    return paragraphs(cart_method(cart), cart_sentence(cart))


def cart_metrics(cart) -> dict:
    """``cart_abandonment_rate`` (``None`` without carts) and ``cart_recovery_rate`` (``None`` without
    abandoned carts).

    Parameters
    ----------
    cart : CartAbandonment

    Returns
    -------
    dict
    """
    return {"cart_abandonment_rate": cart.abandonment_rate if cart.carts else None,
            "cart_recovery_rate": cart.recovery_rate if cart.abandoned else None}


def time_to_convert_metrics(ttc: pd.DataFrame, *, converts: bool) -> dict:
    """The median hours from step 1 to the conversion step (``funnel_median_hours_to_convert``), or to the last
    step when no step converts (``funnel_median_hours_to_last_step``); empty without units that got there.

    Parameters
    ----------
    ttc : DataFrame
        :func:`cjlib.funnel.time_to_convert`.
    converts : bool
        Whether its step is a conversion.

    Returns
    -------
    dict
    """
    if not len(ttc):
        return {}
    key = "funnel_median_hours_to_convert" if converts else "funnel_median_hours_to_last_step"
    return {key: float(ttc["hours"].median())}


def no_time_to_convert(unit: str, to_step: str) -> str:
    """Why time to convert is not shown.

    Parameters
    ----------
    unit : str
    to_step : str

    Returns
    -------
    str
    """
    return f"no {unit} reaches {to_step} in the funnel, so there is no time to convert."


def cohort_metrics(coh: pd.DataFrame) -> dict:
    """``cohort_conversion``: cohort, units, converted and rate per entry cohort.

    Parameters
    ----------
    coh : DataFrame
        :func:`cjlib.funnel.conversion_by_cohort`.

    Returns
    -------
    dict
    """
    return {"cohort_conversion": coh[["cohort", "units", "converted", "rate"]]}


def units_export_sentence(unit: str, file_name: str) -> str:
    """Where the per-unit table went.

    Parameters
    ----------
    unit : str
    file_name : str
        The CSV written.

    Returns
    -------
    str
    """
    return f"The furthest step of every {unit} is in `{file_name}` (customer-level, not shown here)."


def summary(main: pd.DataFrame, *, name: str, unit: str, window, checkout: pd.DataFrame | None, checkout_unit: str,
            segment_metrics: Mapping, drivers, friction: dict | None, flows, cart, time_to_convert: pd.DataFrame,
            to_step: str, converts: bool, periods=None, fit=None) -> str:
    """The **Findings** bullets of 03_dropoff, those that are earned (``""`` when none is).

    Parameters
    ----------
    main, name, unit, window
        The main funnel table (its largest drop is :func:`cjlib.funnel.largest_drop`'s), name, unit, window.
    checkout, checkout_unit
        The checkout funnel table (``None`` without one) and the unit of the funnel that segments, drivers,
        flows and friction ran on (the checkout funnel's, else the main funnel's).
    segment_metrics : dict
        :func:`segment_metrics` (a parameter named after the function that makes it).
    drivers : Drivers
    friction : dict or None
        :func:`cjlib.funnel.worst_friction`.
    flows : DropoffFlows
    cart : CartAbandonment or None
    time_to_convert : DataFrame
        :meth:`cjlib.funnel.Funnel.time_to_convert` to ``to_step``; ``converts`` says whether it is a conversion.
    periods : PeriodComparison, optional
        :func:`cjlib.funnel.compare_periods` (``None``: the section was left out).
    fit : WindowChoice, optional
        :func:`cjlib.funnel.fit_window`'s result: steps with no event in the log (``absent``) are named in
        the funnel bullet instead of its conversion.

    Returns
    -------
    str
    """
    from cjlib.funnel import largest_drop

    worst = segment_metrics["worst_segment"]
    lines = [funnel_line(main, largest_drop(main), name=name, unit=unit, window=window,
                         absent=getattr(fit, "absent", ())),
             checkout_line(checkout, largest_drop(checkout), unit=checkout_unit) if checkout is not None else None,
             worst_segment_line(worst)]
    lines += [step_worst_line(w, worst) for w in segment_metrics["worst_segments"]]
    lines += [drivers_line(drivers), friction_line(friction, unit=checkout_unit), flows_line(flows.flows),
              cart_line(cart) if cart is not None else None,
              time_to_convert_line(time_to_convert, from_step=_steps(main)[0], to_step=to_step, converts=converts,
                                   unit=unit),
              period_line(periods)]
    return bullets(lines) or ""
