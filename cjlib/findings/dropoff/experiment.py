"""03's A/B test section: what it records, its chart title and its findings, from a :class:`cjlib.experiment.ABTest`.

Earned rules: a difference is named only when it is significant (Holm-adjusted p below alpha and the
Newcombe interval excluding 0); with a sample-ratio mismatch no difference is read as an effect; the
minimum detectable effect is stated only where it is defined (a control rate strictly between 0 and 1).
"""

from __future__ import annotations

import numpy as np

from cjlib.findings import is_number, join, number, p_value, paragraphs, pct

__all__ = ["AB_METHOD", "ab_findings", "ab_left_out", "ab_metrics", "ab_title", "difference_sentence", "mde_sentence",
           "srm_sentence", "transition_text"]

AB_METHOD = ("Customers are the unit, the unit a variant is assigned to. Per transition (reaching step 1, each "
             "step from the one before, and overall conversion of every assigned customer), each variant's "
             "conversion with its 95 % Wilson interval and the difference from control with Newcombe's "
             "interval; the p-values are Holm-corrected together.")


def ab_left_out(events, column: str | None, variant_column: str) -> str | None:
    """Why the A/B test is not shown, or ``None`` when it can be: the column is missing (or not set), or its
    values give fewer than two variants.

    Parameters
    ----------
    events : DataFrame or cjlib.engine.Partitioned
        The events the test would read (with the variant column when there is one).
    column : str or None
        The variant column found in the data (``ReportSegments.variant``), ``None`` when there is none.
    variant_column : str
        The ``variant_column`` parameter.

    Returns
    -------
    str or None

    Examples
    --------
    >>> import pandas as pd
    >>> ab_left_out(pd.DataFrame({"variant": ["a", "a", None]}), "variant", "variant")
    'the `variant` column has one value (a): there is nothing to compare.'
    >>> ab_left_out(pd.DataFrame({"variant": ["a", "b"]}), "variant", "variant") is None
    True
    """
    from cjlib.funnel.distributed import columns, distinct_values

    if column is None or column not in columns(events):
        return (f"there is no `{variant_column}` column in the events or customers." if variant_column
                else "no variant column is set (variant_column is empty).")
    levels = sorted(map(str, distinct_values(events, column)))
    if len(levels) >= 2:
        return None
    if not levels:
        return f"the `{column}` column has no value: no customer is assigned a variant."
    return f"the `{column}` column has one value ({levels[0]}): there is nothing to compare."


def _pp(x, digits: int = 1) -> str:
    """A difference of rates in percentage points: ``0.0285`` → ``"2.9 pp"``."""
    return f"{number(100 * x, f'.{digits}f')} pp"


def transition_text(row) -> str:
    """Where a difference row is: ``"add_to_cart → begin_checkout"``, ``"reaching product_view"`` (the entry
    row) or ``"overall: purchase of every assigned customer"``.

    Parameters
    ----------
    row : mapping or Series
        A row of :attr:`cjlib.experiment.ABTest.differences` (``kind``, ``from_step``, ``to_step``).

    Returns
    -------
    str

    Examples
    --------
    >>> transition_text({"kind": "step", "from_step": "a", "to_step": "b"})
    'a → b'
    >>> transition_text({"kind": "overall", "from_step": "(assigned)", "to_step": "b"})
    'overall: b of every assigned customer'
    """
    if row["kind"] == "entry":
        return f"reaching {row['to_step']}"
    if row["kind"] == "overall":
        return f"overall: {row['to_step']} of every assigned customer"
    return f"{row['from_step']} → {row['to_step']}"


def _split_text(srm) -> str:
    shares = srm.table["expected_share"].to_numpy()
    if np.allclose(shares, shares[0]):
        return "an equal split"
    return "a planned split of " + "/".join(f"{100 * s:g}" for s in shares)


def srm_sentence(ab) -> str | None:
    """The sample-ratio-mismatch verdict: the customers per variant against the planned split, χ², p and
    what a mismatch means. ``None`` without customers.

    Parameters
    ----------
    ab : ABTest
        :func:`cjlib.experiment.ab_test`.

    Returns
    -------
    str or None
    """
    srm = ab.srm
    t = srm.table
    if not is_number(srm.p_value) or t["units"].sum() <= 0:
        return None
    counts = join(f"{number(u)} customers in {v} ({pct(s, 1)})" for v, u, s in zip(t["variant"], t["units"], t["share"]))
    stat = f"χ² = {number(srm.chi2, ',.2f')}, {p_value(srm.p_value)}"
    if srm.mismatch:
        return (f"**Sample-ratio mismatch:** {counts} against {_split_text(srm)} ({stat}; flagged below "
                f"p = {srm.threshold:g}). Random assignment gives an imbalance this large less than once in "
                f"{number(1 / srm.threshold)} experiments, so the assignment, or the logging of one variant, is "
                "probably broken: the groups may differ in more than the variant, the comparison below cannot be "
                "trusted until the cause is found, and no difference in it is read as an effect.")
    return (f"**Assignment:** {counts} against {_split_text(srm)}: no sample-ratio mismatch ({stat}; a "
            f"mismatch is flagged below p = {srm.threshold:g}, the usual threshold of this check).")


