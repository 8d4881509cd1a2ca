"""Sentences and chart titles of 03_dropoff, each earned by the numbers or not written.

Every function takes result frames of :mod:`cjlib.funnel` (or the dicts its pickers return) and returns
the text, or ``None`` when the numbers do not earn it (no units, a tie, a group too small, a zero
denominator). Numbers go through the guards of :mod:`cjlib.findings`, so NaN never reaches text.

03's numbers are *funnel conversions*: a unit counts at a step when it reached step 1 and then every
later step **in order, within the window from step 1**. They differ from 00's stage reach ("ever, in
any order"), so they carry their own names (``funnel conversion``, ``step conversion``) and the
definition stands beside them (:data:`FUNNEL_DEFINITION`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from cjlib.findings import (
    duration,
    join,
    leader,
    number,
    p_value,
    pct,
    rate,
    rates_differ,
    share,
    times,
    trend,
)
from cjlib.findings.journey_map import data_sentence  # noqa: F401  (03's **Data:** line is 00's)

FUNNEL_DEFINITION = ("*Funnel conversion* is the share of units at step 1 that go on to reach a step, every "
                     "step in order and within the window from step 1; 00's stage reach counts a stage "
                     "ever reached, in any order, so the two differ.")


# -------------------------------------------------------------------------------------------- helpers
def window_text(window) -> str:
    """``"30D"`` → ``"within 30 days of step 1"``; ``None``/``""`` → ``"with no time limit"``.

    Parameters
    ----------
    window : str, Timedelta or None
        The funnel window (anything :class:`pandas.Timedelta` reads); ``None`` or ``""`` for none.

    Returns
    -------
    str
        ``"within <n> days of step 1"`` (whole days; else whole hours, else minutes), or
        ``"with no time limit"``.

    Examples
    --------
    >>> window_text("30D"), window_text("12h"), window_text(None)
    ('within 30 days of step 1', 'within 12 hours of step 1', 'with no time limit')
    """
    if not window:
        return "with no time limit"
    td = pd.Timedelta(window)
    days, secs = td.days, td.seconds
    if secs == 0 and days:
        text = f"{days} day" + ("s" if days != 1 else "")
    elif td.total_seconds() % 3600 == 0:
        h = int(td.total_seconds() // 3600)
        text = f"{h} hour" + ("s" if h != 1 else "")
    else:
        m = td.total_seconds() / 60
        text = f"{m:g} minutes"
    return f"within {text} of step 1"


def _short_window(window) -> str:
    t = window_text(window)
    return t.removesuffix(" of step 1")


def unit_word(unit: str, n: int = 2) -> str:
    """``"customer"`` → ``"customers"`` (singular when ``n == 1``).

    Parameters
    ----------
    unit : str
        The unit, singular (``"customer"``, ``"session"``).
    n : int
        How many (default ``2``: plural).

    Returns
    -------
    str
        ``unit`` when ``n == 1``, else ``unit + "s"``.

    Examples
    --------
    >>> unit_word("customer"), unit_word("session", 1)
    ('customers', 'session')
    """
    return unit if n == 1 else f"{unit}s"


def bullets(lines: Iterable[str | None]) -> str | None:
    """Markdown bullets of the lines that were earned (``None`` skipped); ``None`` when none were.

    Parameters
    ----------
    lines : iterable of str or None
        The candidate lines; ``None`` and empty strings are skipped.

    Returns
    -------
    str or None
        The kept lines as ``"- …"`` bullets joined by newlines, or ``None`` when none is kept.

    Examples
    --------
    >>> print(bullets(["Funnel conversion: 12%.", None, "Checkout: 40% leave."]))
    - Funnel conversion: 12%.
    - Checkout: 40% leave.
    >>> bullets([None, ""]) is None
    True
    """
    kept = [f"- {x}" for x in lines if x]
    return "\n".join(kept) if kept else None


def _steps(table: pd.DataFrame) -> list[str]:
    return table["step"].astype(str).tolist()


# ---------------------------------------------------------------------------------------- set-up notes
def segment_notes(wanted: Sequence[str], used: Sequence[str], missing: Sequence[str], *, id_like=(),
                  outcome_like=(), auto: bool = False) -> list[str]:
    """Notes on the segment columns: named ones the data lacks, named ones that are identifiers or
    restate the outcome (used, with a warning), and none at all.

    Parameters
    ----------
    wanted : sequence of str
        The segment columns as the ``segments`` parameter names them (not read: ``used`` and ``missing``
        carry them).
    used : sequence of str
        The usable segment columns (:attr:`cjlib.funnel.ReportSegments.columns`).
    missing : sequence of str
        Named columns the data lacks (:attr:`cjlib.funnel.ReportSegments.missing`).
    id_like, outcome_like : sequence of str
        The profile's identifier-like and outcome-like columns (default ``()``).
    auto : bool
        The columns are the profile's choice, not named: only the missing-column notes are written
        (default ``False``).

    Returns
    -------
    list of str
        One note per missing column, then one per used column that is outcome-like (or else id-like);
        empty when there is nothing to note.

    Examples
    --------
    >>> segment_notes(["order_status"], ["order_status"], [], outcome_like=["order_status"])[0][:60]
    '`order_status` changes along the journey or follows from con'
    """
    out = [f"No `{c}` column in the events or customers: the `{c}` breakdown is left out." for c in missing]
    if not auto:
        for c in used:
            if c in outcome_like:
                out.append(f"`{c}` changes along the journey or follows from conversion: its breakdown restates "
                           "the outcome rather than explaining it.")
            elif c in id_like:
                out.append(f"`{c}` looks like an identifier (nearly one value per customer): its levels are "
                           "not segments.")
    return out


def setup_notes(*, has_customers: bool) -> list[str]:
    """Notes on what the report works from (no customer table).

    Parameters
    ----------
    has_customers : bool
        Whether a customer table was loaded.

    Returns
    -------
    list of str
        Empty with a customer table, else the one note that only event columns can be segments.
    """
    if has_customers:
        return []
    return ["No customer attributes (customers_path is empty): only event columns can be segments."]


def checkout_left_out(reason: str) -> str:
    """Why the checkout funnel is not shown and what the later sections use instead (one sentence).

    Parameters
    ----------
    reason : str
        Why there is no checkout funnel (e.g. ``DataProfile.why_not("checkout")``); its final full stop is
        dropped.

    Returns
    -------
    str
        The sentence (always written).
    """
    return (f"{reason.rstrip('.')}; segments, drop-off drivers, where droppers go and friction use the main "
            "funnel instead.")


def error_events_sentence(names: Sequence[str]) -> str | None:
    """The list of error events friction looked for.

    Parameters
    ----------
    names : sequence of str
        The error events (:attr:`cjlib.funnel.Friction.error_events`).

    Returns
    -------
    str or None
        ``"Error events: a, b."``, or ``None`` when ``names`` is empty.
    """
    return f"Error events: {', '.join(names)}." if names else None


SEGMENT_METHOD = ("Conversion of each segment level at each transition with a Wilson 95 % interval, tested against "
                  "the rest of the units (two-proportion z-test); the p-values of one breakdown are Holm-corrected "
                  "together. A unit's segment is its value at entry; levels with fewer than {min_units} units are "
                  "never named best or worst.")
CART_METHOD = ("A cart is a session with a cart event ({carts}); it is abandoned when no conversion event ({buys}) "
               "follows in the session, and recovered when the customer converts within {days:g} days afterwards.")


def ambiguity_note(names: Sequence[str]) -> str | None:
    """The note for step names that are both a stage and an event (they count the stage).

    Parameters
    ----------
    names : sequence of str
        :func:`cjlib.funnel.ambiguous_steps` of the report's funnels.

    Returns
    -------
    str or None
        The *Note:* sentence, or ``None`` when ``names`` is empty.
    """
    if not names:
        return None
    forms = join([f"`event:{n}`" for n in names], "or")
    return (f"*Note:* {join([f'`{n}`' for n in names])} is both a stage and an event; the funnel counts the "
            f"stage (the customer's first time only). Write {forms} in `steps` to count every such event.")


# --------------------------------------------------------------------------------------------- funnels
def funnel_caption(name: str, *, mode: str, unit: str, window) -> str:
    """The line over the main funnel table, with the definition of funnel conversion.

    Parameters
    ----------
    name : str
        The funnel's name.
    mode : str
        The step mode (``"ordered"``, ``"strict"`` or ``"any"``).
    unit : str
        The unit counted (``"customer"`` or ``"session"``).
    window : str, Timedelta or None
        The funnel window (:func:`window_text`).

    Returns
    -------
    str
        The caption, ending with :data:`FUNNEL_DEFINITION` (always written).
    """
    return (f"**{name}** funnel ({mode} steps, one count per {unit}, {window_text(window)}); times are medians "
            f"and 90th percentiles between consecutive steps. {FUNNEL_DEFINITION}")


def checkout_caption(name: str, *, mode: str, unit: str, window) -> str:
    """The line over the checkout funnel table.

    Parameters
    ----------
    name : str
        The checkout funnel's name.
    mode : str
        The step mode (``"ordered"``, ``"strict"`` or ``"any"``).
    unit : str
        The unit counted (``"customer"`` or ``"session"``).
    window : str, Timedelta or None
        The funnel window (:func:`window_text`).

    Returns
    -------
    str
        The caption (always written).
    """
    return f"**Checkout funnel** ({name}; {mode} steps, one count per {unit}, {window_text(window)})."


def _drop_scope(drop: dict, unit: str) -> str:
    return f" among steps of {drop['min_units']:,}+ {unit_word(unit)}" if drop.get("excluded") else ""


def _overall(table: pd.DataFrame) -> float | None:
    if not len(table):
        return None
    return rate(table["reached"].iloc[-1], table["reached"].iloc[0])


def funnel_title(table: pd.DataFrame, drop: dict | None, *, unit: str, window) -> str | None:
    """Chart title of the main funnel: funnel conversion first → last step, and the largest drop.

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.funnel.funnel` table without ``by`` (``step``, ``reached``).
    drop : dict or None
        :func:`cjlib.funnel.largest_drop` of ``table``; its clause is left out when ``None``.
    unit : str
        The unit counted.
    window : str, Timedelta or None
        The funnel window (:func:`window_text`).

    Returns
    -------
    str or None
        The title, or ``None`` when the table is empty or no unit reached step 1.
    """
    conv = _overall(table)
    if conv is None:
        return None
    s = _steps(table)
    n = int(table["reached"].iloc[0])
    text = (f"Funnel conversion {s[0]} → {s[-1]}: {pct(conv, 1)} of {number(n)} "
            f"{unit_word(unit, n)}, {_short_window(window)}")
    if drop is not None:
        text += (f"; the largest drop{_drop_scope(drop, unit)} is {drop['from_step']} → {drop['to_step']} "
                 f"({pct(drop['drop_off_rate'])} leave)")
    return text


def funnel_line(table: pd.DataFrame, drop: dict | None, *, name: str, unit: str, window) -> str | None:
    """Summary bullet of the main funnel.

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.funnel.funnel` table without ``by`` (``step``, ``reached``).
    drop : dict or None
        :func:`cjlib.funnel.largest_drop` of ``table``; its clause is left out when ``None``.
    name : str
        The funnel's name.
    unit : str
        The unit counted.
    window : str, Timedelta or None
        The funnel window (:func:`window_text`).

    Returns
    -------
    str or None
        The bullet, or ``None`` when the table is empty or no unit reached step 1.
    """
    conv = _overall(table)
    if conv is None:
        return None
    s = _steps(table)
    text = (f"Funnel conversion ({name}, {s[0]} → {s[-1]} in order, {_short_window(window)} of {s[0]}): "
            f"**{pct(conv, 1)}** of {unit_word(unit)}")
    if drop is not None:
        text += (f"; the largest drop{_drop_scope(drop, unit)} is **{drop['from_step']} → {drop['to_step']}**: "
                 f"{pct(drop['drop_off_rate'])} of {number(drop['units'])} leave")
    return text + "."


def checkout_title(table: pd.DataFrame, drop: dict | None, *, unit: str) -> str | None:
    """Chart title of the checkout funnel: the last step's step conversion and the largest drop.

    Parameters
    ----------
    table : DataFrame
        The checkout funnel's :func:`cjlib.funnel.funnel` table without ``by`` (``step``, ``reached``).
    drop : dict or None
        :func:`cjlib.funnel.largest_drop` of ``table``; its clause is left out when ``None``.
    unit : str
        The unit counted.

    Returns
    -------
    str or None
        The title, or ``None`` with fewer than two steps or no unit at the second-to-last step.
    """
    if len(table) < 2:
        return None
    s = _steps(table)
    last = rate(table["reached"].iloc[-1], table["reached"].iloc[-2])
    if last is None:
        return None
    text = f"{pct(1 - last)} of {unit_word(unit)} that reach {s[-2]} do not reach {s[-1]}"
    if drop is not None:
        text += f"; the largest drop{_drop_scope(drop, unit)} is at {drop['to_step']} ({pct(drop['drop_off_rate'])})"
    return text


def checkout_line(table: pd.DataFrame, drop: dict | None, *, unit: str) -> str | None:
    """Summary bullet of the checkout funnel.

    Parameters
    ----------
    table : DataFrame
        The checkout funnel's :func:`cjlib.funnel.funnel` table without ``by`` (``step``, ``reached``).
    drop : dict or None
        :func:`cjlib.funnel.largest_drop` of ``table``.
    unit : str
        The unit counted.

    Returns
    -------
    str or None
        ``"Checkout: <title>."``, or ``None`` when :func:`checkout_title` is ``None``.
    """
    t = checkout_title(table, drop, unit=unit)
    return f"Checkout: {t}." if t else None


# -------------------------------------------------------------------------------------------- segments
def worst_segment_sentence(worst: dict | None, *, to_step: str, unit: str, min_units: int,
                           any_segments: bool = True) -> str | None:
    """The worst-segment finding (or that no level is significantly worse).

    Parameters
    ----------
    worst : dict or None
        :func:`cjlib.funnel.worst_segment` into ``to_step``.
    to_step : str
        The step the comparison leads into.
    unit : str
        The unit counted.
    min_units : int
        Smallest level that may be named (for the sentence that none is worse).
    any_segments : bool
        Whether any segment column was compared (default ``True``).

    Returns
    -------
    str or None
        The **Worst segment** sentence, the sentence that no level converts significantly worse when
        ``worst`` is ``None``, or ``None`` when ``any_segments`` is False.
    """
    if not any_segments:
        return None
    if worst is None:
        return (f"No segment level of {min_units:,}+ {unit_word(unit)} converts significantly worse than the rest "
                f"into {to_step} (smaller levels, and ties, are never named).")
    return (f"**Worst segment into {to_step}:** {worst['column']} = **{worst['level']}** — {pct(worst['rate'], 1)} "
            f"of its {number(worst['units'])} {unit_word(unit, worst['units'])} at {worst['from_step']} reach "
            f"{worst['to_step']} (95 % CI {pct(worst['ci_low'], 1)}–{pct(worst['ci_high'], 1)}) against "
            f"{pct(worst['rate_rest'], 1)} for the rest: {times(worst['ratio'], 2)} ({p_value(worst['p_adjusted'])}, "
            "Holm).")


def worst_segment_line(worst: dict | None) -> str | None:
    """Summary bullet of the worst segment.

    Parameters
    ----------
    worst : dict or None
        :func:`cjlib.funnel.worst_segment`.

    Returns
    -------
    str or None
        The bullet, or ``None`` when ``worst`` is ``None``.
    """
    if worst is None:
        return None
    return (f"**{worst['column']} = {worst['level']}** is the worst segment into {worst['to_step']}: "
            f"{pct(worst['rate'])} against {pct(worst['rate_rest'])} for the rest, "
            f"{times(1 / worst['ratio'])} worse ({p_value(worst['p_adjusted'])}, Holm).")


def step_worst_line(w: dict, worst: dict | None = None) -> str | None:
    """Summary bullet of the worst segment at one transition (``None`` when it repeats ``worst``).

    Parameters
    ----------
    w : dict
        :func:`cjlib.funnel.worst_segment` at one transition.
    worst : dict, optional
        The worst segment into the last step (default ``None``).

    Returns
    -------
    str or None
        The bullet, or ``None`` when ``w`` has the same ``to_step``, ``column`` and ``level`` as ``worst``.
    """
    key = ("to_step", "column", "level")
    if worst is not None and all(w[k] == worst[k] for k in key):
        return None
    return (f"At {w['from_step']} → {w['to_step']} the worst segment is {w['column']} = {w['level']} "
            f"({times(w['ratio'], 2)} the rest, {p_value(w['p_adjusted'])}).")


def segment_gaps_title(w: dict | None, column: str, *, unit: str, funnel: str, min_units: int) -> str:
    """Title of one column's segment-gap heatmap.

    Parameters
    ----------
    w : dict or None
        :func:`cjlib.funnel.worst_segment` of this column alone.
    column : str
        The segment column.
    unit : str
        The unit counted.
    funnel : str
        The funnel's name as shown in parentheses (``"checkout funnel"``).
    min_units : int
        Smallest level that may be named (for the title that none is worse).

    Returns
    -------
    str
        The title (always written): the worst level, or that no level converts significantly worse.
    """
    t = (f"By {column}: {w['level']} converts {times(w['ratio'], 2)} the rest at {w['from_step']} → {w['to_step']}"
         if w else f"By {column}: no level of {min_units:,}+ {unit_word(unit)} converts significantly worse than the rest")
    return f"{t} ({unit_word(unit)}, {funnel})"


def worst_comparison_title(worst: dict) -> str:
    """Title of the worst segment's interval chart.

    Parameters
    ----------
    worst : dict
        :func:`cjlib.funnel.worst_segment` (not ``None``).

    Returns
    -------
    str
        The title (always written).
    """
    return (f"{worst['level']} completes {worst['from_step']} → {worst['to_step']} {times(1 / worst['ratio'])} "
            f"less often than the rest ({p_value(worst['p_adjusted'])})")


def variant_title(ab: pd.DataFrame, column: str, *, control: str | None, from_step: str | None = None,
                  to_step: str | None = None) -> str:
    """Title of the A/B comparison: how many variants differ significantly (the transition defaults to
    the one ``ab`` holds).

    Parameters
    ----------
    ab : DataFrame
        :func:`cjlib.funnel.compare_segments` of the variant column (one transition).
    column : str
    control : str or None
    from_step, to_step : str, optional
        Default: the transition ``ab`` holds.

    Returns
    -------
    str
    """
    from_step = from_step or (ab["from_step"].iloc[0] if len(ab) else "step 1")
    to_step = to_step or (ab["to_step"].iloc[0] if len(ab) else "the last step")
    tested = ab if control is None else ab[ab[column] != control]
    k = int(tested["significant"].sum())
    return (f"{k} of {len(tested)} {column} levels differ significantly from {control or 'the rest'} "
            f"in {from_step} → {to_step}")


# --------------------------------------------------------------------------------------------- drivers
def odds(x) -> str:
    """An odds ratio as a reader can compare it: two decimals from 0.01 up, else two significant digits
    (``0.0023``), so a tiny ratio never reads as 0.00 and its interval never as "0.00–0.00".

    Parameters
    ----------
    x : float
        An odds ratio or an end of its interval.

    Returns
    -------
    str
        The formatted ratio, ``"<0.001"`` below 0.001; :class:`cjlib.findings.Unearned` is raised for NaN
        or inf.

    Examples
    --------
    >>> odds(1.834), odds(0.0023), odds(0.04), odds(6.6e-06)
    ('1.83', '0.0023', '0.04', '<0.001')
    """
    x = float(x)
    if x < 0.001:
        number(x)  # NaN and inf stay unearned
        return "<0.001"
    return number(x, ".2f") if x >= 0.01 else number(x, ".2g")


def _neg_pos(drv):
    t = drv.table
    neg = t.iloc[-1] if len(t) and t["ci_high"].iloc[-1] < 1 else None
    pos = t.iloc[0] if len(t) and t["ci_low"].iloc[0] > 1 else None
    return neg, pos


def drivers_sentence(drv, *, unit: str) -> str:
    """The drivers finding of a :class:`cjlib.funnel.Drivers`: entered/converted, the clearest negative and
    positive driver (their 95 % interval excludes 1), or that none is clear.

    Parameters
    ----------
    drv : Drivers
    unit : str

    Returns
    -------
    str
    """
    min_support = drv.min_support
    if not len(drv.table):
        return f"No event was done by {min_support}+ {unit_word(unit)} between entry and conversion."
    neg, pos = _neg_pos(drv)
    text = f"Of {number(drv.units)} {unit_word(unit)} that entered, {number(drv.converted)} converted. "
    if neg is None:
        text += "No event goes clearly with leaving (every 95 % interval of an odds ratio below 1 reaches 1)"
    else:
        text += (f"Strongest negative driver: **{neg['event']}** (odds ratio {odds(neg['odds_ratio'])}, "
                 f"95 % CI {odds(neg['ci_low'])}–{odds(neg['ci_high'])})")
    if pos is not None:
        text += f"; strongest positive: **{pos['event']}** ({odds(pos['odds_ratio'])})."
    else:
        text += f"; no event with {min_support}+ {unit_word(unit)} goes clearly with converting more often."
    return text


def drivers_title(drv) -> str:
    """Title of the driver forest: the clearest negative driver, else what the chart shows.

    Parameters
    ----------
    drv : Drivers

    Returns
    -------
    str
    """
    neg, _ = _neg_pos(drv)
    if neg is None:
        return "Odds of converting with each event against without it (95 % CI): none clearly goes with leaving"
    return (f"{neg['event']} goes with leaving ({pct(neg['rate_with'])} convert vs {pct(neg['rate_without'])} "
            f"without, OR {odds(neg['odds_ratio'])})")


def drivers_line(drv) -> str | None:
    """Summary bullet of the drivers.

    Parameters
    ----------
    drv : Drivers

    Returns
    -------
    str or None
    """
    neg, _ = _neg_pos(drv)
    if neg is None:
        return None
    return f"{neg['event']} goes with leaving (odds ratio {odds(neg['odds_ratio'])})."


# ----------------------------------------------------------------------------------------------- flows
def _first_moves(flows: pd.DataFrame, min_units: int):
    """The links to droppers' first next event, and the share of droppers with none (``None`` unless earned)."""
    first = flows[flows["target"].str.startswith("1: ")]
    end = share(first.loc[first["target"] == "1: (end)", "count"].sum(), first["count"].sum(), min_total=min_units)
    return first, end


