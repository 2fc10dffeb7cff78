"""JSON Schemas of the files users script against, published by `governance schema` and in docs/schemas/."""

from __future__ import annotations

import json

from pydantic import TypeAdapter


def schemas() -> dict[str, dict]:
    from .evidence.schema import Evidence
    from .findings import Verdict
    from .manifest import Manifest
    from .monitor.contract import MonitoringContract
    from .policy import Policy

    return {name: TypeAdapter(model).json_schema() for name, model in
            (("evidence", Evidence), ("verdict", Verdict), ("policy", Policy), ("manifest", Manifest),
             ("monitoring", MonitoringContract))}


def schema_text(name: str) -> str:
    return json.dumps(schemas()[name], indent=2) + "\n"
