"""Drop-off analysis: funnels with precise semantics, segment comparison, drivers, flows, friction.

Every function here works on an event log as :func:`cjlib.load_events` returns it (a user-made frame is
put in that order with :func:`cjlib.io.ensure_sorted`) and never mutates it. The core is one vectorized
matcher (:func:`funnel_units`) that finds, for every unit (customer or session), the furthest funnel step
reached and the times at which the steps were completed; :func:`funnel` and the other analyses summarise
its output. :class:`Funnel` matches once and answers every question of the same funnel (table,
segments, drivers, flows, friction, time to convert, cohorts) from that one match; the functions are
its one-call forms.

Modules: ``matching`` (step parsing and the matcher), ``tables`` (funnel table, time to convert,
cohorts), ``segments`` (segment comparison, drivers), ``flows`` (where droppers go, friction),
``carts``, ``journeys`` (a report's choices of funnels), ``fitted`` (:class:`Funnel`), ``distributed``
(the same analyses on a log shuffled by customer, :class:`cjlib.engine.Partitioned`: :class:`Funnel`,
:func:`report_segments`, :func:`cart_abandonment` and :func:`segment_cart_outcomes` take one and give what
they give in process).

Funnel rules (shared by every function that takes ``steps``)
------------------------------------------------------------
* **Steps.** Each step is an event name, a stage name from the stage map, or a list of names any of
  which satisfies the step. A name that is a stage name means the stage (stage names take precedence
  over event names): an event satisfies it when :func:`cjlib.journeys.assign_stages` labels it with that
  stage, so with the default map ``"retention"`` is satisfied by a customer's 2nd and later purchases and
  ``"purchase"`` by the first purchase only. Prefix a name with ``"event:"`` or ``"stage:"`` to choose
  explicitly (``"event:purchase"`` is every purchase event, as an event-level checkout funnel usually
  means); labels drop the prefix. A bare name that is both a stage and an event keeps the stage
  meaning but raises one :class:`~cjlib.errors.DataWarning` per call naming the ``event:`` form. Stage labels are always computed on the customer's whole history,
  also when ``unit="session"``.
* **Order.** Events are taken in the loader's order: (customer, timestamp, input order). Equal
  timestamps keep their input order, so of two events at the same instant the earlier row comes first
  and a step can be matched by an event at the same timestamp as the previous step, but never by the
  same row or an earlier row.
* **Attempts.** Every event satisfying step 1 starts an attempt. The conversion window is measured from
  that step-1 event: a later step counts when ``t_step - t_step1 <= window`` (the boundary is
  **inclusive**; ``window=None`` is unbounded).
* **Modes.** ``"ordered"``: step k is the earliest event satisfying step k after the event matched to
  step k-1 (other events may come between; greedy earliest matching is optimal). ``"strict"``: the event
  matched to step k must be the unit's very next event after the one matched to step k-1 (no other event
  of the unit in between). ``"any"``: step 1 opens the attempt and steps 2..K may come in any order after
  it, each matched by its earliest event after the step-1 event; a unit reaches step k when steps
  1..k are all present in the window. In ``"any"`` mode one event may satisfy several steps whose names
  overlap.
* **Furthest step.** A unit counts once, at the furthest step reached over all its attempts. Times are
  taken from the *earliest* attempt that reaches that furthest step.
* **Completion times.** A step's completion time is the latest matched time of steps 1..k (in ordered
  and strict mode simply the time of step k's event; in ``"any"`` mode the time by which steps 1..k were
  all done), so time from the previous step is never negative.
* **Units.** ``unit="customer"`` or ``"session"``: the data's ``session_id`` (per customer) when it has
  one, else :func:`cjlib.journeys.sessionize` with a 30-minute gap. All units in the data count in
  ``units_total``, including those that never reach step 1.

Funnel options (``optional=``, ``exclude=``, ``open=`` of :func:`funnel`, :func:`funnel_units`,
:class:`Funnel` and the :mod:`cjlib.engine` wrappers; none given: the rules above, unchanged)
------------------------------------------------------------------------------------------------
* **Optional steps.** A step written with a trailing ``"?"`` (``"search?"``; a list step when one of
  its names carries it) or named in ``optional=`` (1-based numbers or labels) may be skipped; the first
  and the last step cannot be optional. The *required* steps are matched exactly as if the optional
  steps were absent, so their counts equal that funnel's. An optional step is done in the chosen attempt
  when an event of it comes after the row matched to the previous required step and before the row
  matched to the next required step (when that one was not reached: within the window of the attempt,
  else by the unit's last event, and before the gap's first exclusion event, where the unit left); its
  time is that event's (the first one). Several optional steps in one gap are judged each on its own.
* **Exclusions.** ``exclude=`` lists events (names or stage names as in steps; a list means any of
  them), each over the whole funnel or over a step range ``(names, from_step, to_step)``. An attempt
  stops at step i when an event of an exclusion whose range covers the gap lies strictly between the
  row matched to step i and the row the attempt would match to the next step (by row order, so an
  event at the same instant counts by its input order; the next step's own row is not "between"): the
  unit leaves the funnel there; a later step-1 event starts a new attempt. With optional steps the gaps
  are those between consecutive required steps, and a range covers a gap when they overlap. In
  ``"strict"`` mode nothing lies between two matched rows, so exclusions never stop an attempt.
* **Open funnel.** ``open=True``: an attempt starts at any row of any required step j and continues
  greedily to the next steps within the window from its start. Per unit the chosen attempt has the
  lowest entry step, then reaches the furthest step, then starts earliest; the unit is *at* steps
  entry..furthest (``funnel_units``' ``entry_step``; ``first_entered_at`` is its first row of any
  required step and its segment is read there). So a unit with a step-1 event counts exactly as in the
  closed funnel, and the open funnel only adds the units that entered later: at every step it counts
  at least the closed funnel's units.
* **Counts.** ``steps_reached`` is the 1-based position of the furthest required step reached (never
  an optional step); ``converted`` means the last step. The table counts at each step the units *at* it
  (an optional step: who did it), gains ``optional`` (with optional steps) and ``entered_here`` (open)
  columns, and its rates are "of the units at the previous (required) step, the share at this one" and
  "of the units at step 1, the share at this one": never above 1 (an open funnel's count at step k+1 may
  exceed that at step k, the rate does not).
* **Modes.** ``"ordered"`` takes all three options; ``"strict"`` exclusions and open entry (an
  optional step has no place back to back); ``"any"`` none (a ``ValueError`` says so).
"""