def flows_title(flows: pd.DataFrame, droppers: int, *, unit: str, min_units: int = 30) -> str | None:
    """Title of the dropper flow: the share that does nothing more, and the commonest next step.

    Parameters
    ----------
    flows : DataFrame
        :attr:`cjlib.funnel.DropoffFlows.flows`.
    droppers : int
        The number of dropped units shown in the title (:attr:`cjlib.funnel.DropoffFlows.droppers`).
    unit : str
        The unit counted.
    min_units : int
        Smallest number of droppers' first moves a share is taken of, and of units a next step needs to
        be named the commonest (default ``30``).

    Returns
    -------
    str or None
        The title, with the commonest next step only when one leads; ``None`` when fewer than
        ``min_units`` droppers' first moves are counted.
    """
    first, end = _first_moves(flows, min_units)
    if end is None:
        return None
    text = f"{pct(end)} of {number(droppers)} dropped {unit_word(unit)} do nothing more"
    nxt = first[first["target"] != "1: (end)"].groupby(["source", "target"])["count"].sum()
    top = leader(nxt, nxt, min_size=min_units)
    if top is not None:
        (src, tgt), _ = top
        text += f"; the commonest next step after dropping at {src.removeprefix('dropped after ')} is {tgt[3:]}"
    return text


def flows_line(flows: pd.DataFrame, *, min_units: int = 30) -> str | None:
    """Summary bullet: the share of droppers that do nothing more.

    Parameters
    ----------
    flows : DataFrame
        :attr:`cjlib.funnel.DropoffFlows.flows`.
    min_units : int
        Smallest number of droppers' first moves a share is taken of (default ``30``).

    Returns
    -------
    str or None
        The bullet, or ``None`` when fewer than ``min_units`` first moves are counted.
    """
    _, end = _first_moves(flows, min_units)
    return None if end is None else f"{pct(end)} of droppers do nothing more after dropping."


