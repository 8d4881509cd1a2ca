"""Reports are safe to share: data never becomes live markup, exports never run as formulas, and the
pseudonyms that stand for customer ids cannot be recomputed by whoever reads a report.

Channel and campaign names come from URLs anyone can craft, so every string that comes from data is
treated as hostile:

- :func:`escape_markdown` makes a finding's text show literally (``<``, ``>``, ``&``, link, image and
  autolink syntax, math delimiters) while the Markdown formatting findings use — ``**bold**``,
  ``*italic*``, ``code``, bullets — still works; :func:`unescape_markdown` reads it back.
- :func:`escape_stylers` makes every pandas ``Styler`` a notebook shows escape its cells, index and
  column labels (pandas' ``styler.format.escape`` option escapes cells only, and only until the notebook
  calls ``.format(...)``); :func:`cjlib.plots.set_theme` turns it on.
- :func:`spreadsheet_safe` neutralizes text cells a spreadsheet would run as a formula (OWASP CSV
  injection); :func:`cjlib.report.export_csv` applies it.
- :func:`pseudonym_key` is the per-project secret of :func:`cjlib.report.pseudonymize` (HMAC-SHA256):
  ``CJLIB_PSEUDONYM_KEY`` when set, else ``PROJ_ROOT/.cjlib/pseudonym.key``, created once (mode 0600,
  git-ignored) with 32 random bytes.
"""

from __future__ import annotations

import html
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["escape_markdown", "unescape_markdown", "escape_stylers", "escape_styler", "spreadsheet_safe",
           "pseudonym_key", "KEY_ENV", "KEY_FILE"]

KEY_ENV = "CJLIB_PSEUDONYM_KEY"
KEY_FILE = Path(".cjlib") / "pseudonym.key"
MIN_KEY_CHARS = 16

