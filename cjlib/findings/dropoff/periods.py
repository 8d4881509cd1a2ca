"""03_dropoff's "This period against the last": what the comparison of :func:`cjlib.funnel.compare_periods`
records and says.

A change is written only when it is earned: Holm-significant at the comparison's level over every
transition compared, with at least ``min_units`` units at the transition's first step in both periods;
otherwise the text says that no transition changed beyond chance.
"""

from __future__ import annotations

import pandas as pd

from cjlib.findings import MIN_GROUP, number, p_value, paragraphs, pct
from cjlib.findings.dropoff.sentences import bullets, unit_word, window_text

__all__ = ["PERIODS_SECTION", "period_findings", "period_label", "period_line", "period_metrics", "period_report",
           "period_title"]

PERIODS_SECTION = "this period against the last"


def period_label(pc, which: str = "current") -> str:
    """A period in words: ``"November 2025"``, ``"the week of 2025-11-24"``, or its first and last days.

    Parameters
    ----------
    pc : PeriodComparison
        :func:`cjlib.funnel.compare_periods`.
    which : {"current", "previous"}
        The period.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> pc = NS(calendar=None, current_start=pd.Timestamp("2025-11-02"), current_end=pd.Timestamp("2025-12-02"))
    >>> period_label(pc)
    '2025-11-02 – 2025-12-01'
    """
    if which not in ("current", "previous"):
        raise ValueError(f"which must be 'current' or 'previous', got {which!r}")
    start, end = getattr(pc, f"{which}_start"), getattr(pc, f"{which}_end")
    if pc.calendar == "M":
        return f"{start:%B %Y}"
    if pc.calendar == "W":
        return f"the week of {start:%Y-%m-%d}"
    if start == start.normalize() and end == end.normalize():
        last = end - pd.Timedelta(days=1)
        return f"{start:%Y-%m-%d}" if last == start else f"{start:%Y-%m-%d} – {last:%Y-%m-%d}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def _pp(x, sign: bool = True) -> str:
    """A difference of rates in percentage points: ``0.021`` → ``"+2.1"``."""
    return number(100 * x, "+.1f" if sign else ".1f")


def _judged(table: pd.DataFrame, min_units: int) -> pd.Series:
    """Transitions with ``min_units``+ units at their first step in both periods."""
    return (table["units_previous"] >= min_units) & (table["units_current"] >= min_units)


def _changes(pc, min_units: int) -> pd.DataFrame:
    t = pc.table
    return t[t["significant"] & _judged(t, min_units)]


def _change_text(row, confidence: float) -> str:
    word = "rose" if row["difference"] > 0 else "fell"
    return (f"{row['from_step']} → {row['to_step']} {word} {_pp(abs(row['difference']), sign=False)} pp, from "
            f"{pct(row['rate_previous'], 1)} to {pct(row['rate_current'], 1)} ({pct(confidence)} CI of the change "
            f"{_pp(row['ci_low'])} to {_pp(row['ci_high'])} pp; Holm-adjusted {p_value(row['p_adjusted'])})")


def period_title(pc, *, min_units: int = MIN_GROUP) -> str:
    """Chart title: the first transition (in the table's order) that changed, and how many more did; or
    that none changed beyond chance; or that no transition has enough units to judge.

    Parameters
    ----------
    pc : PeriodComparison
        :func:`cjlib.funnel.compare_periods`.
    min_units : int, default 30
        Transitions with fewer units at their first step in either period are not judged.

    Returns
    -------
    str
    """
    span = f"in {period_label(pc, 'current')} against {period_label(pc, 'previous')}"
    ch = _changes(pc, min_units)
    if not _judged(pc.table, min_units).any():
        return f"Conversion per transition {span}: too few {unit_word(pc.unit)} to judge a change"
    if ch.empty:
        return f"No step's conversion changed beyond chance {span}"
    r = ch.iloc[0]
    more = f"; {len(ch) - 1} more transition{'s' if len(ch) > 2 else ''} changed" if len(ch) > 1 else ""
    word = "rose" if r["difference"] > 0 else "fell"
    return (f"{r['from_step']} → {r['to_step']} conversion {word} {_pp(abs(r['difference']), sign=False)} pp "
            f"{span}{more}")


