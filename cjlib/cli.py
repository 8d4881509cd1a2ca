"""Command line: ``python -m cjlib report …`` and ``python -m cjlib data …``.

Exit status: 0 on success, 1 when a notebook failed (the others still ran), 2 on bad parameters or bad
input data (nothing was run or written). Errors are one line on stderr, never a traceback.
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
    if not isinstance(value, str) or not value or os.path.isabs(value):
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
    rp.add_argument("--list", action="store_true", help="list reports and their parameters, then exit")
    dp = sub.add_parser("data", help="write the synthetic sample data")
    dp.add_argument("--customers", type=int, default=20_000)
    dp.add_argument("--seed", type=int, default=0)
    dp.add_argument("--out", default="data/sample")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "data":
        from cjlib import synth

        return synth.main(["--customers", str(args.customers), "--seed", str(args.seed), "--out", args.out]) or 0
    from cjlib.errors import DataError
    from cjlib.paths import REPORTS_DIR
    from cjlib.report import ParameterError, list_notebooks, notebook_parameters, run_reports

    if args.list:
        for nb in list_notebooks():
            print(nb.stem)
            for k, v in notebook_parameters(nb).items():
                print(f"  {k:<20} {v['type']:<6} default {v['default']!r}  {v['help']}")
        return 0
    try:
        params: dict = {}
        if args.parameters_file:
            import yaml

            pf = Path(args.parameters_file)
            if not pf.is_file():
                raise ParameterError(f"parameters file not found: {pf}")
            loaded = yaml.safe_load(pf.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ParameterError(f"{pf}: a parameters file must be a YAML mapping")
            params.update(_anchor(loaded, pf.resolve().parent))  # paths in a params file: from the file
        params.update(_anchor(dict(args.parameter), Path.cwd()))  # on the command line: from where you stand
        out = Path(args.out).resolve() if args.out else REPORTS_DIR
        results = run_reports(args.names or None, params, out_dir=out, keep_code=args.keep_code)
    except (DataError, ParameterError, ValueError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    failed = [r for r in results if r.status != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} report(s) ok; index: {out / 'index.html'}")
    if failed:
        print(f"error: {len(failed)} report(s) failed: {', '.join(r.name for r in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
