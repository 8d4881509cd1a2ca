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


def test_files_that_are_not_utf8_or_not_files_are_named(tmp_path):
    """A latin-1 map named only "'utf-8' codec can't decode" before; a folder or a non-path is refused."""
    (tmp_path / "latin.yml").write_bytes("stages:\n  - name: d\xe9couverte\n    events: [a]\nconversion_events: a\n"
                                         .encode("latin-1"))
    with pytest.raises(DataError) as info:
        load_stage_map(tmp_path / "latin.yml")
    assert info.value.rule == "encoding" and "latin.yml" in str(info.value) and "UTF-8" in str(info.value)
    with pytest.raises(DataError, match="is a folder"):
        load_stage_map(tmp_path)
    with pytest.raises(DataError, match="stage_map_path"):
        load_stage_map(3)


def test_other_events_and_journeys_are_checked():
    base = {"stages": [{"name": "a", "events": ["x"]}], "conversion_events": "x"}
    assert stage_map_from_dict({**base, "other_events": "help"}).other_events == ("help",)  # not ('h', 'e', …)
    with pytest.raises(DataError, match="other_events"):
        stage_map_from_dict({**base, "other_events": [1, 2]})
    with pytest.raises(DataError, match="'journeys' must map"):
        stage_map_from_dict({**base, "journeys": ["a", "b"]})


def test_stage_map_and_channel_rules_share_one_yaml_loader(tmp_path):
    """One error format for both YAML inputs: the parameter, rule file_exists / the format's rule."""
    from cjlib.channels import load_rules
    from cjlib.stagemap import read_yaml, yaml_path

    missing = tmp_path / "nope.yml"
    for load, what, parameter in ((load_stage_map, "stage map", "stage_map_path"),
                                  (load_rules, "channel rules", "rules")):
        with pytest.raises(DataError, match=f"{what} file not found") as err:
            load(str(missing))
        assert (err.value.parameter, err.value.rule) == (parameter, "file_exists")
        with pytest.raises(DataError, match=f"the {what} must be a file name, got int 3"):
            load(3)
    bad = tmp_path / "bad.yml"
    bad.write_text("stages: [\n")
    with pytest.raises(DataError, match="not valid YAML") as err:
        read_yaml(yaml_path(str(bad), bad, what="stage map", parameter="stage_map_path"),
                  what="stage map", parameter="stage_map_path", rule="stage_map")
    assert (err.value.parameter, err.value.rule, err.value.file) == ("stage_map_path", "stage_map", str(bad))
    good = tmp_path / "good.yml"
    good.write_text("a: 1\nb: [2, 3]\n")
    assert read_yaml(good, what="x", parameter="p", rule="r") == {"a": 1, "b": [2, 3]}
