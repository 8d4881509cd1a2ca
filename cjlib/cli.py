"""Command line: ``python -m cjlib report …`` and ``python -m cjlib data …``.

Exit status: 0 on success, 1 when a notebook failed (the others still ran), 2 on bad parameters, bad
input data, an unusable ``--out`` or another run writing to it or to an export folder (nothing was run), 130 on
Ctrl-C and 143 on SIGTERM (finished reports kept, the running one not written). Errors are one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PATH_PARAMS = {"events_path", "customers_path", "feedback_path", "costs_path", "stage_map_path",
               "output_dir"}


def _is_path(key: str, value: object) -> bool:
    """Whether a parameter value is a relative path to anchor: a ``*_path`` or ``output_dir`` value, or a
    ``columns`` mapping given as a file name (not as YAML/JSON text)."""
    if not isinstance(value, str) or not value or os.path.isabs(value) or "://" in value:  # a URL: as given
        return False
    if key == "columns":
        return not any(c in value for c in ":{}\n")
    return key in PATH_PARAMS or key.endswith("_path")


def _anchor(params: dict, base: Path) -> dict:
    """Relative paths among ``params`` made absolute from ``base``."""
    return {k: str((base / v).resolve()) if _is_path(k, v) else v for k, v in params.items()}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m cjlib", description="Customer-journey analytics reports.")
    sub = ap.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("report", help="run notebooks into HTML reports",
                        description="Run notebooks with papermill and render them to HTML with an index.")
    rp.add_argument("names", nargs="*", help="reports to run (e.g. 00_journey_map or 00); default all")
    rp.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="a notebook parameter (repeatable)")
    rp.add_argument("-f", "--parameters-file", help="YAML file of parameters")
    rp.add_argument("--out", default=None, help="output folder (default: reports/ in the project)")
    rp.add_argument("--keep-code", action="store_true", help="keep code cells in the HTML")
    rp.add_argument("--delta-threshold", type=float, default=None, metavar="X",
                    help="on the index, flag a headline metric without an interval that moved by more than X "
                         "of its value in the previous run (default 0.1; 0 flags every change)")
    rp.add_argument("--list", action="store_true", help="list reports and their parameters, then exit")
    dp = sub.add_parser("data", help="write the synthetic sample data")
    dp.add_argument("--customers", type=int, default=20_000)
    dp.add_argument("--seed", type=int, default=0)
    dp.add_argument("--out", default="data/sample")
    return ap


def _take_parameters(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``argv`` without its ``-p KEY VALUE`` triples, and the pairs, VALUE taken as it is — argparse would
    read a value such as ``-7D`` as an option."""
    rest, pairs, i = [], [], 0
    while i < len(argv):
        if argv[i] in ("-p", "--parameter") and i + 2 < len(argv) and "report" in argv[:i]:
            pairs.append((argv[i + 1], argv[i + 2]))
            i += 3
            continue
        rest.append(argv[i])
        i += 1
    return rest, pairs


def _read_params_file(path: str) -> dict:
    """A params file as a mapping, its relative paths anchored at its folder; one-line errors."""
    import yaml

    from cjlib.report import ParameterError

    pf = Path(path)
    if not pf.is_file():
        raise ParameterError(f"parameters file not found: {pf}")
    try:
        text = pf.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{pf}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at position "
                             f"{exc.start}); a parameters file is YAML text") from None
    except OSError as exc:
        raise ParameterError(f"{pf}: cannot be read ({exc.strerror})") from None
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or type(exc).__name__
        raise ParameterError(f"{pf}: not valid YAML{where}: {what}") from None
    if not isinstance(loaded, dict):
        raise ParameterError(f"{pf}: a parameters file must be a YAML mapping")
    return _anchor({str(k): v for k, v in loaded.items()}, pf.resolve().parent)  # paths: from the file


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so a run cleans up the same way."""


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    """``python -m cjlib``: run reports (``report``) or write the sample data (``data``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``python -m cjlib``; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status (module docstring): 0 ok, 1 a notebook failed, 2 bad parameters, bad input or an
        unusable ``--out``, 130/143 interrupted or terminated.

    Examples
    --------
    >>> main(["report", "--list"])  # doctest: +ELLIPSIS
    00_journey_map
    ...
    0
    """
    argv, pairs = _take_parameters(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    if args.command == "data":
        from cjlib import synth

        return synth.main(["--customers", str(args.customers), "--seed", str(args.seed), "--out", args.out]) or 0
    args.parameter = [*args.parameter, *pairs]
    from cjlib.errors import DataError
    from cjlib.paths import REPORTS_DIR
    from cjlib.report import ParameterError, list_notebooks, notebook_parameters, run_reports

    if args.list:
        for nb in list_notebooks():
            print(nb.stem)
            for k, v in notebook_parameters(nb).items():
                print(f"  {k:<20} {v['type']:<6} default {v['default']!r}  {v['help']}")
        return 0
    import signal

    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    out = Path(args.out or REPORTS_DIR)
    try:
        params: dict = {}
        bases = [Path.cwd()]
        if args.parameters_file:
            params.update(_read_params_file(args.parameters_file))
            bases.insert(0, Path(args.parameters_file).resolve().parent)
        params.update(_anchor(dict(args.parameter), Path.cwd()))  # on the command line: from where you stand
        out = Path(args.out).resolve() if args.out else REPORTS_DIR
        results = run_reports(args.names or None, params, out_dir=out, keep_code=args.keep_code,
                              path_bases=bases, **({} if args.delta_threshold is None else
                                                   {"delta_threshold": args.delta_threshold}))
    except (DataError, ParameterError, ValueError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        print(f"error: {'terminated' if terminated else 'interrupted'}; finished reports are kept, the one "
              f"running was not written; index: {out / 'index.html'}", file=sys.stderr)
        return 143 if terminated else 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    failed = [r for r in results if r.status != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} report(s) ok; index: {out / 'index.html'}")
    if failed:
        print(f"error: {len(failed)} report(s) failed: {', '.join(r.name for r in failed)}", file=sys.stderr)
        return 1
    return 0


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
