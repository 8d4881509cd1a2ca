"""Hostile data: markup, script and link syntax written into every text column that can reach a report.

One run of all five reports and the index (one subprocess, as a user runs it); then every HTML page is
parsed and must hold no live markup from the data — no script, no ``on*`` handler, no ``javascript:`` URL,
no image or link from data — while the hostile strings still show as text where the data is shown, and no
absolute path of this machine appears in a report.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from cjlib.paths import DATA_DIR, PROJ_ROOT

pytest.importorskip("bs4")
from bs4 import BeautifulSoup  # noqa: E402

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
           "![x](http://evil/x.png)", "<a href='javascript:alert(1)'>j</a>", "<svg onload=alert(1)>",
           "<http://evil/auto>", "$x$ & `<b>`"]
REPORTS = ["00_journey_map", "01_personas", "02_stage_attribution", "03_dropoff", "04_churn"]
MATHJAX_CONFIG = "init_mathjax = function()"  # the template's inline MathJax configuration (inert offline)


def _hostile_names(values) -> dict[str, str]:
    """Each distinct value → a hostile string carrying the value (names stay distinct and readable)."""
    return {v: f"{HOSTILE[i % len(HOSTILE)]}{v}" for i, v in enumerate(sorted(set(values)))}


def _rename_events(node, ev: dict[str, str]):
    """The stage map with its event names renamed (stage names kept; 'event:NAME' steps followed)."""
    if isinstance(node, dict):
        return {k: _rename_events(v, ev) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_events(v, ev) for v in node]
    if isinstance(node, str):
        if node.startswith("event:"):
            return "event:" + ev.get(node[6:], node[6:])
        return ev.get(node, node)
    return node


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from cjlib.synth import generate

    d = generate(400, seed=11)
    folder = tmp_path_factory.mktemp("hostile")
    stage_map = yaml.safe_load((DATA_DIR / "stage_map.yml").read_text())
    stage_names = {s["name"] for s in stage_map["stages"]}
    ev = {e: e if e in stage_names else h for e, h in _hostile_names(d.events["event"]).items()}
    ch = _hostile_names(d.events["channel"].dropna())
    ev_df = d.events.assign(event=d.events["event"].map(ev), channel=d.events["channel"].map(ch),
                            device=d.events["device"].map(_hostile_names(d.events["device"].dropna())))
    ev_df["campaign"] = ev_df["channel"].map({c: f"{HOSTILE[i % 8]}camp{i % 3}" for i, c in enumerate(ch.values())})
    cust = d.customers.copy()
    for col in ("region", "plan", "gender"):
        cust[col] = cust[col].map(_hostile_names(cust[col].dropna()))
    cust["persona"] = [HOSTILE[i % 4] + "persona" for i in range(len(cust))]
    fb = d.feedback.assign(touchpoint=d.feedback["touchpoint"].map(lambda t: ev.get(t, t)),
                           text=[HOSTILE[i % len(HOSTILE)] + " great" for i in range(len(d.feedback))])
    fb.loc[fb.index[::5], "stage"] = HOSTILE[0] + "stage"
    costs = d.costs.assign(channel=d.costs["channel"].map(ch))
    ev_df.to_parquet(folder / "events.parquet")
    cust.to_parquet(folder / "customers.parquet")
    fb.to_parquet(folder / "feedback.parquet")
    costs.to_csv(folder / "costs.csv", index=False)
    (folder / "stage_map.yml").write_text(yaml.safe_dump(_rename_events(stage_map, ev), sort_keys=False))
    params = {"events_path": "events.parquet", "customers_path": "customers.parquet",
              "feedback_path": "feedback.parquet", "costs_path": "costs.csv", "stage_map_path": "stage_map.yml"}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    out = folder / "reports"
    env = {**os.environ, "MPLBACKEND": "Agg", "CJLIB_PSEUDONYM_KEY": "k" * 32, "CJLIB_STRICT_FINDINGS": "1"}
    res = subprocess.run([sys.executable, "-m", "cjlib", "report", "-f", str(folder / "params.yaml"),
                          "--out", str(out)], capture_output=True, text=True, cwd=PROJ_ROOT, env=env, timeout=600)
    pages = {p.stem: BeautifulSoup(p.read_text(), "html.parser") for p in out.glob("*.html")}
    return res, folder, out, pages


def test_every_report_runs_on_hostile_strings(hostile_run):
    res, _, out, pages = hostile_run
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert set(pages) == {*REPORTS, "index"}


def test_no_live_markup_from_data(hostile_run):
    *_, pages = hostile_run
    for name, soup in pages.items():
        scripts = [s for s in soup.find_all("script") if MATHJAX_CONFIG not in s.get_text()]
        assert not scripts, (name, [str(s)[:200] for s in scripts])
        for tag in soup.find_all(True):
            handlers = [a for a in tag.attrs if a.lower().startswith("on")]
            assert not handlers, (name, str(tag)[:200])
            for attr in ("href", "src", "action", "formaction", "xlink:href"):
                value = str(tag.get(attr, "")).strip().lower()
                assert not value.startswith(("javascript:", "http://evil")), (name, str(tag)[:200])
        assert not soup.find_all(["svg", "iframe", "object", "embed"]), name
        imgs = [i for i in soup.find_all("img") if not str(i.get("src", "")).startswith("data:image/png;base64,")]
        assert not imgs, (name, [str(i)[:200] for i in imgs])


def test_hostile_strings_show_as_text(hostile_run):
    *_, pages = hostile_run
    shown = {name: soup.get_text(" ") for name, soup in pages.items()}
    # channel names reach 00 (channel table), 02 (attribution) and the cost findings
    for name in ("00_journey_map", "02_stage_attribution"):
        assert any(h in shown[name] for h in HOSTILE[:4]), name
    every = " ".join(shown.values())
    missing = [h for h in HOSTILE if h not in every]
    assert not missing, missing


def test_no_machine_path_in_reports(hostile_run):
    _, folder, out, pages = hostile_run
    files = {f"{name}.html": str(soup) for name, soup in pages.items()}
    files |= {p.name: p.read_text() for p in out.glob("*.metrics.json")}
    assert len(files) == 2 * len(REPORTS) + 1
    for name, text in files.items():
        for path in {str(folder), str(folder.resolve()), str(PROJ_ROOT)}:
            assert path not in text, (name, path)
