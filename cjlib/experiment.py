"""A/B tests on a funnel: the sample-ratio-mismatch check, the minimum detectable effect, and each variant's
conversion at every funnel step with the difference treatment − control and its interval.

The unit is the **customer**, the unit a variant is assigned to: the tests below assume independent units,
which sessions of one customer are not. A customer whose events carry two variants is left out and counted
(``ABTest.mixed_units``).

- **Sample-ratio mismatch (SRM).** Pearson's chi-square goodness of fit of the customers per variant against
  the planned split (equal unless given). It is flagged at p < 0.001, the usual SRM convention (the default
  of GrowthBook and of most experimentation platforms; Fabijan et al., "Diagnosing Sample Ratio Mismatch in
  Online Controlled Experiments", KDD 2019; Kohavi, Tang & Xu, *Trustworthy Online Controlled Experiments*,
  2020, ch. 21): the check runs on every experiment and detects tiny imbalances at large samples, so a strict
  threshold keeps false alarms to one experiment in a thousand while a real assignment or logging bug gives
  p-values far smaller. A mismatch means the groups are not what randomization made them, and no
  difference between them can be read as an effect until its cause is found.
- **Minimum detectable effect (MDE).** The smallest absolute difference a two-sided test at ``alpha`` finds
  with probability ``power`` at the observed group sizes and the control's rate ``p`` (normal approximation,
  the control's variance in both groups): ``MDE = (z(1 − alpha/2) + z(power)) × sqrt(p (1 − p) (1/n_c + 1/n_t))``;
  relative MDE = MDE / p.
- **Differences.** Per transition (entry: assigned → step 1; each step k−1 → k; overall: assigned → last
  step), each variant's conversion with its Wilson interval, the difference treatment − control with
  Newcombe's hybrid score interval (:func:`cjlib.stats.proportion_difference`) and the pooled two-proportion
  z-test; the p-values of all rows form one Holm family. A difference is ``significant`` when its Holm
  p-value is below ``alpha`` and its interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cjlib.funnel.distributed import _customer_order, _each, columns, is_partitioned
from cjlib.stats import holm, proportion_difference, two_proportion_test, wilson_interval

__all__ = ["ABTest", "SampleRatio", "ab_test", "minimum_detectable_effect", "sample_ratio_mismatch"]

SRM_THRESHOLD = 0.001  # the usual SRM convention (see the module docstring)
ASSIGNED = "(assigned)"  # the from_step of the entry and overall rows: every customer assigned


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check (:func:`sample_ratio_mismatch`).

    Attributes
    ----------
    table : DataFrame
        One row per variant: ``variant``, ``units``, ``share`` (observed), ``expected_share``,
        ``expected_units``.
    chi2 : float
        Pearson's chi-square statistic (``len(table) − 1`` degrees of freedom).
    p_value : float
        Its p-value (NaN without units).
    threshold : float
        A mismatch is flagged below this p-value.
    mismatch : bool
        ``p_value < threshold``.
    """

    table: pd.DataFrame
    chi2: float
    p_value: float
    threshold: float
    mismatch: bool


