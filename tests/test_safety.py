"""cjlib.safety: findings escaped, Styler tables escaped, spreadsheet-safe exports, keyed pseudonyms."""

from __future__ import annotations

import stat

import pandas as pd
import pytest

from cjlib import report, safety
from cjlib.safety import escape_markdown, escape_styler, spreadsheet_safe, unescape_markdown

bs4 = pytest.importorskip("bs4")

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
           "![x](http://evil/x.png)", "<http://evil/auto>", "http://evil/bare", "www.evil.com",
           "$x$ \\[y\\]", "\\<script>alert(2)</script>", "&lt;script&gt;", "a ` <b>x</b>", "```\n<i>x</i>"]


def _html(markdown: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(markdown)


def _live(html: str) -> list[str]:
    """Elements or attributes in rendered HTML other than the formatting findings use."""
    soup = bs4.BeautifulSoup(html, "html.parser")
    allowed = {"p", "strong", "em", "code", "ul", "ol", "li", "pre"}
    return [str(t) for t in soup.find_all(True) if t.name not in allowed or t.attrs]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("template", ["{}", "**{}** converts best", "- *{}*: 3 %", "`{}` and <{}>", "[{}]({})"])
def test_escaped_finding_renders_no_markup_and_reads_back(value, template):
    text = template.format(value, value)
    md = escape_markdown(text)
    assert not _live(_html(md)), (text, md, _html(md))
    assert unescape_markdown(md) == text


def test_doctests():
    import doctest

    assert doctest.testmod(safety).failed == 0


def test_formatting_of_findings_is_kept():
    md = escape_markdown("- **email** leads (p < 0.05, 3 > 2 & R&D)\n- *mobile* `add_to_cart`")
    soup = bs4.BeautifulSoup(_html(md), "html.parser")
    assert [li.get_text() for li in soup.find_all("li")] == ["email leads (p < 0.05, 3 > 2 & R&D)",
                                                               "mobile add_to_cart"]
    assert soup.strong.get_text() == "email" and soup.em.get_text() == "mobile" and soup.code.get_text() == "add_to_cart"


def test_hostile_text_is_shown_as_text():
    for value in HOSTILE[:7]:
        assert bs4.BeautifulSoup(_html(escape_markdown(value)), "html.parser").get_text().strip() == value


def test_finding_escapes_unless_trusted(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    report.finding("**<script>alert(1)</script>** leads")
    report.finding("see [the docs](https://example.org)", trusted=True)
    assert shown[0].data == "**&lt;script&gt;alert(1)&lt;/script&gt;** leads"
    assert shown[1].data == "see [the docs](https://example.org)"


def test_read_findings_returns_the_text_as_written(monkeypatch):
    import nbformat

    text = "*<img src=x onerror=alert(1)>* is the top channel ([1, 2] & $5)"
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_code_cell("", outputs=[v4.new_output(
        "display_data", data={"text/markdown": escape_markdown(text), "text/plain": "<Markdown>"})])])
    assert report.read_findings(nb) == [text]


# ------------------------------------------------------------------------------------------- tables
def _hostile_frame() -> pd.DataFrame:
    df = pd.DataFrame({"n": [1.5, None], "<img src=x onerror=alert(1)>": ["<b>x</b>", "<i>y"]},
                      index=pd.Index(["<script>alert(1)</script>", "ok"], name="<u>channel</u>"))
    df.columns.name = "<s>metric</s>"
    return df


def test_styler_escapes_cells_and_labels_and_keeps_formats():
    styler = _hostile_frame().style.format({"n": "{:.2f}"}, na_rep="–")
    html = escape_styler(styler).to_html()
    assert not _live_table(html)
    text = bs4.BeautifulSoup(html, "html.parser").get_text()
    for value in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>x</b>", "<u>channel</u>",
                  "<s>metric</s>", "1.50", "–"):
        assert value in text, value
    assert escape_styler(styler).to_html() == html  # idempotent: never escaped twice


