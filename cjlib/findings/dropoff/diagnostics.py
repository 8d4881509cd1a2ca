"""Sentences and chart titles of 03_dropoff's diagnostic sections: drivers, flows, friction, carts, time to
convert and cohorts, each earned by the numbers or not written (see :mod:`cjlib.findings.dropoff.sentences`
for the conventions and the helpers they share)."""

from __future__ import annotations

import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    duration,
    join,
    leader,
    number,
    pct,
    rates_differ,
    share,
    trend,
)
from cjlib.findings.dropoff.sentences import _short_window, unit_word


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


def _bound(x, side: str) -> str:
    """An interval end by :func:`odds`, with more digits when rounding would put it on 1 although it is
    below (``side="high"``) or above (``side="low"``) 1: an interval said to exclude 1 never reads "–1.00"."""
    text = odds(x)
    digits = 3
    while float(text) == 1.0 and float(x) != 1.0 and digits < 7:
        text = number(x, f".{digits}f")
        digits += 1
    return text


def _one_outcome(drv) -> bool:
    """Whether no unit converted, or every unit did: then +1 smoothing alone makes the odds ratios."""
    return int(drv.converted) == 0 or int(drv.converted) == int(drv.units)


def _neg_pos(drv):
    if _one_outcome(drv):
        return None, None
    t = drv.table
    neg = t.iloc[-1] if len(t) and t["ci_high"].iloc[-1] < 1 else None
    pos = t.iloc[0] if len(t) and t["ci_low"].iloc[0] > 1 else None
    return neg, pos


