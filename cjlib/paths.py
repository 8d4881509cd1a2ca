"""Paths anchored at the project root, never at the current directory.

papermill, nbval and JupyterLab each start in a different folder, so every relative path cjlib is given
(notebook defaults such as ``"data/sample/events.parquet"``) is resolved against :data:`PROJ_ROOT`.
Absolute paths are used as they are.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROJ_ROOT", "DATA_DIR", "SAMPLE_DIR", "NOTEBOOKS_DIR", "REPORTS_DIR", "resolve"]

PROJ_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJ_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
REPORTS_DIR = PROJ_ROOT / "reports"


def resolve(path: str | Path) -> Path:
    """Return ``path`` as an absolute path; relative paths are taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJ_ROOT / p
