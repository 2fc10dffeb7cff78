"""A synthetic pair of lm-evaluation-harness runs: a dense LLM and its pruned candidate.

Writes ``runs/dense/`` and ``runs/pruned/``: one ``samples_<task>_<date>.jsonl`` per task, in the format
``lm_eval --log_samples`` writes (multiple-choice lines with each choice's ``[loglikelihood, is_greedy]``, generative
lines with ``exact_match``). Same documents and prompts in both runs. The pruned run loses about three points on the
knowledge tasks only (1% of documents fixed, 4% broken) and flips as many documents each way elsewhere (1% fixed,
1% broken), so the average drops about one point and the ``pruned-llm`` pack blocks on the knowledge group alone:

    python examples/llm/make_example.py
    governance check examples/llm/release.yaml --out out/llm     # exit 1: BLOCKED by LLM-KNOW-001
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from governance.models.lm_eval import choice_line, generation_line, write_samples

HERE = Path(__file__).resolve().parent
DATE = "2026-06-01T12-00-00.000000"
#: task -> (documents, choices (0: generative), dense accuracy)
TASKS: dict[str, tuple[int, int, float]] = {
    "mmlu_high_school_biology": (60, 4, 0.66), "mmlu_college_physics": (60, 4, 0.45),
    "mmlu_philosophy": (60, 4, 0.62), "mmlu_world_religions": (60, 4, 0.70),
    "mmlu_econometrics": (60, 4, 0.42), "mmlu_sociology": (60, 4, 0.72),
    "mmlu_clinical_knowledge": (60, 4, 0.63), "mmlu_nutrition": (60, 4, 0.65),
    "arc_easy": (250, 4, 0.80), "arc_challenge": (200, 4, 0.52), "openbookqa": (100, 4, 0.45),
    "triviaqa": (150, 0, 0.55),
    "hellaswag": (300, 4, 0.60), "winogrande": (250, 2, 0.72), "piqa": (250, 2, 0.79), "gsm8k": (150, 0, 0.50),
    "boolq": (300, 2, 0.82), "rte": (277, 2, 0.68),
    "truthfulqa_mc1": (250, 4, 0.36),
}
KNOWLEDGE = ("mmlu_", "arc_", "openbookqa", "triviaqa")
FIXED, DROP = 0.01, {True: 0.03, False: 0.0}  # share of documents fixed; net share lost (knowledge only)


def _flips(rng: np.random.Generator, correct: np.ndarray, knowledge: bool) -> np.ndarray:
    """The pruned run's correctness: a share of the dense run's right documents broken, of its wrong ones fixed."""
    out = correct.copy()
    n = len(correct)
    right, wrong = np.flatnonzero(correct), np.flatnonzero(~correct)
    n_fixed = round(FIXED * n)
    n_broken = n_fixed + round(DROP[knowledge] * n)  # net loss: DROP of the documents
    broken = rng.choice(right, size=min(len(right), n_broken), replace=False)
    fixed = rng.choice(wrong, size=min(len(wrong), n_fixed), replace=False)
    out[broken], out[fixed] = False, True
    return out


def _lls(rng: np.random.Generator, k: int, gold: int, correct: bool, base: np.ndarray | None,
         sharpness: float) -> list[float]:
    """Choice log-likelihoods whose argmax is the gold answer exactly when ``correct``."""
    lls = (base + rng.normal(0, 0.3, k)) if base is not None else rng.normal(-3.0, 1.0, k)
    top = int(np.argmax(lls))
    winner = gold if correct else (top if top != gold else (gold + 1 + int(rng.integers(k - 1))) % k)
    lls[winner] = lls.max() + rng.exponential(sharpness)
    if not correct and lls[gold] >= lls[winner]:
        lls[gold] = lls[winner] - 0.1
    return [round(float(x), 4) for x in lls]


def make(folder: Path, seed: int = 0, tasks: dict[str, tuple[int, int, float]] | None = None) -> None:
    """Write both runs under ``folder/runs``."""
    rng = np.random.default_rng(seed)
    for task, (n, k, accuracy) in (tasks or TASKS).items():
        knowledge = task.startswith(KNOWLEDGE)
        dense = rng.random(n) < accuracy
        pruned = _flips(rng, dense, knowledge)
        lines: dict[str, list[dict]] = {"dense": [], "pruned": []}
        for i in range(n):
            doc = {"question": f"Q{i} ({task})?"}
            prompt = f"Question: {doc['question']}\nAnswer:"
            if k == 0:
                target = f"answer {i}"
                for run, right in (("dense", dense[i]), ("pruned", pruned[i])):
                    answer = target if right else f"answer {i + 1}"
                    lines[run].append(generation_line(i, doc, prompt, target, answer))
                continue
            choices = ["ABCD"[c] for c in range(k)]
            gold = int(rng.integers(k))
            doc = {**doc, "choices": choices, "answer": gold}
            base = _lls(rng, k, gold, bool(dense[i]), None, 1.0)
            cand = _lls(rng, k, gold, bool(pruned[i]), np.array(base), 0.6)
            lines["dense"].append(choice_line(i, doc, prompt, choices, gold, base))
            lines["pruned"].append(choice_line(i, doc, prompt, choices, gold, cand))
        for run, rows in lines.items():
            write_samples(folder / "runs" / run, task, rows, DATE)


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