def drivers_sentence(drv, *, unit: str) -> str:
    """The drivers finding of a :class:`cjlib.funnel.Drivers`: entered/converted, the clearest negative and
    positive association (their 95 % interval excludes 1, and its printed end never reads 1.00), or that
    none is clear. Worded as associations, as the section's method says, never as drivers.

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
        if drv.events_seen == 0:
            return ("Between entry and conversion nothing but the funnel's own step events happened (they would "
                    "explain converting by definition), so no other event can go with converting or leaving.")
        return f"No event was done by {min_support}+ {unit_word(unit)} between entry and conversion."
    neg, pos = _neg_pos(drv)
    text = f"Of {number(drv.units)} {unit_word(unit)} that entered, {number(drv.converted)} converted. "
    if _one_outcome(drv):
        return text + (f"With {'no' if int(drv.converted) == 0 else 'every'} {unit_word(unit, 1)} converting, "
                       "no event can go with converting or leaving (the odds ratios come from the smoothing alone).")
    if neg is None:
        text += "No event goes clearly with leaving (every 95 % interval of an odds ratio below 1 reaches 1)"
    else:
        # an association (the method says so), not a driver: non-converters are watched for longer
        text += (f"Strongest negative association: **{neg['event']}** (odds ratio {odds(neg['odds_ratio'])}, "
                 f"95 % CI {odds(neg['ci_low'])}–{_bound(neg['ci_high'], 'high')})")
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
    if _one_outcome(drv):
        return "Odds of converting with each event against without it (95 % CI)"
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


DWELL_CAVEAT = ("Moving on ends a dwell and a unit that never moves on keeps dwelling, so long dwell goes with not "
                "moving on by construction: this counts stalled units, it does not show that waiting makes them "
                "leave (long dwell is not compared with moving on, and never named the worst friction).")


def dwell_sentence(table: pd.DataFrame, *, unit: str, min_units: int) -> str | None:
    """The long dwell of each transition met by ``min_units`` units: how many moved on, or had their last event
    before leaving, past the dwell threshold (longer than 9 in 10 converters took), and how many of them moved
    on, with :data:`DWELL_CAVEAT`. A description, not an association: the threshold is set by the units
    that moved on, and a unit that never does keeps dwelling.

    Parameters
    ----------
    table : DataFrame
        :attr:`cjlib.funnel.Friction.table` (``long_dwell_units``, ``long_dwell_rate``,
        ``conversion_if_long_dwell``, ``dwell_threshold``).
    unit : str
        The unit counted.
    min_units : int
        Transitions with fewer long-dwelling units are not described.

    Returns
    -------
    str or None
        The sentence, or ``None`` when no transition has ``min_units`` long-dwelling units.

    Examples
    --------
    >>> tab = pd.DataFrame({"from_step": ["installed"], "to_step": ["trial"], "units": [2000],
    ...                     "long_dwell_units": [841], "long_dwell_rate": [0.42], "conversion_if_long_dwell": [0.14],
    ...                     "dwell_threshold": [pd.Timedelta(days=5.2)]})
    >>> print(dwell_sentence(tab, unit="customer", min_units=50).split("): ")[1])
    at installed → trial 841 customers (42% of those at installed) dwelt over 5.2 days and 14% of them reached trial. Moving on ends a dwell and a unit that never moves on keeps dwelling, so long dwell goes with not moving on by construction: ...
    """
    if "long_dwell_units" not in table.columns:
        return None
    parts = []
    for r in table.itertuples(index=False):
        n = int(r.long_dwell_units)
        if n < min_units or pd.isna(r.dwell_threshold) or pd.isna(r.conversion_if_long_dwell):
            continue
        parts.append(f"at {r.from_step} → {r.to_step} {number(n)} {unit_word(unit, n)} ({pct(r.long_dwell_rate)} of "
                     f"those at {r.from_step}) dwelt over {duration(r.dwell_threshold)} and "
                     f"{pct(r.conversion_if_long_dwell)} of them reached {r.to_step}")
    if not parts:
        return None
    return (f"**Long dwell** (longer than 9 in 10 converters took to reach the next step, or for a unit that left, "
            f"until its last event): {'; '.join(parts)}. {DWELL_CAVEAT}")


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
    few = cart.carts < MIN_GROUP  # a rate of 14 carts is given with its counts
    if cart.carts == 1:  # no share of one cart
        text = "The one cart is abandoned" if cart.abandoned else "The one cart is bought"
        if cart.abandoned:
            text += (f" and {'recovered' if cart.recovered else 'not recovered'} within {_cart_days(cart):g} days")
        return text
    text = f"{pct(cart.abandonment_rate)} of {f'{number(cart.carts)} ' if few else ''}carts are abandoned"
    if cart.abandoned:
        text += (f", {pct(cart.recovery_rate)} of those{f' {number(cart.abandoned)}' if few else ''} recovered "
                 f"within {_cart_days(cart):g} days")
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
    text = (f"{number(cart.carts)} cart session{'' if cart.carts == 1 else 's'} ({', '.join(cart.cart_event)}); "
            f"{number(cart.abandoned)} abandoned (no {join(list(cart.purchase_event), 'or')} later in the session"
            f"{'' if cart.carts == 1 else ', ' + pct(cart.abandonment_rate, 1)})")
    if cart.abandoned:
        if cart.abandoned == 1:
            text += f"; it was {'' if cart.recovered else 'not '}recovered by a purchase within {_cart_days(cart):g} days"
        else:
            text += (f"; {number(cart.recovered)} of them recovered by a purchase within {_cart_days(cart):g} days "
                     f"({pct(cart.recovery_rate, 1)})")
        ttr = cart.table["time_to_recovery"].dropna()
        if len(ttr):
            text += f". Median time to recovery: {duration(ttr.median())}"
    return text + ". The cart table is in `dropoff_carts.csv`."


def cart_title(cart, outcomes: pd.DataFrame, *, min_units: int = 30, tolerance: float = 0.01) -> str | None:
    """Title of the cart-outcome chart; names the group that loses the most only when it is earned (segment
    rows of ``min_units``+ carts, ahead of the next by more than ``tolerance`` and beyond chance (a
    two-proportion test against the runner-up), never the ``all`` row).

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
        rest = lost[(groups["carts"] >= min_units) & (lost.index != (top[0] if top else None))].dropna()
        second = rest.idxmax() if top is not None and len(rest) else None
        if (top is not None and top[1] > 0 and second is not None  # ahead of the runner-up beyond chance
                and rates_differ(top[1], groups.loc[top[0], "carts"], rest[second], groups.loc[second, "carts"])):
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
    n = len(ttc)
    if n < FEW_TIMES:  # a median of one or a few units is not "half of" them: the times themselves
        return f"{_few_times(ttc, unit=unit, to_step=to_step, from_step=from_step)[0]}"
    return (f"Half of the {number(n)} {unit_word(unit, n)} who reach {to_step} in the funnel do so "
            f"within {duration(med)} of {from_step}; {pct(day)} within a day")