# -------------------------------------------------------------------------------------------- friction
def friction_sentence(w: dict | None, *, unit: str) -> str | None:
    """The worst-friction finding (``None`` when no signal is earned).

    Parameters
    ----------
    w : dict or None
        :func:`cjlib.funnel.worst_friction`.
    unit : str
        The unit counted.

    Returns
    -------
    str or None
        The **Worst friction** sentence, or ``None`` when ``w`` is ``None``.
    """
    if w is None:
        return None
    return (f"**Worst friction:** {pct(w['share'])} of {unit_word(unit)} at {w['from_step']} "
            f"({number(w['units'])}) meet **{w['signal']}** before {w['to_step']}; {pct(w['conversion_with'])} of "
            f"them move on against {pct(w['conversion_without'])} without it.")


def friction_title(w: dict | None) -> str:
    """Title of the friction chart: the worst friction, else what the chart shows.

    Parameters
    ----------
    w : dict or None
        :func:`cjlib.funnel.worst_friction`.

    Returns
    -------
    str
        The title (always written): the worst friction's move-on rates, else what the chart shows.
    """
    if w is None:
        return "Moving on with and without each friction signal (none earns a finding)"
    return (f"{w['signal'].capitalize()} at {w['from_step']} → {w['to_step']}: {pct(w['conversion_with'])} move on "
            f"with it, {pct(w['conversion_without'])} without")


