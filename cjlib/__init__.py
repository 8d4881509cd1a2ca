"""cjlib — customer-journey analytics: a helper library behind parameterized notebooks.

The data layer is re-exported here (``cjlib.load_events`` …); each analysis lives in its own module,
imported on first use (``cjlib.funnel``, ``cjlib.attribution``, ``cjlib.personas``, ``cjlib.churn`` …).
"""

from __future__ import annotations

import importlib

from cjlib._version import __version__
from cjlib.errors import DataError, DataWarning
from cjlib.io import (
    Inputs,
    load_costs,
    load_customers,
    load_events,
    load_feedback,
    load_inputs,
)
from cjlib.profiling import DataProfile, profile
from cjlib.stagemap import StageMap, load_stage_map

__all__ = [
    "__version__",
    "DataError",
    "DataWarning",
    "DataProfile",
    "Inputs",
    "StageMap",
    "load_costs",
    "load_customers",
    "load_events",
    "load_feedback",
    "load_inputs",
    "load_stage_map",
    "profile",
]

_SUBMODULES = {"attribution", "bgnbd", "churn", "features", "funnel", "journeys", "paths", "personas", "plots",
               "report", "scorecard", "synth", "io", "stagemap", "engine", "findings", "profiling", "parameters",
               "safety", "at_risk", "value", "channels", "readers", "stats", "validation", "effects",
               "progress", "experiment"}


def __getattr__(name: str):
    """Import analysis modules lazily: ``cjlib.funnel`` works after a bare ``import cjlib``."""
    if name in _SUBMODULES:
        return importlib.import_module(f"cjlib.{name}")
    raise AttributeError(f"module 'cjlib' has no attribute {name!r}")
