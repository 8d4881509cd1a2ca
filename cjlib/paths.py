"""Project paths, and how a relative path given to cjlib is found.

papermill, nbval and JupyterLab each start in a different folder (the CLI runs notebooks in
``notebooks/``; plain papermill and JupyterLab in the folder they were started from), so a relative path
is looked up in two places by :func:`resolve`: the current directory, where a user's own files named in a
params file or on papermill's command line are; else the project root (:data:`PROJ_ROOT`), where the
notebook defaults such as ``"data/sample/events.parquet"`` are. Absolute paths are used as they are.
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
    """Return ``path`` as an absolute path.

    Parameters
    ----------
    path : str or Path
        Absolute, ``~``-prefixed or relative.

    Returns
    -------
    Path
        A relative ``path`` taken from the current directory when it exists there, else from the project
        root (also when it exists in neither: an error then names the project-root path).

    Examples
    --------
    >>> resolve("data/stage_map.yml") == PROJ_ROOT / "data" / "stage_map.yml"  # from any folder without one
    True
    """
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    return here if here.exists() else PROJ_ROOT / p
