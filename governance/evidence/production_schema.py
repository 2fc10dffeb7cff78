"""The evidence about a production sample: slice shares, representativeness, agreement on production rows, the
label-free estimate and production-weighted metrics (``evidence.production``)."""

from __future__ import annotations

from pydantic import Field

from .production_agreement import LabelFreeEstimate, ProductionAgreement
from .representativeness import Representativeness
from .schema_base import Count, FileRef, NonNegative, Share, _Frozen
from .weighting import WeightedEvidence


class SliceShare(_Frozen):
    """One slice's rows in the evaluation data and in the production sample."""

    evaluation_rows: Count
    production_rows: Count
    evaluation_share: Share | None = Field(description="evaluation_rows / evaluation rows")
    production_share: Share | None = Field(description="production_rows / production rows")
    share_ratio: NonNegative | None = Field(description="production_share / evaluation_share: above 1 the "
                                                        "evaluation set under-represents the slice; None when the "
                                                        "evaluation set has none of it")


class CellShare(_Frozen):
    """One cell (a combination of the sensitive columns present in production) in both datasets."""

    key: list[str]
    evaluation_rows: Count
    production_rows: Count


class ProductionEvidence(_Frozen):
    """What the production sample shows (``production:`` in the manifest)."""

    file: FileRef
    rows: Count
    labelled: bool = Field(description="a target column was given (production labels known)")
    labelled_rows: Count = Field(0, description="rows whose label is known (the target column's non-missing values)")
    sensitive: list[str] = Field(description="the sensitive columns present in the production file (the cells' key)")
    missing_sensitive: list[str] = Field(default_factory=list, description="sensitive columns the production file "
                                                                           "lacks: no slice shares for them")
    unrecorded: list[str] = Field(default_factory=list, description="the missing sensitive columns the manifest "
                                                                    "declares production does not record "
                                                                    "(production.unrecorded); any other missing one "
                                                                    "leaves the rules that weight or slice production "
                                                                    "inconclusive")

    @property
    def undeclared_missing(self) -> list[str]:
        """Sensitive columns the production file lacks without the manifest saying production does not record them
        (a column dropped by an export, or evidence from an older version): a shift in them would go unseen."""
        return [c for c in self.missing_sensitive if c not in self.unrecorded]
    slices: dict[str, dict[str, SliceShare]] = Field(
        default_factory=dict, description="dimension -> slice value -> rows and shares in both datasets (the "
                                          "dimensions whose columns are all present in production)")
    cells: list[CellShare] = Field(default_factory=list, description="every cell of either dataset")
    representativeness: Representativeness | None = None
    agreement: ProductionAgreement | None = None
    estimate: LabelFreeEstimate | None = None
    weighted: WeightedEvidence | None = None
    notes: list[str] = Field(default_factory=list)
