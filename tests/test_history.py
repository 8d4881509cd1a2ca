"""Run history (cjlib.report.history) and the index's changes since the previous run.

The acceptance (issue 20): two runs with a changed parameter show the deltas on the index — the numbers shown
equal the differences of the two metrics.json values, the changed parameter is named, a change beyond the
threshold is flagged and an unchanged metric is not. History is append-only, and a failed report adds nothing.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from cjlib.report import history as H

# ---------------------------------------------------------------------------------------------- helpers


def _card(index: str, name: str) -> str:
    """The HTML of one report's card on the index."""
    start = index.index(f'href="{name}.html"')
    end = index.find('<div class="card">', start)
    return index[start:end if end > 0 else len(index)]


_ROW = re.compile(r'<tr><td>([^<]*)</td><td>(.*?)</td></tr>')
_SPAN = re.compile(r'<span class="d( flag)?"(?: title="([^"]*)")?>([^<]*)</span>')


def _deltas(card: str) -> dict[str, tuple[str, bool, str]]:
    """Metric label (as shown) → (delta text, flagged, reason) for every headline row with a delta."""
    out = {}
    for label, cell in _ROW.findall(card):
        m = _SPAN.search(cell)
        if m:
            out[html.unescape(label)] = (html.unescape(m.group(3)).removesuffix(" ⚑"), bool(m.group(1)),
                                         html.unescape(m.group(2) or ""))
    return out


def _shown_change(text: str) -> tuple[float, float | None, bool]:
    """'+5.0 pp' → (5.0, None, True); '-1,204 (-6.2%)' → (-1204, -6.2, False)."""
    m = re.fullmatch(r"([+-][\d,.]+(?:e[+-]\d+)?)( pp)?(?: \(([+-][\d.]+)%\))?", text)
    assert m, text
    return float(m.group(1).replace(",", "")), (float(m.group(3)) if m.group(3) else None), bool(m.group(2))


def _tiny(folder: Path) -> Path:
    """A fast notebook recording what its parameters say (and failing when ``fail``)."""
    folder.mkdir(parents=True, exist_ok=True)
    params = nbformat.v4.new_code_cell(
        'events_path: str = "data/sample/events.parquet"  # events\n'
        'rate: float = 0.5  # recorded as conversion_rate\n'
        'count: int = 100  # recorded as n_things\n'
        'label: str = "a"  # recorded as a metric name and as a value\n'
        'fail: bool = False  # raise after recording')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), nbformat.v4.new_code_cell("from cjlib import report"),
                params,
                nbformat.v4.new_code_cell("report.record('conversion_rate', rate)\n"
                                          "report.record('n_things', count)\n"
                                          "report.record('lift', rate - 0.5)\n"
                                          "report.record('lift_low', rate - 0.55)\n"
                                          "report.record('lift_high', rate - 0.45)\n"
                                          "report.record('kind', label)\n"
                                          "report.record(label, 1.5)\n"
                                          "if fail:\n    raise RuntimeError('planted failure')")]
    nbformat.write(nb, folder / "00_tiny.ipynb")
    return folder


# ------------------------------------------------------------------------------------- deltas by hand


def test_delta_of_a_rate_is_in_percentage_points_and_flagged_beyond_the_threshold():
    d = H.delta("conversion_rate", 0.25, 0.20)
    assert d.text == "+5.0 pp" and d.percent and d.change == pytest.approx(0.05)
    assert d.relative == pytest.approx(0.25) and d.flagged and "+25.0%" in d.reason and "10%" in d.reason
    small = H.delta("conversion_rate", 0.21, 0.20)  # +5 % relative: under 10 %
    assert small.text == "+1.0 pp" and not small.flagged and small.reason == ""
    assert H.delta("conversion_rate", 0.21, 0.20, threshold=0.045).reason == "it changed by +5.0%, more than 4.5%"
    assert H.delta("conversion_rate", 0.2, 0.2) == H.Delta("conversion_rate", 0.2, 0.2, 0, 0.0, True, False, "",
                                                            "unchanged")


def test_delta_of_counts_and_other_numbers():
    d = H.delta("n_customers", 1100, 1000)
    assert (d.text, d.change, d.relative, d.flagged) == ("+100 (+10.0%)", 100, 0.1, False)  # 10 % is not beyond
    d = H.delta("n_customers", 880, 1000)
    assert (d.text, d.flagged) == ("-120 (-12.0%)", True)
    d = H.delta("expected_value_total", 123456.7, 100000.0)
    assert d.text == "+23,457 (+23.5%)" and d.flagged
    d = H.delta("roc_auc", 0.8123, 0.8)  # not a rate/share word: no pp
    assert d.text == "+0.0123 (+1.5%)" and not d.percent and not d.flagged
    d = H.delta("share_of_x", 1.5, 1.0)  # above 1: not a share, whatever its name
    assert d.text == "+0.5 (+50.0%)" and not d.percent
    zero = H.delta("n_errors", 3, 0)  # from 0: no relative change, beyond any threshold
    assert zero.text == "+3" and zero.relative is None and zero.flagged and "was 0" in zero.reason


