"""Third-party rule kinds, from the ``pruning_governance.rules`` entry-point group.

A plugin is a package whose entry point names a check function marked with ``@rule(kind, Params)``, exactly like
the built-in ones (``Params`` subclasses ``RuleBase`` with a ``kind`` literal): the policy validates its rules with
``Params`` and the engine calls the check. A plugin cannot replace a built-in kind; a policy naming a kind no
installed plugin provides is bad input (exit 2) naming the kind. Every verdict records the distribution name and
version of each plugin its policy used (``verdict.policy.plugins``), so a decision can be reproduced.

    [project.entry-points."pruning_governance.rules"]
    min_rows = "my_rules:min_rows"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from ..errors import InputError
from .base import RuleKind, kind_of

GROUP = "pruning_governance.rules"
#: an entry point that does not load or is not a marked check (template: name, value, reason)
BAD_PLUGIN = ("rule plugin {name!r} ({value}) cannot be used: {reason}; fix or uninstall the package that "
              "provides it")
#: a plugin kind named like a built-in one (template: name, distribution)
SHADOWS_BUILTIN = "rule plugin {name!r} from {distribution} has the name of a built-in rule kind; rename it"
#: an entry point name that differs from the kind its check declares (template: name, kind)
NAME_MISMATCH = "its entry point is named {name!r} but its check declares kind {kind!r}"


@dataclass(frozen=True)
class Plugin:
    """One installed third-party rule kind and where it came from."""

    kind: RuleKind
    distribution: str
    version: str

    def record(self) -> dict[str, str]:
        return {"kind": self.kind.kind, "distribution": self.distribution, "version": self.version}


@lru_cache(maxsize=1)
def installed(builtin: frozenset[str]) -> dict[str, Plugin]:
    """Kind -> plugin for every entry point of the group (loaded once per process)."""
    found: dict[str, Plugin] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        version = ep.dist.version if ep.dist is not None else "unknown"
        if ep.name in builtin:
            raise InputError(None, "rule plugins", SHADOWS_BUILTIN.format(name=ep.name, distribution=dist))
        try:
            kind = kind_of(ep.load())
        except Exception as exc:  # noqa: BLE001 - any import failure of a third-party package is reported plainly
            raise InputError(None, "rule plugins", BAD_PLUGIN.format(
                name=ep.name, value=ep.value, reason=f"{exc.__class__.__name__}: {exc}")) from None
        if kind.kind != ep.name:
            raise InputError(None, "rule plugins", BAD_PLUGIN.format(
                name=ep.name, value=ep.value, reason=NAME_MISMATCH.format(name=ep.name, kind=kind.kind)))
        found[ep.name] = Plugin(kind, dist, version)
    return found
