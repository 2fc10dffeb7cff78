"""What the scale benchmarks share: where generated releases are cached, and one ``governance check`` measured.

``benchmarks/`` is not a package: the benchmark scripts put this folder on ``sys.path`` and import from here.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path


def cache_root() -> Path:
    """Where the benchmarks keep generated releases between runs (reused: 20M rows take minutes to write)."""
    return Path(tempfile.gettempdir()) / "pruning-governance-bench"


def measured(argv: list[str], log: Path) -> dict[str, float]:
    """Run ``argv`` as a child with stdout and stderr to ``log``: wall s, CPU s (user + sys) and peak RSS MB of
    that child alone (``os.wait4``: not its own children, e.g. Dask workers); a gate exit other than 0 (ship) or 1
    (blocked) raises with the log's tail. The child keeps Python's bytecode cache even where the environment turns
    it off (``PYTHONDONTWRITEBYTECODE``, set on this project's machines): an installed package has its ``.pyc``
    files, so compiling every module from source on each run (0.15 s) is not a cost users pay."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}
