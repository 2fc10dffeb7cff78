"""Render time and peak memory of the documents for a report with many slices.

    .venv/bin/python benchmarks/render_report.py [--slices 50] [--repeats 3]

Builds a synthetic evidence (every optional section filled, one dimension with N slices), then renders
model_card.md, model_card.html, audit_report.html and audit_report.pdf from it, and prints the time of
each (best of the repeats), the peak Python memory while rendering (tracemalloc, in a separate untimed
pass) and the process's peak resident memory (getrusage), plus the size of every file.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from governance.render import RENDERERS, RenderContext
from governance.render.sample import sample_evidence, sample_verdict

DOCUMENTS = ("model_card.md", "model_card.html", "audit_report.html", "audit_report.pdf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    evidence = sample_evidence(args.slices)
    verdict = sample_verdict(evidence)
    import weasyprint  # noqa: F401 - import time is not render time

    best: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for _ in range(args.repeats):
        ctx = RenderContext(evidence, verdict)  # a fresh cache: nothing carried over between repeats
        for name in DOCUMENTS:
            t0 = time.perf_counter()
            content = RENDERERS[name](ctx)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
            sizes[name] = len(content)
    # memory in a separate pass: tracemalloc slows Python down several-fold, so it never times anything
    tracemalloc.start()
    ctx = RenderContext(evidence, verdict)
    for name in DOCUMENTS:
        RENDERERS[name](ctx)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"report with {args.slices} slices, best of {args.repeats} (time includes building the template context "
          f"for the first document)")
    for name in DOCUMENTS:
        print(f"  {name:<18} {best[name] * 1000:8.1f} ms  {sizes[name] / 1024:8.1f} KiB")
    print(f"  {'total':<18} {sum(best.values()) * 1000:8.1f} ms")
    print(f"peak Python memory while rendering (tracemalloc): {peak / 2**20:.1f} MiB; "
          f"peak resident set of the process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
