"""The gallery of log shapes (tests/gallery.py): the whole suite runs on each shape through
``python -m cjlib report -f params.yaml`` and every finding passes the rules.

The rules themselves are unit-tested first on hand-written good and bad sentences, so a rule that cannot
fail (or flags good prose) is caught here, not in the gallery.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import gallery as G  # noqa: E402

REPORTS = ["00_journey_map", "01_personas", "02_stage_attribution", "03_dropoff", "04_churn"]


# ================================================================================ the rules, unit-tested
@pytest.mark.parametrize("bad", [
    "Conversion is nan% in March.",
    "Satisfaction: NaN on the purchase stage.",
    "Return on spend is inf for email.",
    "The worst segment is None (12%).",
    "Median time to convert: NaT.",
    "- **Mobile** converts -inf× the rest.",
])
def test_undefined_words_flagged(bad):
    assert G.rule_no_undefined_words([bad]) == G.sentences([bad])


@pytest.mark.parametrize("good", [
    "None of the 3 variants differs from control (p = 0.41).",
    "Conversion is 12.5% in March; information is in the table.",
    "Nancy's cohort converts best (12%).",
    "The financial segment converts 3%.",
])
def test_undefined_words_pass(good):
    assert G.rule_no_undefined_words([good]) == []


@pytest.mark.parametrize("bad", [
    "Conversion fell from 0.0% (2016-11) to 0.0% (2018-09).",
    "Repeat rate went from 0% to 0%.",
    "Revenue changed from 0 to 0 over the year.",
    "Conversion rose from nan% (2025-01) to nan% (2025-06).",
    "Conversion moved from – to 0.0%.",
])
def test_dead_trend_flagged(bad):
    assert G.rule_no_dead_trend([bad]) == [bad]


@pytest.mark.parametrize("good", [
    "Conversion fell from 12.0% (2016-11) to 0.0% (2018-09).",
    "Conversion rose from 0.0% (2025-01) to 3.1% (2025-06).",
    "The window runs from 2025-01-01 to 2025-06-30.",
    "Customers moved from awareness to consideration within 2 days.",
])
def test_dead_trend_pass(good):
    assert G.rule_no_dead_trend([good]) == []


@pytest.mark.parametrize("bad", [
    "100% of Occasional buyers reach ordered, 100% of Occasional buyers.",
    "delivered journeys work best (82%) and delivered worst (40%).",
    "Journeys convert most often straight after email (40%) and least after email (10%).",
    "Email earns the most credit, email earns the most credit.",
])
def test_repeated_subject_flagged(bad):
    assert G.rule_no_repeated_subject([bad]) == [bad]


@pytest.mark.parametrize("good", [
    "100% of Occasional buyers reach ordered, 40% reach repeat_order.",
    "Email journeys work best (82%) and social worst (40%).",
    "Journeys convert most often straight after email (40%) and least after display (10%).",
    "1,200 customers reached awareness, 800 reached consideration and 300 purchased.",
    "Typical browsers churn most (91%), Typical buyers least (81%).",  # two personas sharing a first word
])
def test_repeated_subject_pass(good):
    assert G.rule_no_repeated_subject([good]) == []


@pytest.mark.parametrize("bad", [
    "Email converts best (12.0%) and social worst (12.0%).",
    "Per touch, email moves customers most (×1.20 the average) and social least (×1.20).",
    "Cheapest channel: email at $5.00 per conversion; dearest: display at $5.00.",
    "Mobile loses the most at checkout: 37% convert against 37% for the rest.",
    "Journey score: email scores highest (93) and direct lowest (93).",
    "Predicted churn moves most with recency_days: 32% → 32%.",
])
def test_tied_ranking_flagged(bad):
    assert G.rule_no_tied_ranking([bad]) == [bad]


@pytest.mark.parametrize("good", [
    "Email converts best (12.0%) and social worst (3.1%).",
    "Per touch, email moves customers most (×1.40 the average) and social least (×0.60).",
    "Email earns the most conversions under every model (1,234–1,300 of 5,000).",
    "Between 2025-01 and 2025-02 conversion held at 12% for 2,000 customers.",  # no ranking word
    "The largest drop is at checkout (40%).",  # one number, nothing compared
    "28% of customers convert; the biggest leak is retention → advocacy (28% move on).",
    "Predicted churn moves most with recency_days: 12% → 32%.",
    "A churn model needs at least 10 churned and 10 active customers.",
])
def test_tied_ranking_pass(good):
    assert G.rule_no_tied_ranking([good]) == []


def test_unsupported_role_flags_each_role_and_allows_the_reason():
    bad_cart = "3,994 cart sessions (order_approved); 100% abandoned."
    bad_revenue = "Revenue: 0 in total, 0 from awareness events."
    bad_channel = "Email earns 51% of the attributed conversions under first touch."
    bad_channel2 = "Email is the strongest channel at the purchase stage."
    why = ["The stage map declares no cart events, so cart abandonment is not shown.",
           "There is no revenue column: value sections are left out.",
           "No channel column: attribution by channel is skipped.",
           "Map a channel column with the columns parameter to attribute channels.",
           "Not shown for this data: the channel row and channel costs (the events have no channel column); "
           "drop-off drivers (no event was done by 50+ customers); cart abandonment (the stage map declares "
           "no cart event)."]
    texts = [bad_cart, bad_revenue, bad_channel, bad_channel2, *why]
    assert G.rule_no_unsupported_role(texts, has_cart=False, has_revenue=False, has_channel=False) == [
        bad_cart, bad_revenue, bad_channel, bad_channel2]
    assert G.rule_no_unsupported_role(texts, has_cart=True, has_revenue=True, has_channel=True) == []
    assert G.rule_no_unsupported_role(texts, has_cart=True, has_revenue=False, has_channel=True) == [bad_revenue]
    # a negation with a number is a claim, not a reason
    claim = "62% of carts were not recovered within 7 days."
    assert G.rule_no_unsupported_role([claim], has_cart=False, has_revenue=True, has_channel=True) == [claim]


def _page(*cells: str) -> str:
    return "<html><body>" + "".join(cells) + "</body></html>"


_MD = '<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedMarkdown jp-MarkdownOutput">{}</div></div>'
_OUT = ('<div class="jp-Cell jp-CodeCell"><div class="jp-OutputArea"><div class="jp-OutputArea-child">'
        '<div class="jp-RenderedMarkdown jp-OutputArea-output">{}</div></div></div></div>')
_IMG = ('<div class="jp-Cell jp-CodeCell"><div class="jp-OutputArea"><div class="jp-OutputArea-child">'
        '<div class="jp-RenderedImage jp-OutputArea-output"><img src="data:image/png;base64,AAAA"></div>'
        '</div></div></div>')
_EMPTY_CODE = '<div class="jp-Cell jp-CodeCell jp-mod-noInput"><div class="jp-OutputArea"></div></div>'


def test_sections_say_why():
    good = _page(_MD.format("<h1>Report</h1><p>What it answers.</p>"),
                 _MD.format('<h2>Funnel<a class="anchor-link">¶</a></h2><p>Explained.</p>'), _IMG,
                 _MD.format("<h2>Carts</h2>"), _OUT.format("<p>No cart events are declared, so carts are not shown.</p>"),
                 _MD.format("<h2>Findings</h2>"), _OUT.format("<ul><li>12% convert.</li></ul>"))
    assert G.rule_sections_say_why(good) == []
    bad = _page(_MD.format("<h1>Report</h1>"),
                _MD.format("<h2>Model comparison</h2><p>Attributed conversions per channel.</p>"), _EMPTY_CODE,
                _MD.format("<h2>Transitions</h2>"),
                _MD.format("<h2>Findings</h2>"), _OUT.format("<p>12% convert.</p>"),
                _MD.format("<h2>Costs</h2>"))
    assert G.rule_sections_say_why(bad) == ["Model comparison", "Transitions", "Costs"]


def _index(*rows: tuple[str, str]) -> str:
    trs = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return (f'<html><body><div class="card"><h2><a href="x.html">Drop-off</a></h2><table>{trs}</table>'
            '<details><summary>parameters</summary><table><tr><td>segments</td><td>None</td></tr></table>'
            '</details></div></body></html>')


def test_index_values_defined():
    assert G.rule_index_values_defined(_index(("conversion rate", "12.0%"), ("customers", "1,200"))) == []
    bad = G.rule_index_values_defined(_index(("conversion rate", "nan%"), ("lift", "inf"), ("share", "–%"),
                                             ("customers", "1,200"), ("worst", "None")))
    assert [b.split(": ", 1)[1].split(" =")[0] for b in bad] == ["conversion rate", "lift", "share", "worst"]
    # the index's own text, parameters left out, as sentences for the text rules
    assert G.index_texts(_index(("cart abandonment rate", "100.0%"))) == ["cart abandonment rate: 100.0%."]


def test_gallery_is_deterministic(tmp_path):
    for shape in ("purchases_only", "b2b_leads"):
        a, b = G.write_case(shape, tmp_path / "a" / shape), G.write_case(shape, tmp_path / "b" / shape)
        files = sorted(p.name for p in a.folder.iterdir())
        assert files == sorted(p.name for p in b.folder.iterdir())
        for f in files:
            assert (a.folder / f).read_bytes() == (b.folder / f).read_bytes(), f
        assert a.facts == b.facts


# ============================================================================================ the gallery
@dataclass
class Run:
    case: G.Case
    returncode: int
    stderr: str
    stdout: str
    out: Path
    seconds: float

    def ok(self, name: str) -> bool:
        return (self.out / f"{name}.ipynb").exists() and not (self.out / f"{name}.error.json").exists()

    def metrics(self, name: str) -> dict:
        return json.loads((self.out / f"{name}.metrics.json").read_text())["metrics"]

    def failures(self) -> dict[str, str]:
        return {n: json.loads((self.out / f"{n}.error.json").read_text())["error"] for n in REPORTS
                if (self.out / f"{n}.error.json").exists()}

    def texts(self) -> dict[str, list[str]]:
        """Finding texts per report that ran, and the index's visible text."""
        out = {n: G.read_texts(self.out / f"{n}.ipynb") for n in REPORTS if self.ok(n)}
        index = self.out / "index.html"
        if index.exists():
            out["index.html"] = G.index_texts(index.read_text())
        return out


