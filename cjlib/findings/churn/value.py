"""The churn report's persona, at-risk and value sentences and titles (see :mod:`cjlib.findings.churn`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.findings import (
    MIN_GROUP,
    is_number,
    join,
    leader,
    number,
    pct,
    ranking,
    rates_differ,
)
from cjlib.findings.churn.sentences import (
    _days,
    _money,
    _points,
    rate_text,
    unidentified,
)
from cjlib.findings.personas import noun, two_rates


# ------------------------------------------------------------------------------------------ personas
def _beyond_chance(t: pd.DataFrame, r) -> bool:
    """Whether the named side(s) of a churn ranking differ beyond chance: most against least when both
    are named, else the one named group against all the others together."""
    n = t["customers"].astype(float)
    if r.best is not None and r.worst is not None:
        return rates_differ(r.best_value, n[r.best], r.worst_value, n[r.worst])
    name = r.best if r.best is not None else r.worst
    rest = t.drop(index=name)
    n_rest = float(rest["customers"].sum())
    rate_rest = float((rest["churn_rate"] * rest["customers"]).sum() / n_rest) if n_rest else float("nan")
    return rates_differ(t.loc[name, "churn_rate"], n[name], rate_rest, n_rest)



def persona_sentence(by_persona: pd.DataFrame, *, state: str = "stable", min_size: int = MIN_GROUP) -> str | None:
    """Churn by persona: who churns most and least (only from an earned ranking of personas with at
    least ``min_size`` scored customers), and how close the mean prediction is per persona.

    Parameters
    ----------
    by_persona : DataFrame
        :func:`cjlib.churn.churn_by_segment` (index persona; ``customers``, ``churn_rate``, optional
        ``mean_predicted``). The ``"unknown"`` row is never named.
    state : str
        Stability of the persona fit (:func:`cjlib.findings.personas.stability_state`; default
        ``"stable"``).
    min_size : int
        Smallest number of scored customers a persona needs to be named (default ``MIN_GROUP``, 30).

    Returns
    -------
    str or None
        The sentence, or ``None`` when neither a ranking beyond chance nor the mean-prediction comparison
        (which needs ``mean_predicted`` and is skipped for RFM segments) can be written.
    """
    t = by_persona.drop(index=["unknown"], errors="ignore")
    what = noun(state)
    r = ranking(t["churn_rate"], t["customers"], min_size=min_size)
    if r is not None and not _beyond_chance(t, r):
        r = None  # most and least within chance of each other (86.1 % against 86.0 %): no ranking
    parts = []
    if r is not None and r.best is not None and r.worst is not None:
        rates = two_rates(r.best_value, r.worst_value)
        if rates is not None:
            parts.append(f"**{r.best}** churn most ({rates[0]}), **{r.worst}** least ({rates[1]})")
    elif r is not None and r.best is not None:
        parts.append(f"**{r.best}** churn most ({rate_text(r.best_value)})")
    elif r is not None and r.worst is not None:
        parts.append(f"**{r.worst}** churn least ({rate_text(r.worst_value)})")
    if "mean_predicted" in t and state != "rfm":  # RFM segments read recency after the cutoff: no yardstick
        dev = (t["mean_predicted"] - t["churn_rate"]).abs().max()
        if is_number(dev):
            parts.append(f"the model's mean prediction per {what[:-1]} is within {_points(dev)} of the "
                         f"observed rate")
    if not parts:
        return None
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] if not text.startswith("**") else text
    if state == "rfm":
        text += (" (RFM segments score recency at the data's end, inside the churn window, so they partly restate "
                 "who churned)")
    elif state != "stable":
        text += f" (these {what} are not stable personas)"
    return text + "."



def at_risk_sentence(at_risk, file_name: str, *, model_name: str) -> str:
    """What the list is (as of when, who is on it, which model, how ranked) and where it went (the file
    name only: no machine path in a report).

    Parameters
    ----------
    at_risk : AtRisk
        :func:`cjlib.at_risk.at_risk_list` (after :func:`cjlib.at_risk.add_value` when ranked by value).
    file_name : str
        The list's file name, without its folder.
    model_name : str
        The scoring model's readable name (``cjlib.churn.NAMES[model]``).

    Returns
    -------
    str
        The sentence (always written).
    """
    t = at_risk.table
    top = t.loc[t["risk_decile"] == 1, "churn_probability"]
    rank = ("value at risk (churn probability × value if kept)" if at_risk.rank_by == "value_at_risk"
            else "churn probability")
    fit = (f"refitted on every active day before then ({number(at_risk.n_trained)} customers)" if at_risk.model == "bgnbd"
           else f"refitted on the latest window whose outcome is known (from {at_risk.trained_at:%Y-%m-%d}, "
                f"{number(at_risk.n_trained)} customers"
                + (f"; fitted on a random {number(at_risk.n_fitted)} of them)" if at_risk.n_fitted
                   else ")"))
    return (f"**As of {at_risk.as_of:%Y-%m-%d}** (the data's end), {number(len(t))} customers were active in the "
            f"last {at_risk.window_days} days. They are scored by {model_name}, {fit}, "
            f"and ranked by {rank}; the list is in `{file_name}` in the output folder. The riskiest tenth "
            f"({number(len(top))} customers) has a mean predicted churn of {rate_text(top.mean())}.")



# ------------------------------------------------------------------------------------------ value

def value_sentence(fit) -> str:
    """The value model in one paragraph: BG/NBD and Gamma-Gamma parameters with standard errors, the
    horizon and discount rate, and the spend–frequency correlation Gamma-Gamma assumes away.

    A heterogeneity parameter past :data:`UNIDENTIFIED` means the fit ran to its boundary: customers do
    not differ in that respect beyond chance, so the parameters are not printed (they are not
    identified) and the sentence says what the model reduces to.

    Parameters
    ----------
    fit : cjlib.at_risk.ValueFit

    Returns
    -------
    str
        The paragraph (always written).
    """
    g, b = fit.gamma_gamma, fit.bgnbd
    se_g, se_b = g.standard_errors, b.standard_errors

    def est(v, se):  # 3 significant digits, never in e-notation ("3,430 (± 540)", not "3.43e+03 (± 5.4e+02)")
        def g(x, digits):
            x = float(f"{float(x):.{digits}g}")
            return number(x, ",.0f") if abs(x) >= 10 ** (digits - 1) else number(x, f".{digits}g")
        return f"{g(v, 3)} (± {g(se, 2)})" if is_number(se) else g(v, 3)

    n_rep = int((fit.customers["frequency"] > 0).sum())
    rate = f"r = {est(b.r, se_b.get('r'))}, α = {est(b.alpha, se_b.get('alpha'))} days"
    if b.a / (b.a + b.b) < 1e-3:
        drop = (f"{rate}; hardly anyone drops out after a purchase (a/(a + b) below 0.1%), so a and b are not "
                f"identified")
    elif unidentified(b.a, b.b, se=(se_b.get("a"), se_b.get("b"))):
        drop = (f"{rate}; dropout hardly differs between customers — about {pct(b.a / (b.a + b.b), 1)} after each "
                f"purchase — so a and b are not identified")
    else:
        drop = f"{rate}, a = {est(b.a, se_b.get('a'))}, b = {est(b.b, se_b.get('b'))}"
    if not is_number(g.mean_spend):  # q ≤ 1: a few customers spend so much more that the mean is not finite
        spend = (f"q = {est(g.q, se_g.get('q'))} is at most 1: spend per purchase is so uneven between customers "
                 f"that the model has no finite average, so customers without a repeat purchase get no expected "
                 f"spend and no value")
    elif unidentified(g.q, g.gamma, se=(se_g.get("q"), se_g.get("gamma"))):
        spend = (f"spend per purchase differs between customers little more than from one purchase to the next, so "
                 f"the model shrinks every customer towards the average of {_money(g.mean_spend)}; q and γ are not "
                 f"identified")
    else:
        spend = (f"p = {est(g.p, se_g.get('p'))}, q = {est(g.q, se_g.get('q'))}, γ = {est(g.gamma, se_g.get('gamma'))}; "
                 f"± one standard error")
    text = (f"**Customer value** over {fit.horizon_days} days: BG/NBD for how often each of the "
            f"{number(len(fit.customers))} buyers will buy ({drop}) and Gamma-Gamma for how much per purchase, "
            f"from the {number(n_rep)} repeat buyers ({spend}). CLV discounts at {pct(fit.discount_rate)} a year.")
    if len(fit.purchase_events) > 1:  # a subscription renewal is a purchase too: the reader should know
        text += f" A purchase is a day with revenue from {join(fit.purchase_events, 'or')}."
    r = fit.correlation
    if is_number(r):
        if abs(r) < 0.3:
            text += (f" Spend per purchase and purchase frequency are nearly independent (correlation "
                     f"{number(r, '.2f')}), as Gamma-Gamma assumes.")
        else:
            text += (f" Spend per purchase and purchase frequency are correlated ({number(r, '.2f')}), which "
                     f"Gamma-Gamma assumes they are not: read the spend estimates as rough.")
    return text



def value_title(values: pd.Series, horizon, *, top: float = 0.1) -> str:
    """Title of the value-distribution chart: the share of expected value the top ``top`` of buyers hold.

    Parameters
    ----------
    values : Series
        Expected value per buyer.
    horizon : int or Timedelta
        The value horizon (days, or a Timedelta).
    top : float, default 0.1
        The share of buyers at the top.

    Returns
    -------
    str

    Examples
    --------
    >>> value_title(pd.Series([90.0, 5, 5, 0, 0, 0, 0, 0, 0, 0]), pd.Timedelta(days=365))
    'The top 10% of buyers hold 90% of the value expected in the next 365 days'
    """
    days = _days(horizon)
    every = values.to_numpy(dtype=float)
    v = np.sort(every[np.isfinite(every)])[::-1]  # buyers without a value (no finite mean spend) are not counted
    if not len(v):
        return f"Value expected in the next {days} days"
    total = v.sum()
    k = max(1, int(round(top * len(v))))
    if not total > 0:
        return f"No buyer is expected to spend anything in the next {days} days"
    who = "buyers" if len(v) == len(every) else f"the {number(len(v))} buyers with a value"
    return (f"The top {pct(k / len(v))} of {who} hold {pct(v[:k].sum() / total)} of the value expected in the "
            f"next {days} days")



def value_at_risk_title(table: pd.DataFrame, group: str, *, min_size: int = MIN_GROUP) -> str:
    """Title of a value-at-risk-by-group chart: the group holding the most, when earned.

    Parameters
    ----------
    table : DataFrame
        :func:`cjlib.at_risk.summary_by` of the valued list (``customers``, ``value_at_risk`` per group).
    group : str
        What the groups are (``"risk decile"``, ``"persona"`` …).
    min_size : int
        Smallest group that may be named (default ``MIN_GROUP``, 30).

    Returns
    -------
    str
        "Most value at risk sits …" when one group holds the most, else "Value at risk by <group>" (a
        single group, a tie, no group of ``min_size`` customers, or no value at risk). A risk decile is
        named with its place among the deciles, 1 being the riskiest.

    Examples
    --------
    >>> t = pd.DataFrame({"customers": [40, 40, 40], "value_at_risk": [10.0, 70.0, 20.0]}, index=[1, 2, 3])
    >>> value_at_risk_title(t, "risk decile")
    "Most value at risk sits in risk decile 2 (1 = riskiest): 70% of the list's total"
    >>> value_at_risk_title(t.assign(value_at_risk=[10.0, 20.0, 70.0]), "risk decile")
    "Most value at risk sits in risk decile 3, the least risky: 70% of the list's total"
    """
    top = leader(table["value_at_risk"], table["customers"], largest=True, min_size=min_size) \
        if len(table) > 1 else None
    total = float(table["value_at_risk"].sum())
    if top is None or not total > 0:
        return f"Value at risk by {group}"
    # deciles are numbered from the riskiest: say so, or "decile 9" reads as a high-risk group
    if group != "risk decile":
        where = f"with {top[0]}"
    elif top[0] == min(table.index):
        where = f"in risk decile {top[0]}, the riskiest"
    elif top[0] == max(table.index):
        where = f"in risk decile {top[0]}, the least risky"
    else:
        where = f"in risk decile {top[0]} (1 = riskiest)"
    return f"Most value at risk sits {where}: {pct(top[1] / total)} of the list's total"



def ranking_sentence(overlap: dict, rank_by: str) -> str | None:
    """How ranking by value at risk differs from ranking by risk (from :func:`cjlib.at_risk.ranking_overlap`).

    Parameters
    ----------
    overlap : dict
        :func:`cjlib.at_risk.ranking_overlap`.
    rank_by : str
        :attr:`cjlib.at_risk.AtRisk.rank_by` (``"value_at_risk"`` or ``"risk"``).

    Returns
    -------
    str or None
        The sentence, or ``None`` when fewer than ``MIN_GROUP`` customers are compared or the total value at
        risk is 0 (no value shares).
    """
    n, shared = overlap["top"], overlap["shared"]
    sv, sr = overlap.get("value_share_by_value"), overlap.get("value_share_by_risk")
    if n < MIN_GROUP or sv is None or sr is None:
        return None
    used = "value at risk" if rank_by == "value_at_risk" else "risk"
    return (f"Ranking by value at risk instead of risk alone changes who is contacted first: of the top "
            f"{number(n)} by value at risk, {number(shared)} are also in the top {number(n)} by risk. The top "
            f"{number(n)} by value at risk hold {pct(sv)} of the list's value at risk, the top {number(n)} by risk "
            f"{pct(sr)}. The list is ranked by {used} (parameter rank_by).")
