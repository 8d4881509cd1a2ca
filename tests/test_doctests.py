"""The Examples sections of the modules that hold the findings rules and the data profile run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["cjlib.findings", "cjlib.findings.attribution", "cjlib.findings.churn", "cjlib.findings.dropoff",
           "cjlib.findings.journey_map", "cjlib.findings.personas", "cjlib.profiling", "cjlib.stagemap",
           "cjlib.features", "cjlib.io", "cjlib.safety", "cjlib.parameters", "cjlib.churn", "cjlib.at_risk",
           "cjlib.value", "cjlib.bgnbd", "cjlib.channels", "cjlib.readers", "cjlib.reading"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0, f"{name}: {res.failed} of {res.attempted} examples failed"
