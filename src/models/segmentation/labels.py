"""Human labels of behavioural clusters from their profiles: adjectives from the cluster's
recency (days), frequency (bookings) and spend per booking (currency) relative to the median
cluster, the dominant destination type (the data's value), and a noun from the customer type,
party size or dominant product, worded in the job's vocabulary
(:mod:`src.vocabulary`: ``travellers``, ``shoppers``, ``subscribers``, ...); labels are
made unique."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.models.segmentation.common import NO_BOOKING_LABEL
from src.vocabulary import Vocabulary
from src.vocabulary import vocabulary as vocabulary_named

__all__ = ["make_labels"]


def make_labels(prof: pd.DataFrame, vocabulary: str | Vocabulary = "travel") -> list[str]:
    """Short unique labels from cluster profiles.

    Adjectives compare a cluster's mean with the customer-weighted median of the cluster means
    (robust to one extreme cluster): ``lapsed`` (recency >= 1.5x), ``frequent`` (frequency
    >= 1.6x), ``luxury`` (spend per booking >= 5x), ``premium`` (>= 2x), ``budget`` (<= 0.5x);
    then the dominant destination type (share >= 0.45) and a noun from the customer type,
    party size or dominant product, in ``vocabulary`` (a name or a
    :class:`~src.vocabulary.Vocabulary`; ``travel``: ``corporate travellers``,
    ``business travellers``, ``families``, ``package travellers``, ``travellers``).
    """
    vocab = vocabulary_named(vocabulary)
    act = prof[prof["cluster"] >= 0]
    w = act["size"].to_numpy(dtype=np.float64)

    def median(col: str) -> float:
        if col not in act or act[col].isna().all():
            return np.nan
        ok = act[col].notna().to_numpy()
        v, vw = act[col].to_numpy(dtype=np.float64)[ok], w[ok]
        order = np.argsort(v)
        cum = np.cumsum(vw[order])
        return float(v[order][np.searchsorted(cum, cum[-1] / 2)])

    ref = {c: median(c) for c in ("frequency", "monetary_mean", "recency_days")}
    labels, extras = [], []
    for _, row in prof.iterrows():
        if row["cluster"] < 0:
            labels.append(NO_BOOKING_LABEL)
            extras.append([])
            continue
        words = []
        if _ratio(row, "recency_days", ref) >= 1.5:
            words.append("lapsed")
        if _ratio(row, "frequency", ref) >= 1.6:
            words.append("frequent")
        spend = _ratio(row, "monetary_mean", ref)
        if spend >= 5:
            words.append("luxury")
        elif spend >= 2:
            words.append("premium")
        elif spend <= 0.5:
            words.append("budget")
        dest = row.get("top_destination")
        if isinstance(dest, str) and row.get("top_destination_share", 0) >= 0.45:
            words.append(dest)
        product = row.get("top_product")
        product_share = row.get("top_product_share", 0)
        if row.get("corporate_share", 0) >= 0.5:
            noun = vocab.corporate
        elif product in vocab.lead_products and product_share >= 0.4:
            noun = vocab.lead_products[product]
        elif row.get("party_size_mean", 0) >= 2.8:
            noun = vocab.families
        elif isinstance(product, str) and product_share >= 0.4:
            noun = vocab.product_noun(product)
        else:
            noun = vocab.customers
        labels.append(" ".join([*words, noun]))
        channel = row.get("top_channel")
        extras.append([f"via {channel}"] if isinstance(channel, str) else [])
    # make unique: first add the channel, then number what is still duplicated
    labels = np.array(labels, dtype=object)
    for _ in range(2):
        vals, counts = np.unique(labels, return_counts=True)
        dup = set(vals[counts > 1])
        if not dup:
            break
        for i, lab in enumerate(labels):
            if lab in dup and extras[i]:
                labels[i] = f"{lab} ({extras[i].pop(0)})"
    seen: dict[str, int] = {}
    final = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        final.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    if len(set(final)) < len(final):  # a numbered label collided with an existing one
        final = [f"{lab} [{i}]" for i, lab in enumerate(final)]
    return final


def _ratio(row: pd.Series, col: str, ref: dict[str, float]) -> float:
    v, r = row.get(col, np.nan), ref.get(col, np.nan)
    if pd.isna(v) or pd.isna(r) or r <= 0:
        return 1.0
    return float(v) / r