def friction_line(w: dict | None, *, unit: str) -> str | None:
    """Summary bullet of the worst friction.

    Parameters
    ----------
    w : dict or None
        :func:`cjlib.funnel.worst_friction`.
    unit : str
        The unit counted.

    Returns
    -------
    str or None
        The bullet, or ``None`` when ``w`` is ``None``.
    """
    if w is None:
        return None
    return (f"Friction: {w['signal']} at {w['from_step']} → {w['to_step']} ({pct(w['share'])} of {unit_word(unit)}; "
            f"{pct(w['conversion_with'])} vs {pct(w['conversion_without'])} move on).")


# ----------------------------------------------------------------------------------------------- carts
def _cart_days(cart) -> float:
    return cart.window / pd.Timedelta(days=1)


def _carts_abandoned(cart) -> str | None:
    """The share of carts abandoned and, of those, recovered (the chart title's and the bullet's head)."""
    if not cart.carts:
        return None
    text = f"{pct(cart.abandonment_rate)} of carts are abandoned"
    if cart.abandoned:
        text += f", {pct(cart.recovery_rate)} of those recovered within {_cart_days(cart):g} days"
    return text


def cart_sentence(cart) -> str | None:
    """The cart finding (``None`` without carts).

    Parameters
    ----------
    cart : CartAbandonment

    Returns
    -------
    str or None
    """
    if not cart.carts:
        return None
    text = (f"{number(cart.carts)} cart sessions ({', '.join(cart.cart_event)}); {number(cart.abandoned)} abandoned "
            f"(no {join(list(cart.purchase_event), 'or')} later in the session, {pct(cart.abandonment_rate, 1)})")
    if cart.abandoned:
        text += (f"; {number(cart.recovered)} of them recovered by a purchase within {_cart_days(cart):g} days "
                 f"({pct(cart.recovery_rate, 1)})")
        ttr = cart.table["time_to_recovery"].dropna()
        if len(ttr):
            text += f". Median time to recovery: {duration(ttr.median())}"
    return text + ". The cart table is in `dropoff_carts.csv`."


