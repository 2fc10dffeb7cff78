"""Memory bound by the scores, not only the rows: a chunk is scored and folded in pieces of at most
``data.SCORE_NUMBERS`` class scores per model (a 1,000-class model's 65,536-row chunk would otherwise hold 524 MB
of probabilities per model), and the evidence does not depend on the pieces."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from builders import same_evidence, write_yaml

from governance import data
from governance.evidence import collect as collect_module
from governance.evidence import production as production_module
from governance.manifest import load_manifest


def _fast_copy(source: Path, d: Path, resamples: int) -> Path:
    """``source`` copied to ``d`` with a quick evaluation (few resamples, no latency or robustness)."""
    shutil.copytree(source, d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["evaluation"] = {"bootstrap": {"resamples": resamples}, "latency": None, "robustness": None}
    return write_yaml(d / "release.yaml", manifest)


def _rows_seen(monkeypatch, cls: type, rows_of) -> list[int]:
    """The rows of every ``cls.update`` call from now on (``rows_of``: its first argument -> rows)."""
    seen: list[int] = []
    original = cls.update

    def counting(self, first, *args, **kwargs):
        seen.append(rows_of(first))
        return original(self, first, *args, **kwargs)

    monkeypatch.setattr(cls, "update", counting)
    return seen


def test_pieces_of_a_chunk_give_the_same_evidence(release_dir, tmp_path, monkeypatch):
    path = _fast_copy(release_dir, tmp_path / "rel", 50)
    whole = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    seen = _rows_seen(monkeypatch, collect_module.Accumulator, len)  # the accumulator sees the pieces (cells)
    monkeypatch.setattr(data, "SCORE_NUMBERS", 2 * 97)  # 2 classes: pieces of 97 rows
    pieces = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    assert seen and max(seen) == 97 and sum(seen) == whole["data"]["rows"]
    same_evidence(whole, pieces)


def test_the_production_pass_scores_in_pieces_too(tmp_path, monkeypatch):
    examples = Path(__file__).resolve().parent.parent / "examples"
    path = _fast_copy(examples / "production", tmp_path / "production", 20)
    whole = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    seen = _rows_seen(monkeypatch, production_module.ProductionScores, lambda chunk: len(chunk.cells))
    monkeypatch.setattr(data, "SCORE_NUMBERS", 2 * 301)  # 2 classes: pieces of 301 rows
    pieces = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    assert whole["production"]["rows"] == 4000 and whole["production"]["agreement"] is not None
    assert max(seen) == 301 and sum(seen) == 4000
    same_evidence(whole, pieces)