def test_styler_escape_option_alone_misses_labels_and_reformatted_cells():
    """Why escape_styler exists: pandas' option escapes cells of a new Styler only."""
    with pd.option_context("styler.format.escape", "html"):
        html = _hostile_frame().style.format({"n": "{:.2f}"}, na_rep="–").to_html()
    assert _live_table(html)
    with pd.option_context("styler.format.escape", "html"):
        styler = _hostile_frame().style  # cells escaped by the option: not escaped twice by escape_styler
        assert "&amp;lt;" not in escape_styler(styler).to_html()


def _live_table(html: str) -> list[str]:
    soup = bs4.BeautifulSoup(html, "html.parser")
    return [str(t) for t in soup.find_all(["script", "img", "b", "i", "u", "s"])]


def test_set_theme_escapes_every_styler_a_notebook_shows_and_plain_frames_escape():
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    from cjlib.plots import set_theme

    shell = InteractiveShell.instance()
    try:
        with plt.rc_context():  # the theme's matplotlib settings stay inside this test
            set_theme()
        assert pd.get_option("styler.format.escape") == "html"
        data, _ = shell.display_formatter.format(_hostile_frame().style.format({"n": "{:.1f}"}, na_rep="–"))
        assert not _live_table(data["text/html"]) and "&lt;script&gt;" in data["text/html"]
        data, _ = shell.display_formatter.format(_hostile_frame())
        assert not _live_table(data["text/html"]) and "&lt;script&gt;" in data["text/html"]
    finally:
        pd.reset_option("styler.format.escape")
        InteractiveShell.clear_instance()


# ---------------------------------------------------------------------------------------- CSV exports
def test_spreadsheet_safe_neutralizes_formulas_in_text_only():
    df = pd.DataFrame({"channel": ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "email", "-5", "+1.5e3", None],
                       "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "x": [-1.5] * 10,
                       "cat": pd.Categorical(["=a", "b"] * 5)},
                      index=pd.Index([f"=HYPERLINK(\"http://evil/{i}\")" for i in range(10)], name="@id"))
    df.columns = ["channel", "n", "-x", "cat"]
    out = spreadsheet_safe(df)
    assert out["channel"].tolist()[:8] == ["'=1+2", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "email", "-5"]
    assert out["channel"].iloc[8] == "+1.5e3" and pd.isna(out["channel"].iloc[9])
    assert out["n"].tolist() == df["n"].tolist() and out["n"].dtype == df["n"].dtype and out.iloc[0, 2] == -1.5
    assert out["cat"].tolist()[:2] == ["'=a", "b"]
    assert out.index[0].startswith("'=HYPERLINK") and out.index.name == "'@id"
    assert list(out.columns) == ["channel", "n", "'-x", "cat"]
    assert df["channel"].iloc[0] == "=1+2" and df.index[0].startswith("=")  # the caller's frame is untouched
    lines = out.to_csv().splitlines()
    assert all(not line.startswith(("=", "+", "-", "@")) for line in lines)


def test_spreadsheet_safe_multiindex_and_string_dtype():
    idx = pd.MultiIndex.from_tuples([("=a", 1), ("b", 2)], names=["ch", "k"])
    df = pd.DataFrame({"s": pd.array(["-cmd", "ok"], dtype="string")}, index=idx)
    out = spreadsheet_safe(df)
    assert out.index.get_level_values(0).tolist() == ["'=a", "b"] and out.index.get_level_values(1).tolist() == [1, 2]
    assert out["s"].tolist() == ["'-cmd", "ok"] and out["s"].dtype == df["s"].dtype