def sample_ratio_mismatch(units: Mapping | pd.Series, *, split: Mapping | None = None,
                          threshold: float = SRM_THRESHOLD) -> SampleRatio:
    """Chi-square goodness of fit of the units per variant against the planned split.

    Parameters
    ----------
    units : mapping or Series
        Variant → units assigned (customers), at least two variants.
    split : mapping, optional
        Variant → planned share (normalized to sum to 1); default equal shares. Every variant of
        ``units`` must have one.
    threshold : float, default 0.001
        Flag a mismatch below this p-value (the usual SRM convention).

    Returns
    -------
    SampleRatio

    Examples
    --------
    >>> s = sample_ratio_mismatch({"control": 10_400, "treatment": 9_600})
    >>> round(s.chi2, 1), s.p_value < 1e-7, s.mismatch
    (32.0, True, True)
    >>> sample_ratio_mismatch({"a": 500, "b": 480}).mismatch
    False
    """
    counts = pd.Series(units, dtype="float64")
    if len(counts) < 2:
        raise ValueError(f"units: the SRM check needs at least two variants, got {list(counts.index)}")
    if (counts < 0).any() or not np.isfinite(counts.to_numpy()).all():
        raise ValueError("units must be non-negative counts")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
    if split is None:
        expected = pd.Series(1.0, index=counts.index)
    else:
        missing = [v for v in counts.index if v not in split]
        if missing:
            raise ValueError(f"split has no share for the variants {missing} (split: {dict(split)})")
        expected = pd.Series({v: float(split[v]) for v in counts.index})
        if (expected <= 0).any():
            raise ValueError(f"split: every share must be positive, got {dict(split)}")
    expected = expected / expected.sum()
    n = counts.sum()
    exp_units = expected * n
    if n > 0:
        chi2, p = stats.chisquare(counts.to_numpy(), exp_units.to_numpy())
        chi2, p = float(chi2), float(p)
    else:
        chi2, p = np.nan, np.nan
    table = pd.DataFrame({"variant": list(counts.index), "units": counts.to_numpy().astype(np.int64),
                          "share": (counts / n).to_numpy() if n > 0 else np.nan,
                          "expected_share": expected.to_numpy(), "expected_units": exp_units.to_numpy()})
    return SampleRatio(table, chi2, p, float(threshold), bool(p < threshold) if p == p else False)


def minimum_detectable_effect(rate, n_control, n_treatment, *, alpha: float = 0.05,
                              power: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """The smallest difference a two-sided two-proportion test detects with probability ``power``.

    ``MDE = (z(1 − alpha/2) + z(power)) × sqrt(rate × (1 − rate) × (1/n_control + 1/n_treatment))`` (normal
    approximation with the control's variance in both groups); the relative MDE is ``MDE / rate``.
    Vectorized.

    Parameters
    ----------
    rate : float or array
        The control's conversion rate.
    n_control, n_treatment : int or array
        The units in each group.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Probability of detecting a difference of the MDE.

    Returns
    -------
    (absolute, relative) : arrays of float
        NaN where a group is empty or the rate is 0 or 1 (no variance to scale by).

    Examples
    --------
    >>> a, r = minimum_detectable_effect(0.5, 1000, 1000)
    >>> round(float(a), 4), round(float(r), 4)
    (0.0626, 0.1253)
    """
    for name, v in (("alpha", alpha), ("power", power)):
        if not 0 < v < 1:
            raise ValueError(f"{name} must be between 0 and 1, got {v!r}")
    p, n1, n2 = (np.asarray(v, dtype=float) for v in (rate, n_control, n_treatment))
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    ok = (n1 > 0) & (n2 > 0) & (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        absolute = np.where(ok, z * np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2)), np.nan)
        relative = np.where(ok, absolute / p, np.nan)
    return absolute, relative


