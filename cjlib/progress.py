"""Progress bars on the long loops (bootstrap replicates, the k search of personas, permutation importance).

A bar is shown only to a person watching: in JupyterLab (a widget with ``ipywidgets``, else text) or in a
terminal. It is off — a plain iterator, nothing written — in a report the runner writes, under papermill,
nbclient, ``nbconvert --execute`` or nbval, in tests and when stderr is not a terminal, so reports and
logs never hold progress text. The environment variable ``CJLIB_PROGRESS`` overrides the automatic choice:
``1`` shows bars (e.g. a notebook editor that starts kernels without a Jupyter server), ``0`` hides them.
A report run by ``python -m cjlib report`` has none whatever it says.

Progress never changes a number: the wrapped loop runs the same iterations in the same order and the bar
draws no random number.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

ENV = "CJLIB_PROGRESS"
_RUNNER_ENV = "CJLIB_STAGING"  # cjlib.report.notebook.STAGING_ENV: set by the runner in each report's kernel
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def progress_enabled() -> bool:
    """Whether progress bars are shown here (see the module docstring for the rules).

    Returns
    -------
    bool
        False in a report the runner writes (whatever ``CJLIB_PROGRESS`` says); else ``CJLIB_PROGRESS``
        when it is ``0``/``1`` (also ``false``/``true``, ``off``/``on``, ``no``/``yes``); else False under
        pytest, True in a Jupyter kernel a Jupyter server started for a notebook (JupyterLab, Notebook:
        ``JPY_SESSION_NAME`` set; papermill, nbclient and nbval start kernels without one), and in any
        other process True when stderr is a terminal.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get("CJLIB_PROGRESS", "")  # '' is the automatic choice
    >>> os.environ["CJLIB_PROGRESS"] = "0"
    >>> progress_enabled()
    False
    >>> os.environ["CJLIB_PROGRESS"] = saved
    """
    if os.environ.get(_RUNNER_ENV):
        return False
    value = os.environ.get(ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    if _in_kernel():
        return bool(os.environ.get("JPY_SESSION_NAME"))
    stream = sys.stderr
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


def _in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel."""
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    if zmqshell is None:
        return False
    from IPython import get_ipython

    return isinstance(get_ipython(), zmqshell.ZMQInteractiveShell)


def _tqdm():
    """``tqdm.auto.tqdm`` (a widget in a kernel with ipywidgets, else text), without its import warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TqdmWarning (no ipywidgets: text bars) and TqdmExperimentalWarning
        from tqdm.auto import tqdm
    return tqdm


def _bar(total: int | None, desc: str | None, file: TextIO | None):
    return _tqdm()(total=total, desc=desc, file=file, leave=False, disable=False, dynamic_ncols=True)


def progress(iterable: Iterable, *, total: int | None = None, desc: str | None = None,
             file: TextIO | None = None) -> Iterator:
    """The items of ``iterable``, in order, with a progress bar while :func:`progress_enabled`.

    Parameters
    ----------
    iterable : iterable
        What the loop runs over; it is iterated once, as a plain ``for`` would.
    total : int, optional
        Number of items (default ``len(iterable)`` when it has one).
    desc : str, optional
        Label before the bar, e.g. ``"bootstrap (markov)"``.
    file : text stream, optional
        Where a text bar is written (default ``sys.stderr``); a widget ignores it.

    Returns
    -------
    iterator
        The same items in the same order. With progress off, ``iter(iterable)`` itself: nothing is written.
        The bar goes when the loop ends (``leave=False``), so a saved notebook keeps no bar.

    Examples
    --------
    >>> list(progress(range(3), desc="replicates"))
    [0, 1, 2]
    """
    if not progress_enabled():
        return iter(iterable)
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return _iterate(iterable, total, desc, file)


def _iterate(iterable: Iterable, total: int | None, desc: str | None, file: TextIO | None) -> Iterator:
    bar = _bar(total, desc, file)
    try:
        for item in iterable:
            yield item
            bar.update(1)
    finally:
        bar.close()


class _Counted:
    """``fn`` that moves a bar by one on each call (the bar of :func:`progress_bar`)."""

    def __init__(self, fn: Callable, bar) -> None:
        self._fn, self._bar = fn, bar

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self._fn(*args, **kwargs)
        self._bar.update(1)
        return out


class Bar:
    """A progress bar driven by hand (from :func:`progress_bar`); every method is a no-op when it is off.

    Parameters
    ----------
    bar : tqdm or None
        The bar; None when progress is off.
    """

    def __init__(self, bar=None) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        """Move the bar by ``n`` steps.

        Parameters
        ----------
        n : int, default 1
        """
        if self._bar is not None:
            self._bar.update(n)

    def counting(self, fn: Callable) -> Callable:
        """``fn`` moving the bar one step per call (``fn`` itself when progress is off).

        For a loop that runs inside a library call, such as sklearn's permutation importance calling its
        scorer once per column and repeat: the bar counts the calls, the results do not change.

        Parameters
        ----------
        fn : callable

        Returns
        -------
        callable
            Calls ``fn`` with the same arguments and returns its result.
        """
        return fn if self._bar is None else _Counted(fn, self._bar)


@contextlib.contextmanager
def progress_bar(*, total: int, desc: str | None = None, file: TextIO | None = None) -> Iterator[Bar]:
    """A :class:`Bar` of ``total`` steps for the ``with`` block, closed at its end.

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str, optional
        Label before the bar.
    file : text stream, optional
        Where a text bar is written (default ``sys.stderr``).

    Returns
    -------
    context manager of Bar
        Its ``update``/``counting`` move the bar while :func:`progress_enabled`, else do nothing.

    Examples
    --------
    >>> with progress_bar(total=2, desc="scoring") as bar:
    ...     square = bar.counting(lambda x: x * x)
    ...     [square(2), square(3)]
    [4, 9]
    """
    if not progress_enabled():
        yield Bar()
        return
    bar = _bar(total, desc, file)
    try:
        yield Bar(bar)
    finally:
        bar.close()
