"""Customer segmentation: RFM scores and named segments (:mod:`.rfm`), value tiers
(:mod:`.tiers`), behavioural clusters (:mod:`.clusters`, over the feature space of
:mod:`.preprocessing`, labelled by :mod:`.labels`), the three fitted together
(:mod:`.model`), its MLflow pyfunc (:mod:`.pyfunc`) and its evaluation against known types
(:mod:`.evaluation`). All read the customer feature table of
:func:`src.features.customer.customer_features` (index ``customer_id``; recency and tenure in
days, bookings, revenue in currency), are fitted once on a reference population and then
assign new customers without refitting; customers without a completed booking are never
dropped (segment ``"no_completed_booking"``, tier ``"small"``, cluster ``-1`` labelled
``"no completed booking"``). This package re-exports the public names, so
``from src.models import segmentation as seg; seg.SegmentationModel`` works.
"""

from __future__ import annotations

from src.models.segmentation.clusters import BehaviouralSegmenter, clone_segmenter
from src.models.segmentation.common import (
    NO_BOOKING_LABEL,
    NO_BOOKING_SEGMENT,
    NotFittedError,
)
from src.models.segmentation.evaluation import recovery_scores
from src.models.segmentation.model import SegmentationModel
from src.models.segmentation.preprocessing import (
    DEFAULT_FEATURE_WEIGHTS,
    FEATURE_GROUPS,
    LOG_FEATURES,
    signed_log1p,
)
from src.models.segmentation.rfm import DEFAULT_RFM_SEGMENT_RULES, UNMATCHED_SEGMENT, RFMScorer
from src.models.segmentation.tiers import DEFAULT_TIER_CUTOFFS, TIER_NAMES, ValueTiers

__all__ = [
    "DEFAULT_FEATURE_WEIGHTS",
    "DEFAULT_RFM_SEGMENT_RULES",
    "DEFAULT_TIER_CUTOFFS",
    "FEATURE_GROUPS",
    "LOG_FEATURES",
    "NO_BOOKING_LABEL",
    "NO_BOOKING_SEGMENT",
    "TIER_NAMES",
    "UNMATCHED_SEGMENT",
    "BehaviouralSegmenter",
    "NotFittedError",
    "RFMScorer",
    "SegmentationModel",
    "ValueTiers",
    "clone_segmenter",
    "recovery_scores",
    "signed_log1p",
]