def difference_sentence(row, *, confidence: float = 0.95) -> str:
    """One significant difference: ``"**Variant treatment converts 2.9 pp better than control at a → b** (88.9%
    against 86.1%; 95 % CI 1.5 to 4.2 pp, Holm-adjusted p < 0.001)."``.

    Parameters
    ----------
    row : mapping or Series
        A row of :attr:`cjlib.experiment.ABTest.differences`.
    confidence : float, default 0.95
        The interval's level (for the text).

    Returns
    -------
    str
    """
    d = float(row["difference"])
    how = "better" if d > 0 else "worse"
    return (f"**Variant {row['variant']} converts {_pp(abs(d))} {how} than {row['control']} at {transition_text(row)}** "
            f"({pct(row['rate'], 1)} against {pct(row['rate_control'], 1)}; {confidence:.0%} CI "
            f"{_pp(row['ci_low']).removesuffix(' pp')} to {_pp(row['ci_high'])}, Holm-adjusted "
            f"{p_value(row['p_adjusted'])}).")


def mde_sentence(ab) -> str | None:
    """The minimum detectable effect at the observed group sizes (overall conversion and the range over the
    steps); ``None`` where it is not defined anywhere.

    Parameters
    ----------
    ab : ABTest

    Returns
    -------
    str or None
    """
    d = ab.differences
    ok = d[d["mde"].map(is_number)]
    if not len(ok):
        return None
    overall = ok[ok["kind"] == "overall"]
    steps = ok[ok["kind"] != "overall"]
    parts = []
    if len(overall):
        r = overall.iloc[0]
        parts.append(f"{_pp(r['mde'])} on overall conversion ({pct(r['mde_relative'], 0)} of control's "
                     f"{pct(r['rate_control'], 1)})")
    if len(steps):
        lo, hi = steps["mde"].min(), steps["mde"].max()
        span = _pp(lo) if round(100 * lo, 1) == round(100 * hi, 1) else f"{_pp(lo).removesuffix(' pp')} to {_pp(hi)}"
        parts.append(f"{span} at the transitions (table)")
    return (f"**Minimum detectable effect** (two-sided α = {ab.alpha:g} for one comparison, {pct(ab.power)} "
            f"power, at these group sizes and control's rates): {join(parts)}; smaller differences can go unseen.")


def ab_findings(ab) -> str:
    """The section's findings: the SRM verdict, the significant differences (or that there are none, with
    what the test could detect), the minimum detectable effect, customers left out, the method.

    Parameters
    ----------
    ab : ABTest
        :func:`cjlib.experiment.ab_test`.

    Returns
    -------
    str
    """
    d = ab.differences
    found = ab.found()
    n = len(d)
    if ab.srm.mismatch:
        verdict = None
    elif len(found):
        rest = n - len(found)
        others = (f"The other {rest} comparison{'s' if rest != 1 else ''} show{'' if rest != 1 else 's'} no "
                  "difference beyond chance." if rest else None)
        verdict = paragraphs(*(difference_sentence(r, confidence=ab.confidence) for _, r in found.iterrows()),
                             others)
    else:
        levels = join(sorted({str(v) for v in d["variant"]}), "or")
        under = d["mde"].map(is_number).all() and bool((d["difference"].abs() < d["mde"]).all())
        verdict = (f"**No difference beyond chance** between {levels} and {ab.control} at any of the {n} "
                   "comparisons (Holm-corrected)" + (
                       ": no observed difference reaches the minimum detectable effect below, the size the "
                       f"test finds {pct(ab.power)} of the time." if under else "."))
    mixed = (f"{number(ab.mixed_units)} customers whose events carry more than one variant are left out."
             if ab.mixed_units else None)
    return paragraphs(srm_sentence(ab), verdict, mde_sentence(ab), mixed,
                      f"{AB_METHOD} Control: {ab.control} (parameter `control`; '' takes the first level in "
                      "sorted order).")


def ab_title(ab) -> str:
    """The chart's title: the mismatch, the one difference found, how many were found, or none.

    Parameters
    ----------
    ab : ABTest

    Returns
    -------
    str
    """
    if ab.srm.mismatch:
        return f"Sample-ratio mismatch ({p_value(ab.srm.p_value)}): no difference here can be read as an effect"
    found = ab.found()
    if len(found) == 1:
        r = found.iloc[0]
        how = "more" if r["difference"] > 0 else "less"
        return f"Variant {r['variant']} converts {_pp(abs(r['difference']))} {how} than {r['control']} at {transition_text(r)}"
    if len(found):
        return f"{len(found)} of {len(ab.differences)} comparisons differ from {ab.control} beyond chance"
    return f"No transition differs from {ab.control} beyond chance"


def ab_metrics(ab) -> dict:
    """``ab_test``: the variants and their counts, the SRM check, the power settings, every difference with
    its interval and MDE, and the differences found (none with a sample-ratio mismatch).

    Parameters
    ----------
    ab : ABTest

    Returns
    -------
    dict
    """
    cols = ["kind", "from_step", "to_step", "variant", "units_control", "units", "rate_control", "rate",
            "difference", "ci_low", "ci_high", "p_value", "p_adjusted", "significant", "mde", "mde_relative"]
    found = [] if ab.srm.mismatch else ab.found()[["variant", "from_step", "to_step", "difference", "ci_low",
                                                   "ci_high"]]
    return {"ab_test": {
        "column": ab.column, "control": ab.control, "unit": "customer",
        "variants": ab.srm.table[["variant", "units", "share", "expected_share"]],
        "srm": {"chi2": ab.srm.chi2, "p_value": ab.srm.p_value, "threshold": ab.srm.threshold,
                "mismatch": ab.srm.mismatch},
        "mixed_units": ab.mixed_units, "confidence": ab.confidence, "alpha": ab.alpha, "power": ab.power,
        "differences": ab.differences[cols],
        "found": found if isinstance(found, list) else found.reset_index(drop=True),
    }}
