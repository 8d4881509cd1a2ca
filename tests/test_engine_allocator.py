"""The per-task allocator thresholds of :mod:`cjlib.engine` on Dask workers.

Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536``, which freezes glibc's mmap threshold at 128 KiB, so every
large temporary array faults its pages in afresh. ``engine._task_allocator`` gives a running cjlib task
glibc's grown thresholds and puts the environment's back afterwards. Observed through minor page faults
(``getrusage``): allocating and freeing a 4 MiB array 60 times faults ~1000 pages each time under the frozen
thresholds and almost never when the heap keeps the block. Each case runs in a fresh interpreter, since the
thresholds are process-wide and read from the environment at start-up.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc's mallopt")

PROBE = textwrap.dedent("""
    import json, resource, threading
    import numpy as np
    from cjlib import engine

    np._core.multiarray._set_madvise_hugepage(False)  # 4 KiB pages, whatever the kernel's THP setting

    def faults(n=60):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(n):
            a = np.ones(1 << 19)  # 4 MiB, written: every page touched
            del a
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    out = {"active": engine._glibc() is not None, "outside": faults()}
    with engine._task_allocator():
        faults(1)  # the first block grows the heap once
        out["inside"] = faults()
        with engine._task_allocator():  # a second task on another thread of the worker
            pass
        out["after_inner_task"] = faults()
    out["after"] = faults()
    wrapped = engine._on_worker(faults)
    wrapped(1)
    out["wrapped"] = wrapped()
    print(json.dumps(out))
""")


def probe(**env) -> dict:
    import json

    clean = {k: v for k, v in os.environ.items()
             if k not in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "CJLIB_SCOPED_MALLOC", "GLIBC_TUNABLES")}
    res = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_dask_worker_environment_gets_grown_thresholds_per_task():
    got = probe(MALLOC_TRIM_THRESHOLD_="65536")
    assert got["active"]
    pages = (1 << 22) // 4096 * 60  # 4 MiB of pages, 60 times
    assert got["outside"] > 0.8 * pages  # frozen 128 KiB threshold: a fresh mapping every time
    assert got["inside"] < 0.05 * pages  # the heap keeps the block
    assert got["after_inner_task"] < 0.05 * pages  # another task ending does not restore while one runs
    assert got["after"] > 0.8 * pages  # the environment's thresholds are back
    assert got["wrapped"] < 0.05 * pages  # the functions the workers run carry it


@pytest.mark.parametrize("env", [{}, {"MALLOC_TRIM_THRESHOLD_": "65536", "CJLIB_SCOPED_MALLOC": "0"},
                                 {"MALLOC_TRIM_THRESHOLD_": "65536", "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1"}],
                         ids=["glibc-adaptive", "opted-out", "tunables"])
def test_left_alone_without_dask_thresholds_or_when_opted_out(env):
    got = probe(**env)
    assert not got["active"]
    pages = (1 << 22) // 4096 * 60
    if env.get("CJLIB_SCOPED_MALLOC") == "0":  # Dask's thresholds stay frozen inside a task too
        assert got["inside"] > 0.8 * pages
    if not env:  # glibc's adaptive thresholds: the heap keeps the block after the first free anyway
        assert got["outside"] < 0.05 * pages
