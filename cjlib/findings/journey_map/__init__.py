"""The sentences and chart titles of the journey map report (``00_journey_map``).

Each function takes result frames of :mod:`cjlib.scorecard` (or a :class:`cjlib.DataProfile`) and returns
the text a report may state — or ``None`` (or nothing in a list) when the numbers do not earn it: no
best/worst from ties, from groups under the minimum size or from a single group, no rate over a zero
denominator, no trend between undefined ends or from partial periods, no revenue sentence without
revenue, NaN never in text.

Definitions (obs. 7 of issue 14): 00 measures stage *reach*, "ever, in any order". Its
``reached_next_share`` of a stage is, of the customers who ever reached the stage, the share who ever
reached the next stage at or after first reaching it — at any time. 03's funnel counts a step only in
order within its conversion window, measured from the first step, so its step rates are lower wherever
customers take long (a second purchase months later counts in 00, not in 03's 30-day funnel).
:func:`definition_line` says so beside the numbers.
"""

from cjlib.findings.journey_map.sections import (
    cost_table,
    data_lines,
    data_metrics,
    finding_lines,
    pain_metrics,
    score_metrics,
    scorecard_left_out,
    scorecard_metrics,
    scorecard_table,
    scores_not_shown,
    segment_request,
)
from cjlib.findings.journey_map.sentences import (
    ALPHA,  # noqa: F401  (a module constant, importable as before)
    cost_sentence,
    data_sentence,
    definition_line,
    feedback_unmatched_sentence,
    leak,
    left_out_sections,
    map_notes,
    map_title,
    named_segment_warning,
    pain_lines,
    retention_runs,
    retention_title,
    score_definition,
    score_pick,
    score_title,
    segments_left_out,
    trend_title,
)

__all__ = [
    "cost_sentence",
    "cost_table",
    "data_lines",
    "data_metrics",
    "pain_metrics",
    "score_metrics",
    "scorecard_left_out",
    "scorecard_metrics",
    "scorecard_table",
    "scores_not_shown",
    "segment_request",
    "data_sentence",
    "definition_line",
    "feedback_unmatched_sentence",
    "finding_lines",
    "leak",
    "left_out_sections",
    "map_notes",
    "map_title",
    "named_segment_warning",
    "pain_lines",
    "retention_runs",
    "retention_title",
    "score_definition",
    "score_pick",
    "score_title",
    "segments_left_out",
    "trend_title",
]