def test_delta_of_strings_and_missing_values():
    assert H.delta("largest_drop_step", "checkout", "cart").text == "was cart"
    assert not H.delta("largest_drop_step", "checkout", "cart").flagged
    assert H.delta("largest_drop_step", "cart", "cart").text == "unchanged"
    assert H.delta("new_metric", 3, None).text == "new"
    assert H.delta("kind", "x", 2).text == "was 2"
    assert H.delta("why", "short", "y" * 80).text == "was " + "y" * 59 + "…"


def test_an_interval_decides_instead_of_the_threshold():
    cur = {"lift": 0.10, "lift_low": 0.02, "lift_high": 0.18}
    inside = H.delta("lift", 0.10, 0.05, current_metrics=cur)  # +100 % relative, but 0.05 is inside 0.02–0.18
    assert inside.relative == pytest.approx(1.0) and not inside.flagged
    outside = H.delta("lift", 0.10, 0.01, current_metrics=cur)
    assert outside.flagged and "0.01" in outside.reason and "0.02–0.18" in outside.reason
    # only the previous run has one: this run's value against it
    prev = {"lift_ci_low": 0.0, "lift_ci_high": 0.04}
    assert H.delta("lift", 0.05, 0.02, previous_metrics=prev).flagged
    assert not H.delta("lift", 0.03, 0.02, previous_metrics=prev).flagged
    assert H.interval({"x_ci": [0.1, 0.3]}, "x") == (0.1, 0.3)
    assert H.interval({"x_interval": [0.3, 0.1]}, "x") is None  # not an interval
    assert H.interval({"x_low": None, "x_high": 0.3}, "x") is None


def test_compare_names_the_changed_parameters_the_data_and_the_version():
    a = {"started": "2026-01-01T00:00:00+00:00", "cjlib_version": "0.1.0", "data": {"fingerprint": "aa"},
         "parameters": {"window": "30D", "seed": 0, "mode": "ordered"},
         "metrics": {"n_customers": 400, "funnel": [1, 2], "funnel_conversion": 0.2}}
    b = {**a, "cjlib_version": "0.2.0", "data": {"fingerprint": "bb"},
         "parameters": {"window": "7D", "seed": 0, "unit": "session"},
         "metrics": {"n_customers": 400, "funnel": [3], "funnel_conversion": 0.15}}
    c = H.compare(b, a)
    assert c.previous_started == "2026-01-01T00:00:00+00:00" and c.data_changed is True
    assert c.parameters == (("window", "30D", "7D"), ("unit", None, "session"), ("mode", "ordered", None))
    assert c.versions == ("0.1.0", "0.2.0")
    assert [(d.key, d.text, d.flagged) for d in c.deltas] == [("n_customers", "unchanged", False),
                                                              ("funnel_conversion", "-5.0 pp", True)]
    same = H.compare(a, a)
    assert same.data_changed is False and same.parameters == () and same.versions == ()
    assert H.compare({"metrics": {}}, {"metrics": {}}).data_changed is None  # no fingerprint: not claimed
    first = H.compare(b, None)
    assert first.previous_started is None and first.deltas == ()
    with pytest.raises(ValueError, match="threshold"):
        H.compare(b, a, threshold=-0.1)


# ------------------------------------------------------------------------------------- entries on disk


def test_entries_are_numbered_in_sequence_and_ordered_by_it(tmp_path):
    assert H.new_entry(tmp_path, "r", "2026-11-30T11:17:55+00:00").name == "000001_20261130T111755Z.metrics.json"
    folder = tmp_path / "history" / "r"
    folder.mkdir(parents=True)
    for seq in (1, 2, 9, 10):  # a later clock reading is not needed: the sequence orders
        (folder / f"{seq:06d}_20200101T000000Z.metrics.json").write_text("{}")
    (folder / "notes.txt").write_text("")
    (folder / "x.metrics.json").write_text("{}")
    assert [p.name[:6] for p in H.entries(tmp_path, "r")] == ["000001", "000002", "000009", "000010"]
    assert H.new_entry(tmp_path, "r", "2019-01-01T00:00:00+00:00").name == "000011_20190101T000000Z.metrics.json"


