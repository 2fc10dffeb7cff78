"""evidence.json and verdict.json: pydantic's JSON, indented for diffs and review."""

from __future__ import annotations

import hashlib

from ..evidence.schema import Evidence
from ..findings import Verdict


def evidence_json(evidence: Evidence) -> bytes:
    return evidence.model_dump_json(indent=2).encode() + b"\n"


def verdict_json(verdict: Verdict) -> bytes:
    return verdict.model_dump_json(indent=2).encode() + b"\n"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
