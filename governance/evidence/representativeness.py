"""Representativeness: how far the evaluation set's features are from the production sample's.

Per feature an effect size, not a p-value (a p-value flags everything at large sample sizes): the normed
Wasserstein distance for a numeric column and the Jensen-Shannon distance for a categorical one, Evidently's
defaults above 1,000 reference rows (``profile.py`` computes them, from every value for small sets and from
mergeable sketches beyond). Each slice's share in both datasets is ``evidence.production.slices``; the
``representativeness`` rule judges both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from .schema_base import Count, NonNegative, Share, _Frozen

if TYPE_CHECKING:
    from .profile import FeatureProfile

METHOD = ("per feature, evaluation set (reference) vs production sample (current), missing values left out and "
          "reported as each side's share: numeric columns, the Wasserstein-1 distance divided by the evaluation "
          "set's standard deviation (scipy.stats.wasserstein_distance / numpy.std); categorical columns (text, "
          "booleans, data.categorical, integer columns with at most 20 distinct values unless data.continuous), "
          "the Jensen-Shannon distance of the category shares (scipy.spatial.distance.jensenshannon, natural log, "
          "at most sqrt(ln 2) = 0.8326); exact while a column has at most {limit} values on a side, else from KLL "
          "sketches (k={k}) with the stated error bound")


class FeatureDistance(_Frozen):
    """How far one feature's values in the current data are from the reference's (``profile.feature_distances``)."""

    method: Literal["normed_wasserstein", "jensen_shannon"]
    distance: NonNegative | None = Field(description="the effect size; None: infinite or undefined (see note), "
                                                     "counted as drifted")
    reference_rows: Count
    current_rows: Count
    reference_missing_share: Share | None = Field(description="missing / rows in the reference (None: no rows)")
    current_missing_share: Share | None
    exact: bool = Field(description="computed from every value on both sides (else from the KLL sketches, or "
                                    "with an overflow bucket of categories)")
    error_bound: NonNegative = Field(0.0, description="|distance - exact distance| is at most this (0 when exact; from "
                                                "sketches it holds with the sketches' 99% confidence)")
    note: str | None = None

    @property
    def missing_share_change(self) -> float | None:
        """The current missing share minus the reference's (None while a side has no rows): the distance leaves
        missing values out, so this is what sees an input that arrives blank in most rows."""
        if self.current_missing_share is None or self.reference_missing_share is None:
            return None
        return self.current_missing_share - self.reference_missing_share


class Representativeness(_Frozen):
    """Per-feature effect sizes between the evaluation data and the production sample."""

    reference: Literal["evaluation"] = "evaluation"
    current: Literal["production"] = "production"
    method: str
    features: dict[str, FeatureDistance] = Field(description="feature -> its distance and missing shares")
    worst_feature: str | None = Field(description="the feature with the largest distance (an infinite one first)")
    worst_distance: NonNegative | None = Field(description="its distance; None: infinite or undefined (see the "
                                                     "feature's note)")
    exact: bool = Field(description="every distance was computed from every value")
    evaluation_summary: dict[str, dict[str, Any]] = Field(
        description="per feature: rows, missing, mean/std/min/max or the number of categories (the full "
                    "evaluation profile is evidence.feature_profile)")
    production_summary: dict[str, dict[str, Any]]
    production_profile: dict[str, Any] = Field(
        description="the production sample's FeatureProfile.to_json (mergeable; the monitor's reference)")


def distance_key(d: FeatureDistance) -> float:
    """Order for 'worst': an infinite or undefined distance (None) is worse than any number."""
    return float("inf") if d.distance is None else d.distance


def build_representativeness(evaluation: FeatureProfile, production: FeatureProfile) -> Representativeness:
    """The evidence from the two profiles (same features, split the same way into numeric and categorical)."""
    from .profile import KLL_K, feature_distances

    distances = feature_distances(evaluation, production)
    worst = max(distances, key=lambda name: distance_key(distances[name]), default=None)
    return Representativeness(
        method=METHOD.format(limit=f"{evaluation.exact_limit:,}", k=KLL_K),
        features=distances, worst_feature=worst,
        worst_distance=distances[worst].distance if worst is not None else None,
        exact=all(d.exact for d in distances.values()),
        evaluation_summary=evaluation.summary(), production_summary=production.summary(),
        production_profile=production.to_json())

