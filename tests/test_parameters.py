"""Parameter ranges, choices and cross-field rules: refused in one line, exit 2, before anything is written."""

from __future__ import annotations

import pytest

from cjlib import cli
from cjlib.parameters import RULES, ParameterError, check, check_with_stage_map, problems
from cjlib.report import list_notebooks, notebook_parameters, validate_parameters

NOTEBOOKS = list_notebooks()
DECLARED = {nb.stem: notebook_parameters(nb) for nb in NOTEBOOKS}

BAD = [
    ({"k_min": 5, "k_max": 2}, "k_min"),
    ({"k_min": 9}, "k_max"),  # against k_max's default 8
    ({"k_min": 1}, "k_min"),
    ({"k": "1"}, "k"),
    ({"k": "four"}, "k"),
    ({"window": "-7D"}, "window"),
    ({"window": "abc"}, "window"),
    ({"lookback": "-7D"}, "lookback"),
    ({"lookback": "30"}, "lookback"),  # a bare number is 30 nanoseconds to pandas
    ({"half_life": "abc"}, "half_life"),
    ({"half_life": "0D"}, "half_life"),
    ({"churn_window_days": 1.5}, "churn_window_days"),
    ({"model": "forest"}, "model"),
    ({"rank_by": "value"}, "rank_by"),
    ({"value_horizon_days": 0}, "value_horizon_days"),
    ({"discount_rate": 1.0}, "discount_rate"),
    ({"discount_rate": -0.1}, "discount_rate"),
    ({"churn_window_days": -30}, "churn_window_days"),
    ({"n_bootstrap": -5}, "n_bootstrap"),
    ({"min_support": -1}, "min_support"),
    ({"min_segment_units": 0}, "min_segment_units"),
    ({"min_segment_customers": -1}, "min_segment_customers"),
    ({"min_touches": -1}, "min_touches"),
    ({"recovery_days": -1}, "recovery_days"),
    ({"markov_order": 0}, "markov_order"),
    ({"seed": -1}, "seed"),
    ({"mode": "fast"}, "mode"),
    ({"unit": "visitor"}, "unit"),
    ({"checkout_unit": "visit"}, "checkout_unit"),
    ({"method": "dbscan"}, "method"),
    ({"model": "forest"}, "model"),
    ({"compare_period": "fortnight"}, "compare_period"),
    ({"exclude": "payment_error@3-2"}, "exclude"),
    ({"exclude": "@2-3"}, "exclude"),
    ({"open_funnel": "maybe"}, "open_funnel"),  # its declared type (bool) refuses it
    ({"trend_freq": "Q"}, "trend_freq"),
    ({"cohort_freq": "year"}, "cohort_freq"),
    ({"retention_based_on": "revenue"}, "retention_based_on"),
    ({"stage_model": "time_decay"}, "stage_model"),
    ({"models": "markov,magic"}, "models"),
    ({"models": ""}, "models"),
    ({"start_date": "2025-13-45"}, "start_date"),
    ({"end_date": "yesterday-ish"}, "end_date"),
    ({"start_date": "2025-03-01", "end_date": "2025-02-01"}, "start_date"),
    ({"cutoff": "soon"}, "cutoff"),
    ({"events_path": ""}, "events_path"),
    ({"output_dir": ""}, "output_dir"),
    ({"touch_col": " "}, "touch_col"),
]


def test_notebook_defaults_pass_the_rules():
    for name, decl in DECLARED.items():
        assert problems({k: d["default"] for k, d in decl.items()}) == [], name
    validate_parameters(NOTEBOOKS, {})


def test_every_rule_is_a_declared_parameter_and_every_choice_parameter_has_a_rule():
    declared = {k for d in DECLARED.values() for k in d}
    assert set(RULES) <= declared, set(RULES) - declared
    # parameters whose range or choices do not depend on the data all have a rule
    free = {"customers_path", "feedback_path", "costs_path", "columns", "stage_map_path", "dask_address", "channel_rules_path",
            "segment_columns", "personas_path", "features_include", "features_exclude", "adjust_for",
            "journey", "steps", "checkout_journey", "segments", "variant_column", "control", "activity_events",
            "open_funnel"}  # a bool: its declared type is the whole rule
    assert declared - set(RULES) <= free, declared - set(RULES) - free


@pytest.mark.parametrize("given,name", BAD, ids=[f"{next(iter(g))}={next(iter(g.values()))!r}" for g, _ in BAD])
def test_out_of_range_is_refused_naming_parameter_value_and_what_it_accepts(given, name):
    with pytest.raises(ParameterError) as info:
        validate_parameters(NOTEBOOKS, given)
    msg = str(info.value)
    assert f"'{name}'" in msg and "\n" not in msg
    value = given.get(name, 8)  # k_max: its default
    assert repr(value) in msg or str(value) in msg
    assert "accepts" in msg or "must be" in msg


@pytest.mark.parametrize("given", [
    {"window": ""}, {"window": "auto"}, {"window": "12h"}, {"window": "1 days 02:00:00"}, {"k": "4"},
    {"k": " auto "}, {"cohort_freq": "Month"}, {"checkout_unit": ""}, {"models": "markov, linear"},
    {"start_date": "2025-01-01", "end_date": "2025-02-01"}, {"cutoff": "2025-06-01"}, {"k_min": 3, "k_max": 3},
    {"min_support": 1}, {"seed": 2**32 - 1}, {"compare_period": "Month"}, {"compare_period": "14D"},
    {"exclude": "payment_error@2-3, support_contact|login"}, {"open_funnel": True},
])
def test_values_in_range_pass(given):
    validate_parameters(NOTEBOOKS, given)


def test_check_reads_a_notebook_namespace_and_names_every_problem():
    ns = {"__name__": "__main__", "pd": object(), "window": "7D", "k_min": 2, "k_max": 8, "unknown": -1}
    check(ns)  # names without a rule pass
    with pytest.raises(ParameterError, match=r"'seed' is -2.*; parameter 'mode' is 'x'"):
        check({"mode": "x", "seed": -2})


def test_journey_names_are_checked_against_the_stage_map():
    from cjlib.stagemap import load_stage_map

    sm = load_stage_map(None)
    check_with_stage_map({"journey": "", "checkout_journey": ""}, stage_map=sm)
    with pytest.raises(ParameterError, match="journey 'nope'"):
        check_with_stage_map({"journey": "nope", "steps": ""}, stage_map=sm)
    check_with_stage_map({"journey": "nope", "steps": "a, b"}, stage_map=sm)  # custom steps replace the journey
    with pytest.raises(ParameterError, match="checkout_journey 'nope'"):
        check_with_stage_map({"checkout_journey": "nope"}, stage_map=sm)


@pytest.mark.parametrize("argv,needle", [
    (["03", "-p", "window", "-7D"], "parameter 'window' is '-7D'"),
    (["01", "-p", "k_min", "5", "-p", "k_max", "2"], "k_min must be at most k_max"),
    (["04", "-p", "churn_window_days", "-1"], "parameter 'churn_window_days' is -1"),
    (["02", "-p", "n_bootstrap", "-5"], "parameter 'n_bootstrap' is -5"),
    (["03", "-p", "min_support", "-1"], "parameter 'min_support' is -1"),
    (["00", "-p", "events_path", ""], "parameter 'events_path' is ''"),
])
def test_cli_refuses_out_of_range_in_one_line_exit_2_nothing_written(argv, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["report", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not out.exists()
