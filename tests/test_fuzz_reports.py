"""Valid but unusual data (issue 15): every case gives the right answer, never a crash.

Each case keeps its expected outcome. Two combined cases run the whole suite (``python -m cjlib report
-f params.yaml --out …`` through :func:`cjlib.cli.main`, in process) and must exit 0 with the left-out
sentences read back from the reports' findings; the other cases call the function that used to fail
directly on a tiny frame.

=====================  ==========================================================================
lone event             a log of one event: one customer, nobody converts, a span of 0 days
odd tables             nobody converts (the declared conversion event is absent), events in 1970
                       with the costs of 2025, cost channels not in the events, customers without
                       events and events of customers missing from the customers table
in process             one customer / every customer one event / all events at one timestamp /
                       one day / events in 2200 / no event in any stage / every event unknown
=====================  ==========================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import cjlib
from cjlib import cli
from cjlib.paths import PROJ_ROOT
from cjlib.report import read_findings

SAMPLE_MAP = yaml.safe_load((PROJ_ROOT / "data" / "stage_map.yml").read_text())
NO_CONVERSION = "No conversion event of the stage map (purchase) occurs in the data."


@pytest.fixture(scope="module")
def synth80():
    from cjlib.synth import generate

    return generate(80, seed=1)


def _write_case(folder: Path, events: pd.DataFrame, *, customers=None, costs=None, stage_map=None) -> Path:
    """CSV tables, the stage map and params.yaml (paths relative to it) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    events.to_csv(folder / "events.csv", index=False)
    params = {"events_path": "events.csv", "customers_path": "", "feedback_path": "", "costs_path": "",
              "stage_map_path": "stage_map.yml", "seed": 0}
    if customers is not None:
        customers.to_csv(folder / "customers.csv", index=False)
        params["customers_path"] = "customers.csv"
    if costs is not None:
        costs.to_csv(folder / "costs.csv", index=False)
        params["costs_path"] = "costs.csv"
    (folder / "stage_map.yml").write_text(yaml.safe_dump(stage_map or SAMPLE_MAP, sort_keys=False))
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder / "params.yaml"


def _run_suite(params: Path, out: Path, capsys) -> tuple[int, str, dict[str, list[str]]]:
    """Exit status, stderr and every report's findings of one whole-suite run."""
    rc = cli.main(["report", "-f", str(params), "--out", str(out)])
    err = capsys.readouterr().err
    findings = {nb.stem: read_findings(nb) for nb in sorted(out.glob("0*.ipynb"))}
    return rc, err, findings


def _has(findings: list[str], text: str) -> bool:
    return any(text in f for f in findings)


# ------------------------------------------------------------------------------- whole suite, combined
def test_lone_event_runs_every_report_and_says_what_it_cannot_show(tmp_path, synth80, capsys):
    """One event: one customer, nobody converts, 0 days (was: 'zero-size array … fmin'; then 01 failed
    with 'fit_personas needs at least 2 customers')."""
    params = _write_case(tmp_path / "case", synth80.events.iloc[:1])
    out = tmp_path / "out"
    rc, err, f = _run_suite(params, out, capsys)
    assert rc == 0, err
    assert sorted(f) == ["00_journey_map", "01_personas", "02_stage_attribution", "03_dropoff", "04_churn"]
    assert not list(out.glob("*.failed.ipynb")) and not list(out.glob("*.error.json"))
    assert _has(f["00_journey_map"], "**Data:** 1 event from 1 customer, ")
    assert _has(f["00_journey_map"], NO_CONVERSION)
    assert _has(f["01_personas"], "*Persona clustering is not shown:* there is 1 customer; personas need at "
                                  "least 2 customers, so no persona is shown.")
    assert _has(f["01_personas"], "*Not shown (persona cards):* see why under *Choosing the number of "
                                  "personas* above.")
    assert not _has(f["01_personas"], "A persona sheet for marketing")  # no method text over nothing
    assert _has(f["02_stage_attribution"], "*Stage contribution is not shown:* " + NO_CONVERSION)
    # the default funnel ends where the log has events (awareness → consideration, two steps at least)
    assert _has(f["03_dropoff"], "*Time to convert is not shown:* no customer reaches consideration")
    # the chart title agrees with the findings: no 0.0 % from a step the log has no event of
    assert _has(f["03_dropoff"], "Funnel conversion awareness → consideration not measured: the log has no event of "
                                 "consideration")
    assert not _has(f["03_dropoff"], "Funnel conversion awareness → consideration: 0.0%")
    assert _has(f["04_churn"], "*The churn model is not shown:* the log covers 0 days")


