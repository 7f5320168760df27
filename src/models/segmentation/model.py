"""The segmentation model: RFM scores and segments, value tiers and behavioural clusters
fitted together on one customer feature table (recency and tenure in days, bookings, revenue in
currency) and applied to new customers with one ``predict``; saved and loaded with joblib."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from src.models.base import ProjectModel
from src.models.frames import to_plain_dtypes
from src.models.segmentation.clusters import BehaviouralSegmenter
from src.models.segmentation.common import require_columns
from src.models.segmentation.rfm import RFMScorer
from src.models.segmentation.tiers import ValueTiers

if TYPE_CHECKING:
    from src.params.schema import SegmentationParams

__all__ = ["SegmentationModel"]


class SegmentationModel(ProjectModel):
    """RFM scores/segments + value tiers + behavioural clusters, fitted together.

    Parameters
    ----------
    rfm, tiers, clusters : the (unfitted) parts; defaults use the default arguments.

    Attributes
    ----------
    rfm_, tiers_, clusters_ : the fitted parts.
    input_columns_ : the feature columns :meth:`predict` needs.
    """

    _fitted_attribute = "clusters_"

    def __init__(
        self,
        rfm: RFMScorer | None = None,
        tiers: ValueTiers | None = None,
        clusters: BehaviouralSegmenter | None = None,
    ) -> None:
        self.rfm = rfm
        self.tiers = tiers
        self.clusters = clusters

    @classmethod
    def from_params(cls, params: SegmentationParams, seed: int) -> SegmentationModel:
        """The unfitted model a job's ``segmentation:`` params section describes.

        Parameters
        ----------
        params : the ``segmentation`` section (``rfm``: ``n_bins``, ``segment_rules``;
            ``tiers``: ``cutoffs`` as cumulative value shares, ``value_col`` in currency;
            ``clusters``: ``method``, ``k_range``, ``criterion``, ``sample_size`` in customers,
            ``weights``). Segment rules are pydantic models, turned into dicts without the
            unset (None) score keys; no rules (None or empty):
            :data:`~src.models.segmentation.rfm.DEFAULT_RFM_SEGMENT_RULES`.
        seed : the job's seed, used by the behavioural clusters.

        Returns
        -------
        SegmentationModel
            Not fitted: call :meth:`fit` on the customer features.
        """
        rules = ([r.model_dump(exclude_none=True) for r in params.rfm.segment_rules]
                 if params.rfm.segment_rules else None)
        cp = params.clusters
        clusters = BehaviouralSegmenter(method=cp.method, k_range=tuple(cp.k_range),
                                        criterion=cp.criterion, sample_size=cp.sample_size,
                                        weights=cp.weights, seed=seed)
        return cls(rfm=RFMScorer(n_bins=params.rfm.n_bins, segment_rules=rules),
                   tiers=ValueTiers(cutoffs=tuple(params.tiers.cutoffs),
                                    value_col=params.tiers.value_col),
                   clusters=clusters)

    def fit(self, features: pd.DataFrame) -> SegmentationModel:
        """Fit all parts on a customer feature table (index ``customer_id``)."""
        self.rfm_ = (self.rfm or RFMScorer()).fit(features)
        self.tiers_ = (self.tiers or ValueTiers()).fit(features)
        self.clusters_ = (self.clusters or BehaviouralSegmenter()).fit(features)
        cols = [*self.rfm_.columns, self.tiers_.value_col, *self.clusters_.features_in_]
        if "n_bookings" in features.columns:
            cols.append("n_bookings")
        self.input_columns_ = list(dict.fromkeys(cols))
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segments per customer.

        Parameters
        ----------
        features : customer features, index ``customer_id`` (or a ``customer_id`` column).

        Returns
        -------
        pandas.DataFrame
            One row per input row, columns ``customer_id``, ``rfm_segment``, ``r_score``,
            ``f_score``, ``m_score``, ``fm_score``, ``value_tier``, ``cluster``,
            ``cluster_label``.
        """
        self.check_fitted()
        if "customer_id" in features.columns:
            features = features.set_index("customer_id")
        require_columns(features, self.input_columns_, "SegmentationModel")
        rfm = self.rfm_.transform(features)
        cluster = self.clusters_.predict(features)
        out = pd.DataFrame(
            {
                "customer_id": features.index.to_numpy(),
                "rfm_segment": rfm["rfm_segment"].to_numpy(),
                "r_score": rfm["r_score"].to_numpy(),
                "f_score": rfm["f_score"].to_numpy(),
                "m_score": rfm["m_score"].to_numpy(),
                "fm_score": rfm["fm_score"].to_numpy(),
                "value_tier": self.tiers_.transform(features).to_numpy(),
                "cluster": cluster,
                "cluster_label": self.clusters_.label(cluster),
            }
        )
        return out

    def model_input(self, features: pd.DataFrame) -> pd.DataFrame:
        """``customer_id`` and the input columns in the dtypes of the logged signature."""
        self.check_fitted()
        if "customer_id" not in features.columns:
            features = features.reset_index()
        return to_plain_dtypes(features[["customer_id", *self.input_columns_]], ints_as_float=True)

    @property
    def summary(self) -> pd.DataFrame:
        """The behavioural clusters' profiles (size, share and mean features per cluster)."""
        self.check_fitted()
        return self.clusters_.profiles_
