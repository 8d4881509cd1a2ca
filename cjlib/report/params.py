"""The parameters of the notebooks as the runner sees them: which notebooks there are
(:func:`list_notebooks`), what each declares in its ``parameters`` cell (:func:`notebook_parameters`),
the values given checked and typed against those declarations and :mod:`cjlib.parameters`' rules
(:func:`validate_parameters`), the defaults overlaid with them (:func:`effective_parameters`), and
paths as reports show them (never the machine's absolute folders).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cjlib.parameters import ParameterError
from cjlib.paths import NOTEBOOKS_DIR


def list_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Notebooks the runner knows: ``NN_name.ipynb`` in ``folder``, in name order.

    Parameters
    ----------
    folder : Path, default the project's ``notebooks/``

    Returns
    -------
    list of Path

    Examples
    --------
    >>> [p.stem for p in list_notebooks()][:2]
    ['00_journey_map', '01_personas']
    """
    return sorted(p for p in folder.glob("*.ipynb") if re.match(r"\d\d_", p.name))


def notebook_parameters(path: str | Path) -> dict[str, dict]:
    """The parameters a notebook declares in its ``parameters`` cell.

    Parameters
    ----------
    path : str or Path
        The notebook.

    Returns
    -------
    dict
        Name → ``{"default": value, "type": type name, "help": the line's comment}``, in declaration order.

    Raises
    ------
    ParameterError
        A line of the parameters cell papermill cannot read.

    Examples
    --------
    >>> from cjlib.paths import NOTEBOOKS_DIR
    >>> p = notebook_parameters(NOTEBOOKS_DIR / "03_dropoff.ipynb")["seed"]
    >>> p["default"], p["type"]
    (0, 'int')
    """
    import logging

    import papermill as pm

    problems: list[str] = []

    class _Catch(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            problems.append(rec.getMessage())

    log = logging.getLogger("papermill")
    handler, propagate = _Catch(logging.WARNING), log.propagate
    log.addHandler(handler)
    log.propagate = False  # papermill would print the warning on stderr; we raise instead
    try:
        params = pm.inspect_notebook(str(path))
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    if problems:
        raise ParameterError(f"{Path(path).name}: parameters cell: {problems[0]} "
                             "(one 'name: type = value  # comment' per line; no '=' in the comment)")
    out = {}
    for name, info in params.items():
        default = info.get("default")
        try:
            default = json.loads(default) if default is not None else None
        except (TypeError, json.JSONDecodeError):
            import ast

            try:
                default = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                pass
        out[name] = {"default": default, "type": info.get("inferred_type_name") or "None",
                     "help": info.get("help", "")}
    return out


def _coerce(name: str, value: Any, typ: str) -> Any:
    """Coerce a parameter value (CLI text or a YAML value) to the declared type, or raise."""
    import yaml

    typ = typ.split("[")[0].strip().lower()
    if isinstance(value, str) and typ not in {"str", "none", ""}:
        try:
            value = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            pass
    ok = True
    if typ == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif typ == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif typ == "bool":
        ok = isinstance(value, bool)
    elif typ == "list":
        value = list(value) if isinstance(value, tuple) else value
        ok = isinstance(value, list)
    elif typ == "dict":
        ok = isinstance(value, dict)
    elif typ == "str":
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif value is None:
            value = ""
        elif not isinstance(value, str):
            value = str(value)
    if not ok:
        raise ParameterError(f"parameter '{name}' must be {typ}, got {value!r}")
    return value


def validate_parameters(notebooks: list[Path], params: Mapping[str, Any]) -> dict[str, dict]:
    """Check and type parameters for each notebook.

    Each parameter goes to every selected notebook that declares it. A mapping for a ``str`` parameter
    (``columns`` from a params file) is passed on as JSON text, which :func:`cjlib.io.parse_columns` reads
    back; ``columns`` is checked to be a flat or per-table mapping.

    Parameters
    ----------
    notebooks : list of Path
        The selected notebooks.
    params : mapping
        Parameter values as given (CLI text or YAML values).

    Returns
    -------
    dict
        Notebook name → the parameters to inject into it, coerced to their declared types. When
        ``events_path`` is not the bundled sample's, the optional tables still at the sample's defaults
        are switched off (``""``: :func:`cjlib.parameters.sample_tables_off`).

    Raises
    ------
    ParameterError
        One line: a name no selected notebook declares, a value of the wrong type, or one outside the range
        or choices :mod:`cjlib.parameters` knows for its name (checked on each notebook's defaults overlaid
        with the given values, so ``k_min <= k_max`` holds either way).

    Examples
    --------
    >>> from cjlib.paths import NOTEBOOKS_DIR
    >>> validate_parameters([NOTEBOOKS_DIR / "03_dropoff.ipynb"], {"seed": "7"})
    {'03_dropoff': {'seed': 7}}
    """
    declared = {nb.stem: notebook_parameters(nb) for nb in notebooks}
    known = sorted({n for d in declared.values() for n in d})
    for name in params:
        if name not in known:
            raise ParameterError(f"unknown parameter '{name}': no selected notebook declares it "
                                 f"(declared: {', '.join(known)})")
    out = {}
    for nb, decl in declared.items():
        out[nb] = {k: _coerce(k, v, decl[k]["type"]) for k, v in params.items() if k in decl}
    if params.get("columns"):
        _check_columns(params["columns"])
    from cjlib.parameters import problems, sample_tables_off

    bad: list[str] = []  # ranges, choices and cross-field rules on each notebook's defaults + given values
    for nb, decl in declared.items():
        out[nb].update(sample_tables_off({**{k: d["default"] for k, d in decl.items()}, **out[nb]}))
        bad += [p for p in problems({**{k: d["default"] for k, d in decl.items()}, **out[nb]}) if p not in bad]
    if bad:
        raise ParameterError("; ".join(bad))
    return out


def _check_columns(value: Any) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a column mapping (flat or per table, a dict, YAML/JSON
    text or a file) that :func:`cjlib.io.parse_columns` accepts."""
    from cjlib.io import parse_columns

    try:
        parse_columns(value)
    except ValueError as exc:
        raise ParameterError(f"parameter 'columns': {exc} (a flat mapping such as {{customer_id: user_pseudo_id}} "
                             "or one per table such as {events: {event: event_name}, customers: {...}})") from None


def effective_parameters(path: Path, injected: Mapping[str, Any]) -> dict:
    """Declared defaults overlaid with the injected values.

    Parameters
    ----------
    path : Path
        The notebook.
    injected : mapping
        The values :func:`validate_parameters` gave for it.

    Returns
    -------
    dict
        Every declared parameter with the value the run uses.
    """
    merged = {k: v["default"] for k, v in notebook_parameters(path).items()}
    merged.update(injected)
    return merged


def _shown_path(value: str, bases: Iterable[Path] = ()) -> str:
    """A path as reports show it: relative to the first of ``bases`` (the params file's folder, the
    current folder), the project root or the output folder that holds it, else its name alone — never
    the machine's absolute path."""
    from cjlib.paths import PROJ_ROOT

    if not isinstance(value, str) or not value or not os.path.isabs(os.path.expanduser(value)):
        return value
    p = Path(os.path.expanduser(value))
    for base in [*bases, PROJ_ROOT]:
        base = Path(base)
        if base == Path(base.anchor) or base == Path.home():  # '/' or ~ would show the whole path
            continue
        try:
            return str(p.relative_to(base)) or "."
        except ValueError:
            continue
    return p.name or value


def _scrub(text: str, bases: Iterable[Path] = ()) -> str:
    """``text`` with the absolute paths of the known folders (params file, cwd, project, home) cut."""
    from cjlib.paths import PROJ_ROOT

    for base in sorted({str(b) for b in [*bases, PROJ_ROOT, Path.cwd()] if str(b) not in ("", "/")},
                       key=len, reverse=True):
        text = text.replace(base.rstrip("/") + "/", "")
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home not in ("", "/") else text


def _shown_parameters(params: Mapping[str, Any], bases: Iterable[Path]) -> dict:
    from cjlib.cli import PATH_PARAMS

    return {k: _shown_path(v, bases) if k in PATH_PARAMS or k.endswith("_path") or k == "columns" else v
            for k, v in params.items()}

