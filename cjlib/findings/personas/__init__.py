"""Sentences and chart titles of the persona report (01), built only from what the numbers earn.

Every function takes result frames (``PersonaResult.scores_``, ``cards()``, the profile z-scores, the
journey table) and returns a sentence, a title, or ``None`` / a neutral title when the data does not
earn the claim: no best or worst from a tie or from a group under :data:`cjlib.findings.MIN_GROUP`
customers, no "stable" without an admissible k, no revenue share without revenue.

``sentences`` holds the sentence builders and chart titles, ``sections`` each section's metrics (for
``report.record_all``) and paragraphs; every public name is re-exported here.
"""

from __future__ import annotations

from cjlib.findings.personas.sections import (
    assignments_sentence,
    cards_metrics,
    fit_state,
    inputs_findings,
    inputs_metrics,
    k_findings,
    k_metrics,
    summary,
)
from cjlib.findings.personas.sentences import (
    CLUSTERING,  # noqa: F401  (a module constant, importable as before)
    EXCLUDED_WHY,
    FEATURE_WORDS,  # noqa: F401  (a module constant, importable as before)
    METHOD,
    TIE_SD,  # noqa: F401  (a module constant, importable as before)
    card_lines,
    cards_method,
    cards_title,
    data_sentence,
    excluded_sentence,
    feature_label,
    heatmap_title,
    journey_title,
    k_sentence,
    k_title,
    map_title,
    not_clustered,
    not_shown,
    noun,
    only_one,
    rfm_sentence,
    stability_sentence,
    stability_state,
    two_rates,
    unclustered_sentence,
)

__all__ = [
    "EXCLUDED_WHY",
    "card_lines",
    "cards_title",
    "data_sentence",
    "excluded_sentence",
    "feature_label",
    "heatmap_title",
    "journey_title",
    "k_sentence",
    "k_title",
    "map_title",
    "METHOD",
    "cards_method",
    "not_clustered",
    "not_shown",
    "noun",
    "only_one",
    "stability_sentence",
    "stability_state",
    "two_rates",
    "unclustered_sentence",
    "assignments_sentence",
    "cards_metrics",
    "fit_state",
    "inputs_findings",
    "inputs_metrics",
    "k_findings",
    "k_metrics",
    "rfm_sentence",
    "summary",
]