def test_odd_tables_run_every_report(tmp_path, synth80, capsys):
    """Nobody converts although the map declares purchase; events in 1970 with costs of 2025 whose
    channels are not in the events (was: 'Encountered all NA values'); 10 customers without events and
    10 customers of the log missing from the customers table."""
    ev = synth80.events.loc[synth80.events["event"] != "purchase"].copy()
    ev["revenue"] = np.nan
    ev["timestamp"] = ev["timestamp"] + (pd.Timestamp("1970-01-01") - pd.Timestamp("2025-01-01"))
    costs = synth80.costs.assign(channel="tv_" + synth80.costs["channel"].astype(str))
    cu = synth80.customers
    ghosts = cu.iloc[:10].assign(customer_id=[f"ghost{i:02d}" for i in range(10)])
    params = _write_case(tmp_path / "case", ev, customers=pd.concat([cu.iloc[10:], ghosts]), costs=costs)
    out = tmp_path / "out"
    rc, err, f = _run_suite(params, out, capsys)
    assert rc == 0, err
    n = ev["customer_id"].nunique()
    assert _has(f["00_journey_map"], f"**Data:** {len(ev):,} events from {n} customers, 1970-01-")
    for name in ("00_journey_map", "02_stage_attribution"):
        assert _has(f[name], NO_CONVERSION), name
    assert _has(f["01_personas"], f"**Data:** {n} customers with {len(ev):,} events")  # ghosts not counted
    # nobody can purchase (no purchase event): the funnel's conversion is not measured, not 0 %
    assert _has(f["03_dropoff"], "Funnel conversion awareness → advocacy not measured: the log has no event of "
                                 "purchase and retention")
    label = [t for t in f["04_churn"] if "**Label:** no event of any kind in the " in t]  # one paragraph of the label section
    assert len(label) == 1 and " days from 1970-" in label[0]  # the window is fitted to the gaps, dated 1970


# ---------------------------------------------------------------------------------------- in process
def _features(events: pd.DataFrame, stage_map=None):
    from cjlib.features import customer_features

    sm = cjlib.load_stage_map(PROJ_ROOT / "data" / "stage_map.yml") if stage_map is None else stage_map
    return customer_features(events.reset_index(drop=True), stage_map=sm), sm


def test_personas_of_one_customer_are_not_clusterable(synth80):
    from cjlib.personas import NotClusterable, fit_personas

    ev = synth80.events
    f, _ = _features(ev.loc[ev["customer_id"] == ev["customer_id"].iloc[0]])
    with pytest.raises(NotClusterable, match=r"^there is 1 customer; personas need at least 2 customers$"):
        fit_personas(f)
    two = ev.loc[ev["customer_id"].isin(ev["customer_id"].unique()[:2])]
    with pytest.raises(NotClusterable, match=r"k_range \(2, 8\) does not fit 2 customers"):
        fit_personas(_features(two)[0])
    with pytest.raises(ValueError, match="k_range must satisfy") as exc:  # a bad parameter stays loud
        fit_personas(_features(two)[0], k_range=(5, 2))
    assert not isinstance(exc.value, NotClusterable)


def test_persona_cards_when_no_customer_reaches_a_stage(synth80):
    """Every event known but in no stage (other_events): cards() crashed with 'operands could not be
    broadcast together with shapes (0,) (6,)'."""
    from cjlib.personas import fit_personas

    ev = synth80.events.copy()
    ev["event"] = np.where(np.arange(len(ev)) % 3 == 0, "payment_error", "support_contact")
    f, _ = _features(ev)
    assert f["furthest_stage_name"].isna().all()
    cards = fit_personas(f, k=3, n_boot=0).cards()
    assert len(cards) == 3 and cards["pain_point"].isna().all()
    assert cards["customers"].sum() == ev["customer_id"].nunique()


@pytest.mark.parametrize("shape", ["one_customer", "one_event_each", "same_timestamp", "one_day", "year_2200"])
def test_stage_numbers_on_degenerate_logs(shape, synth80):
    """The scorecard, funnel and features on logs that ran into edge cases: the counts are the data's."""
    from cjlib.funnel import funnel
    from cjlib.scorecard import stage_kpis

    ev = synth80.events.copy()
    if shape == "one_customer":
        ev = ev.loc[ev["customer_id"] == ev["customer_id"].value_counts().index[0]]
    elif shape == "one_event_each":
        ev = ev.groupby("customer_id", observed=True).head(1)
    elif shape == "same_timestamp":
        ev["timestamp"] = pd.Timestamp("2025-03-01 12:00")
    elif shape == "one_day":
        t = ev["timestamp"]
        ev["timestamp"] = pd.Timestamp("2025-03-01") + (t - t.min()) / (t.max() - t.min()) * pd.Timedelta("23h")
    else:
        ev["timestamp"] = ev["timestamp"] + (pd.Timestamp("2200-01-01") - pd.Timestamp("2025-01-01"))
    ev = ev.reset_index(drop=True)
    f, sm = _features(ev)
    assert len(f) == ev["customer_id"].nunique()
    kpis = stage_kpis(ev, stage_map=sm)
    aware = ev.loc[ev["event"].isin(["ad_click", "page_view"]), "customer_id"].nunique()
    assert kpis.loc["awareness", "reached"] == aware
    fun = funnel(ev, ["product_view", "add_to_cart"], window="30D")
    assert fun["reached"].iloc[0] == ev.loc[ev["event"] == "product_view", "customer_id"].nunique()
    assert fun["reached"].iloc[-1] <= fun["reached"].iloc[0]


def test_every_event_unknown_is_one_data_error(tmp_path, synth80, capsys):
    """Every event unknown to the stage map: the map does not describe this log (wrong map or mapping),
    and every report would be a page of left-out sections, so the run stops with one line."""
    ev = synth80.events.assign(event="x_" + synth80.events["event"].astype(str))
    params = _write_case(tmp_path, ev)
    with pytest.raises(cjlib.DataError, match=r"none of the \d+ event names in the log is in the stage map"):
        cjlib.load_inputs(events_path=str(tmp_path / "events.csv"), customers_path="", feedback_path="",
                          costs_path="", stage_map_path=str(params.parent / "stage_map.yml"))
    # the CLI: one line, exit 2, nothing written
    out = tmp_path / "reports"
    assert cli.main(["report", "-f", str(params), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rule known_events" in err[0] and not out.exists()
