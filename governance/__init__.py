"""pruning-governance: a release gate for pruned (compressed) ML models."""

__version__ = "0.1.0"