FEW_TIMES = 10  # fewer units with a time to convert: their times are given, not a median and a share


def _few_times(ttc: pd.DataFrame, *, unit: str, to_step: str, from_step: str) -> tuple[str, str]:
    """For fewer than :data:`FEW_TIMES` units: (what they took, how many within a day), in words."""
    n = len(ttc)
    h = ttc["hours"].astype(float)
    lo, hi = pd.Timedelta(hours=float(h.min())), pd.Timedelta(hours=float(h.max()))
    within = int((h <= 24).sum())
    if n == 1:
        took = (f"The one {unit_word(unit, 1)} who reaches {to_step} in the funnel does so {duration(lo)} after "
                f"{from_step}")
        return took, ("within a day" if within else "not within a day")
    span = duration(lo) if lo == hi else f"{duration(lo)} to {duration(hi)}"
    took = f"The {number(n)} {unit_word(unit, n)} who reach {to_step} in the funnel take {span} from {from_step}"
    return took, f"{number(within)} of the {number(n)} within a day"


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
    if len(ttc) < FEW_TIMES:  # no median or percentile of one or a few units: their times
        took, _ = _few_times(ttc, unit=unit, to_step=to_step, from_step=from_step)
        return (f"{what}, from {from_step} to {to_step} (the attempt that reached it, {_short_window(window)}): "
                f"{took[0].lower()}{took[1:]} (too few for a median and a 90th percentile; the full table is in "
                "`dropoff_time_to_convert.csv`). It starts at the funnel's step 1, not at a customer's first event "
                "as 00's time to convert does.")
    return (f"{what}, from {from_step} to {to_step} (the attempt that reached it, {_short_window(window)}): median "
            f"{duration(nums[0])}, 90th percentile {duration(ttc['time_to_convert'].quantile(0.9))} "
            f"({number(len(ttc))} {who} {unit_word(unit, len(ttc))}; the full table is in "
            "`dropoff_time_to_convert.csv`). It starts at the funnel's step 1, not at a customer's first event as "
            "00's time to convert does.")


def time_to_convert_line(ttc: pd.DataFrame, *, from_step: str, to_step: str, converts: bool = True,
                         unit: str = "customer") -> str | None:
    """Summary bullet of time to convert.

    Parameters
    ----------
    ttc : DataFrame
        :func:`cjlib.funnel.time_to_convert` (``hours``).
    from_step, to_step : str
        The transition's step labels.
    converts : bool
        Whether ``to_step`` is a conversion (default ``True``).
    unit : str, default "customer"
        The unit counted (named when fewer than :data:`FEW_TIMES` units got there).

    Returns
    -------
    str or None
        The bullet, or ``None`` when ``ttc`` is empty.
    """
    nums = _ttc_numbers(ttc)
    if nums is None:
        return None
    verb = "convert" if converts else f"reach {to_step}"
    if len(ttc) < FEW_TIMES:
        took, day = _few_times(ttc, unit=unit, to_step=to_step, from_step=from_step)
        took = took.replace(" in the funnel", "")
        return f"Funnel time: {took[0].lower()}{took[1:]} ({day})."
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