def test_previous_run_is_the_entry_before_the_current_one(tmp_path):
    folder = tmp_path / "history" / "r"
    folder.mkdir(parents=True)
    docs = [{"started": f"2026-01-0{i}T00:00:00+00:00", "metrics": {"i": i}} for i in (1, 2, 3)]
    for i, d in enumerate(docs, 1):
        (folder / f"{i:06d}_2026010{i}T000000Z.metrics.json").write_text(json.dumps(d))
    (tmp_path / "r.metrics.json").write_text(json.dumps(docs[2]))
    assert H.previous_run(tmp_path, "r") == docs[1]
    (tmp_path / "r.metrics.json").write_text(json.dumps(docs[1]))  # an older run restored by hand
    assert H.previous_run(tmp_path, "r") == docs[0]
    (tmp_path / "r.metrics.json").write_text(json.dumps(docs[0]))
    assert H.previous_run(tmp_path, "r") is None  # the first run
    # a report written before history was kept: the latest entry that started before it
    (tmp_path / "r.metrics.json").write_text(json.dumps({"started": "2026-01-02T12:00:00+00:00"}))
    assert H.previous_run(tmp_path, "r") == docs[1]
    (tmp_path / "r.metrics.json").write_text(json.dumps({"started": "2025-01-01T00:00:00+00:00"}))
    assert H.previous_run(tmp_path, "r") is None
    assert H.previous_run(tmp_path, "other") is None


def test_a_commit_cut_short_adds_its_history_entry_when_the_next_run_finishes_it(tmp_path):
    from cjlib.report import _atomic_write, _recover

    out = tmp_path / "out"
    staging = out / ".03_dropoff.staging.x"
    staging.mkdir(parents=True)
    for f in ("03_dropoff.html", "03_dropoff.metrics.json", "03_dropoff.history.json"):
        (staging / f).write_text("new")
    entry = H.new_entry(out, "03_dropoff", "2026-11-30T11:00:00+00:00")
    assert not entry.parent.exists()  # the report's first run: history/03_dropoff/ is made by the commit
    moves = [(staging / "03_dropoff.html", out / "03_dropoff.html"), (staging / "03_dropoff.history.json", entry),
             (staging / "03_dropoff.metrics.json", out / "03_dropoff.metrics.json")]
    _atomic_write(out / ".03_dropoff.commit.json",
                  json.dumps({"moves": [[str(a), str(b)] for a, b in moves], "removes": []}))
    _recover(out, [out])  # killed before the first rename
    assert entry.read_text() == "new" and (out / "03_dropoff.metrics.json").read_text() == "new"
    assert H.entries(out, "03_dropoff") == [entry]


# ------------------------------------------------------------------------------- runs of the runner


@pytest.fixture(scope="module")
def three_runs(small_sample, tmp_path_factory):
    """03 run three times on the small sample: window 30D, then 7D twice (history after each run kept); the
    second run through the command line, as ``make reports`` runs it."""
    from cjlib import cli
    from cjlib.report import run_reports

    out = tmp_path_factory.mktemp("history_runs")
    params = {"events_path": str(small_sample / "events.parquet"),
              "customers_path": str(small_sample / "customers.parquet"),
              "feedback_path": "", "costs_path": ""}
    snaps = []
    for i, window in enumerate(("30D", "7D", "7D")):
        if i == 1:
            args = [a for k, v in {**params, "window": window}.items() for a in ("-p", k, v)]
            assert cli.main(["report", "03", *args, "--out", str(out)]) == 0
        else:
            res = run_reports(["03_dropoff"], {**params, "window": window}, out_dir=out, progress=None)
            assert [r.status for r in res] == ["ok"], res[0].error
        snaps.append({"index": (out / "index.html").read_text(),
                      "entries": {p: p.read_bytes() for p in H.entries(out, "03_dropoff")}})
    return out, snaps


