"""The stage scorecard: per journey stage, who reached it, who moved on, how fast, what it earned, how it felt.

Everything here reads the stage map; no event name is hard-coded. The issue's stage-specific measures
(awareness: reach …; purchase: conversion rate, orders …) are attached to stages by their *role*, found
from the map by :func:`stage_roles`: the first stage is the awareness role, the stage holding the
conversion events (``nth == 1``) the purchase role, stages in between consideration, the stage holding
the conversion events with ``nth > 1`` retention, and the stages after those advocacy.

Functions
---------
stage_kpis           one row per stage: reached, conversion to next, median days to next, revenue,
                     satisfaction (CSAT, NPS, a 0–100 index, each with its interval), top touchpoint/channel
stage_touchpoints    the top events (touchpoints) or channels of each stage
stage_satisfaction   CSAT, NPS and the 0–100 satisfaction index per stage, with confidence intervals
stage_measures       the stage-specific measures, as a tidy long table
cohort_retention     the retention curve by monthly (or weekly) cohort
kpi_trends           KPIs by week or month
customer_segments    one segment label per customer and segment column (acquisition channel, device …)
segment_conversion   stage conversion per segment level, its gap to all customers and a p-value
pain_points          per stage, the segment level with the worst conversion out of it
journey_scores       a composite journey score per segment level (documented in its docstring)

Modules: ``roles`` (stage roles), ``satisfaction``, ``kpis`` (stage table, touchpoints), ``measures``
(stage measures, channel costs), ``trends`` (cohort retention, KPI trends), ``segments``; every public
name is importable from ``cjlib.scorecard``.
"""

from cjlib.scorecard._common import FREQS
from cjlib.scorecard.kpis import stage_kpis, stage_touchpoints
from cjlib.scorecard.measures import ChannelCosts, channel_costs, format_measures, stage_measures
from cjlib.scorecard.roles import stage_roles
from cjlib.scorecard.satisfaction import feedback_stages, satisfaction_index, stage_satisfaction
from cjlib.scorecard.segments import (
    SCORE_COMPONENTS,
    customer_segments,
    journey_scores,
    pain_points,
    segment_conversion,
)
from cjlib.scorecard.trends import cohort_retention, kpi_trends
from cjlib.stats import nps

__all__ = [
    "FREQS",
    "ChannelCosts",
    "SCORE_COMPONENTS",
    "channel_costs",
    "cohort_retention",
    "customer_segments",
    "feedback_stages",
    "format_measures",
    "journey_scores",
    "kpi_trends",
    "nps",
    "pain_points",
    "satisfaction_index",
    "segment_conversion",
    "stage_kpis",
    "stage_measures",
    "stage_roles",
    "stage_satisfaction",
    "stage_touchpoints",
]
