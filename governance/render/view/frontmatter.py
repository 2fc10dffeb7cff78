"""The model card's Hugging Face front matter, in the key order huggingface_hub writes back."""

from __future__ import annotations

from typing import Any

from ...card import CardFacts
from ...evidence.schema import Evidence
from ...provenance import COMPRESSION_TAGS

HF_TASK = {"binary_classification": ("tabular-classification", "Binary classification"),
           "multiclass_classification": ("tabular-classification", "Multiclass classification"),
           "regression": ("tabular-regression", "Regression"),
           "lm_eval": ("text-generation", "Language modelling (lm-evaluation-harness tasks)")}


def compression_tags(evidence: Evidence) -> list[str]:
    """``pruned`` / ``quantized`` from the candidate's compression as its provenance declares it (both when both are
    declared); undeclared: ``quantized`` when its measured weight bit width is narrower than the baseline's, else
    ``pruned`` (what the gate was built for)."""
    prov = evidence.provenance
    found = prov.declared.model_by_hash(evidence.models["candidate"].file.sha256) if prov is not None else None
    declared = [tag for field, tag in COMPRESSION_TAGS.items() if found is not None and getattr(found[1], field)]
    if declared:
        return declared
    eff = evidence.efficiency
    bits = [eff.models[r].weight_bits for r in ("baseline", "candidate") if r in eff.models] if eff else []
    if len(bits) == 2 and bits[0] is not None and bits[1] is not None and bits[1] < bits[0]:
        return ["quantized"]
    return ["pruned"]


#: the Hub's ``library_name`` for each model format (None: precomputed scores, no library to name)
LIBRARY = {"skops": "sklearn", "pickle": "sklearn", "joblib": "sklearn", "torch": "pytorch",
           "torch-export": "pytorch", "onnx": "onnx"}
#: the Hub's ``base_model_relation`` values are adapter, merge, quantized and finetune: only quantized names a
#: compression, so a pruned candidate leaves the relation to the Hub's inference (the ``pruned`` tag says it)
RELATION = {"quantized": "quantized"}


def dataset_id(evidence: Evidence, card: CardFacts) -> str:
    """The evaluation dataset's id, never a file path: the card's first evaluation dataset, else the provenance's
    evaluation dataset (its Hub id when its ``uri`` is a Hub dataset, else its declared name), else a neutral
    placeholder the Hub accepts."""
    if card.evaluation_data.datasets:
        return card.evaluation_data.datasets[0]
    prov = evidence.provenance
    found = prov.declared.evaluation_dataset(evidence.data.file.sha256) if prov is not None else None
    if found is not None:
        name, ds = found
        uri = ds.uri or ""
        for prefix in ("hf://datasets/", "https://huggingface.co/datasets/"):
            if uri.startswith(prefix):
                return uri[len(prefix):].strip("/")
        return name
    return "evaluation-data"


def front_matter(evidence: Evidence, card: CardFacts, overall: list[dict]) -> dict[str, Any]:
    """The model card's YAML front matter (Hugging Face's model-card metadata), in the key order huggingface_hub
    writes back: this model's (the candidate's) results only, the baseline's belong to the baseline's card."""
    md = card.model_details
    data: dict[str, Any] = {}
    if md.license:
        data["license"] = md.license
    if card.language:
        data["language"] = list(card.language)
    library = LIBRARY.get(evidence.models["candidate"].format)
    if library:
        data["library_name"] = library
    task_type, task_name = HF_TASK[evidence.task]
    data["pipeline_tag"] = task_type
    compression = compression_tags(evidence)
    tags = [*compression, "pruning-governance", evidence.task.replace("_", "-")] + list(card.tags)
    data["tags"] = list(dict.fromkeys(tags))
    if md.base_model:
        data["base_model"] = md.base_model
        relation = next((RELATION[c] for c in compression if c in RELATION), None)
        if relation:
            data["base_model_relation"] = relation
    datasets = list(dict.fromkeys([*card.training_data.datasets, *card.evaluation_data.datasets]))
    if datasets:
        data["datasets"] = datasets
    measured = [r for r in overall if r["candidate"] is not None]
    data["metrics"] = [r["metric"] for r in measured]
    metrics = [{"type": r["metric"], "value": round(float(r["candidate"]), 4), "name": r["metric"]}
               for r in measured]
    name = md.name or evidence.release.get("name", "model")
    data["model-index"] = [{
        "name": name,
        "results": [{
            "task": {"type": task_type, "name": task_name},
            "dataset": {"name": f"evaluation data ({evidence.data.rows} rows)", "type": dataset_id(evidence, card),
                        "split": "evaluation"},
            "metrics": metrics,
        }, *lm_eval_results(evidence, task_type)],
    }]
    return data


def lm_eval_results(evidence: Evidence, task_type: str) -> list[dict[str, Any]]:
    """task lm_eval: one model-index result per harness task, as leaderboards list them (dataset: the task; metric:
    the per-sample metric judged, e.g. acc or exact_match, and the filter when the harness logged one)."""
    if evidence.lm_eval is None:
        return []
    per_task = evidence.models["candidate"].slices.get("task", {})
    results = []
    for task, info in evidence.lm_eval.tasks.items():
        value = per_task.get(task, {}).get("accuracy")
        if value is None:
            continue
        label = info.metric if info.filter in (None, "none") else f"{info.metric} ({info.filter})"
        results.append({"task": {"type": task_type, "name": task}, "dataset": {"name": task, "type": task},
                        "metrics": [{"type": info.metric, "value": round(float(value), 4), "name": label}]})
    return results