@pytest.fixture(scope="module", params=list(G.SHAPES))
def run(request, tmp_path_factory) -> Run:
    """Generate the shape's case and run the whole suite on it once (shared by the tests below)."""
    folder = tmp_path_factory.mktemp(request.param)
    case = G.write_case(request.param, folder / "case")
    env = {**os.environ, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cjlib", "report", "-f", "params.yaml", "--out", str(folder / "reports")],
                          cwd=case.folder, env=env, capture_output=True, text=True, timeout=600)
    return Run(case, proc.returncode, proc.stderr, proc.stdout, folder / "reports", time.perf_counter() - t0)


def _need(run: Run, name: str) -> None:
    if not run.ok(name):
        pytest.fail(f"{run.case.shape}: {name} did not run ({run.failures().get(name, 'no output')}), "
                    "so its planted facts cannot be checked")


def test_suite_exits_0(run):
    failures = run.failures()
    detail = "".join(f"\n  {n}: {e}" for n, e in failures.items())
    assert run.returncode == 0 and not failures, (
        f"{run.case.shape}: exit {run.returncode} in {run.seconds:.1f} s; stderr:\n{run.stderr.strip()}"
        f"\nfailed reports:{detail or ' none'}")


def test_findings_pass_the_rules(run):
    texts = run.texts()
    ran = [n for n in REPORTS if n in texts]
    assert ran, f"{run.case.shape}: no report ran (exit {run.returncode}): {run.stderr.strip()}"
    empty = [n for n in ran if not texts[n]]
    problems = [f"{n}: no finding text at all" for n in empty]
    for name, tx in texts.items():
        for rule, bad in G.check_texts(tx, run.case).items():
            problems += [f"{name}: {rule}: {s}" for s in bad]
    assert not problems, f"{run.case.shape}: {len(problems)} finding(s) break the rules:\n  " + "\n  ".join(problems)


