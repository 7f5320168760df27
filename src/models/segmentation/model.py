"""The segmentation model: RFM scores and segments, value tiers and behavioural clusters
fitted together on one customer feature table (recency and tenure in days, bookings, revenue in
currency) and applied to new customers with one ``predict``; saved and loaded with joblib.
The clusters are labelled in the job's vocabulary (:mod:`src.vocabulary`).

A snapshot without transactions (no customer has a booking: a subscription export) is
segmented on its attributes and value: RFM needs bookings and is skipped (said in ``notes_``),
the value tiers rank the job's value column (e.g. ``monthly_charges``), and the clusters are
fitted on every customer over the attribute columns the features carry
(``features.attrs["attributes"]``, :func:`src.features.cache.features_at`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from src.models.base import ProjectModel
from src.models.frames import to_plain_dtypes
from src.models.segmentation.clusters import BehaviouralSegmenter, clone_segmenter
from src.models.segmentation.common import active_mask, require_columns
from src.models.segmentation.labels import make_labels
from src.models.segmentation.rfm import RFMScorer
from src.models.segmentation.tiers import ValueTiers
from src.vocabulary import Vocabulary

if TYPE_CHECKING:
    from src.params.schema import SegmentationParams

__all__ = ["SegmentationModel"]


class SegmentationModel(ProjectModel):
    """RFM scores/segments + value tiers + behavioural clusters, fitted together.

    Parameters
    ----------
    rfm, tiers, clusters : the (unfitted) parts; defaults use the default arguments.
    vocabulary : the words of the cluster labels (a :mod:`src.vocabulary` name or a
        :class:`~src.vocabulary.Vocabulary`): ``travel`` (``premium package
        travellers``), ``retail`` (``... shoppers``), ``subscription`` (``... subscribers``).

    Attributes
    ----------
    rfm_, tiers_, clusters_ : the fitted parts (``rfm_`` None for a snapshot without
        transactions).
    input_columns_ : the feature columns :meth:`predict` needs.
    notes_ : list[str] -- what was skipped and why.
    """

    _fitted_attribute = "clusters_"

    def __init__(
        self,
        rfm: RFMScorer | None = None,
        tiers: ValueTiers | None = None,
        clusters: BehaviouralSegmenter | None = None,
        vocabulary: str | Vocabulary = "travel",
    ) -> None:
        self.rfm = rfm
        self.tiers = tiers
        self.clusters = clusters
        self.vocabulary = vocabulary

    @classmethod
    def from_params(cls, params: SegmentationParams, seed: int,
                    vocabulary: str | Vocabulary = "travel") -> SegmentationModel:
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
        vocabulary : the job's ``vocabulary`` (top level of the params), the words of the
            cluster labels.

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
                   clusters=clusters, vocabulary=vocabulary)

    def fit(self, features: pd.DataFrame) -> SegmentationModel:
        """Fit all parts on a customer feature table (index ``customer_id``).

        Without any completed booking in ``features`` (a snapshot without transactions) RFM
        is skipped and the clusters use every customer and the attribute columns named in
        ``features.attrs["attributes"]`` (a ``ValueError`` when there are none)."""
        self.notes_: list[str] = []
        clusters = self.clusters or BehaviouralSegmenter()
        if active_mask(features).any():
            self.rfm_: RFMScorer | None = (self.rfm or RFMScorer()).fit(features)
        else:
            attributes = [c for c in features.attrs.get("attributes", []) if c in features]
            if not attributes:
                raise ValueError("no customer has a completed booking and the features carry "
                                 "no customer attributes: nothing to segment on")
            self.rfm_ = None
            clusters = clone_segmenter(clusters, features=attributes, population="all")
            self.notes_ += ["RFM skipped: no transactions (RFM needs bookings)",
                            f"clusters on the customer attributes {attributes}, every customer"]
        self.tiers_ = (self.tiers or ValueTiers()).fit(features)
        self.clusters_ = clusters.fit(features)
        self._label_clusters()
        rfm_cols = [] if self.rfm_ is None else self.rfm_.columns
        cols = [*rfm_cols, self.tiers_.value_col, *self.clusters_.features_in_]
        if "n_bookings" in features.columns:
            cols.append("n_bookings")
        self.input_columns_ = list(dict.fromkeys(cols))
        return self

    def _label_clusters(self) -> None:
        """Label the fitted clusters (their ``profiles_`` and ``labels_``, which the plots
        and :meth:`predict` read) in :attr:`vocabulary`."""
        prof = self.clusters_.profiles_
        prof["label"] = make_labels(prof, self.vocabulary)
        self.clusters_.labels_ = dict(zip(prof["cluster"], prof["label"], strict=True))

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
        if self.rfm_ is not None:
            rfm = self.rfm_.transform(features)
        else:  # a snapshot without transactions: no RFM
            rfm = pd.DataFrame({c: pd.Series(pd.NA, index=features.index, dtype=object)
                                for c in ("rfm_segment", "r_score", "f_score", "m_score",
                                          "fm_score")})
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
