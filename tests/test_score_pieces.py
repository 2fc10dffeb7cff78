"""Memory bound by the scores, not only the rows: a chunk is scored and folded in pieces of at most
``collect.SCORE_NUMBERS`` class scores per model (a 1,000-class model's 65,536-row chunk would otherwise hold 524 MB
of probabilities per model), and the evidence does not depend on the pieces."""

from __future__ import annotations

import math
import shutil

import yaml
from builders import write_yaml

from governance.evidence import collect as collect_module
from governance.manifest import load_manifest

VOLATILE = {"created_at", "hardware"}


def _close(a: object, b: object, where: str = "") -> None:
    """Equal structure, strings, integers; floats to 1e-12 (sums over rows, added in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a.keys() - VOLATILE:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), where
    else:
        assert a == b, where


def test_pieces_of_a_chunk_give_the_same_evidence(release_dir, tmp_path, monkeypatch):
    d = tmp_path / "rel"
    shutil.copytree(release_dir, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["evaluation"] = {"bootstrap": {"resamples": 50}, "latency": None, "robustness": None}
    path = write_yaml(d / "release.yaml", manifest)
    whole = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    seen: list[int] = []
    original = collect_module.Accumulator.update

    def counting(self, cells, y, *args, **kwargs):  # the accumulator sees the pieces, not the chunk
        seen.append(len(y))
        return original(self, cells, y, *args, **kwargs)

    monkeypatch.setattr(collect_module.Accumulator, "update", counting)
    monkeypatch.setattr(collect_module, "SCORE_NUMBERS", 2 * 97)  # 2 classes: pieces of 97 rows
    pieces = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    assert seen and max(seen) == 97 and sum(seen) == whole["data"]["rows"]
    _close(whole, pieces)