def test_every_skipped_section_says_why(run):
    problems = []
    for n in REPORTS:
        if run.ok(n):
            problems += [f"{n}: '{h}'" for h in G.rule_sections_say_why((run.out / f"{n}.html").read_text())]
    assert not problems, (f"{run.case.shape}: section headings over nothing (no chart, table or computed "
                          "sentence before the next heading):\n  " + "\n  ".join(problems))


def test_index_shows_defined_values(run):
    index = run.out / "index.html"
    assert index.exists(), f"{run.case.shape}: no index.html (exit {run.returncode}): {run.stderr.strip()}"
    bad = G.rule_index_values_defined(index.read_text())
    assert not bad, f"{run.case.shape}: undefined metric values on the index:\n  " + "\n  ".join(bad)


def test_one_name_one_number_across_reports(run):
    """A metric key recorded by two reports is the same measure: the same value in both (obs 7: 00 and 03
    both wrote `overall_conversion`, for two different definitions)."""
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for n in REPORTS:
        if not run.ok(n):
            continue
        for key, value in run.metrics(n).items():
            if key == "left_out" or not isinstance(value, (int, float, str)) or isinstance(value, bool):
                continue
            first = seen.get(key, (n, value))[1]
            same = (value == pytest.approx(first, rel=1e-9) if isinstance(value, (int, float))
                    and isinstance(first, (int, float)) else value == first)
            if not same:
                clashes.append(f"{key}: {seen[key][0]} = {seen[key][1]!r}, {n} = {value!r}")
            seen.setdefault(key, (n, value))
    assert not clashes, f"{run.case.shape}: one metric name, several numbers:\n  " + "\n  ".join(clashes)
    assert {"n_events", "n_customers"} <= set(seen), f"{run.case.shape}: the shared counts are missing"