def cart_title(cart, outcomes: pd.DataFrame, *, min_units: int = 30, tolerance: float = 0.01) -> str | None:
    """Title of the cart-outcome chart; names the group that loses the most only when it is earned (segment
    rows of ``min_units``+ carts, ahead of the next by more than ``tolerance``, never the ``all`` row).

    Parameters
    ----------
    cart : CartAbandonment
    outcomes : DataFrame
        :func:`cjlib.funnel.cart_outcomes`.
    min_units : int, default 30
    tolerance : float, default 0.01
        Loss rates closer than this are a tie.

    Returns
    -------
    str or None
    """
    text = _carts_abandoned(cart)
    if text is None:
        return None
    groups = outcomes.drop(index="all", errors="ignore")
    if len(groups) >= 2:
        lost = groups["lost"] / groups["carts"].where(groups["carts"] > 0)
        top = leader(lost, groups["carts"], min_size=min_units, tolerance=tolerance)
        if top is not None and top[1] > 0:
            text += f"; {top[0]} loses the most ({pct(top[1])})"
    return text


def cart_line(cart) -> str | None:
    """Summary bullet of cart abandonment.

    Parameters
    ----------
    cart : CartAbandonment

    Returns
    -------
    str or None
    """
    text = _carts_abandoned(cart)
    return None if text is None else text + "."


