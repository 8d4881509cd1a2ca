"""The closing findings of 02, from whichever results exist."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cjlib.findings import (
    is_number,
    number,
    pct,
    times,
)
from cjlib.findings.attribution.common import MIN_CONVERSIONS, transition_label
from cjlib.findings.attribution.costs import _cost_ranking, dearest_phrase
from cjlib.findings.attribution.models import _top_channel, _top_phrase
from cjlib.findings.attribution.stages import _leaders, _lift_ends, contribution_title


def summary_lines(*, js: pd.DataFrame | None = None, mk=None,
                  attributed: pd.DataFrame | None = None, models: Sequence[str] = (),
                  sa=None, min_touches: int = 100, contrib=None,
                  stage_model: str = "markov", cpc: pd.DataFrame | None = None, cost_model: str = "markov",
                  min_conversions: int = MIN_CONVERSIONS) -> list[str]:
    """The report's closing findings from whichever results exist (a missing one adds no line); ``sa`` and
    ``contrib`` are a :class:`cjlib.attribution.StageAttribution` and :class:`~cjlib.attribution.StageContribution`.

    Parameters
    ----------
    js, mk, attributed, sa, contrib, cpc : optional
        The results that exist (journey summary, Markov chain (a MarkovChain), model comparison, stage attribution, stage
        contribution, cost per conversion).
    models : sequence of str
        The models compared.
    min_touches : int
        Fewest touches a channel needs to be ranked.
    stage_model, cost_model : str
        The models of the stage sections and of the costs.
    min_conversions : int, default MIN_CONVERSIONS
        Fewest attributed conversions a claim is made from.

    Returns
    -------
    list of str
    """
    lines = []
    if js is not None:
        n_conv, n_null = js.loc["converting", "journeys"], js.loc["not converting", "journeys"]
        if n_conv + n_null > 0:
            text = f"- {number(n_conv + n_null)} journeys, {pct(n_conv / (n_conv + n_null), 1)} converting"
            if mk is not None and is_number(mk.p_conversion):
                text += f"; the Markov chain puts P(conversion) at {pct(mk.p_conversion, 1)}"
            lines.append(text + ".")
    if attributed is not None and models:
        total = float(attributed[models[0]].sum())
        top = _top_channel(attributed, models, total, min_conversions)
        if top is not None:
            lines.append(f"- **{top[0]}**{_top_phrase(attributed, models, total, top)[len(top[0]):]}.")
    if sa is not None and len(sa.table):
        leaders = _leaders(sa.table, min_conversions)
        for t, fr in sa.table.groupby("transition", sort=False):
            ends = _lift_ends(fr, min_touches, min_conversions)
            clauses = [f"{leaders[t][0]} earns the most credit"] if t in leaders else []
            if ends is not None and len(ends[0]) == 1:  # a "most" clear of every other channel beyond noise
                clauses.append(f"{ends[0][0]} moves customers forward most per touch ({times(ends[2][ends[0][0]], 2)})")
            if clauses:
                lines.append(f"- {transition_label(t)}: {'; '.join(clauses)}.")
    if contrib is not None and len(contrib.table):
        title = contribution_title(contrib, stage_model, min_conversions=min_conversions)
        if not title.startswith("Attributed conversions by"):
            lines.append(f"- {title.rsplit(' (', 1)[0]}.")
    if cpc is not None:
        r, extra = _cost_ranking(cpc, cost_model, min_conversions)
        if r is not None and r.best is not None:
            lines.append(f"- Under {cost_model} attribution, {r.best} conversions are the cheapest "
                         f"({number(r.best_value, ',.2f')} each)"
                         + (f" and {dearest_phrase(r, extra, each='')}." if extra is None or extra[0] is not None
                            else f"; {dearest_phrase(r, extra)}."))
    return lines


def missing_metrics(*, paths: bool, stages: bool) -> dict:
    """The empty values 02 records for sections that did not run (so every run's metrics have the keys).

    Parameters
    ----------
    paths : bool
        Whether the paths sections ran.
    stages : bool
        Whether stage attribution ran.

    Returns
    -------
    dict

    Examples
    --------
    >>> missing_metrics(paths=False, stages=True)
    {'attribution': {}, 'p_conversion': None}
    """
    out: dict = {}
    if not paths:
        out.update(attribution={}, p_conversion=None)
    if not stages:
        out["top_channel_by_stage"] = {}
    return out


def summary_finding(*, comparison=None, **kw) -> str:
    """The closing findings (:func:`summary_lines`; ``comparison``, a :class:`cjlib.attribution.ModelComparison`,
    gives ``mk``, ``attributed`` and ``models``), or one sentence saying none is earned.

    Parameters
    ----------
    comparison : ModelComparison, optional
        :func:`cjlib.attribution.model_comparison` output.
    **kw
        The other arguments of :func:`summary_lines`.

    Returns
    -------
    str
    """
    if comparison is not None:
        kw.update(mk=comparison.markov, attributed=comparison.attributed, models=list(comparison.models))
    lines = summary_lines(**kw)
    return "\n".join(lines) if lines else "*No finding is earned on this data:* the sections above say why."