def test_one_set_of_personas_per_run(run):
    """Issue 17/16: 01, 02 and 04 name the same personas in one run, and 01's assignments file carries them
    with one colour per persona (on every shape where the reports fitted personas)."""
    if not run.ok("01_personas") or "persona_names" not in run.metrics("01_personas"):
        pytest.skip(f"{run.case.shape}: 01 fitted no personas")
    names = run.metrics("01_personas")["persona_names"]
    assert len(names) >= 2 and len(set(names)) == len(names)
    for n in ("02_stage_attribution", "04_churn"):
        if run.ok(n) and "persona_names" in run.metrics(n):
            assert run.metrics(n)["persona_names"] == names, n
    if run.ok("04_churn") and "churn_by_persona" in run.metrics("04_churn"):
        assert set(run.metrics("04_churn")["churn_by_persona"]) <= set(names) | {"unknown"}
    table = pd.read_csv(run.out / "personas_assignments.csv")
    assert list(table.groupby("persona_id")["persona"].first()) == names
    assert table.groupby("persona")["color"].nunique().eq(1).all() and table["color"].nunique() == len(names)


def _reached(run: Run) -> dict[str, int]:
    return {s["stage"]: s["reached"] for s in run.metrics("00_journey_map").get("stages", [])}


def test_planted_facts(run):
    """Counts planted by the generator come back exactly; shape-specific truths hold."""
    case, facts, problems = run.case, run.case.facts, []
    _need(run, "00_journey_map")
    m00 = run.metrics("00_journey_map")
    if m00.get("n_customers") != facts["customers"]:
        problems.append(f"00 n_customers {m00.get('n_customers')} != planted {facts['customers']}")
    for stage, n in facts.get("reached", {}).items():
        if _reached(run).get(stage) != n:
            problems.append(f"00 stage {stage!r} reached {_reached(run).get(stage)} != planted {n}")

    if case.shape in ("purchases_only", "b2b_leads", "order_lifecycle"):  # no cart events declared
        _need(run, "03_dropoff")
        m03 = run.metrics("03_dropoff")
        for k in ("cart_abandonment_rate", "cart_recovery_rate"):
            if m03.get(k) is not None:
                problems.append(f"03 records {k} = {m03[k]!r} though the stage map declares no cart events")
    if case.shape == "order_lifecycle":
        m03 = run.metrics("03_dropoff")
        cf = m03.get("checkout_funnel")
        if not cf:
            problems.append("03 shows no checkout funnel though the stage map declares checkout_journey: order_flow")
        else:  # orders take days: a 30-minute session unit loses nearly every delivery
            share = cf[-1]["reached"] / cf[0]["reached"] if cf[0]["reached"] else 0.0
            if share < facts["delivered_share_of_orders"] - 0.1:
                problems.append(f"03 checkout funnel: {cf[-1]['step']} reached by {share:.1%} of {cf[0]['step']} "
                                f"units; planted {facts['delivered_share_of_orders']:.1%} of orders are delivered "
                                f"(steps {[(s['step'], s['reached']) for s in cf]}: the unit cannot be a 30-minute session)")
        words = facts["outcome_words"] + facts["id_words"]
        set_aside = re.compile(r"left out|not used|excluded|ignored|never|identifier|outcome", re.I)
        for name, tx in run.texts().items():  # naming the column to say it was set aside is fine
            problems += [f"{name}: outcome/id column used: {s}" for s in G.sentences(tx)
                         if any(w in s.lower() for w in words) and not set_aside.search(s)]
        if run.ok("04_churn"):
            feats = run.metrics("04_churn").get("top_features") or []
            problems += [f"04 top feature from an id or outcome column: {f}" for f in feats
                         if any(w.replace(" ", "_") in str(f).lower() for w in words)]
    if case.shape == "clickstream":
        _need(run, "03_dropoff")
        rate = run.metrics("03_dropoff").get("cart_abandonment_rate")
        if not (isinstance(rate, float) and 0.5 < rate < 1.0):  # planted: about 1 cart in 8 ends in a purchase
            problems.append(f"03 cart_abandonment_rate {rate!r}, planted about 0.87")
    if case.shape in ("every_table", "b2b_leads"):
        _need(run, "02_stage_attribution")
        attributed = run.metrics("02_stage_attribution").get("attribution", {}).get("first_touch", {})
        expected = set(facts.get("channels", ["webinar", "paid_search", "referral", "outbound", "email"]))
        if not attributed or not set(attributed) <= expected:
            problems.append(f"02 first-touch channels {sorted(attributed)} are not the data's {sorted(expected)}")
    assert not problems, f"{case.shape}:\n  " + "\n  ".join(problems)