def test_two_runs_with_a_changed_parameter_show_the_deltas_on_the_index(three_runs):
    out, snaps = three_runs
    first, second = (json.loads(b) for b in snaps[1]["entries"].values())
    assert first["parameters"]["window"] == "30D" and second["parameters"]["window"] == "7D"
    card = _card(snaps[1]["index"], "03_dropoff")
    assert "parameters changed: window 30D → 7D" in card and "same data" in card
    shown = _deltas(card)
    checked = flagged = unchanged = 0
    for key, now in H.headline(second["metrics"]):
        then = first["metrics"].get(key)
        text, flag, reason = shown[key.replace("_", " ")]
        if then is None:  # a metric the first run did not record
            assert (text, flag) == ("new", False)
            continue
        if isinstance(now, str) or isinstance(then, str):
            assert text == ("unchanged" if now == then else f"was {then}"[:63]) and not flag
            continue
        d = now - then
        if d == 0:
            assert (text, flag) == ("unchanged", False)
            unchanged += 1
            continue
        value, rel, pp = _shown_change(text)
        if pp:  # a rate: percentage points, to one decimal
            assert value == pytest.approx(d * 100, abs=0.05)
        else:
            assert value == pytest.approx(d, rel=5e-3, abs=0.5 if isinstance(d, int) else 0)
            assert rel == pytest.approx(d / abs(then) * 100, abs=0.05)
        assert flag == bool(reason)
        if any(f"{key}{s}" in second["metrics"] or f"{key}{s}" in first["metrics"]
               for s in ("_low", "_ci_low", "_ci", "_interval")):
            continue  # its interval decides (tested by hand above)
        assert flag == (then == 0 or abs(d) > 0.1 * abs(then)), key  # the default 10 % threshold
        flagged += flag
        checked += 1
    assert shown["n events"] == ("unchanged", False, "") and unchanged >= 2  # same data: same counts
    assert shown["funnel window"] == ("was 30D", False, "")
    assert checked >= 1 and flagged >= 1, shown  # a shorter window converts fewer: flagged
    assert "<b>⚑</b> funnel conversion: it changed by" in card
    # the first run: no deltas
    assert "First run: no earlier run to compare with." in _card(snaps[0]["index"], "03_dropoff")
    assert not _deltas(_card(snaps[0]["index"], "03_dropoff"))


def test_history_is_append_only_and_a_rerun_shows_no_change(three_runs):
    out, snaps = three_runs
    names = [[p.name for p in s["entries"]] for s in snaps]
    assert [len(n) for n in names] == [1, 2, 3] and names[2][:2] == names[1] and names[1][:1] == names[0]
    assert all(n.startswith(f"{i:06d}_") for i, n in enumerate(names[2], 1))
    for s in snaps[:2]:  # earlier entries stay byte for byte
        assert {p: snaps[2]["entries"][p] for p in s["entries"]} == s["entries"]
    assert list(snaps[2]["entries"].values())[-1] == (out / "03_dropoff.metrics.json").read_bytes()
    card = _card(snaps[2]["index"], "03_dropoff")
    assert "same data, same parameters." in card and "⚑" not in card
    shown = _deltas(card)
    assert shown and all(t == ("unchanged", False, "") for t in shown.values())


def test_the_threshold_is_the_runs_choice(three_runs, tmp_path):
    import shutil

    from cjlib.report import ParameterError, run_reports, write_index

    out, snaps = three_runs
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for p in H.entries(copy, "03_dropoff")[2:]:  # the second run current again
        p.unlink()
    (copy / "03_dropoff.metrics.json").write_bytes(H.entries(copy, "03_dropoff")[1].read_bytes())
    lenient = _deltas(_card(write_index(copy, ["03_dropoff"], threshold=100).read_text(), "03_dropoff"))
    strict = _deltas(_card(write_index(copy, ["03_dropoff"], threshold=0).read_text(), "03_dropoff"))
    assert not any(f for _, f, _ in lenient.values())
    assert {k for k, (t, f, _) in strict.items() if f} == {k for k, (t, _, _) in strict.items()
                                                          if t not in ("unchanged",) and not t.startswith("was")}
    with pytest.raises(ParameterError, match="delta_threshold"):
        run_reports(["03_dropoff"], {}, out_dir=tmp_path / "never", delta_threshold=-1, progress=None)
    assert not (tmp_path / "never").exists()