# ------------------------------------------------------------------------------------- time to convert
def _ttc_numbers(ttc: pd.DataFrame):
    if not len(ttc):
        return None
    return pd.Timedelta(hours=float(ttc["hours"].median())), float((ttc["hours"] <= 24).mean())


def time_to_convert_title(ttc: pd.DataFrame, *, unit: str, from_step: str, to_step: str) -> str | None:
    """Title of the time-to-convert histogram (``None`` without units that got there).

    Parameters
    ----------
    ttc : DataFrame
        :func:`cjlib.funnel.time_to_convert` (one row per unit that got there, ``hours``).
    unit : str
        The unit counted.
    from_step, to_step : str
        The transition's step labels.

    Returns
    -------
    str or None
        The title (median time and the share within a day), or ``None`` when ``ttc`` is empty.
    """
    nums = _ttc_numbers(ttc)
    if nums is None:
        return None
    med, day = nums
    return (f"Half of the {number(len(ttc))} {unit_word(unit, len(ttc))} who reach {to_step} in the funnel do so "
            f"within {duration(med)} of {from_step}; {pct(day)} within a day")


def time_to_convert_sentence(ttc: pd.DataFrame, *, unit: str, from_step: str, to_step: str, window,
                             converts: bool = True) -> str | None:
    """The time-to-convert finding, with its definition (in-funnel, from step 1, within the window).
    With ``converts=False`` (no step after step 1 is a conversion) it is called the time to reach ``to_step``.

    Parameters
    ----------
    ttc : DataFrame
        :func:`cjlib.funnel.time_to_convert` (``time_to_convert``, ``hours``).
    unit : str
        The unit counted.
    from_step, to_step : str
        The transition's step labels.
    window : str, Timedelta or None
        The funnel window (:func:`window_text`).
    converts : bool
        Whether ``to_step`` is a conversion (default ``True``).

    Returns
    -------
    str or None
        The sentence (median and 90th percentile), or ``None`` when ``ttc`` is empty.
    """
    nums = _ttc_numbers(ttc)
    if nums is None:
        return None
    what = "Funnel time to convert" if converts else "Funnel time to reach the last step"
    who = "converting" if converts else "arriving"
    return (f"{what}, from {from_step} to {to_step} (the attempt that reached it, {_short_window(window)}): median "
            f"{duration(nums[0])}, 90th percentile {duration(ttc['time_to_convert'].quantile(0.9))} "
            f"({number(len(ttc))} {who} {unit_word(unit, len(ttc))}; the full table is in "
            "`dropoff_time_to_convert.csv`). It starts at the funnel's step 1, not at a customer's first event as "
            "00's time to convert does.")


