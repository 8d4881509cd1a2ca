"""The findings guard layer and the report's checks on findings and chart titles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cjlib import findings as fd
from cjlib import report
from cjlib.stagemap import stage_map_from_dict


def test_rate_refuses_zero_and_undefined_denominators():
    assert fd.rate(1, 4) == 0.25
    assert fd.rate(0, 0) is None and fd.rate(5, 0) is None
    assert fd.rate(np.nan, 3) is None and fd.rate(3, None) is None and fd.rate(1, np.inf) is None


def test_ranking_never_names_ties_small_groups_or_a_single_group():
    r = fd.ranking({"mobile": 0.10, "desktop": 0.25, "tablet": 0.40}, {"mobile": 300, "desktop": 200, "tablet": 12})
    assert (r.best, r.best_value, r.worst, r.worst_value, r.groups) == ("desktop", 0.25, "mobile", 0.10, 2)
    assert r.spread == pytest.approx(0.15)
    # all equal → nothing to rank ("100% of X reach a, 100% of Y")
    assert fd.ranking({"x": 1.0, "y": 1.0, "z": 1.0}) is None
    # a tie at the top: only the bottom is named
    r = fd.ranking({"x": 0.5, "y": 0.5, "z": 0.2})
    assert r.best is None and r.worst == "z" and r.spread is None
    # lower is better (cost per conversion)
    r = fd.ranking({"email": 3.0, "search": 12.0, "social": 20.0}, higher_is_better=False)
    assert (r.best, r.worst) == ("email", "social")
    # NaN values and single survivors give no ranking
    assert fd.ranking({"a": np.nan, "b": 0.3}) is None
    assert fd.ranking({"a": 0.1, "b": 0.3}, {"a": 10, "b": 500}) is None
    assert fd.leader({"a": 2, "b": 2}) is None and fd.leader({"a": 2, "b": 3}) == ("b", 3.0)


def test_trend_and_share():
    assert fd.trend(0.152, 0.231) == "rose" and fd.trend(0.3, 0.1) == "fell" and fd.trend(0.2, 0.2) == "held"
    assert fd.trend(0.0, 0.0) is None and fd.trend(np.nan, 0.4) is None and fd.trend(None, 0.4) is None
    assert fd.trend(0.0, 0.05) == "rose"
    assert fd.share(10, 40) == 0.25
    assert fd.share(1, 2) is None          # "51% of the attributed conversions" from two conversions
    assert fd.share(3, 5, min_total=5) == 0.6


def test_formatters_refuse_undefined_values():
    assert fd.pct(0.1234) == "12%" and fd.pct(0.1234, 1) == "12.3%"
    assert fd.number(1234.5) == "1,234" and fd.times(2.06) == "2.1×" and fd.p_value(0.0004) == "p < 0.001"
    assert fd.duration(pd.Timedelta(minutes=11.4)) == "11.4 min" and fd.duration(pd.Timedelta(days=14)) == "14.0 days"
    for bad in (np.nan, None, math.inf, -math.inf):
        with pytest.raises(fd.Unearned):
            fd.pct(bad)
    with pytest.raises(fd.Unearned):
        fd.duration(pd.NaT)
    assert fd.join(["a", "b", "c"]) == "a, b and c" and fd.join(["a"]) == "a"


@pytest.mark.parametrize("text, n", [
    ("Conversion fell from 0.0% (2016-11) to 0.0% (2018-09) of active customers per month", 1),
    ("Median time to convert: nan days", 1),
    ("Revenue: inf in total", 1),
    ("Cost per conversion None", 1),
    ("the cart rate is –%", 1),
    ("Conversion rose from 15.2% (2025-01) to 23.1% (2025-12)", 0),
    ("NaNa is not a value; infinity neither; a financial infrastructure", 0),
])
def test_problems_flags_undefined_values(text, n):
    assert len(fd.problems(text)) == n


def test_finding_drops_or_raises_on_unearned_lines(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setenv(report.STRICT_ENV, "1")
    with pytest.raises(report.FindingError, match="nan"):
        report.finding("- ok line\n- median nan days")
    monkeypatch.setenv(report.STRICT_ENV, "0")
    with pytest.warns(UserWarning, match="not earned"):
        report.finding("- ok line\n- median nan days")
    assert [m.data for m in shown] == ["- ok line"]
    with pytest.warns(UserWarning, match="chart title left out"):
        report.chart_title("Conversion fell from 0% (a) to 0% (b)")
    monkeypatch.setenv(report.STRICT_ENV, "1")
    with pytest.raises(report.FindingError, match="trend between two zero ends"):
        report.chart_title("Conversion fell from 0% (a) to 0% (b)")


def test_left_out_says_why_and_records_every_section(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setattr(report, "_LEFT_OUT", {})
    report.left_out("cart abandonment", "The stage map declares no cart event.")
    report.left_out("A/B comparison", "There is no variant column.")
    texts = [getattr(o, "data", None) for o in shown]
    assert "*Cart abandonment is not shown:* The stage map declares no cart event." in texts
    recorded = [o[report.METRICS_MIME] for o in shown if isinstance(o, dict) and report.METRICS_MIME in o]
    assert recorded[-1] == {"left_out": {"cart abandonment": "The stage map declares no cart event.",
                                         "A/B comparison": "There is no variant column."}}


def test_index_lists_what_each_report_could_not_show(tmp_path):
    import json

    doc = {"report": "03_dropoff", "title": "Drop-off <analysis>", "status": "ok", "started": "2026-01-01T00:00:00+00:00",
           "seconds": 1.0, "parameters": {}, "data": {},
           "metrics": {"n_events": 10, "left_out": {"cart abandonment": "No <cart> event."}}}
    (tmp_path / "03_dropoff.metrics.json").write_text(json.dumps(doc))
    page = report.write_index(tmp_path, ["03_dropoff"]).read_text()
    assert 'Not shown for this data: <span title="No &lt;cart&gt; event.">cart abandonment</span>.' in page
    assert "<li>cart abandonment: No &lt;cart&gt; event.</li>" in page


def test_stage_map_roles_are_declared_never_inferred():
    spec = {"stages": [{"name": "visit", "events": ["page_view"]}, {"name": "buy", "events": ["order"]}],
            "conversion_events": ["order"],
            "journeys": {"web": ["page_view", "basket", "order"]}}
    sm = stage_map_from_dict(spec)
    assert sm.cart_events == () and sm.checkout_journey is None   # nothing taken from the journey's 2nd step
    sm = stage_map_from_dict({**spec, "cart_events": "basket", "checkout_journey": "web", "default_journey": "web"})
    assert sm.cart_events == ("basket",) and sm.checkout_journey == "web" and sm.conversion_stage == "buy"
    from cjlib.errors import DataError

    with pytest.raises(DataError, match="checkout_journey 'shop' is not among the journeys"):
        stage_map_from_dict({**spec, "checkout_journey": "shop"})
    amb = stage_map_from_dict({"stages": [{"name": "purchase", "events": ["purchase"]}], "conversion_events": "purchase"})
    assert amb.ambiguous_names() == ["purchase"]


def test_rates_differ_is_a_two_proportion_test():
    # 30 % of 500 against 20 % of 500: z = 3.65, p = 0.0003
    assert fd.rates_differ(0.30, 500, 0.20, 500)
    assert not fd.rates_differ(0.861, 11000, 0.860, 12000)
    assert not fd.rates_differ(0.5, 0, 0.4, 10) and not fd.rates_differ(np.nan, 10, 0.4, 10)
    # p = 0.05 boundary: 60 of 100 against 46.2 of 100 is just significant, 60 against 47 is not
    assert fd.rates_differ(0.60, 100, 0.46, 100) and not fd.rates_differ(0.60, 100, 0.47, 100)