@dataclass(frozen=True)
class ABTest:
    """An A/B test on a funnel (:func:`ab_test`).

    Attributes
    ----------
    column : str
        The variant column.
    control : str
        The control level.
    srm : SampleRatio
        The sample-ratio-mismatch check of the customers per variant.
    rates : DataFrame
        Per transition and variant: ``kind`` ("entry", "step" or "overall"), ``from_step`` ("(assigned)"
        for the entry and overall rows), ``to_step``, ``variant``, ``units`` (customers that
        reached ``from_step``; all assigned customers for the entry and overall rows), ``converted``,
        ``rate``, ``ci_low``, ``ci_high`` (Wilson).
    differences : DataFrame
        Per transition and treatment level: ``from_step``, ``to_step``, ``kind`` ("entry", "step" or
        "overall"), ``variant``, ``control``, ``units_control``, ``units``, ``rate_control``, ``rate``,
        ``difference`` (rate − rate_control), ``ci_low``, ``ci_high`` (Newcombe), ``p_value``,
        ``p_adjusted`` (Holm over every row), ``significant``, ``mde``, ``mde_relative``.
    mixed_units : int
        Customers seen in more than one variant, left out of everything.
    confidence, alpha, power : float
        The interval level, the test level and the power of the MDE.
    """

    column: str
    control: str
    srm: SampleRatio
    rates: pd.DataFrame
    differences: pd.DataFrame
    mixed_units: int
    confidence: float
    alpha: float
    power: float

    @property
    def units(self) -> int:
        """Customers in the test (mixed ones left out)."""
        return int(self.srm.table["units"].sum())

    def found(self) -> pd.DataFrame:
        """The significant differences, largest absolute difference first.

        Returns
        -------
        DataFrame
            Rows of :attr:`differences` with ``significant``.
        """
        d = self.differences[self.differences["significant"]]
        return d.iloc[np.argsort(-d["difference"].abs().to_numpy(), kind="stable")]


