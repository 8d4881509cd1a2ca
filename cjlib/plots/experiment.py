"""Figures and tables of an A/B test (:func:`cjlib.experiment.ab_test`): the difference from control at every
transition with its interval, against the minimum detectable effect."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlib.plots import finish, new_ax

__all__ = ["ab_differences", "ab_table"]


def _labels(d: pd.DataFrame) -> list[str]:
    from cjlib.findings.dropoff.experiment import transition_text

    several = d["variant"].nunique() > 1
    return [transition_text(r) + (f" ({r['variant']})" if several else "") for _, r in d.iterrows()]


def ab_differences(ab, *, title: str | None = None, ax=None):
    """Difference treatment − control per transition in percentage points with its interval (Newcombe), a
    grey band of ± the minimum detectable effect behind each row; significant differences coloured (green
    better, red worse), the others grey-blue. First transition on top.

    Parameters
    ----------
    ab : ABTest
        :func:`cjlib.experiment.ab_test`.
    title : str, optional
        The title (a finding; the caller computes it).
    ax : Axes, optional
        Draw here; a new figure when ``None``.

    Returns
    -------
    Axes
    """
    d = ab.differences.iloc[::-1]
    ax = new_ax(ax, figsize=(10, 1.8 + 0.45 * max(len(d), 1)))
    y = np.arange(len(d))
    diff, lo, hi, mde = (100 * d[c].to_numpy(dtype=float) for c in ("difference", "ci_low", "ci_high", "mde"))
    sig = d["significant"].to_numpy(dtype=bool) & (not ab.srm.mismatch)
    ok = np.isfinite(mde)
    ax.barh(y[ok], 2 * mde[ok], left=-mde[ok], height=0.5, color="#DDDDDD", zorder=1)
    ax.hlines(y, lo, hi, color="black", lw=1.2, zorder=2)
    colors = np.where(sig & (diff > 0), "#55A868", np.where(sig, "#C44E52", "#4C72B0"))
    ax.scatter(diff, y, color=colors, s=45, zorder=3)
    ax.axvline(0, color="grey", ls="--", lw=1)
    ax.set_yticks(y, _labels(d))
    ax.set_ylim(-0.6, len(d) - 0.4)
    levels = " / ".join(sorted({str(v) for v in d["variant"]}))
    ax.set_xlabel(f"{levels} − {ab.control}: conversion difference (percentage points, {ab.confidence:.0%} CI)"
                  + (f"\ngrey band: ± minimum detectable effect ({ab.power:.0%} power)" if ok.any() else ""))
    ax.set_ylabel("transition")
    return finish(ax, title)


def ab_table(ab):
    """:attr:`cjlib.experiment.ABTest.differences` styled for a report: the transition, customers and
    conversion per group, the difference and its interval in percentage points, the Holm-adjusted p-value
    and the minimum detectable effect; ``–`` where undefined, no index.

    Parameters
    ----------
    ab : ABTest
        :func:`cjlib.experiment.ab_test`.

    Returns
    -------
    Styler
    """
    d = ab.differences
    c = str(ab.control)
    t = pd.DataFrame({
        "transition": _labels(d),
        f"customers ({c})": d["units_control"].to_numpy(), "customers": d["units"].to_numpy(),
        f"conversion ({c})": d["rate_control"].to_numpy(), "conversion": d["rate"].to_numpy(),
        "difference (pp)": 100 * d["difference"].to_numpy(), "CI low (pp)": 100 * d["ci_low"].to_numpy(),
        "CI high (pp)": 100 * d["ci_high"].to_numpy(), "p (Holm)": d["p_adjusted"].to_numpy(),
        "MDE (pp)": 100 * d["mde"].to_numpy(),
    })
    fmt = {f"customers ({c})": "{:,}", "customers": "{:,}", f"conversion ({c})": "{:.1%}", "conversion": "{:.1%}",
           "difference (pp)": "{:+.1f}", "CI low (pp)": "{:+.1f}", "CI high (pp)": "{:+.1f}",
           "p (Holm)": lambda p: "< 0.001" if p < 0.001 else f"{p:.3f}", "MDE (pp)": "{:.1f}"}
    return t.style.format(fmt, na_rep="–").hide(axis="index")