# ------------------------------------------------------------------------------------------ pseudonyms
def test_pseudonym_key_file_created_once_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(safety.KEY_ENV, raising=False)
    key = safety.pseudonym_key(tmp_path)
    path = tmp_path / safety.KEY_FILE
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 64
    assert safety.pseudonym_key(tmp_path) == key and path.read_text().strip().encode() == key
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp file left
    other = tmp_path / "other"
    assert safety.pseudonym_key(other) != key  # a new project gets its own random key


def test_pseudonyms_are_keyed_deterministic_and_not_derivable_from_the_id(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv(safety.KEY_ENV, "a" * 32)
    a = report.pseudonymize(["C000001", "C000002", "C000001"])
    assert a.iloc[0] == a.iloc[2] != a.iloc[1] and len(a.iloc[0]) == 10
    assert report.pseudonymize(["C000001"]).iloc[0] == a.iloc[0]  # same key, same pseudonym
    monkeypatch.setenv(safety.KEY_ENV, "b" * 32)
    assert report.pseudonymize(["C000001"]).iloc[0] != a.iloc[0]  # another key, another pseudonym
    unkeyed = {hashlib.sha256(f"{salt}{sep}C000001".encode()).hexdigest()[:10]
               for salt in ("", "cjlib") for sep in ("", ":")} | {hashlib.sha256(b"C000001").hexdigest()[:10]}
    assert a.iloc[0] not in unkeyed


def test_pseudonym_key_from_the_environment_and_refusing_weak_keys(tmp_path, monkeypatch):
    monkeypatch.setenv(safety.KEY_ENV, "x" * 20)
    assert safety.pseudonym_key(tmp_path) == b"x" * 20 and not (tmp_path / safety.KEY_FILE).exists()
    monkeypatch.setenv(safety.KEY_ENV, "short")
    with pytest.raises(ValueError, match=safety.KEY_ENV):
        safety.pseudonym_key(tmp_path)
    monkeypatch.delenv(safety.KEY_ENV)
    (tmp_path / ".cjlib").mkdir()
    (tmp_path / safety.KEY_FILE).write_text("abc\n")
    with pytest.raises(ValueError, match="too short"):
        safety.pseudonym_key(tmp_path)


def test_pseudonym_key_where_it_cannot_be_written_names_the_way_out(tmp_path, monkeypatch):
    monkeypatch.delenv(safety.KEY_ENV, raising=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=f"pseudonym key .*file.*{safety.KEY_ENV}"):
        safety.pseudonym_key(tmp_path / "file")  # the project root is a file: no folder can go there


def test_dollar_signs_in_data_are_drawn_as_text_not_math():
    """A malformed '$…' in a channel name must not crash a chart (matplotlib's mathtext is off)."""
    import matplotlib.pyplot as plt

    from cjlib import plots

    with plt.rc_context():  # the theme's settings stay inside this test
        plots.set_theme()
        fig, ax = plt.subplots()
        ax.barh(["$5 off", "a $\\frac{$", "plain"], [1, 2, 3])
        plots.finish(ax, "Deals like $5 off and $\\frac{$ stay text")
        fig.canvas.draw()  # with mathtext on, '$\frac{$' raises ValueError here
        assert ax.get_title(loc="left") == "Deals like $5 off and $\\frac{$ stay text"
        plt.close(fig)


def test_export_csv_neutralizes_formulas(tmp_path, monkeypatch):
    from cjlib import report

    monkeypatch.delenv(report.STAGING_ENV, raising=False)
    df = pd.DataFrame({"reason_1": ["=HYPERLINK(\"http://evil\")", "recency_days = 40"], "p": [-0.5, 0.2]},
                      index=pd.Index(["@id1", "c2"], name="customer_id"))
    path = report.export_csv(df, tmp_path, "risk.csv")
    back = pd.read_csv(path, index_col=0)
    assert back["reason_1"].tolist() == ["'=HYPERLINK(\"http://evil\")", "recency_days = 40"]
    assert back.index.tolist() == ["'@id1", "c2"] and back["p"].tolist() == [-0.5, 0.2]