def test_a_failed_report_adds_no_history_entry(small_sample, tmp_path, monkeypatch):
    from cjlib.report import run_reports, runner

    nbdir = _tiny(tmp_path / "nb")
    out = tmp_path / "out"
    ev = str(small_sample / "events.parquet")
    assert run_reports(None, {"events_path": ev, "rate": 0.5}, out_dir=out, notebooks_dir=nbdir,
                       progress=None)[0].status == "ok"
    one = {p: p.read_bytes() for p in H.entries(out, "00_tiny")}
    assert len(one) == 1
    res = run_reports(None, {"events_path": ev, "rate": 0.9, "fail": True}, out_dir=out, notebooks_dir=nbdir,
                      progress=None)
    assert res[0].status == "failed" and "planted failure" in res[0].error
    assert {p: p.read_bytes() for p in H.entries(out, "00_tiny")} == one
    card = _card((out / "index.html").read_text(), "00_tiny")
    assert "status failed" in (out / "index.html").read_text() and "First run" in card  # the last good run's card

    def broken_render(*a, **k):  # fails after the notebook ran and its metrics are known
        raise OSError("disk full")

    monkeypatch.setattr(runner, "render_html", broken_render)
    assert run_reports(None, {"events_path": ev, "rate": 0.9}, out_dir=out, notebooks_dir=nbdir,
                       progress=None)[0].status == "failed"
    assert {p: p.read_bytes() for p in H.entries(out, "00_tiny")} == one
    monkeypatch.undo()
    assert run_reports(None, {"events_path": ev, "rate": 0.9}, out_dir=out, notebooks_dir=nbdir,
                       progress=None)[0].status == "ok"
    assert len(H.entries(out, "00_tiny")) == 2
    shown = _deltas(_card((out / "index.html").read_text(), "00_tiny"))
    assert shown["conversion rate"] == ("+40.0 pp", True, "it changed by +80.0%, more than 10%")
    assert shown["n things"] == ("unchanged", False, "")
    # lift 0 → 0.4: its interval 0.35–0.45 decides (it would be "from 0" by the threshold rule); the interval
    # stands beside the value, its ends are not rows of their own
    assert shown["lift"][1] and "outside this run’s interval 0.35–0.45" in shown["lift"][2]
    assert "lift low" not in shown and '<td>0.4 <span class="iv">(0.35–0.45)</span>' in (out / "index.html").read_text()


def test_hostile_names_values_and_parameters_are_escaped(small_sample, tmp_path):
    from cjlib.report import run_reports

    nbdir = _tiny(tmp_path / "nb")
    out = tmp_path / "out"
    events = pd.read_parquet(small_sample / "events.parquet")
    other = tmp_path / "fewer.parquet"
    events.iloc[: len(events) // 2].to_parquet(other)
    hostile = '<img src=x onerror="alert(1)">'
    run_reports(None, {"events_path": str(small_sample / "events.parquet")}, out_dir=out, notebooks_dir=nbdir,
                progress=None)
    run_reports(None, {"events_path": str(other), "label": hostile}, out_dir=out, notebooks_dir=nbdir,
                progress=None)
    index = (out / "index.html").read_text()
    assert "<img" not in index and "alert(1)" in index
    card = _card(index, "00_tiny")
    assert "data changed" in card and "label a → &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in card
    shown = _deltas(card)
    assert shown["kind"] == ("was a", False, "")
    assert shown[hostile.replace("_", " ")] == ("new", False, "")


def test_a_report_from_before_history_was_kept_becomes_its_first_entry(small_sample, tmp_path):
    from cjlib.report import run_reports

    out = tmp_path / "out"
    out.mkdir()
    before = json.dumps({"report": "00_tiny", "title": "Tiny", "status": "ok", "started": "2026-01-01T08:00:00+00:00",
                         "seconds": 1.0, "parameters": {"rate": 0.4}, "data": {},
                         "metrics": {"conversion_rate": 0.4, "n_things": 100}}, indent=2)
    (out / "00_tiny.metrics.json").write_text(before)
    assert run_reports(None, {"events_path": str(small_sample / "events.parquet")}, out_dir=out,
                       notebooks_dir=_tiny(tmp_path / "nb"), progress=None)[0].status == "ok"
    first, second = H.entries(out, "00_tiny")
    assert first.name == "000001_20260101T080000Z.metrics.json" and first.read_text() == before
    assert second.name.startswith("000002_") and second.read_bytes() == (out / "00_tiny.metrics.json").read_bytes()
    card = _card((out / "index.html").read_text(), "00_tiny")
    assert "Since the run of 2026-01-01 08:00 UTC: parameters changed: " in card  # no fingerprint then: no claim
    assert "parameters changed: rate 0.4 → 0.5, new parameters: events_path " in card
    assert "; count 100; label a; fail False." in card  # the old run did not record them (nor its version)
    shown = _deltas(card)
    assert shown["conversion rate"] == ("+10.0 pp", True, "it changed by +25.0%, more than 10%")
    assert shown["n things"] == ("unchanged", False, "")


def test_an_unreadable_report_from_before_is_not_an_entry(tmp_path):
    (tmp_path / "r.metrics.json").write_text("{not json")
    moves = H.stage_entries(tmp_path, "r", "2026-01-02T00:00:00+00:00", "{}\n", tmp_path)
    assert [b.name for _, b in moves] == ["000001_20260102T000000Z.metrics.json"]
    assert moves[0][0].read_text() == "{}\n"
