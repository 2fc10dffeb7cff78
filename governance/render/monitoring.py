"""monitoring.json: the contract ``governance monitor`` judges production windows against (governance/monitor/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import RenderContext


def monitoring_json(ctx: RenderContext) -> bytes:
    from ..monitor.contract import contract_json

    return contract_json(ctx.evidence)
