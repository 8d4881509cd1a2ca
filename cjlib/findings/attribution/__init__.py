"""Sentences and chart titles of the stage-attribution report (``notebooks/02_stage_attribution``).

Every function takes result frames of :mod:`cjlib.attribution` and returns the text a report may show:
``str`` or ``None`` (not earned: write nothing), a list of Markdown lines, or — for chart titles — a
neutral description when the finding is not earned, so a chart always has a true title. Guards (from
:mod:`cjlib.findings`): a share of attributed conversions needs at least ``min_conversions`` of them; no
most/least/cheapest/dearest from a tie, from channels under ``min_touches`` touches (sessions) or under
``min_conversions`` attributed conversions; no ratio from zero; NaN never reaches text. Two numbers are only
called different when they differ materially (:data:`MATERIAL`, ×1.1, and for conversions by at least
:data:`HANDFUL`); a leader must lead its runner-up that clearly; values that print alike are a tie; a claim
about what a channel does ("assists", "moves customers forward more") needs that and, where an interval
exists, an interval that excludes no effect.

Modules, one per report section: :mod:`~cjlib.findings.attribution.common` (the guards, and saying once why
a group of sections is left out), ``journeys``, ``models`` (model comparison, Markov, transitions), ``stages``
(stage attribution and contribution), ``effects``, ``costs`` and ``summary``. Each holds the section's
sentences, titles and the dict of its metrics (for :func:`cjlib.report.record_all`); every public name is
importable from :mod:`cjlib.findings.attribution` itself.
"""

from __future__ import annotations

from cjlib.findings.attribution.common import (
    HANDFUL,
    MATERIAL,
    MIN_CONVERSIONS,
    channel_left_out,
    leave_out,
    left_out_once,
    said_above,
    transition_label,
)
from cjlib.findings.attribution.costs import cost_finding, cost_metrics, cost_model, cost_title
from cjlib.findings.attribution.effects import (
    effects_finding,
    effects_intro,
    effects_lines,
    effects_method,
    effects_metrics,
    effects_title,
    no_effects_reason,
    persona_metrics,
)
from cjlib.findings.attribution.journeys import (
    data_metrics,
    data_sentence,
    journeys_finding,
    journeys_metrics,
    journeys_title,
    no_paths_reason,
    same_credit_reason,
)
from cjlib.findings.attribution.models import (
    MODELS_METHOD,
    markov_finding,
    markov_lines,
    model_metrics,
    model_title,
    order_note,
    transition_metrics,
    transition_title,
)
from cjlib.findings.attribution.stages import (
    CONTRIBUTION_METHOD,
    STAGE_METHOD,
    contribution_metrics,
    contribution_title,
    no_contribution_reason,
    no_stages_reason,
    stage_finding,
    stage_lift_title,
    stage_lines,
    stage_metrics,
    stage_share_title,
)
from cjlib.findings.attribution.summary import missing_metrics, summary_finding, summary_lines

__all__ = [
    "MIN_CONVERSIONS",
    "MATERIAL",
    "HANDFUL",
    "channel_left_out",
    "said_above",
    "transition_label",
    "data_sentence",
    "journeys_finding",
    "journeys_title",
    "same_credit_reason",
    "MODELS_METHOD",
    "model_title",
    "markov_lines",
    "transition_title",
    "STAGE_METHOD",
    "stage_share_title",
    "stage_lift_title",
    "stage_lines",
    "effects_method",
    "effects_title",
    "effects_lines",
    "CONTRIBUTION_METHOD",
    "contribution_title",
    "cost_title",
    "cost_finding",
    "summary_lines",
    "left_out_once",
    "leave_out",
    "no_paths_reason",
    "no_stages_reason",
    "no_effects_reason",
    "no_contribution_reason",
    "data_metrics",
    "journeys_metrics",
    "model_metrics",
    "markov_finding",
    "transition_metrics",
    "order_note",
    "stage_metrics",
    "stage_finding",
    "persona_metrics",
    "effects_intro",
    "effects_metrics",
    "effects_finding",
    "contribution_metrics",
    "cost_metrics",
    "cost_model",
    "missing_metrics",
    "summary_finding",
]