def _first_and_distinct(events: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per customer (in order of appearance): the first non-missing value of ``by`` and how many distinct."""
    g = events.groupby("customer_id", sort=False, observed=True)[by]
    return pd.DataFrame({"first": g.first(), "distinct": g.nunique()})


def _assignment(events, by: str) -> tuple[pd.Series, int]:
    """Each customer's variant (customers with two or more left out) and how many had two or more."""
    if is_partitioned(events):  # per partition of complete customers, in the loader's customer order
        fd = pd.concat(_each(events, _first_and_distinct, by=by))
        fd = fd.iloc[_customer_order(fd.index)]
    else:
        fd = _first_and_distinct(events, by)
    first, distinct = fd["first"].rename(by), fd["distinct"]
    mixed = distinct > 1
    return first[~mixed & first.notna()], int(mixed.sum())


def ab_test(events: pd.DataFrame, steps: Sequence, by: str = "variant", *, control=None,
            split: Mapping | None = None, window=None, mode: str = "ordered", stage_map=None,
            confidence: float = 0.95, alpha: float = 0.05, power: float = 0.8,
            threshold: float = SRM_THRESHOLD) -> ABTest:
    """Compare the variants of an A/B test along a funnel, customer by customer.

    Parameters
    ----------
    events : DataFrame or cjlib.engine.Partitioned
        The event log with the variant column ``by`` (an event column; a customer attribute joined onto
        the events works the same). A ``Partitioned`` log is read partition by partition (the same result).
    steps : list
        The funnel's steps, as :class:`cjlib.funnel.Funnel` takes them.
    by : str, default "variant"
        The variant column; each customer's value is its first non-missing one.
    control : optional
        The control level; default the first level in sorted order.
    split : mapping, optional
        Planned share per variant for the SRM check; default equal.
    window, mode, stage_map
        As in :class:`cjlib.funnel.Funnel` (unit: customer).
    confidence : float, default 0.95
        Level of the Wilson and Newcombe intervals.
    alpha : float, default 0.05
        Level of the tests (after Holm's correction) and of the MDE.
    power : float, default 0.8
        Power of the MDE.
    threshold : float, default 0.001
        SRM flagged below this p-value.

    Returns
    -------
    ABTest

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": list("aabbccdd"), "variant": list("AABBAABB"),
    ...     "event": ["product_view", "purchase"] * 2 + ["product_view", "page_view"] * 2,
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"] * 4)})
    >>> t = ab_test(ev, ["product_view", "event:purchase"])
    >>> t.control, t.srm.mismatch, t.rates["rate"].tolist()
    ('A', False, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    """
    from cjlib.funnel import Funnel

    cols = columns(events)
    if not isinstance(by, str) or by not in cols:
        raise ValueError(f"by must name the variant column of the events, got {by!r} "
                         f"(columns: {', '.join(map(str, cols))})")
    assigned, mixed = _assignment(events, by)
    levels = sorted(assigned.unique().tolist(), key=str)
    if len(levels) < 2:
        raise ValueError(f"by: {by!r} needs at least two variants, got {levels}")
    if control is None:
        control = levels[0]
    elif control not in levels:
        raise ValueError(f"control must be one of the {by!r} levels {levels}, got {control!r}")
    srm = sample_ratio_mismatch(assigned.value_counts().reindex(levels), split=split, threshold=threshold)
    f = Funnel(events, steps, window=window, mode=mode, unit="customer", stage_map=stage_map)
    reached = f.units().set_index("customer_id")["steps_reached"]
    reached = reached.reindex(assigned.index, fill_value=0).to_numpy()
    codes = pd.Categorical(assigned.to_numpy(), categories=levels).codes
    rates = _rates(reached, codes, levels, f.labels, confidence)
    differences = _differences(rates, levels, control, alpha=alpha, power=power, confidence=confidence)
    return ABTest(by, control, srm, rates, differences, mixed, float(confidence), float(alpha), float(power))


def _transitions(labels: list[str]) -> list[tuple[str, str, str, int, int]]:
    """(kind, from_step, to_step, from level, to level) of the entry, each step and the overall row."""
    K = len(labels)
    rows = [("entry", ASSIGNED, labels[0], 0, 1)]
    rows += [("step", labels[k - 1], labels[k], k, k + 1) for k in range(1, K)]
    if K > 1:
        rows.append(("overall", ASSIGNED, labels[-1], 0, K))
    return rows


def _rates(reached: np.ndarray, codes: np.ndarray, levels: list, labels: list[str], confidence: float) -> pd.DataFrame:
    G = len(levels)
    parts = []
    for kind, a_lab, b_lab, a, b in _transitions(labels):
        n = np.bincount(codes[reached >= a], minlength=G).astype(np.int64)
        x = np.bincount(codes[reached >= b], minlength=G).astype(np.int64)
        lo, hi = wilson_interval(x, n, confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(n > 0, x / n, np.nan)
        parts.append(pd.DataFrame({"kind": kind, "from_step": a_lab, "to_step": b_lab, "variant": levels,
                                   "units": n, "converted": x, "rate": r, "ci_low": lo, "ci_high": hi}))
    return pd.concat(parts, ignore_index=True)


def _differences(rates: pd.DataFrame, levels: list, control, *, alpha: float, power: float,
                 confidence: float) -> pd.DataFrame:
    key = ["kind", "from_step", "to_step"]
    c = rates[rates["variant"] == control].set_index(key)
    t = rates[rates["variant"] != control]
    cc = c.loc[pd.MultiIndex.from_frame(t[key])]
    x1, n1 = t["converted"].to_numpy(), t["units"].to_numpy()
    x2, n2 = cc["converted"].to_numpy(), cc["units"].to_numpy()
    diff, lo, hi = proportion_difference(x1, n1, x2, n2, confidence=confidence)
    _, p = two_proportion_test(x1, n1, x2, n2)
    mde, mde_rel = minimum_detectable_effect(cc["rate"].to_numpy(), n2, n1, alpha=alpha, power=power)
    out = pd.DataFrame({"kind": t["kind"].to_numpy(), "from_step": t["from_step"].to_numpy(),
                        "to_step": t["to_step"].to_numpy(), "variant": t["variant"].to_numpy(),
                        "control": control, "units_control": n2, "units": n1,
                        "rate_control": cc["rate"].to_numpy(), "rate": t["rate"].to_numpy(),
                        "difference": diff, "ci_low": lo, "ci_high": hi, "p_value": p})
    out["p_adjusted"] = holm(out["p_value"].to_numpy())
    excludes_zero = (out["ci_low"].to_numpy() > 0) | (out["ci_high"].to_numpy() < 0)
    out["significant"] = (out["p_adjusted"].to_numpy() < alpha) & excludes_zero
    out["mde"], out["mde_relative"] = mde, mde_rel
    return out
