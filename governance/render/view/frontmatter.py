"""The model card's Hugging Face front matter, in the key order huggingface_hub writes back."""

from __future__ import annotations

from typing import Any

from ...card import CardFacts
from ...evidence.schema import Evidence

HF_TASK = {"binary_classification": ("tabular-classification", "Binary classification"),
           "multiclass_classification": ("tabular-classification", "Multiclass classification")}


def front_matter(evidence: Evidence, card: CardFacts, overall: list[dict]) -> dict[str, Any]:
    """The model card's YAML front matter, in the key order huggingface_hub writes back."""
    md = card.model_details
    data: dict[str, Any] = {}
    if md.license:
        data["license"] = md.license
    if card.language:
        data["language"] = list(card.language)
    tags = ["pruned", "pruning-governance", evidence.task.replace("_", "-")] + list(card.tags)
    data["tags"] = list(dict.fromkeys(tags))
    if md.base_model:
        data["base_model"] = md.base_model
    datasets = list(dict.fromkeys([*card.training_data.datasets, *card.evaluation_data.datasets]))
    if datasets:
        data["datasets"] = datasets
    measured = [r for r in overall if r["candidate"] is not None]
    data["metrics"] = [r["metric"] for r in measured]
    task_type, task_name = HF_TASK[evidence.task]
    dataset_id = card.evaluation_data.datasets[0] if card.evaluation_data.datasets else evidence.data.file.path
    metrics = []
    for r in measured:
        metrics.append({"type": r["metric"], "value": round(float(r["candidate"]), 4),
                        "name": f"{r['metric']} (candidate, pruned)"})
        if r["baseline"] is not None:
            metrics.append({"type": r["metric"], "value": round(float(r["baseline"]), 4),
                            "name": f"{r['metric']} (baseline, before pruning)"})
    name = md.name or evidence.release.get("name", "model")
    data["model-index"] = [{
        "name": name,
        "results": [{
            "task": {"type": task_type, "name": task_name},
            "dataset": {"name": f"evaluation data ({evidence.data.file.path}, {evidence.data.rows} rows)",
                        "type": dataset_id, "split": "evaluation"},
            "metrics": metrics,
        }],
    }]
    return data


