"""The persona report's sections: each one's metrics for ``report.record_all`` and its paragraphs."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from cjlib.findings import paragraphs
from cjlib.findings.personas.sentences import (
    card_lines,
    data_sentence,
    excluded_sentence,
    k_sentence,
    rfm_sentence,
    stability_sentence,
    stability_state,
)


# ------------------------------------------------------------------------------------------ sections
def fit_state(result) -> str:
    """:func:`stability_state` of a :class:`cjlib.personas.PersonaResult` (its ``scores_`` and ``rule_``).

    Parameters
    ----------
    result : PersonaResult

    Returns
    -------
    str
        ``"stable"``, ``"unstable"``, ``"unchecked"`` or ``"rfm"``.
    """
    return stability_state(result.scores_, rule=result.rule_)


def inputs_findings(data, features: pd.DataFrame, left_out: Mapping[str, str]) -> str:
    """The data line and, when customer columns were left out of the features, a paragraph naming them.

    Parameters
    ----------
    data : Inputs
        The loaded inputs (``events``, ``customers``, ``feedback``).
    features : DataFrame
        The customer features (one row per customer).
    left_out : mapping
        :func:`cjlib.features.excluded_attributes`.

    Returns
    -------
    str
        Markdown paragraphs.
    """
    return paragraphs(data_sentence(len(features), len(data.events), features.shape[1],
                                    has_customers=data.customers is not None, has_feedback=data.feedback is not None),
                      excluded_sentence(left_out))


def inputs_metrics(left_out: Mapping[str, str]) -> dict:
    """The inputs section's metrics: ``features_left_out`` (column → why).

    Parameters
    ----------
    left_out : Mapping of str to str
        Column → why it is left out of the features.

    Returns
    -------
    dict
        ``{"features_left_out": left_out}``.

    Examples
    --------
    >>> inputs_metrics({"zip": "id"})
    {'features_left_out': {'zip': 'id'}}
    """
    return {"features_left_out": left_out}


def k_metrics(result) -> dict:
    """The metrics of the section choosing k.

    Parameters
    ----------
    result : PersonaResult

    Returns
    -------
    dict
        ``n_personas``, ``persona_kind`` (``"rfm_segments"``, ``"kmeans"`` or ``"gmm"``),
        ``persona_names``, ``personas_stable``, ``silhouette``, ``stability_ari_mean``, ``stability_ari_min``.
    """
    state = fit_state(result)
    return {"n_personas": result.k_, "persona_kind": "rfm_segments" if state == "rfm" else result.kind_,
            "persona_names": result.names_, "personas_stable": state == "stable",
            "silhouette": result.silhouette_, "stability_ari_mean": result.stability_["ari_mean"],
            "stability_ari_min": result.stability_["ari_min"]}


def k_findings(result, *, has_revenue: bool) -> str:
    """The findings under the k chart: the rule and features, stability, and how RFM segments score.

    Parameters
    ----------
    result : PersonaResult
    has_revenue : bool
        Whether the log carries revenue (RF segments without it).

    Returns
    -------
    str
        Markdown paragraphs.
    """
    return paragraphs(k_sentence(result.scores_, result.columns_["numeric"], result.columns_["categorical"],
                                 rule=result.rule_, left_out=getattr(result, "left_out_", None)),
                      stability_sentence(result.scores_, result.params, rule=result.rule_, tried=result.tried_,
                                         n_groups=result.k_),
                      rfm_sentence(revenue=has_revenue) if fit_state(result) == "rfm" else None)


def cards_metrics(cards: pd.DataFrame) -> dict:
    """The persona cards' metrics: ``personas``, one dict per card (``name``, ``share``, ``revenue_share``,
    ``conversion_rate`` or None).

    Parameters
    ----------
    cards : pandas.DataFrame
        ``PersonaResult.cards()`` (``name``, ``share``, ``revenue_share``; ``conversion_rate`` when present).

    Returns
    -------
    dict
        ``{"personas": [...]}``, one dict per card.

    Examples
    --------
    >>> cards_metrics(pd.DataFrame({"name": ["A"], "share": [1.0], "revenue_share": [1.0]}))
    {'personas': [{'name': 'A', 'share': 1.0, 'revenue_share': 1.0, 'conversion_rate': None}]}
    """
    return {"personas": [{"name": r["name"], "share": r["share"], "revenue_share": r["revenue_share"],
                          "conversion_rate": r.get("conversion_rate")} for _, r in cards.iterrows()]}


def assignments_sentence(n: int, file: str) -> str:
    """Where the assignments went.

    Parameters
    ----------
    n : int
        Number of assignments written.
    file : str
        The file name in the output folder.

    Returns
    -------
    str
        The sentence.

    Examples
    --------
    >>> assignments_sentence(20000, "personas_assignments.csv")
    'Wrote 20,000 assignments to `personas_assignments.csv` in the output folder.'
    """
    return f"Wrote {n:,} assignments to `{file}` in the output folder."


def summary(result, cards: pd.DataFrame, *, has_revenue: bool,
            inactive_window: str | pd.Timedelta = "90D") -> str:
    """The report's closing findings: one bullet per persona card, and the stability sentence (first when
    the groups are not stable personas, last when they are).

    Parameters
    ----------
    result : PersonaResult
    cards : DataFrame
        ``result.cards()``.
    has_revenue : bool
        Whether the log carries revenue.
    inactive_window : str or Timedelta, default "90D"
        The span the cards' ``churn_rate`` counts.

    Returns
    -------
    str
        Markdown bullets.
    """
    stability = "- " + stability_sentence(result.scores_, result.params, rule=result.rule_, tried=result.tried_,
                                          n_groups=result.k_)
    stable = fit_state(result) == "stable"
    lines = [] if stable else [stability]
    lines += card_lines(cards, has_revenue=has_revenue, inactive_window=inactive_window)
    return "\n".join(lines + ([stability] if stable else []))
