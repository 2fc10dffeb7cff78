"""The demo's production step: one candidate judged for production's traffic, then monitored after release.

The evaluation set (the Adult test split) is what the team had; production serves more of one group. The step
takes the group that pruning hurt most in the candidate's evidence (the single-attribute slice of at least
``MIN_ROWS`` rows with the largest accuracy drop), draws a production sample from the test split in which that
group is ``BOOST`` times as common (labels dropped), and gates the candidate with ``builtin:production``: the
accuracy drop re-weighted to production's cell shares, representativeness, agreement on production rows and the
label-free estimate. Then ``governance monitor`` judges two windows of production logs against the release's
``monitoring.json``: one like the production sample, and one after the population moved (older applicants,
longer hours, more schooling), where the scores drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from . import arch
from .train import SENSITIVE, TARGET

CANDIDATE = "magnitude-80"
POLICY = "builtin:production"
MIN_ROWS = 200
BOOST = 3.0  # the group's share in production relative to the evaluation set (capped at MAX_SHARE)
MAX_SHARE = 0.6
#: how the drifted window's population moved (numeric features: added, then clipped to the column's range)
SHIFT = {"age": 12.0, "hours_per_week": 12.0, "education_num": 2.0}


@dataclass(frozen=True)
class ProductionStory:
    group: str  # "dimension=value"
    evaluation_share: float
    production_share: float
    manifest: Path
    exit_code: int
    decision_line: str
    evaluation_drop: float | None
    weighted_drop: float | None
    weighted_status: str  # PROD-001's status
    weighted_limit: float | None
    blocking: list[str]  # the rule ids that block the release
    monitor_codes: dict[str, int]  # window -> exit code
    monitor_lines: dict[str, str]


def worst_group(evidence: Any) -> tuple[str, str]:
    """(dimension, value) of the single-attribute slice with the largest accuracy drop, ``MIN_ROWS`` rows or more
    (the demo table's worst group, ``report.worst_slice``)."""
    from .report import worst_slice

    found = worst_slice(evidence, list(SENSITIVE), MIN_ROWS)
    if found is None:  # pragma: no cover - the Adult slices are large
        return SENSITIVE[0], str(next(iter(evidence.models["candidate"].slices[SENSITIVE[0]])))
    return found[0], found[1]


def _draw(frame: pa.Table, member: np.ndarray, rows: int, share: float, rng: np.random.Generator) -> pa.Table:
    """``rows`` rows of ``frame`` drawn with replacement so that the ``member`` rows make up ``share`` of them."""
    p = np.where(member, share / max(member.sum(), 1), (1 - share) / max((~member).sum(), 1))
    return frame.take(pa.array(np.sort(rng.choice(frame.num_rows, size=rows, p=p / p.sum()))))


def _shifted(table: pa.Table, reference: pa.Table) -> pa.Table:
    for name, delta in SHIFT.items():
        ref = reference.column(name).to_numpy().astype(np.float64)
        moved = np.clip(table.column(name).to_numpy().astype(np.float64) + delta, ref.min(), ref.max())
        kind = table.schema.field(name).type
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(moved, kind))
    return table


def _window(table: pa.Table, model: Any) -> pa.Table:
    """Production logs: the features, the sensitive columns, the deployed model's score and the delayed label."""
    import torch

    from .train import tensors

    x, _ = tensors(table)
    with torch.no_grad():
        score = torch.softmax(model(x), dim=1)[:, 1].double().numpy()
    out = table.select([*arch.FEATURES, *SENSITIVE, TARGET])
    return out.append_column("score", pa.array(np.round(score, 6)))


def run_production(out: Path, eval_part: pa.Table, evidence: Any, manifest: Path, model: Any, seed: int,
                   quiet: bool = True) -> ProductionStory:
    import pyarrow.parquet as pq

    from ..gate import CheckOptions, check
    from ..monitor.run import MonitorOptions, monitor

    dim, value = worst_group(evidence)
    column = eval_part.column(dim).to_numpy(zero_copy_only=False).astype(str)
    member = column == value
    eval_share = float(member.mean())
    share = min(MAX_SHARE, BOOST * eval_share)
    rng = np.random.default_rng(seed + 13)
    sample = _draw(eval_part, member, eval_part.num_rows, share, rng)
    pq.write_table(sample.drop_columns([TARGET]), out / "production.parquet", compression="zstd")
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    data.update({"version": f"{data['version']}-production", "policy": POLICY,
                 "production": {"path": "production.parquet"}})
    target = out / "release-production.yaml"
    header = (f"# Written by `governance demo`: {CANDIDATE} judged for production, where {dim}={value} is "
              f"{share:.0%} of the traffic ({eval_share:.0%} of the evaluation set).\n"
              f"#   governance check release-production.yaml --out production\n")
    target.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = check(target, out=out / "production", options=CheckOptions())
    ev = result.evidence
    prod = ev.production
    drops = [f for f in result.verdict.findings if f.rule_id == "PROD-001"]
    weighted = drops[0].observed if drops else None
    status = drops[0].status.value if drops else "missing"
    limit = drops[0].threshold if drops else None
    comp = ev.comparisons.overall.get("accuracy") if ev.comparisons is not None else None
    ev_drop = -comp.difference if comp is not None and comp.difference is not None else None
    # after release: a window like the production sample, then one after the population moved
    windows = out / "windows"
    windows.mkdir(exist_ok=True)
    clean = _window(_draw(eval_part, member, 3000, share, rng), model)
    drifted = _window(_shifted(_draw(eval_part, member, 3000, share, rng), eval_part), model)
    codes, lines = {}, {}
    for name, table in (("clean", clean), ("drifted", drifted)):
        path = windows / f"{name}.parquet"
        pq.write_table(table, path)
        res = monitor(out / "production" / "monitoring.json", [path], out=out / f"monitor-{name}",
                      options=MonitorOptions())
        codes[name], lines[name] = int(res.exit_code), res.decision_line
    measured = prod.slices.get(dim, {}).get(value) if prod is not None else None
    actual = measured.production_share if measured is not None else share
    return ProductionStory(group=f"{dim}={value}", evaluation_share=eval_share, production_share=float(actual or share),
                           manifest=target, exit_code=int(result.exit_code), decision_line=result.verdict.decision,
                           evaluation_drop=ev_drop, weighted_drop=weighted, weighted_status=status,
                           weighted_limit=limit, blocking=[f.rule_id for f in result.verdict.blocking],
                           monitor_codes=codes, monitor_lines=lines)
