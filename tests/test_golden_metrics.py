"""Every report's metrics.json on the sample is what it was when the golden copy was taken.

A refactor moves code, renames arguments and splits modules; the numbers a report publishes must not move
with it. ``tests/data/golden/`` holds, for each report run with its default parameters on the sample that
``make data`` writes (20,000 customers, seed 0), the ``parameters``, ``data`` and ``metrics`` sections of its
metrics.json. This test runs all five reports again and compares them key by key: same names, same
values (floats to 1e-9 relative, which absorbs nothing but the last bits of a sum's order).

When a change is *meant* to move a number, regenerate the copy and say why in the commit message::

    CJLIB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_metrics.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from cjlib.paths import PROJ_ROOT

GOLDEN = Path(__file__).parent / "data" / "golden"
SAMPLE = PROJ_ROOT / "data" / "sample" / "events.parquet"
SECTIONS = ("report", "parameters", "data", "metrics")

pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="the sample is written by `make data`")


def differences(golden, new, where: str = "") -> list[str]:
    """Every place where ``new`` differs from ``golden``: a missing or extra key, a changed value.

    >>> differences({"a": 1.0, "b": [1, 2]}, {"a": 1.0 + 1e-13, "b": [1, 3], "c": 0})
    ['b[1]: 2 -> 3', 'c: extra']
    """
    if isinstance(golden, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(golden) | set(new), key=str):
            here = f"{where}.{k}" if where else str(k)
            if k not in new:
                out.append(f"{here}: missing")
            elif k not in golden:
                out.append(f"{here}: extra")
            else:
                out += differences(golden[k], new[k], here)
        return out
    if isinstance(golden, list) and isinstance(new, list):
        if len(golden) != len(new):
            return [f"{where}: {len(golden)} items -> {len(new)}"]
        return [d for i, (g, n) in enumerate(zip(golden, new)) for d in differences(g, n, f"{where}[{i}]")]
    if isinstance(golden, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        same = math.isclose(golden, new, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(golden) and math.isnan(new))
        return [] if same else [f"{where}: {golden!r} -> {new!r}"]
    return [] if golden == new and type(golden) is type(new) else [f"{where}: {golden!r} -> {new!r}"]


def _kept(path: Path) -> dict:
    m = json.loads(path.read_text())
    m["parameters"].pop("output_dir", None)  # where this run wrote, not what it computed
    return {k: m[k] for k in SECTIONS}


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.metrics.json")))
def test_metrics_unchanged_on_the_sample(tmp_path, name):
    from cjlib.report import run_reports

    stem = name.removesuffix(".metrics.json")
    [result] = run_reports([stem], {}, out_dir=tmp_path, progress=None)  # one report a test: `-k 03_dropoff`
    assert result.status == "ok", result.error
    new = _kept(tmp_path / name)
    if os.environ.get("CJLIB_UPDATE_GOLDEN") == "1":
        (GOLDEN / name).write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    golden = json.loads((GOLDEN / name).read_text())
    diff = differences(golden, new)
    assert not diff, f"{name}: {len(diff)} difference(s), first: " + "; ".join(diff[:8])


def test_every_report_has_a_golden_copy():
    from cjlib.report import list_notebooks

    assert sorted(p.stem + ".metrics.json" for p in list_notebooks()) == sorted(p.name for p in GOLDEN.glob("*.json"))