def period_findings(pc, *, name: str | None = None, min_units: int = MIN_GROUP) -> str:
    """The section's text: what is compared and the censoring rule, then each change earned, or that none
    is.

    Parameters
    ----------
    pc : PeriodComparison
        :func:`cjlib.funnel.compare_periods`.
    name : str, optional
        The funnel's name (a journey of the stage map), said in the first sentence.
    min_units : int, default 30
        Transitions with fewer units at their first step in either period are not judged.

    Returns
    -------
    str
    """
    unit, t = pc.unit, pc.table
    which = f"the {name} funnel" if name else "the funnel"
    n0, n1 = int(pc.reached["previous"].iloc[0]), int(pc.reached["current"].iloc[0])
    prev, cur = period_label(pc, "previous"), period_label(pc, "current")
    method = (f"**This period against the last:** {number(n1)} {unit_word(unit, n1)} entered {which} in {cur} "
              f"and {number(n0)} in {prev}. Each period counts the attempts that start in it, a step counting when "
              f"reached {'in the same session, ' if unit == 'session' else ''}{window_text(pc.window)}. {pc.note}")
    if pc.in_both:
        method += (f" {number(pc.in_both)} {unit_word(unit, pc.in_both)} entered in both periods and count in both; "
                   f"the intervals treat the periods as independent samples, which makes them wider than needed "
                   f"when a {unit} behaves alike in both.")
    ch = _changes(pc, min_units)
    m, judged = int(t["p_value"].notna().sum()), int(_judged(t, min_units).sum())
    if not judged:
        return paragraphs(method, f"Too few {unit_word(unit)} to judge a change in {cur} against {prev}: every "
                                  f"transition has fewer than {min_units} at its first step in a period.")
    if ch.empty:
        verdict = (f"No step's conversion changed beyond chance in {cur} against {prev}: none of the {judged} "
                   f"transition{'s' if judged != 1 else ''} judged has a Holm-adjusted p-value below "
                   f"{1 - pc.confidence:.2g}.")
    else:
        verdict = (f"Changes beyond chance in {cur} against {prev} (Holm over {m} transitions):\n"
                   + bullets(_change_text(r, pc.confidence) for _, r in ch.iterrows()))
    small = int((~_judged(t, min_units)).sum())
    note = (f"{small} transition{'s' if small != 1 else ''} with fewer than {min_units} {unit_word(unit)} at "
            f"{'its' if small == 1 else 'their'} first step in a period {'is' if small == 1 else 'are'} not judged."
            if small else None)
    return paragraphs(method, verdict, note)


def period_line(pc, *, min_units: int = MIN_GROUP) -> str | None:
    """Summary bullet: the changes earned, or ``None`` when none is.

    Parameters
    ----------
    pc : PeriodComparison or None
        :func:`cjlib.funnel.compare_periods` (``None``: the section was left out).
    min_units : int, default 30
        As in :func:`period_findings`.

    Returns
    -------
    str or None
    """
    if pc is None:
        return None
    ch = _changes(pc, min_units)
    if ch.empty:
        return None
    parts = [f"{r['from_step']} → {r['to_step']} {'rose' if r['difference'] > 0 else 'fell'} "
             f"{_pp(abs(r['difference']), sign=False)} pp" for _, r in ch.iterrows()]
    return (f"**This period against the last:** in {period_label(pc, 'current')} against {period_label(pc, 'previous')}, "
            + "; ".join(parts) + " (Holm-significant).")


def period_metrics(pc) -> dict:
    """``period_comparison``: the periods, per-step counts, and per transition the rates, the difference,
    its interval and the Holm-adjusted p-value.

    Parameters
    ----------
    pc : PeriodComparison
        :func:`cjlib.funnel.compare_periods`.

    Returns
    -------
    dict
    """
    cols = ["from_step", "to_step", "units_previous", "converted_previous", "rate_previous", "units_current",
            "converted_current", "rate_current", "difference", "ci_low", "ci_high", "p_adjusted", "significant"]
    return {"period_comparison": {
        "freq": str(pc.freq), "previous_start": pc.previous_start, "current_start": pc.current_start,
        "current_end": pc.current_end, "data_end": pc.end, "censored": pc.censored, "in_both": pc.in_both,
        "confidence": pc.confidence, "reached": pc.reached, "transitions": pc.table[cols],
    }}


def period_report(pc, why: str | None, *, name: str | None = None, min_units: int = MIN_GROUP) -> None:
    """Write the section to the report: its metrics and findings, or the one sentence why it is left out.

    Parameters
    ----------
    pc : PeriodComparison or None
        :func:`cjlib.funnel.report_periods`' comparison.
    why : str or None
        Its reason when ``pc`` is ``None``.
    name : str, optional
        The funnel's name (:func:`period_findings`).
    min_units : int, default 30
        As in :func:`period_findings`.

    Returns
    -------
    None
        Calls :func:`cjlib.report.record_all` and :func:`cjlib.report.finding`, or
        :func:`cjlib.report.left_out`.
    """
    from cjlib import report

    if pc is None:
        report.left_out(PERIODS_SECTION, why or "it was not computed.")
        return
    report.record_all(period_metrics(pc))
    report.finding(period_findings(pc, name=name, min_units=min_units))