def time_to_convert_line(ttc: pd.DataFrame, *, from_step: str, to_step: str, converts: bool = True) -> str | None:
    """Summary bullet of time to convert.

    Parameters
    ----------
    ttc : DataFrame
        :func:`cjlib.funnel.time_to_convert` (``hours``).
    from_step, to_step : str
        The transition's step labels.
    converts : bool
        Whether ``to_step`` is a conversion (default ``True``).

    Returns
    -------
    str or None
        The bullet, or ``None`` when ``ttc`` is empty.
    """
    nums = _ttc_numbers(ttc)
    if nums is None:
        return None
    verb = "convert" if converts else f"reach {to_step}"
    return f"Median funnel time from {from_step} to {to_step}: {duration(nums[0])}; {pct(nums[1])} {verb} within a day."


# ---------------------------------------------------------------------------------------------- cohorts
def cohort_title(coh: pd.DataFrame, *, to_step: str, min_units: int = 30) -> str | None:
    """Title of the cohort chart: the direction of conversion from the first to the last complete cohort
    of ``min_units``+ units (``None`` for fewer than two such cohorts or a trend between two zeros); a
    difference within chance (two-proportion test) is not called a rise or a fall.

    Parameters
    ----------
    coh : DataFrame
        :func:`cjlib.funnel.conversion_by_cohort` (``cohort``, ``units``, ``rate``, ``complete``).
    to_step : str
        The step that counts as converted.
    min_units : int
        Smallest cohort compared (default ``30``).

    Returns
    -------
    str or None
        The title ("rose", "fell", "held", or no change beyond chance), or ``None`` with fewer than two
        complete cohorts of ``min_units``+ units or when the first and last rates are both zero.
    """
    full = coh[coh["complete"] & (coh["units"] >= min_units)]
    if len(full) < 2:
        return None
    c0, c1 = full.iloc[0], full.iloc[-1]
    word = trend(c0["rate"], c1["rate"])
    if word is None:
        return None
    if word == "held":
        return (f"Funnel conversion to {to_step} held at {pct(c0['rate'])} from the {c0['cohort']:%Y-%m-%d} cohort "
                f"to the {c1['cohort']:%Y-%m-%d} cohort")
    if not rates_differ(c0["rate"], c0["units"], c1["rate"], c1["units"]):
        return (f"Funnel conversion to {to_step}: {pct(c0['rate'], 1)} ({c0['cohort']:%Y-%m-%d} cohort) and "
                f"{pct(c1['rate'], 1)} ({c1['cohort']:%Y-%m-%d}), no change beyond chance")
    return (f"Funnel conversion to {to_step} {word} from {pct(c0['rate'], 1)} ({c0['cohort']:%Y-%m-%d} cohort) "
            f"to {pct(c1['rate'], 1)} ({c1['cohort']:%Y-%m-%d})")


def cohort_chart_title(coh: pd.DataFrame, *, to_step: str, min_units: int = 30) -> str:
    """:func:`cohort_title`, or what the chart shows when no direction is earned.

    Parameters
    ----------
    coh : DataFrame
    to_step : str
    min_units : int, default 30

    Returns
    -------
    str
    """
    return cohort_title(coh, to_step=to_step, min_units=min_units) or f"Funnel conversion to {to_step} by entry cohort"


COHORT_NOTE = ("A unit converts on any of its attempts, so later cohorts have had fewer chances: read a downward "
               "drift together with the data's end date.")


