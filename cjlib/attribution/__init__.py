"""Channel and stage attribution: heuristics, exact Markov chains, Shapley values, bootstrap intervals.

The central table is the **paths table**: one row per distinct journey path with columns

``path``
    the touches in order, joined by ``" > "`` (``"email > search > email"``);
``conversions``
    how many journeys along this path converted;
``nulls``
    how many did not;
``value`` (optional)
    the total conversion value of the converting journeys.

:func:`read_paths` reads it from our CSV or from ChannelAttribution's ``;``-separated format;
:func:`paths_from_events` builds it from an event log (for all conversions or for one stage transition);
:func:`journey_paths` returns it in a :class:`JourneyPaths` with the conversions left out for want of a touch.

Every model takes a paths table and returns a DataFrame indexed by ``channel``:

- :func:`heuristic` — first touch, last touch, linear, position based (40/20/40);
- :func:`markov` — removal effects of an order-k Markov chain, solved exactly (sparse linear algebra, no
  simulation), with the textbook infinite horizon or ChannelAttribution's step limit;
- :func:`shapley` — the simplified Shapley value and an exact coalition Shapley value;
- :func:`time_decay` — from an event log, since it needs timestamps.

:func:`bootstrap` adds confidence intervals to any of them, :func:`stage_attribution` runs a model on every
stage transition of the stage map, :func:`stage_contribution` attributes conversions to touchpoint events
summed by stage, and :func:`cost_per_conversion` joins channel spend. What a visit from a channel *does*
(an effect adjusted for who uses it, not a share of conversions) is :mod:`cjlib.effects`.

Channel names may be any string, ``>`` included (hierarchical names such as ``"Email > Newsletter"``). In a
``path`` string a ``>`` inside a name is written ``\\>`` and a backslash ``\\\\`` (:func:`join_path`,
:func:`split_path`), so ``"Email \\> Newsletter > Paid \\> Search"`` is the two channels ``Email >
Newsletter`` and ``Paid > Search``; every result names the channels exactly as in the data (the escapes
are undone when the paths are parsed). Surrounding spaces are trimmed and empty names dropped; a path left
without channels is dropped (with a :class:`~cjlib.errors.DataWarning` when it carried conversions).

Modules: :mod:`~cjlib.attribution.paths` (the paths table, from files), :mod:`~cjlib.attribution.journeys`
(the paths table, from event logs), :mod:`~cjlib.attribution.heuristic`, :mod:`~cjlib.attribution.markov`,
:mod:`~cjlib.attribution.shapley`, :mod:`~cjlib.attribution.models` (any model by name, bootstrap),
:mod:`~cjlib.attribution.stages`, :mod:`~cjlib.attribution.costs`; every public name is importable from
:mod:`cjlib.attribution` itself. :mod:`~cjlib.attribution.distributed` holds the per-customer kernels and
log-wide helpers through which the functions that read events (and :mod:`cjlib.effects`,
:mod:`cjlib.personas`) accept a log shuffled onto a Dask cluster (:class:`cjlib.engine.Partitioned`) and
return what they return in process.
"""

from __future__ import annotations

from cjlib.attribution.costs import cost_per_conversion, cost_table, spend_in_range
from cjlib.attribution.heuristic import HEURISTIC_MODELS, heuristic, time_decay
from cjlib.attribution.journeys import JourneyPaths, journey_paths, paths_from_events
from cjlib.attribution.markov import (
    CONVERSION,
    NULL,
    START,
    MarkovChain,
    markov,
    markov_chain,
    removal_effects,
    transition_matrix,
)
from cjlib.attribution.models import (
    MODELS,
    ModelComparison,
    bootstrap,
    compare_models,
    model_comparison,
    parse_models,
)
from cjlib.attribution.paths import (
    SEP,
    join_path,
    journey_summary,
    path_length,
    read_paths,
    split_path,
    touch_problem,
)
from cjlib.attribution.shapley import MAX_EXACT_SHAPLEY_CHANNELS, shapley
from cjlib.attribution.stages import (
    StageAttribution,
    StageContribution,
    focus_transition,
    stage_attribution,
    stage_contribution,
    stage_transitions,
)

__all__ = [
    "SEP",
    "START",
    "CONVERSION",
    "NULL",
    "join_path",
    "split_path",
    "path_length",
    "read_paths",
    "paths_from_events",
    "journey_paths",
    "JourneyPaths",
    "heuristic",
    "markov",
    "markov_chain",
    "MarkovChain",
    "transition_matrix",
    "shapley",
    "time_decay",
    "compare_models",
    "model_comparison",
    "ModelComparison",
    "bootstrap",
    "stage_transitions",
    "stage_attribution",
    "stage_contribution",
    "StageAttribution",
    "StageContribution",
    "cost_per_conversion",
    "parse_models",
    "touch_problem",
    "journey_summary",
    "removal_effects",
    "focus_transition",
    "spend_in_range",
    "cost_table",
    "HEURISTIC_MODELS",
    "MODELS",
    "MAX_EXACT_SHAPLEY_CHANNELS",
]