from __future__ import annotations

from cjlib.funnel.carts import (
    CartAbandonment,
    cart_abandonment,
    cart_outcomes,
    segment_cart_outcomes,
)
from cjlib.funnel.fitted import Funnel
from cjlib.funnel.flows import (
    FRICTION_SIGNALS,
    DropoffFlows,
    Friction,
    dropper_end_share,
    friction,
    where_droppers_go,
    worst_friction,
)
from cjlib.funnel.journeys import (
    ReportSegments,
    absent_steps,
    cohort_freq,
    conversion_step,
    conversion_target,
    parse_exclude,
    parse_steps,
    report_segments,
    report_steps,
    report_window,
    resolve_checkout,
    resolve_journey,
    segment_columns,
    trailing_absent,
)
from cjlib.funnel.matching import MODES, UNITS, ambiguous_steps, funnel_units

# private names cjlib.engine uses (its Dask kernels match partitions with the same matcher)
from cjlib.funnel.matching import _check_choice as _check_choice
from cjlib.funnel.matching import _check_events as _check_events
from cjlib.funnel.matching import _labels as _labels
from cjlib.funnel.matching import _normalize_steps as _normalize_steps
from cjlib.funnel.matching import _parse_window as _parse_window
from cjlib.funnel.matching import _run as _run
from cjlib.funnel.matching import _unit_frame as _unit_frame
from cjlib.funnel.paths import PathsAround, event_paths, paths_around, step_matrix_difference
from cjlib.funnel.periods import (
    PeriodComparison,
    ShortSpan,
    compare_periods,
    period_freq,
    report_periods,
)
from cjlib.funnel.segments import Drivers, compare_segments, dropoff_drivers, worst_segment
from cjlib.funnel.tables import _segment_values as _segment_values
from cjlib.funnel.tables import (
    conversion_by_cohort,
    funnel,
    funnel_table,
    largest_drop,
    time_to_convert,
)
from cjlib.funnel.window import WindowChoice, fit_window
from cjlib.stats import holm, two_proportion_test, wilson_interval

__all__ = [
    "FRICTION_SIGNALS",
    "MODES",
    "ReportSegments",
    "UNITS",
    "WindowChoice",
    "CartAbandonment",
    "DropoffFlows",
    "Drivers",
    "Friction",
    "Funnel",
    "PeriodComparison",
    "ShortSpan",
    "PathsAround",
    "event_paths",
    "paths_around",
    "step_matrix_difference",
    "ambiguous_steps",
    "cart_abandonment",
    "cart_outcomes",
    "cohort_freq",
    "compare_periods",
    "compare_segments",
    "conversion_by_cohort",
    "conversion_step",
    "conversion_target",
    "dropoff_drivers",
    "dropper_end_share",
    "friction",
    "fit_window",
    "funnel",
    "funnel_units",
    "funnel_table",
    "holm",
    "largest_drop",
    "parse_exclude",
    "parse_steps",
    "period_freq",
    "report_periods",
    "report_segments",
    "report_steps",
    "absent_steps",
    "trailing_absent",
    "report_window",
    "resolve_checkout",
    "resolve_journey",
    "segment_cart_outcomes",
    "segment_columns",
    "time_to_convert",
    "two_proportion_test",
    "where_droppers_go",
    "wilson_interval",
    "worst_friction",
    "worst_segment",
]
