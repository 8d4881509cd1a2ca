"""One vocabulary in the public API (CONTRIBUTING, "One vocabulary"): the same idea has one name everywhere.

Walks every public function, class and method that cjlib defines and checks its signature:
``by`` for segment columns, ``window`` for durations, ``confidence`` for a level, ``stage_map`` keyword-only,
``events`` first when a function takes the log.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import cjlib

# a spelling the vocabulary replaced → the name to use
RETIRED = {
    "segment": "by", "segments": "by", "adjust_for": "by", "segment_col": "by", "segment_column": "by",
    "window_days": "window", "lookback": "window", "recovery_days": "window", "gap": "window",
    "ci": "confidence", "conf": "confidence",
    "random_state": "seed", "rng_seed": "seed",
}


def _modules():
    names = ["cjlib"] + [m.name for m in pkgutil.walk_packages(cjlib.__path__, "cjlib.")
                         if not m.name.endswith("__main__")]
    return [importlib.import_module(n) for n in sorted(names)]


def _public_callables():
    seen = {}
    for mod in _modules():
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", "") != mod.__name__:
                continue
            if inspect.isfunction(obj):
                seen[f"{mod.__name__}.{name}"] = obj
            elif inspect.isclass(obj):
                if not dataclasses.is_dataclass(obj):  # a dataclass's fields are attributes, not arguments
                    seen[f"{mod.__name__}.{name}"] = obj.__init__
                for meth, fn in vars(obj).items():
                    if not meth.startswith("_") and inspect.isfunction(fn):
                        seen[f"{mod.__name__}.{name}.{meth}"] = fn
    return seen


PUBLIC = _public_callables()


def test_the_walk_finds_the_api():
    assert "cjlib.stats.wilson_interval" in PUBLIC and len(PUBLIC) > 200


def test_no_retired_spelling_in_a_public_signature():
    bad = [f"{where}({p} → {RETIRED[p]})" for where, fn in PUBLIC.items()
           for p in inspect.signature(fn).parameters if p in RETIRED]
    assert not bad, "retired parameter names: " + ", ".join(sorted(bad))


def test_stage_map_is_keyword_only():
    bad = [where for where, fn in PUBLIC.items()
           if (p := inspect.signature(fn).parameters.get("stage_map")) is not None and p.kind != p.KEYWORD_ONLY]
    assert not bad, "stage_map must be keyword-only in: " + ", ".join(sorted(bad))


def test_events_comes_first():
    bad = []
    for where, fn in PUBLIC.items():
        sig = inspect.signature(fn).parameters
        params = [p for p, v in sig.items() if p not in ("self", "cls") and v.kind == v.POSITIONAL_OR_KEYWORD]
        if "events" in params and params[0] != "events":
            bad.append(where)
    assert not bad, "events must be the first parameter of: " + ", ".join(sorted(bad))


@pytest.mark.parametrize("name", ["cjlib.funnel", "cjlib.attribution", "cjlib.churn", "cjlib.personas", "cjlib.engine",
                                  "cjlib.scorecard", "cjlib.report"])
def test_results_carry_no_dataframe_attrs(name):
    """Result metadata lives in dataclass fields, not in ``DataFrame.attrs`` (pandas calls it experimental).
    ``attrs["source"]`` (the file a frame was read from, for error messages) is the one key that stays."""
    import pathlib
    import re

    mod = importlib.import_module(name)
    files = [pathlib.Path(mod.__file__)]
    if pathlib.Path(mod.__file__).name == "__init__.py":
        files = sorted(pathlib.Path(mod.__file__).parent.glob("*.py"))
    uses = [f"{f.name}:{i}" for f in files for i, line in enumerate(f.read_text().splitlines(), 1)
            if re.search(r"\.attrs\b", line) and "source" not in line]
    assert not uses, f"{name} keeps result metadata in DataFrame.attrs at " + ", ".join(uses)


def test_every_public_function_documents_its_parameters_and_result():
    """Numpydoc ``Parameters`` (when it takes any) and ``Returns`` (unless annotated ``-> None``) on every
    public function cjlib defines, so ``help()`` answers what a call takes and gives."""
    lacking = []
    for where, fn in PUBLIC.items():
        if "." in fn.__qualname__:
            continue  # methods and constructors: their class documents them
        doc = inspect.getdoc(fn) or ""
        sig = inspect.signature(fn)
        if [p for p in sig.parameters if p != "self"] and "Parameters\n----------" not in doc:
            lacking.append(f"{where} (Parameters)")
        if sig.return_annotation not in (None, "None") and "Returns\n-------" not in doc:
            lacking.append(f"{where} (Returns)")
    assert not lacking, "numpydoc sections missing: " + ", ".join(sorted(lacking))
