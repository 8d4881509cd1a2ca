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

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    join,
    number,
    p_value,
    pct,
    rate,
    times,
)
from cjlib.findings.journey_map import data_sentence  # noqa: F401  (03's **Data:** line is 00's)
from cjlib.funnel.window import MIN_REACHED as MIN_REACHED_WINDOW

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
def funnel_caption(name: str, *, mode: str, unit: str, window, optional: Sequence[str] = (),
                   exclusions: Sequence = (), open: bool = False, fit=None) -> str:
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
    optional : list of str, optional
        Labels of the optional steps (:attr:`cjlib.funnel.Funnel.optional`).
    exclusions : list of (names, from_label, to_label), optional
        The exclusions (:attr:`cjlib.funnel.Funnel.exclusions`).
    open : bool, default False
        Units may enter at any step.
    fit : WindowChoice, optional
        How the window was chosen (:func:`cjlib.funnel.fit_window`): its :func:`window_sentence` follows the
        window's mention.

    Returns
    -------
    str
        The caption, ending with :data:`FUNNEL_DEFINITION` (always written), then one sentence per funnel
        option in use (a :class:`cjlib.funnel.Funnel`'s ``options`` unpack into the keywords).

    Examples
    --------
    >>> cap = funnel_caption("shop", mode="ordered", unit="customer", window=None, optional=["search"],
    ...                      exclusions=[(["support_contact"], "add_to_cart", "purchase")], open=True)
    >>> for sentence in cap.split(". ")[-3:]:
    ...     print(sentence)
    Optional step search: counted when done, never required; the step after it is rated on the units at the previous required step
    Exclusion: a unit that does support_contact between add_to_cart and purchase leaves the funnel there
    Open funnel: a unit may enter at any step and counts from there on; a step's rate is the share of the units at the previous step who went on.
    """
    why = window_sentence(fit) if fit is not None else None
    gone = missing_steps_sentence(fit, name=name) if fit is not None else None
    out = (f"**{name}** funnel ({mode} steps, one count per {unit}, {window_text(window)}); times are medians "
           f"and 90th percentiles between consecutive steps. {gone + ' ' if gone else ''}"
           f"{why + ' ' if why else ''}{FUNNEL_DEFINITION}")
    if optional:
        out += (f" Optional step{'s' if len(optional) > 1 else ''} {', '.join(optional)}: counted when done, never "
                f"required; the step after {'them' if len(optional) > 1 else 'it'} is rated on the units at the "
                f"previous required step.")
    if exclusions:
        parts = [f"{' or '.join(names)} between {lo} and {hi}" for names, lo, hi in exclusions]
        out += (f" Exclusion{'s' if len(parts) > 1 else ''}: a unit that does {'; or '.join(parts)} leaves the "
                f"funnel there.")
    if open:
        out += (" Open funnel: a unit may enter at any step and counts from there on; a step's rate is the share "
                "of the units at the previous step who went on.")
    return out


def _span(window) -> str:
    """``"30D"`` → ``"30 days"`` (:func:`window_text` without its frame)."""
    return window_text(window).removeprefix("within ").removesuffix(" of step 1")


def missing_steps_sentence(fit, *, name: str) -> str | None:
    """The funnel's steps that no event of the log can match: the default journey's last stages left out,
    and a step given by name that nobody can reach for want of its events (its zero is missing data, not a
    drop-off).

    Parameters
    ----------
    fit : WindowChoice
        :func:`cjlib.funnel.fit_window`'s result (``absent``, ``dropped``).
    name : str
        The funnel's name (``"custom"``: steps given by the ``steps`` parameter, nothing was left out).

    Returns
    -------
    str or None
        One sentence for the stages left out, one for the steps without events; None when neither.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> print(missing_steps_sentence(SimpleNamespace(absent=(), dropped=("retention", "advocacy")), name="purchase"))
    The journey's last stages retention and advocacy are left out: the log has no event of them, so nobody could reach them, which is missing data, not a drop-off.
    >>> print(missing_steps_sentence(SimpleNamespace(absent=("advocacy",), dropped=()), name="custom"))
    The log has no event of step advocacy: nobody can reach it, nor any step after it in order, so the funnel's zeros from there on are missing data, not a drop-off.
    """
    out = []
    dropped = tuple(getattr(fit, "dropped", ()) or ()) if name != "custom" else ()
    absent = tuple(getattr(fit, "absent", ()) or ())
    if dropped:
        one = len(dropped) == 1
        out.append(f"The journey's last stage{'' if one else 's'} {join(dropped)} {'is' if one else 'are'} left "
                   f"out: the log has no event of {'it' if one else 'them'}, so nobody could reach "
                   f"{'it' if one else 'them'}, which is missing data, not a drop-off.")
    if absent:
        one = len(absent) == 1
        out.append(f"The log has no event of step{'' if one else 's'} {join(absent)}: nobody can "
                   f"reach {'it' if one else 'them'}, nor any step after {'it' if one else 'them'} in order, so the "
                   f"funnel's zeros from there on are missing data, not a drop-off.")
    return " ".join(out) or None


def window_sentence(fit) -> str | None:
    """Why the funnel has its window: fitted to the last step, the default kept, or as given — and a step
    most of whose reachers got there only after the window.

    Parameters
    ----------
    fit : WindowChoice
        :func:`cjlib.funnel.fit_window`'s result.

    Returns
    -------
    str or None
        One sentence (two when a step lies mostly beyond the window); None with no time limit.

    Examples
    --------
    >>> import pandas as pd
    >>> from cjlib.funnel.window import WindowChoice
    >>> reach = pd.DataFrame({"step": ["trial", "renewed"], "reached": [900, 333], "within": [900, 0],
    ...                       "within_default": [900.0, 0.0], "days_q": [3.0, 39.9]})
    >>> print(window_sentence(WindowChoice("30D", "30D", None, False, "customer", "installed", reach)))
    With the window of 30 days as given, 0 of the 333 customers who reached renewed at any time did so within it of first reaching installed: the drop-off to renewed is mostly the window's (95 % of them took up to 40 days).
    """
    if fit.window is None or not len(fit.reach):  # no window, or a one-step funnel: nothing to reach
        return None
    last, units, n, short = fit.last, f"{fit.unit}s", _span(fit.window), fit.short_step
    tail = None if short is None else (
        f"{int(short['within']):,} of the {int(short['reached']):,} {units} who reached {short['step']} at any time "
        f"did so within it of first reaching {fit.first_step}: the drop-off to {short['step']} is mostly the window's "
        f"(95 % of them took up to {math.ceil(short['days_q']):,} days).")
    if fit.fitted:
        how = (f"fitted to the journey and cut to half the data's span, so most {units}' windows close"
               if fit.capped else "fitted to the journey")
        out = (f"The window is {n}, {how}: {int(last['within']):,} of the {int(last['reached']):,} "
               f"{units} who reached {last['step']} did so within {n} of first reaching {fit.first_step} (the default "
               f"{_span(fit.default)} would hold {int(last['within_default']):,}).")
    elif fit.default is not None and last["reached"] < MIN_REACHED_WINDOW:
        some = (f"only {int(last['reached']):,} {unit_word(fit.unit, int(last['reached']))}" if last["reached"]
                else f"no {fit.unit}")
        out = (f"The window is the default {n}: {some} reached {last['step']} at any time, too few to fit the "
               f"window to the journey ({MIN_REACHED_WINDOW} needed).")
    elif tail is None:
        how = "the default" if fit.default is not None else "as given"
        return (f"The window of {n} ({how}) holds {int(last['within']):,} of the {int(last['reached']):,} {units} "
                f"who reached {last['step']} at any time, counted from first reaching {fit.first_step}.")
    else:
        return (f"With the default window of {n}, " if fit.default is not None
                else f"With the window of {n} as given, ") + tail
    return out if tail is None else f"{out} {tail[0].upper()}{tail[1:]}"


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


def funnel_title(table: pd.DataFrame, drop: dict | None, *, unit: str, window,
                 absent: Sequence[str] = ()) -> str | None:
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
    absent : list of str, optional
        Steps no event of the log can match (:attr:`cjlib.funnel.WindowChoice.absent`): the title says the
        conversion is not measured, as :func:`funnel_line` does, and names no drop into or after them.

    Returns
    -------
    str or None
        The title, or ``None`` when the table is empty or no unit reached step 1.

    Examples
    --------
    >>> t = pd.DataFrame({"step": ["awareness", "consideration"], "reached": [1, 0]})
    >>> funnel_title(t, None, unit="customer", window="30D", absent=["consideration"])
    'Funnel conversion awareness → consideration not measured: the log has no event of consideration'
    """
    conv = _overall(table)
    if conv is None:
        return None
    s = _steps(table)
    n = int(table["reached"].iloc[0])
    absent = [a for a in absent if a in s]
    if absent:
        text = f"Funnel conversion {s[0]} → {s[-1]} not measured: the log has no event of {join(absent)}"
        if drop is not None and s.index(drop["to_step"]) < s.index(absent[0]):
            text += (f"; before it, the largest drop{_drop_scope(drop, unit)} is {drop['from_step']} → "
                     f"{drop['to_step']} ({pct(drop['drop_off_rate'])} leave)")
        return text
    text = (f"Funnel conversion {s[0]} → {s[-1]}: {pct(conv, 1)} of {number(n)} "
            f"{unit_word(unit, n)}, {_short_window(window)}")
    if drop is not None:
        text += (f"; the largest drop{_drop_scope(drop, unit)} is {drop['from_step']} → {drop['to_step']} "
                 f"({pct(drop['drop_off_rate'])} leave)")
    return text


def funnel_line(table: pd.DataFrame, drop: dict | None, *, name: str, unit: str, window,
                absent: Sequence[str] = ()) -> str | None:
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
    absent : list of str, optional
        Steps no event of the log can match (:attr:`cjlib.funnel.WindowChoice.absent`): the bullet says so
        instead of a conversion of 0, and names no drop into or after the first of them.

    Returns
    -------
    str or None
        The bullet, or ``None`` when the table is empty or no unit reached step 1.
    """
    conv = _overall(table)
    if conv is None:
        return None
    s = _steps(table)
    absent = [a for a in absent if a in s]
    if absent:
        first = s.index(absent[0])
        text = (f"Funnel conversion ({name}, {s[0]} → {s[-1]} in order): not measured, the log has no event of "
                f"{join(absent)} (missing data, not a drop-off)")
        if drop is not None and s.index(drop["to_step"]) < first:
            text += (f"; before it, the largest drop{_drop_scope(drop, unit)} is **{drop['from_step']} → "
                     f"{drop['to_step']}**: {pct(drop['drop_off_rate'])} of {number(drop['units'])} leave")
        return text + "."
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
    n = table["reached"].iloc[-2]
    of = f"the {number(n)} " if n < MIN_GROUP else ""  # a rate of 9 sessions is given with its count
    text = f"{pct(1 - last)} of {of}{unit_word(unit, n)} that reach {s[-2]} do not reach {s[-1]}"
    if drop is not None and str(drop["to_step"]) == str(s[-1]):  # the drop just stated: not said twice
        text += f", the largest drop{_drop_scope(drop, unit)}"
    elif drop is not None:
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
                           any_segments: bool = True, compared: bool = True) -> str | None:
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
    compared : bool
        Whether any level had ``min_units`` units at the transition into ``to_step`` (default ``True``);
        when none had, the sentence says so instead of "none converts significantly worse", which would
        claim a test that was never made.

    Returns
    -------
    str or None
        The **Worst segment** sentence, the sentence that no level converts significantly worse (or that
        no level is large enough to compare) when ``worst`` is ``None``, or ``None`` when ``any_segments``
        is False.

    Examples
    --------
    >>> worst_segment_sentence(None, to_step="purchase", unit="session", min_units=100, compared=False)
    'No segment level has 100+ sessions at the step before purchase, so none is compared with the rest (min_segment_units).'
    """
    if not any_segments:
        return None
    if worst is None and not compared:
        return (f"No segment level has {min_units:,}+ {unit_word(unit)} at the step before {to_step}, so none is "
                "compared with the rest (min_segment_units).")
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


def segment_gaps_title(w: dict | None, column: str, *, unit: str, funnel: str, min_units: int,
                       compared: bool = True) -> str:
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
    compared : bool
        Whether any level of ``column`` had ``min_units`` units at some transition (default ``True``); when
        none had, the title says that none is large enough rather than that none converts worse.

    Returns
    -------
    str
        The title (always written): the worst level, that no level converts significantly worse, or that
        no level is large enough to compare.
    """
    if w:
        t = f"By {column}: {w['level']} converts {times(w['ratio'], 2)} the rest at {w['from_step']} → {w['to_step']}"
    elif not compared:
        t = f"By {column}: no level has {min_units:,}+ {unit_word(unit)} at any step, so none is compared"
    else:
        t = f"By {column}: no level of {min_units:,}+ {unit_word(unit)} converts significantly worse than the rest"
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

