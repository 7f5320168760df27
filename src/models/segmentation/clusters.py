"""Behavioural clusters of customers: k-means or a Gaussian mixture over the weighted feature
space of :mod:`src.models.segmentation.preprocessing`, with k chosen by silhouette or BIC,
clusters numbered by size, profiled (means in days, bookings, currency; shares) and labelled;
customers without a completed booking are cluster ``-1``. Fit time is in seconds."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline

from src.models.base import ProjectModel
from src.models.segmentation.common import (
    NO_BOOKING_LABEL,
    active_mask,
    check_fitted,
    require_columns,
)
from src.models.segmentation.labels import make_labels
from src.models.segmentation.preprocessing import (
    DEFAULT_FEATURE_WEIGHTS,
    FEATURE_GROUPS,
    SHARE_PREFIXES,
    build_preprocessor,
)

__all__ = ["BehaviouralSegmenter", "clone_segmenter"]


class BehaviouralSegmenter(ProjectModel):
    """Behavioural clusters over RFM, spend, trip shape, product/destination/channel mix,
    complaints and satisfaction.

    One scikit-learn ``Pipeline``: a ``ColumnTransformer`` (median imputation; signed log1p and
    standardisation for skewed numerics
    (:data:`~src.models.segmentation.preprocessing.LOG_FEATURES`); standardisation for other
    numerics such as CSAT/NPS; mix shares passed through, missing shares as 0; categorical
    attributes one-hot; each feature group weighted by ``weights``) followed by ``KMeans`` or
    ``GaussianMixture``. ``k`` is
    chosen over ``k_range`` by the criterion: silhouette (on a sample, higher is better) for
    k-means, BIC (lower is better) for the mixture. With more than ``sample_size`` customers
    the fit uses a random sub-sample, then assigns everybody. Clusters are numbered by size
    (0 = largest); customers without a completed booking are cluster ``-1``.

    Parameters
    ----------
    method : ``"kmeans"`` or ``"gmm"``.
    k_range : inclusive (k_min, k_max).
    criterion : ``"silhouette"`` or ``"bic"``; default silhouette for k-means, BIC for gmm.
    features : feature columns; default every present column of
        :data:`~src.models.segmentation.preprocessing.FEATURE_GROUPS` (RFM-type numerics,
        average spend, trip shape, complaints/satisfaction, the ``product_``/``dest_``/
        ``channel_`` shares and ``customer_type``).
    sample_size : maximum customers used to fit (``None``: all).
    seed : seed of sub-sampling, initialisation and silhouette sampling.
    weights : group -> weight, over
        :data:`~src.models.segmentation.preprocessing.DEFAULT_FEATURE_WEIGHTS` (columns outside
        the groups are in ``"other"``).
    covariance_type : covariance of the Gaussian mixture (``"diag"`` is fast; ``"full"``).
    n_init : initialisations per k (default 10 for k-means, where local optima are common,
        1 for the mixture).
    silhouette_sample_size : customers the silhouette is computed on.
    population : ``"booked"`` (default): customers with a completed booking are clustered,
        the others are cluster ``-1``; ``"all"``: every customer (a snapshot without
        transactions, clustered on its attributes: pass them as ``features``).

    Attributes
    ----------
    k_ : chosen number of clusters.
    criterion_ : DataFrame ``k``, ``score`` (the criterion per k), ``chosen``.
    pipeline_ : fitted ``Pipeline`` (``prep`` -> ``model``).
    features_in_ : list of feature columns used.
    profiles_ : DataFrame, one row per cluster (see :meth:`profile`).
    labels_ : dict cluster -> short unique human label.
    pca_ : 2-D PCA of the preprocessed fit sample (for plots).
    fit_seconds_ : wall time of ``fit`` (s).
    """

    _fitted_attribute = "labels_"

    def __init__(
        self,
        method: Literal["kmeans", "gmm"] = "kmeans",
        k_range: tuple[int, int] = (3, 10),
        criterion: Literal["silhouette", "bic"] | None = None,
        features: list[str] | None = None,
        sample_size: int | None = 50_000,
        seed: int = 0,
        *,
        weights: dict[str, float] | None = None,
        covariance_type: Literal["diag", "full", "tied", "spherical"] = "diag",
        n_init: int | None = None,
        silhouette_sample_size: int = 10_000,
        population: Literal["booked", "all"] = "booked",
    ) -> None:
        self.method = method
        self.k_range = k_range
        self.criterion = criterion
        self.features = features
        self.sample_size = sample_size
        self.seed = seed
        self.weights = weights
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.silhouette_sample_size = silhouette_sample_size
        self.population = population

    # -- configuration -------------------------------------------------------------------------
    def _active(self, features: pd.DataFrame) -> np.ndarray:
        """The customers that are clustered (the others are cluster ``-1``)."""
        if self.population == "all":
            return np.ones(len(features), dtype=bool)
        if self.population != "booked":
            raise ValueError(f"population must be 'booked' or 'all', got {self.population!r}")
        return active_mask(features)

    def _criterion(self) -> str:
        crit = self.criterion or ("silhouette" if self.method == "kmeans" else "bic")
        if self.method not in ("kmeans", "gmm"):
            raise ValueError(f"method must be 'kmeans' or 'gmm', got {self.method!r}")
        if crit not in ("silhouette", "bic"):
            raise ValueError(f"criterion must be 'silhouette' or 'bic', got {crit!r}")
        if crit == "bic" and self.method != "gmm":
            raise ValueError("the BIC criterion needs method='gmm'")
        return crit

    def _columns(self, features: pd.DataFrame) -> list[str]:
        if self.features is not None:
            require_columns(features, self.features, "BehaviouralSegmenter")
            return list(self.features)
        named = {c for group, cols in FEATURE_GROUPS.items() if group != "mix" for c in cols}
        return [c for c in features.columns
                if c in named or c.startswith(SHARE_PREFIXES)]

    def _weights(self) -> dict[str, float]:
        unknown = set(self.weights or {}) - set(DEFAULT_FEATURE_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown feature groups {sorted(unknown)}; "
                             f"use {sorted(DEFAULT_FEATURE_WEIGHTS)}")
        return {**DEFAULT_FEATURE_WEIGHTS, **(self.weights or {})}

    def _estimator(self, k: int):
        if self.method == "kmeans":
            return KMeans(n_clusters=k, n_init=self.n_init or 10, random_state=self.seed)
        return GaussianMixture(n_components=k, covariance_type=self.covariance_type,
                               n_init=self.n_init or 1, reg_covar=1e-3, random_state=self.seed)

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame) -> BehaviouralSegmenter:
        """Choose k, fit the pipeline, number clusters by size, profile and label them.

        Parameters
        ----------
        features : customer feature table, shape (n_customers, n_features), index
            ``customer_id``; customers without a completed booking are left out of the fit.
        """
        t0 = time.perf_counter()
        crit = self._criterion()
        k_min, k_max = int(self.k_range[0]), int(self.k_range[1])
        if not 2 <= k_min <= k_max:
            raise ValueError(f"k_range must satisfy 2 <= k_min <= k_max, got {self.k_range}")
        cols = self._columns(features)
        if not cols:
            raise ValueError("BehaviouralSegmenter: no usable feature column")
        active = self._active(features)
        X = features.loc[active, cols]
        if len(X) < k_max + 1:
            raise ValueError(f"too few customers with a completed booking ({len(X)}) for k={k_max}")
        rng = np.random.default_rng(self.seed)
        if self.sample_size is not None and len(X) > self.sample_size:
            rows = np.sort(rng.choice(len(X), size=self.sample_size, replace=False))
            X_fit = X.iloc[rows]
        else:
            X_fit = X
        prep = build_preprocessor(X, cols, self._weights())
        Z = prep.fit_transform(X_fit)
        sil_n = min(self.silhouette_sample_size, len(Z))
        sil_rows = rng.choice(len(Z), size=sil_n, replace=False)
        scores, models = [], {}
        for k in range(k_min, k_max + 1):
            est = self._estimator(k)
            if crit == "silhouette":
                lab = est.fit_predict(Z)
                score = (silhouette_score(Z[sil_rows], lab[sil_rows])
                         if len(np.unique(lab[sil_rows])) > 1 else -1.0)
            else:
                est.fit(Z)
                score = est.bic(Z)
            scores.append(float(score))
            models[k] = est
        scores_arr = np.asarray(scores)
        best = int(np.argmax(scores_arr) if crit == "silhouette" else np.argmin(scores_arr))
        self.k_ = k_min + best
        self.criterion_ = pd.DataFrame({"k": np.arange(k_min, k_max + 1), "score": scores_arr,
                                        "chosen": np.arange(k_min, k_max + 1) == self.k_})
        self.criterion_.attrs["criterion"] = crit
        self.criterion_name_ = crit
        self.pipeline_ = Pipeline([("prep", prep), ("model", models[self.k_])])
        self.features_in_ = cols
        self.pca_ = PCA(n_components=2, random_state=self.seed).fit(Z)
        # number clusters by size on all active customers (stable, readable ids)
        raw = self.pipeline_.predict(X)
        sizes = np.bincount(raw, minlength=self.k_)
        order = np.argsort(-sizes, kind="stable")
        self.cluster_map_ = np.empty(self.k_, dtype=np.int64)
        self.cluster_map_[order] = np.arange(self.k_)
        clusters = np.full(len(features), -1, dtype=np.int64)
        clusters[active] = self.cluster_map_[raw]
        self.profiles_ = self.profile(features, clusters)
        self.labels_ = dict(zip(self.profiles_["cluster"], self.profiles_["label"], strict=True))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # -- assign --------------------------------------------------------------------------------
    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Cluster per customer, shape (n_customers,), int64; -1 without completed booking."""
        check_fitted(self, "pipeline_")
        require_columns(features, self.features_in_, "BehaviouralSegmenter")
        active = self._active(features)
        out = np.full(len(features), -1, dtype=np.int64)
        if active.any():
            raw = self.pipeline_.predict(features.loc[active, self.features_in_])
            out[active] = self.cluster_map_[raw]
        return out

    def label(self, clusters: np.ndarray) -> np.ndarray:
        """Human label per cluster id (``-1`` ->
        :data:`~src.models.segmentation.common.NO_BOOKING_LABEL`)."""
        check_fitted(self, "labels_")
        lookup = {**self.labels_, -1: NO_BOOKING_LABEL}
        return np.array([lookup[c] for c in range(-1, self.k_)], dtype=object)[clusters + 1] \
            if len(clusters) else np.array([], dtype=object)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Preprocessed (scaled) features of customers with a completed booking."""
        check_fitted(self, "pipeline_")
        active = self._active(features)
        return self.pipeline_.named_steps["prep"].transform(
            features.loc[active, self.features_in_])

    def project(self, features: pd.DataFrame) -> pd.DataFrame:
        """2-D PCA coordinates (``pc1``, ``pc2``) and ``cluster`` of customers with a completed
        booking (the PCA was fitted in :meth:`fit`)."""
        active = self._active(features)
        xy = self.pca_.transform(self.transform(features))
        return pd.DataFrame({"pc1": xy[:, 0], "pc2": xy[:, 1],
                             "cluster": self.predict(features)[active]},
                            index=features.index[active])

    # -- describe ------------------------------------------------------------------------------
    def profile(self, features: pd.DataFrame, clusters: np.ndarray | None = None) -> pd.DataFrame:
        """Profile per cluster.

        Returns
        -------
        pandas.DataFrame
            One row per cluster (``-1`` last, when present): ``cluster``, ``label``, ``size``,
            ``share`` (of customers), ``revenue_share`` (of ``monetary_total``), mean
            ``recency_days``, ``frequency``, ``n_bookings``, ``monetary_total`` and
            ``monetary_mean`` (currency), ``tenure_days``, ``party_size_mean``,
            ``lead_time_days_mean``, ``nights_mean``, ``complaints_total``, ``csat_mean``,
            ``nps_mean``, ``corporate_share`` (those present), then ``top_product``/``top_destination``/
            ``top_channel`` and their mean shares.
        """
        if clusters is None:
            clusters = self.predict(features)
        means_of = [c for c in ("recency_days", "frequency", "n_bookings", "monetary_total",
                                "monetary_mean", "tenure_days", "party_size_mean",
                                "lead_time_days_mean", "nights_mean", "complaints_total",
                                "csat_mean", "nps_mean") if c in features.columns]
        shares = [c for c in features.columns if c.startswith(SHARE_PREFIXES)]
        frame = features[means_of + shares].astype("float64")
        frame["cluster"] = clusters
        g = frame.groupby("cluster")
        prof = g[means_of].mean()
        prof.insert(0, "size", g.size())
        prof.insert(1, "share", prof["size"] / len(frame))
        if "monetary_total" in frame:
            revenue = g["monetary_total"].sum()
            prof.insert(2, "revenue_share", revenue / frame["monetary_total"].clip(lower=0).sum())
        if "customer_type" in features.columns:
            corporate = (features["customer_type"].astype(object) == "corporate").to_numpy()
            prof["corporate_share"] = pd.Series(corporate, index=frame.index).groupby(
                clusters).mean()
        mix = g[shares].mean() if shares else pd.DataFrame(index=prof.index)
        for prefix, name in (("product_", "top_product"), ("dest_", "top_destination"),
                             ("channel_", "top_channel")):
            cols = [c for c in shares if c.startswith(prefix)]
            if not cols:
                continue
            sub = mix[cols]
            top = sub.fillna(-np.inf).idxmax(axis=1).str.slice(len(prefix))
            prof[name] = top.where(sub.notna().any(axis=1), None)
            prof[f"{name}_share"] = sub.max(axis=1)
        for col in getattr(self, "features_in_", []):  # attributes (a snapshot's contract, ...)
            if col in prof.columns or col.startswith(SHARE_PREFIXES) or col not in features:
                continue
            values = features[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                prof[col] = values.astype("float64").groupby(clusters).mean()
            else:
                levels = values.astype(object).where(values.notna(), "missing")
                top = levels.groupby(clusters).agg(lambda v: v.value_counts().idxmax())
                prof[f"top_{col}"] = top
                prof[f"top_{col}_share"] = (levels == top.reindex(clusters).to_numpy()).groupby(
                    clusters).mean()
        prof = prof.reset_index()
        prof = pd.concat([prof[prof["cluster"] >= 0], prof[prof["cluster"] < 0]],
                         ignore_index=True)
        prof.insert(1, "label", make_labels(prof))
        return prof

    # -- stability -----------------------------------------------------------------------------
    @property
    def summary(self) -> pd.DataFrame:
        """The cluster profiles (size, share, label and mean features per cluster)."""
        self.check_fitted()
        return self.profiles_

    def stability(self, features: pd.DataFrame, n_pairs: int = 3, seed: int = 0) -> float:
        """Mean adjusted Rand index between fits (at the chosen ``k_``) on two random disjoint
        halves of the customers, both fits assigning all customers with a completed booking."""
        check_fitted(self, "k_")
        active_features = features.loc[self._active(features)]
        rng = np.random.default_rng(seed)
        scores = []
        for _ in range(n_pairs):
            perm = rng.permutation(len(active_features))
            half = len(perm) // 2
            preds = []
            for rows in (perm[:half], perm[half:]):
                twin = clone_segmenter(self, k_range=(self.k_, self.k_))
                twin.fit(active_features.iloc[np.sort(rows)])
                preds.append(twin.predict(active_features))
            scores.append(adjusted_rand_score(preds[0], preds[1]))
        self.stability_scores_ = scores
        return float(np.mean(scores))


def clone_segmenter(seg: BehaviouralSegmenter, **overrides: Any) -> BehaviouralSegmenter:
    """An unfitted copy of ``seg`` with some constructor arguments replaced."""
    kw = {k: getattr(seg, k) for k in ("method", "k_range", "criterion", "features",
                                       "sample_size", "seed", "weights", "covariance_type", "n_init",
                                       "silhouette_sample_size", "population")}
    kw.update(overrides)
    return BehaviouralSegmenter(**kw)