# ---------------------------------------------------------------------------------------- Markdown
# Outside code spans every character that could start markup is escaped: HTML (`<`, `>`, `&` as
# entities), links and images (`[`, `]`), math (`$`), backslashes themselves (so no escape of ours can
# be undone and no backtick is ever backslash-escaped), and bare-URL autolinks (`http\://`, `www\.`).
_ESCAPES = {"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "$": "\\$"}
_ESCAPE_RE = re.compile(r"[\\&<>\[\]$]|(?<=[A-Za-z0-9]):(?=//)|(?<=\bwww)\.", flags=re.I)
_UNESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])|&(amp|lt|gt|quot|#39);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}
_TICKS = re.compile(r"`+")


def _segments(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_code, piece): code spans are a run of backticks closed by a run of the same
    length on the same line (CommonMark's rule, kept to one line so a span can never straddle a block
    boundary — a list item, a paragraph — that the renderer would split it at)."""
    out: list[tuple[bool, str]] = []
    last = pos = 0
    while (m := _TICKS.search(text, pos)) is not None:
        n = len(m.group())
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        close = re.compile(rf"(?<!`)`{{{n}}}(?!`)").search(text, m.end(), line_end)
        if close is None:  # an unmatched run is literal text
            pos = m.end()
            continue
        if m.start() > last:
            out.append((False, text[last:m.start()]))
        out.append((True, text[m.start():close.end()]))
        last = pos = close.end()
    if last < len(text):
        out.append((False, text[last:]))
    return out


def escape_markdown(text: str) -> str:
    r"""Markdown that shows ``text`` literally except for its emphasis, code spans and bullets.

    Nothing in the result can become an HTML element, a link, an image or math, whatever ``text`` holds:
    ``<script>`` shows as text, ``[x](javascript:…)`` and ``![x](…)`` as their brackets, a bare
    ``http://…`` as text. Code spans are left as they are (the renderer escapes their content).

    Parameters
    ----------
    text : str
        Markdown written from data.

    Returns
    -------
    str
        The escaped Markdown.

    Examples
    --------
    >>> escape_markdown("**<b>x</b>** in `<b>` [a](javascript:alert(1))")
    '**&lt;b&gt;x&lt;/b&gt;** in `<b>` \\[a\\](javascript:alert(1))'
    >>> unescape_markdown(escape_markdown("R&D: <i> [x] \\ $5 http://e.com")) == "R&D: <i> [x] \\ $5 http://e.com"
    True
    """
    return "".join(piece if code else _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(), "\\" + m.group()), piece)
                   for code, piece in _segments(text))


def unescape_markdown(text: str) -> str:
    """The text a reader sees of Markdown outside its code spans: backslash escapes and the entities
    ``&amp; &lt; &gt; &quot; &#39;`` resolved (the inverse of :func:`escape_markdown`), formatting kept.

    Parameters
    ----------
    text : str
        Markdown as :func:`escape_markdown` returned it.

    Returns
    -------
    str
        The text as written before escaping.

    Examples
    --------
    >>> unescape_markdown(r"\\[a\\] &lt;b&gt; `x`")
    '[a] <b> `x`'
    """
    return "".join(piece if code else _UNESCAPE_RE.sub(lambda m: m.group(1) or _ENTITIES[m.group(2)], piece)
                   for code, piece in _segments(text))


# ------------------------------------------------------------------------------------- Styler tables
_STYLER_FUNCS = ("_display_funcs", "_display_funcs_index", "_display_funcs_columns",
                 "_display_funcs_index_names", "_display_funcs_column_names")


def _escapes(func: Callable) -> bool:
    """Whether a Styler display function already escapes the strings it is given."""
    try:
        out = func("<&>")
    except Exception:  # a number format given a string: it escapes nothing
        return False
    return isinstance(out, str) and "<" not in out


def _escaping(func: Callable) -> Callable:
    def wrapped(x: Any) -> Any:
        return func(html.escape(x) if isinstance(x, str) else x)

    return wrapped


def escape_styler(styler: Any) -> Any:
    """Make ``styler`` escape HTML in every cell, index and column label and axis name it shows, keeping
    its formats (numbers, ``na_rep``); a display function that already escapes is kept as it is, so
    nothing is escaped twice. Returns ``styler`` (changed in place: escaping only).

    pandas' ``styler.format.escape = "html"`` option reaches the cells of a new Styler only: labels are
    never escaped, and a later ``.format({...}, na_rep=...)`` replaces the cells' escaping functions.

    Parameters
    ----------
    styler : pandas.io.formats.style.Styler
        The table to show.

    Returns
    -------
    Styler
        ``styler`` itself, changed in place (escaping only).
    """
    for attr in _STYLER_FUNCS:
        funcs = getattr(styler, attr, None)
        if funcs is None:
            continue
        seen: dict[int, Callable] = {}
        for k, f in list(funcs.items()):
            if id(f) not in seen:
                seen[id(f)] = f if _escapes(f) else _escaping(f)
            funcs[k] = seen[id(f)]
        factory = funcs.default_factory
        if factory is not None and not getattr(factory, "_cjlib_escaping", False):
            def escaping_factory(factory=factory):
                f = factory()
                return f if _escapes(f) else _escaping(f)

            escaping_factory._cjlib_escaping = True  # type: ignore[attr-defined]
            funcs.default_factory = escaping_factory
    return styler


def _styler_html(styler: Any) -> str | None:
    return escape_styler(styler)._repr_html_()


def escape_stylers() -> None:
    """Escape HTML in every pandas table a notebook shows (called by :func:`cjlib.plots.set_theme`).

    Sets ``styler.format.escape = "html"`` (Stylers built and rendered by hand escape their cells) and, in
    an IPython kernel, shows every Styler through :func:`escape_styler` (labels, and cells formatted by
    ``.format``). A plain DataFrame's HTML escapes already (``to_html(escape=True)``).

    Returns
    -------
    None
    """
    from pandas.io.formats.style import Styler

    pd.set_option("styler.format.escape", "html")
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(Styler, _styler_html)


# --------------------------------------------------------------------------------------- CSV exports
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _cell_safe(v: Any) -> Any:
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _NUMBER.fullmatch(v):
        return "'" + v
    return v


def _labels_safe(idx: pd.Index) -> pd.Index:
    if isinstance(idx, pd.MultiIndex):
        levels = [_labels_safe(idx.get_level_values(i)) for i in range(idx.nlevels)]
        return pd.MultiIndex.from_arrays(levels, names=[_cell_safe(n) for n in idx.names])
    if pd.api.types.is_numeric_dtype(idx.dtype) or pd.api.types.is_datetime64_any_dtype(idx.dtype):
        return idx.rename(_cell_safe(idx.name))
    return pd.Index([_cell_safe(v) for v in idx], name=_cell_safe(idx.name), tupleize_cols=False)


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, index and column labels cannot run as spreadsheet formulas.

    Following OWASP's CSV-injection guidance, a text value starting with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return gets a leading ``'`` (spreadsheets then show it as text). Numbers are untouched,
    also written as text (``"-5"``, ``"+1.5e3"``): a spreadsheet reads them as numbers, never formulas.

    Parameters
    ----------
    df : DataFrame
        The table to export (not changed).

    Returns
    -------
    DataFrame
        The copy.

    Examples
    --------
    >>> df = pd.DataFrame({"channel": ["=HYPERLINK(\\"http://x\\")", "email", "-3"], "n": [-1, 2, 3]})
    >>> spreadsheet_safe(df)["channel"].tolist(), spreadsheet_safe(df)["n"].tolist()
    (['\\'=HYPERLINK("http://x")', 'email', '-3'], [-1, 2, 3])
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(_cell_safe) if s.dtype == object else s.astype(object).map(_cell_safe).astype(s.dtype)
    out.index = _labels_safe(out.index)
    out.columns = _labels_safe(out.columns)
    return out


# ------------------------------------------------------------------------------------- pseudonym key
def pseudonym_key(root: str | Path | None = None) -> bytes:
    """The secret key of this project's pseudonyms.

    ``CJLIB_PSEUDONYM_KEY`` when set (at least 16 characters), else the key file ``.cjlib/pseudonym.key``
    under ``root`` (default the project root, outside ``reports/``; git-ignored). The file is created on
    first use with 32 random bytes (64 hex characters), mode 0600, atomically, so concurrent first runs
    agree; afterwards it is only read. Keep it to keep pseudonyms stable between runs; delete it to
    unlink new reports from old ones.

    Parameters
    ----------
    root : str or Path, optional
        The folder holding ``.cjlib/``; default the project root.

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    ValueError
        ``CJLIB_PSEUDONYM_KEY`` or the key file is too short, or the file cannot be written or read.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> pseudonym_key(root) == pseudonym_key(root) and len(pseudonym_key(root)) == 64
    True
    """
    env = os.environ.get(KEY_ENV)
    if env is not None and env.strip():
        if len(env.strip()) < MIN_KEY_CHARS:
            raise ValueError(f"{KEY_ENV} is too short to be a secret: give {MIN_KEY_CHARS} or more characters "
                             "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
        return env.strip().encode()
    if root is None:
        from cjlib.paths import PROJ_ROOT

        root = PROJ_ROOT
    path = Path(root) / KEY_FILE
    try:
        if not path.exists():
            _create_key(path)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"pseudonym key {path}: {exc.strerror if isinstance(exc, OSError) else exc} "
                         f"(make the folder writable, or set {KEY_ENV})") from None
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(f"pseudonym key {path} is too short ({len(key)} characters): delete it to make a new "
                         f"one, or set {KEY_ENV}")
    return key.encode()


def _create_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process wrote first
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
