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
    monkeypatch.setattr(data, "SCORE_NUMBERS", 2 * 97)  # 2 classes: pieces of 97 rows
    pieces = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    assert seen and max(seen) == 97 and sum(seen) == whole["data"]["rows"]
    same_evidence(whole, pieces)


def test_the_production_pass_scores_in_pieces_too(tmp_path, monkeypatch):
    d = tmp_path / "production"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "production", d)
    manifest = yaml.safe_load((d / "release.yaml").read_text())
    manifest["evaluation"] = {"bootstrap": {"resamples": 20}, "latency": None, "robustness": None}
    path = write_yaml(d / "release.yaml", manifest)
    whole = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    seen: list[int] = []
    original = production_module.ProductionScores.update

    def counting(self, chunk):  # the production scores see the pieces
        seen.append(len(chunk.cells))
        return original(self, chunk)

    monkeypatch.setattr(production_module.ProductionScores, "update", counting)
    monkeypatch.setattr(data, "SCORE_NUMBERS", 2 * 301)  # 2 classes: pieces of 301 rows
    pieces = collect_module.collect(load_manifest(path)).model_dump(mode="json")
    assert whole["production"]["rows"] == 4000 and whole["production"]["agreement"] is not None
    assert max(seen) == 301 and sum(seen) == 4000
    same_evidence(whole, pieces)
