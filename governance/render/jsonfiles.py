"""evidence.json and verdict.json: pydantic's JSON, indented for diffs and review."""

from __future__ import annotations

import hashlib
import weakref

from ..evidence.schema import Evidence
from ..findings import Verdict

#: the last evidence written and its bytes: the gate hashes evidence.json into the verdict, then writes it (an
#: evidence is frozen, so the same object gives the same bytes); dropped with the evidence
_last: tuple[weakref.ref[Evidence], bytes] | None = None


def _forget(_: object) -> None:
    global _last
    _last = None


def evidence_json(evidence: Evidence) -> bytes:
    """The evidence's JSON, made once per evidence (tens of MB for 20,000 slices)."""
    global _last
    if _last is not None and _last[0]() is evidence:
        return _last[1]
    content = evidence.model_dump_json(indent=2).encode() + b"\n"
    _last = (weakref.ref(evidence, _forget), content)
    return content


def verdict_json(verdict: Verdict) -> bytes:
    return verdict.model_dump_json(indent=2).encode() + b"\n"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
