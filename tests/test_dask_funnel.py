"""03_dropoff's analyses on a log shuffled by customer (cjlib.engine.Partitioned) equal the in-process ones.

One synthetic log (with an A/B variant) is loaded as 03 loads it and shuffled into 3 partitions on the
2-worker local cluster; every function 03 calls with events is compared with its in-process result: exactly
for counts, to 1e-9 relative for rates (in practice the frames are equal)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cjlib
from cjlib import engine, experiment, synth
from cjlib import funnel as F
from cjlib.findings import dropoff as D

distributed = pytest.importorskip("distributed")

CHECKOUT = [["product_view", "view_item"], "add_to_cart", "begin_checkout", "event:purchase"]
PURCHASE = ["awareness", "consideration", "stage:purchase", "retention", "advocacy"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_funnel")
    d = synth.generate(1500, seed=5, variant_split=0.5)
    d.events.drop(columns=["variant"]).to_parquet(folder / "events.parquet")  # the variant: a customer column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = cjlib.load_events(folder / "events.parquet")
    variant = d.events.groupby("customer_id")["variant"].first()
    customers = d.customers.assign(variant=d.customers["customer_id"].map(variant))
    return ev, customers


@pytest.fixture(scope="module")
def parted(data, client):
    return engine.partition(data[0], client=client, npartitions=3)


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9,
                                  atol=0, check_categorical=False)


def _funnels(ev, parted, steps, **kw):
    return F.Funnel(ev, steps, window="30D", **kw), F.Funnel(parted, steps, window="30D", **kw)


@pytest.mark.parametrize("steps, kw", [
    (CHECKOUT, {"unit": "session"}),
    (PURCHASE, {}),
    (["product_view", "search?", "add_to_cart", "event:purchase"], {"exclude": ["support_contact"]}),
    (["product_view", "add_to_cart", "begin_checkout", "event:purchase"], {"open": True}),
])
def test_per_unit_methods_equal_in_process(data, parted, steps, kw):
    a, b = _funnels(data[0], parted, steps, **kw)
    assert a.units_total == b.units_total > 1000
    _frames_equal(a.units(), b.units())
    _frames_equal(a.table(), b.table())
    _frames_equal(a.table(by="device"), b.table(by="device"))
    _frames_equal(a.compare("channel"), b.compare("channel"))
    pd.testing.assert_series_equal(a.units_by("device"), b.units_by("device"))
    _frames_equal(a.time_to_convert(), b.time_to_convert())
    _frames_equal(a.cohorts(freq="MS"), b.cohorts(freq="MS"))
    assert a.options == b.options and a.labels == b.labels


@pytest.mark.parametrize("steps, kw", [
    (CHECKOUT, {"unit": "session"}),
    (PURCHASE, {}),
    (["product_view", "search?", "add_to_cart", "event:purchase"], {"exclude": ["support_contact"]}),
])
def test_event_level_methods_equal_in_process(data, parted, steps, kw):
    a, b = _funnels(data[0], parted, steps, **kw)
    da, db = a.drivers(min_support=20), b.drivers(min_support=20)
    assert (da.units, da.converted, da.from_step, da.to_step) == (db.units, db.converted, db.from_step, db.to_step)
    assert len(da.table) > 0
    _frames_equal(da.table, db.table)
    fa, fb = a.flows(depth=3, top=5), b.flows(depth=3, top=5)
    assert fa.droppers == fb.droppers > 0
    _frames_equal(fa.paths, fb.paths)
    _frames_equal(fa.flows, fb.flows)  # also the order of tied counts (first appearance in unit order)
    ra, rb = a.friction(), b.friction()
    assert ra.error_events == rb.error_events == ("payment_error",)
    _frames_equal(ra.table, rb.table)
    for kw_paths in ({"depth": 5, "top": 8}, {"event": "search", "direction": "backward"},
                     {"between": (1, 2), "converted": False}, {"step": 2, "collapse_repeats": False}):
        pa, pb = a.paths(**kw_paths), b.paths(**kw_paths)
        assert (pa.anchor, pa.anchor_units, pa.reached, pa.converted_units, pa.step_events) == \
            (pb.anchor, pb.anchor_units, pb.reached, pb.converted_units, pb.step_events)
        for name in ("paths", "flows", "matrix", "converted_matrix", "dropped_matrix"):
            _frames_equal(getattr(pa, name), getattr(pb, name))
    for period in ("auto", "week", "14D"):
        pa, why_a = F.report_periods(a, period)
        pb, why_b = F.report_periods(b, period)
        assert why_a == why_b
        if pa is not None:
            assert (pa.censored, pa.in_both, pa.current_start, pa.note) == (pb.censored, pb.in_both, pb.current_start,
                                                                             pb.note)
            _frames_equal(pa.table, pb.table)
            _frames_equal(pa.reached, pb.reached)


def test_report_segments_carts_and_ab_test_equal_in_process(data, parted):
    ev, customers = data
    prof = cjlib.profile(cjlib.Inputs(ev, customers, None, None, cjlib.load_stage_map()))
    sa = F.report_segments(ev, profile=prof, customers=customers, by="plan, acquisition_channel, device",
                           variant_column="variant")
    sb = F.report_segments(parted, profile=prof, customers=customers, by="plan, acquisition_channel, device",
                           variant_column="variant")
    assert engine.Partitioned is type(sb.events)
    assert (sa.columns, sa.missing, sa.variant) == (sb.columns, sb.missing, sb.variant) == \
        (["plan", "acquisition_channel", "device"], [], "variant")
    a, b = _funnels(sa.events, sb.events, CHECKOUT, unit="session")
    for col in sa.columns:
        _frames_equal(a.compare(col), b.compare(col))
    assert D.ab_left_out(sa.events, "variant", "variant") is D.ab_left_out(sb.events, "variant", "variant") is None
    assert D.ab_left_out(sb.events, "plan", "plan") is None
    assert D.ab_left_out(sb.events, None, "variant") == D.ab_left_out(sa.events, None, "variant")
    ta = experiment.ab_test(sa.events, CHECKOUT, by="variant", window="30D")
    tb = experiment.ab_test(sb.events, CHECKOUT, by="variant", window="30D")
    assert (ta.control, ta.mixed_units, ta.srm.p_value, ta.srm.mismatch) == \
        (tb.control, tb.mixed_units, tb.srm.p_value, tb.srm.mismatch)
    _frames_equal(ta.srm.table, tb.srm.table)
    _frames_equal(ta.rates, tb.rates)
    _frames_equal(ta.differences, tb.differences)
    ca, cb = F.cart_abandonment(ev, window="7D"), F.cart_abandonment(parted, window="7D")
    assert (ca.carts, ca.abandoned, ca.recovered) == (cb.carts, cb.abandoned, cb.recovered)
    assert ca.abandoned > ca.recovered > 0
    _frames_equal(ca.table, cb.table)  # sessions numbered as in the whole log
    for by in ("plan", "acquisition_channel", None):
        _frames_equal(F.segment_cart_outcomes(sa.events, ca, by=by), F.segment_cart_outcomes(sb.events, cb, by=by))


def test_the_merged_match_holds_one_row_per_unit(data, parted):
    # the report's process keeps per-unit rows only: a unit's entry row (its first row if it never entered),
    # plus the rows of each partition's first and last instants, which keep their unit's rows from its first
    b = F.Funnel(parted, CHECKOUT, window="30D", unit="session")
    a = F.Funnel(data[0], CHECKOUT, window="30D", unit="session")
    m, ma = b._match, a._match
    assert b.units_total == a.units_total
    assert b.units_total <= len(m.prep.ev) <= b.units_total + 4 * parted.npartitions < len(data[0]) / 4
    assert np.array_equal(m.prep.unit[m.prep.unit_start], np.arange(b.units_total))  # each unit's row is its own
    entered = ma.first_entry >= 0  # a unit that entered keeps its entry row (same time, same segment values)
    assert np.array_equal(m.prep.ts[m.first_entry[entered]], ma.prep.ts[ma.first_entry[entered]])
    assert np.array_equal(m.prep.ev["device"].to_numpy()[m.first_entry[entered]],
                          ma.prep.ev["device"].to_numpy()[ma.first_entry[entered]])
    kept_first = (m.prep.unit_start[entered] != m.first_entry[entered]).sum()  # only a span row's unit
    assert kept_first <= 2 * parted.npartitions
    assert (m.prep.ts.min(), m.prep.ts.max()) == (data[0]["timestamp"].min().value, data[0]["timestamp"].max().value)


def test_a_clickstream_without_session_ids_equals_in_process(tmp_path, client):
    # gallery's GA-like clickstream: sessions come from the 30-minute gap, numbered over the whole log
    import sys
    from pathlib import Path

    import yaml

    sys.path.insert(0, str(Path(__file__).parent))
    import gallery

    case = gallery.write_case("clickstream", tmp_path / "clickstream", seed=3)
    p = yaml.safe_load(case.params_path.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = cjlib.load_inputs(events_path=str(case.folder / p["events_path"]), columns=p["columns"] or None,
                                 stage_map_path=str(case.folder / "stage_map.yml"))
    ev, sm = data.events, data.stage_map
    assert "session_id" not in ev.columns
    parted = engine.partition(ev, client=client, npartitions=3)
    steps = ["page_view", "product_view", "add_to_cart", "event:purchase"]
    a = F.Funnel(ev, steps, window="1D", unit="session", stage_map=sm)
    b = F.Funnel(parted, steps, window="1D", unit="session", stage_map=sm)
    assert a.units_total == b.units_total > 1000
    _frames_equal(a.units(), b.units())
    _frames_equal(a.table(), b.table())
    _frames_equal(a.drivers(min_support=5).table, b.drivers(min_support=5).table)
    _frames_equal(a.flows(depth=3, top=5).flows, b.flows(depth=3, top=5).flows)
    _frames_equal(a.friction().table, b.friction().table)
    _frames_equal(a.paths(depth=4).paths, b.paths(depth=4).paths)
    ca, cb = F.cart_abandonment(ev, stage_map=sm), F.cart_abandonment(parted, stage_map=sm)
    assert ca.carts > 0
    _frames_equal(ca.table, cb.table)


def test_warnings_and_errors_are_the_in_process_ones(data, parted):
    from cjlib.errors import DataWarning

    with pytest.warns(DataWarning) as got:  # "purchase" is a stage and an event: said once, in this process
        F.Funnel(parted, ["product_view", "purchase"])
    assert len([w for w in got if issubclass(w.category, DataWarning)]) == 1
    with pytest.raises(ValueError) as a:
        F.Funnel(data[0], ["product_view", "no_such_event"])
    with pytest.raises(ValueError) as b:
        F.Funnel(parted, ["product_view", "no_such_event"])
    assert str(a.value) == str(b.value)
    f = F.Funnel(parted, CHECKOUT)
    with pytest.raises(ValueError, match="to_step must come after from_step"):
        f.drivers(from_step=3, to_step=2)
    with pytest.raises(ValueError, match="event must be an event name in the data"):
        f.paths(event="no_such_event")



_MAPPED_BLOCKS = """
import ctypes, sys
import numpy as np
from cjlib.partitioned import map_large_blocks
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "1":
    assert map_large_blocks()
warm = np.ones(1 << 21); del warm  # 16 MiB freed: glibc's own threshold rises past 4 MiB
before = libc.mallinfo2().hblks
big = [np.ones(1 << 19) for _ in range(10)]  # 4 MiB each
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.parametrize("fixed", [True, False])
def test_map_large_blocks_keeps_large_arrays_mapped(fixed):
    # mapped blocks go back to the system when freed; heap blocks stay in the process. Without the fixed
    # threshold, glibc puts 4 MiB arrays in its heap once a 16 MiB block was freed; with it, each is mapped
    import ctypes
    import os
    import subprocess
    import sys

    try:
        _ = ctypes.CDLL("libc.so.6").mallinfo2  # raises on glibc < 2.33
    except (OSError, AttributeError):
        pytest.skip("glibc >= 2.33 only")
    # glibc's own MALLOC_* variables fix the threshold too (a Dask nanny in this process sets MALLOC_TRIM_THRESHOLD_)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _MAPPED_BLOCKS, str(int(fixed))], capture_output=True, text=True,
                         check=True, env=env).stdout
    assert int(out) == (10 if fixed else 0)
