"""The stage map format and its checks."""

from __future__ import annotations

import pytest

from cjlib import DataError
from cjlib.stagemap import load_stage_map, stage_map_from_dict


def test_default_map():
    sm = load_stage_map()
    assert sm.stage_names == ["awareness", "consideration", "purchase", "retention", "advocacy"]
    assert sm.conversion_events == ("purchase",)
    assert sm.stage("retention").nth == 2
    assert sm.stage_of("purchase") == "purchase"  # the base stage; nth-rule applies on a log
    assert sm.stage_of("payment_error") is None and "payment_error" in sm.known_events
    assert sm.journey().steps[0] == "awareness"
    assert sm.journey("checkout").steps[-1] == "event:purchase"  # every purchase, not the stage
    with pytest.raises(ValueError, match="journey must be one of"):
        sm.journey("nope")


@pytest.mark.parametrize("spec,msg", [
    ({"stages": []}, "non-empty"),
    ({"stages": [{"name": "a"}], "conversion_events": ["x"]}, "needs 'name' and 'events'"),
    ({"stages": [{"name": "a", "events": ["x"]}, {"name": "a", "events": ["y"]}], "conversion_events": "x"},
     "unique"),
    ({"stages": [{"name": "a", "events": ["x"], "nth": 0}], "conversion_events": "x"}, "nth"),
    ({"stages": [{"name": "a", "events": ["x"]}]}, "conversion_events"),
    ({"stages": [{"name": "a", "events": ["x"]}], "conversion_events": "x", "bogus": 1}, "unknown keys"),
    ({"stages": [{"name": "a", "events": ["x"]}], "conversion_events": "x", "default_journey": "j"},
     "default_journey"),
])
def test_bad_maps(spec, msg):
    with pytest.raises(DataError, match=msg):
        stage_map_from_dict(spec, "map.yml")


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_stage_map(tmp_path / "none.yml")
    (tmp_path / "bad.yml").write_text("stages: [unclosed")
    with pytest.raises(DataError, match="not valid YAML"):
        load_stage_map(tmp_path / "bad.yml")
