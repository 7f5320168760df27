"""Customer-level features as of a cut-off date, shared by segmentation, churn and CLV.

Every feature is computed from rows dated on or before ``cutoff_date`` only (bookings by
``booking_date``, interactions by ``timestamp``, feedback by ``date``, customers by
``signup_date``), so adding later rows never changes a feature (no leakage).

Decisions
---------
- A booking is *completed* at the cut-off when it was booked on/before the cut-off, its status
  is ``completed`` (or ``confirmed``, or missing, or there is no status column) and - when the
  travel dates are known - the trip has ended (``travel_start + nights`` days) on/before the
  cut-off. Without travel dates a ``confirmed`` booking does not count (its trip may not have
  ended).
- Customers known at the cut-off: anyone with a booking (any status), interaction or feedback
  dated on/before the cut-off, plus customers-table rows with ``signup_date`` on/before it.
  Customers whose bookings were all cancelled (or not yet travelled) do **not** vanish: they
  appear with ``n_bookings == 0``, ``monetary_total == 0`` and missing (NaN/NaT) recency,
  dates and mixes.
- Amounts are taken as given after refunds: zero and negative amounts enter the totals.
- ``frequency`` follows the BTYD convention: the number of *repeat booking days* (distinct
  completed booking days minus one); several bookings on one day count once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from src.data.contract import (
    BOOKING_CHANNELS,
    COMPLAINT_CATEGORIES,
    DESTINATION_TYPES,
    PRODUCTS,
)

__all__ = ["completed_bookings", "customer_features", "CUSTOMER_ATTRIBUTES", "FeatureCache",
           "feature_cache", "activate_feature_cache", "data_fingerprint"]

CUSTOMER_ATTRIBUTES: tuple[str, ...] = (
    "member_tier",
    "customer_type",
    "acquisition_channel",
    "loyalty_member",
)
"""Columns copied from the customers table when present (a snapshot: not dated)."""

_MIX_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("product", "product", PRODUCTS),
    ("destination_type", "dest", DESTINATION_TYPES),
    ("channel", "channel", BOOKING_CHANNELS),
)
_DAY = np.timedelta64(1, "D")


def _timestamp(cutoff_date) -> pd.Timestamp:
    ts = pd.Timestamp(cutoff_date)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts


def _dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    return pd.to_datetime(s)


def _trip_end(bookings: pd.DataFrame) -> pd.Series | None:
    """End of trip (travel_start + nights days); ``None`` without travel_start."""
    if "travel_start" not in bookings.columns:
        return None
    start = _dates(bookings["travel_start"])
    if "nights" in bookings.columns:
        nights = pd.to_numeric(bookings["nights"], errors="coerce").fillna(0).to_numpy()
        end = start + pd.to_timedelta(nights, unit="D")
    else:
        end = start
    # trip dates unknown for a row: fall back to its booking date
    return end.fillna(_dates(bookings["booking_date"]))


def completed_bookings(bookings: pd.DataFrame, cutoff_date) -> pd.DataFrame:
    """Bookings that count as completed as of ``cutoff_date``.

    Parameters
    ----------
    bookings : contract ``bookings`` table, shape (n_bookings, ...); needs ``booking_date``,
        optionally ``status``, ``travel_start`` and ``nights`` (days).
    cutoff_date : date-like; the observation date.

    Returns
    -------
    pandas.DataFrame
        The rows (same columns, original index) booked on/before the cut-off whose status is
        ``completed`` (``confirmed`` too when travel dates are known; a missing status counts
        as completed) and, when ``travel_start`` exists, whose trip ended
        (``travel_start + nights`` days) on/before the cut-off.
    """
    return bookings.loc[_completed_mask(bookings, _timestamp(cutoff_date))]


def _completed_mask(bookings: pd.DataFrame, cutoff: pd.Timestamp) -> np.ndarray:
    """Boolean mask of :func:`completed_bookings` rows, shape (n_bookings,)."""
    mask = (_dates(bookings["booking_date"]) <= cutoff).to_numpy()
    end = _trip_end(bookings)
    if "status" in bookings.columns:
        status = bookings["status"]
        ok_status = status.isna() | (status == "completed")
        if end is not None:
            ok_status |= status == "confirmed"
        mask &= ok_status.to_numpy()
    if end is not None:
        mask &= (end <= cutoff).to_numpy()
    return mask


def _level_codes(values: pd.Series, contract_levels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes of ``values`` into the levels: contract levels first, then any other observed
    value (sorted), so the columns do not depend on row order; -1 for missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw, uniques = values.cat.codes.to_numpy(), values.cat.categories
        used = np.unique(raw[raw >= 0])
        uniques_used = uniques[used].astype(str)
    else:
        raw, uniques = pd.factorize(values)
        uniques_used = pd.Index(uniques).astype(str)
    extra = sorted(set(uniques_used) - set(contract_levels))
    levels = list(contract_levels) + extra
    lookup = pd.Index(levels).get_indexer(pd.Index(uniques).astype(str))
    lookup = np.append(lookup, -1)  # raw code -1 (missing) -> -1
    return lookup[raw], levels


def _count_matrix(codes: np.ndarray, k: np.ndarray, n_levels: int, n: int) -> np.ndarray:
    """(n, n_levels) counts of each level code ``k`` per customer code (-1 ignored)."""
    keep = k >= 0
    flat = codes[keep] * n_levels + k[keep]
    return np.bincount(flat, minlength=n * n_levels).reshape(n, n_levels)


def _mean(codes: np.ndarray, x: np.ndarray, n: int) -> np.ndarray:
    """Per-customer mean of ``x`` ignoring NaN; NaN where a customer has no value."""
    ok = ~np.isnan(x)
    s = np.bincount(codes[ok], weights=x[ok], minlength=n)
    c = np.bincount(codes[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def customer_features(
    bookings: pd.DataFrame,
    cutoff_date,
    *,
    customers: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row of features per customer known at ``cutoff_date``.

    Inside :func:`feature_cache` and for exactly the tables the cache was opened on (the
    same objects), the result is read from / written to the cache instead of recomputed.

    Parameters
    ----------
    bookings : contract ``bookings`` table (``customer_id``, ``booking_date``, ``amount``
        required; ``status``, ``travel_start``, ``nights``, ``party_size``, ``product``,
        ``destination_type``, ``channel`` optional).
    cutoff_date : date-like; only rows dated on/before it are used.
    customers, interactions, feedback : optional contract tables.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id`` (sorted), one row per known customer. Columns (those whose
        inputs are missing are absent; ``df.attrs["missing_inputs"]`` names the inputs):

        - ``n_bookings`` (completed), ``n_cancelled`` (status cancelled), ``n_no_show``,
          ``n_upcoming_trips`` (booked, not cancelled, trip not ended): int32
        - ``first_booking_date``, ``last_booking_date``: datetime64 (completed bookings)
        - ``recency_days`` (cut-off - last), ``tenure_days`` (cut-off - first),
          ``active_span_days`` (last - first), ``frequency`` (repeat booking days),
          ``avg_days_between_bookings`` (active span / frequency; NaN with one booking day):
          float32, days
        - ``monetary_total``, ``monetary_mean`` (per completed booking): float64, currency
        - ``lead_time_days_mean``, ``party_size_mean``, ``nights_mean``: float32
        - ``product_<p>``, ``dest_<d>``, ``channel_<c>``: float32 shares of completed
          bookings with a known value (NaN when none)
        - ``complaints_<category>``, ``complaints_total``: float32 counts
        - ``csat_mean``, ``nps_mean``, ``first_trip_csat``: float32
        - ``member_tier``, ``customer_type``, ``acquisition_channel`` (category),
          ``loyalty_member`` (boolean), copied from ``customers``.
    """
    cutoff = _timestamp(cutoff_date)
    cache = _ACTIVE_CACHE
    if cache is not None and cache.serves(bookings, customers, interactions, feedback):
        return cache.get(cutoff, lambda: _customer_features(
            bookings, cutoff, customers=customers, interactions=interactions, feedback=feedback))
    return _customer_features(bookings, cutoff, customers=customers, interactions=interactions,
                              feedback=feedback)


def _customer_features(
    bookings: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    customers: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
) -> pd.DataFrame:
    missing: list[str] = []
    b_cols = set(bookings.columns)

    booked = bookings.loc[(_dates(bookings["booking_date"]) <= cutoff).to_numpy()]
    done_mask = _completed_mask(booked, cutoff)
    done = booked.loc[done_mask]

    # ---- who is known at the cut-off -------------------------------------------------------
    id_sources = [booked["customer_id"]]
    inter = None
    if interactions is None:
        missing.append("interactions")
    else:
        day_after = cutoff.normalize() + pd.Timedelta(days=1)
        ts = _dates(interactions["timestamp"])
        inter = interactions.loc[(ts < day_after).to_numpy()]
        id_sources.append(inter["customer_id"])
    fb = None
    if feedback is None:
        missing.append("feedback")
    else:
        fb = feedback.loc[(_dates(feedback["date"]) <= cutoff).to_numpy()]
        id_sources.append(fb["customer_id"])
    if customers is None:
        missing.append("customers")
    elif "signup_date" in customers.columns:
        signed = customers.loc[(_dates(customers["signup_date"]) <= cutoff).to_numpy()]
        id_sources.append(signed["customer_id"])
    ids = pd.Index(pd.concat([pd.Series(s.to_numpy()) for s in id_sources]).unique())
    ids = ids.sort_values()
    ids.name = "customer_id"
    n = len(ids)
    out: dict[str, np.ndarray | pd.Series] = {}

    # ---- counts ------------------------------------------------------------------------------
    bcode = ids.get_indexer(booked["customer_id"]).astype(np.int64)
    code = bcode[done_mask]
    n_book = np.bincount(code, minlength=n)
    out["n_bookings"] = n_book.astype(np.int32)
    if "status" in b_cols:
        status = booked["status"]
        for name, value in (("n_cancelled", "cancelled"), ("n_no_show", "no_show")):
            out[name] = np.bincount(bcode[(status == value).to_numpy()], minlength=n).astype(
                np.int32
            )
    else:
        missing.append("bookings.status")
    if "travel_start" in b_cols:
        end = _trip_end(booked)
        not_cancelled = (
            ~booked["status"].isin(["cancelled", "no_show"]) if "status" in b_cols else True
        )
        upcoming = ((end > cutoff) & not_cancelled).to_numpy()
        out["n_upcoming_trips"] = np.bincount(bcode[upcoming], minlength=n).astype(np.int32)

    # ---- dates, recency, frequency -----------------------------------------------------------
    bdate = _dates(done["booking_date"]).to_numpy(dtype="datetime64[ns]")
    # one sort by (customer, date; ties in row order) gives first/last dates, booking days
    # and the first trip
    order = np.lexsort((bdate, code))
    sc, sd = code[order], bdate[order]
    starts = np.r_[True, sc[1:] != sc[:-1]] if len(sc) else np.zeros(0, bool)
    ends = np.r_[sc[1:] != sc[:-1], True] if len(sc) else np.zeros(0, bool)
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    last = first.copy()
    first[sc[starts]] = sd[starts]
    last[sc[ends]] = sd[ends]
    first_row = np.full(n, -1, dtype=np.int64)  # position in `done` of the first booking
    first_row[sc[starts]] = order[starts]
    out["first_booking_date"] = first
    out["last_booking_date"] = last
    cut64 = np.datetime64(cutoff.to_datetime64(), "ns")
    out["recency_days"] = _f32((cut64 - last) / _DAY)
    out["tenure_days"] = _f32((cut64 - first) / _DAY)
    span = (last - first) / _DAY
    out["active_span_days"] = _f32(span)
    sday = sd.astype("datetime64[D]")
    new_day = np.r_[True, (sc[1:] != sc[:-1]) | (sday[1:] != sday[:-1])] if len(sc) \
        else np.zeros(0, bool)
    n_days = np.bincount(sc[new_day], minlength=n)
    freq = np.maximum(n_days - 1, 0).astype(np.float64)
    out["frequency"] = _f32(freq)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["avg_days_between_bookings"] = _f32(np.where(freq > 0, span / freq, np.nan))

    # ---- money -------------------------------------------------------------------------------
    amount = pd.to_numeric(done["amount"], errors="coerce").to_numpy(dtype=np.float64)
    amount = np.nan_to_num(amount, nan=0.0)
    total = np.bincount(code, weights=amount, minlength=n).astype(np.float64)  # int64 if empty
    out["monetary_total"] = total
    with np.errstate(invalid="ignore", divide="ignore"):
        out["monetary_mean"] = np.where(n_book > 0, total / np.maximum(n_book, 1), np.nan)

    # ---- trip shape --------------------------------------------------------------------------
    if "travel_start" in b_cols:
        lead = (_dates(done["travel_start"]) - _dates(done["booking_date"])) / pd.Timedelta(days=1)
        out["lead_time_days_mean"] = _f32(_mean(code, lead.to_numpy(dtype=np.float64), n))
    else:
        missing.append("bookings.travel_start")
    for col in ("party_size", "nights"):
        if col in b_cols:
            x = pd.to_numeric(done[col], errors="coerce").to_numpy(dtype=np.float64)
            out[f"{col}_mean"] = _f32(_mean(code, x, n))
        else:
            missing.append(f"bookings.{col}")

    # ---- mixes -------------------------------------------------------------------------------
    for col, prefix, contract_levels in _MIX_COLUMNS:
        if col not in b_cols:
            missing.append(f"bookings.{col}")
            continue
        k, levels = _level_codes(done[col], contract_levels)
        counts = _count_matrix(code, k, len(levels), n)
        denom = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(denom > 0, counts / np.maximum(denom, 1), np.nan)
        for j, level in enumerate(levels):
            out[f"{prefix}_{level}"] = _f32(shares[:, j])

    # ---- complaints --------------------------------------------------------------------------
    if inter is not None:
        is_complaint = (inter["kind"] == "complaint").to_numpy()
        comp = inter.loc[is_complaint]
        ccode = ids.get_indexer(comp["customer_id"]).astype(np.int64)
        if "complaint_category" in inter.columns:
            k, levels = _level_codes(comp["complaint_category"], COMPLAINT_CATEGORIES)
            counts = _count_matrix(ccode, k, len(levels), n)
            for j, level in enumerate(levels):
                out[f"complaints_{level}"] = _f32(counts[:, j])
        else:
            missing.append("interactions.complaint_category")
        out["complaints_total"] = _f32(np.bincount(ccode, minlength=n))

    # ---- satisfaction ------------------------------------------------------------------------
    if fb is not None:
        fcode = ids.get_indexer(fb["customer_id"]).astype(np.int64)
        for col in ("csat", "nps"):
            if col in fb.columns:
                x = pd.to_numeric(fb[col], errors="coerce").to_numpy(dtype=np.float64)
                out[f"{col}_mean"] = _f32(_mean(fcode, x, n))
            else:
                missing.append(f"feedback.{col}")
        if "csat" in fb.columns:
            out["first_trip_csat"] = _f32(_first_trip_csat(done, first_row, fb, fcode, n))

    frame = pd.DataFrame(out, index=ids)

    # ---- customer attributes -----------------------------------------------------------------
    if customers is not None:
        attrs = customers.drop_duplicates("customer_id", keep="last").set_index("customer_id")
        for col in CUSTOMER_ATTRIBUTES:
            if col not in attrs.columns:
                missing.append(f"customers.{col}")
                continue
            s = attrs[col].reindex(ids)
            if col == "loyalty_member":
                s = s.astype("boolean")
            elif not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("category")
            frame[col] = s.values

    frame.attrs["missing_inputs"] = missing
    frame.attrs["cutoff_date"] = str(cutoff.date())
    return frame


def _first_trip_csat(
    done: pd.DataFrame, first_row: np.ndarray, fb: pd.DataFrame, fcode: np.ndarray, n: int
) -> np.ndarray:
    """CSAT of the first completed trip: the earliest survey linked to the customer's first
    completed booking by ``booking_id``; without that link (no ``booking_id`` in the surveys,
    or a survey without one), the customer's earliest survey."""
    res = np.full(n, np.nan)
    csat = pd.to_numeric(fb["csat"], errors="coerce").to_numpy(dtype=np.float64)
    date = _dates(fb["date"]).to_numpy(dtype="datetime64[ns]")
    has = ~np.isnan(csat)
    if not has.any():
        return res
    fb_ids = fb["booking_id"].to_numpy(dtype=object) if "booking_id" in fb.columns else None

    def earliest(rows: np.ndarray) -> None:
        rows = rows[np.lexsort((date[rows], fcode[rows]))]
        c = fcode[rows]
        start = np.r_[True, c[1:] != c[:-1]]
        todo = np.isnan(res[c[start]])
        res[c[start][todo]] = csat[rows[start][todo]]

    if fb_ids is not None and "booking_id" in done.columns and len(done):
        first_bid = np.full(n, None, dtype=object)
        known = first_row >= 0
        first_bid[known] = done["booking_id"].to_numpy(dtype=object)[first_row[known]]
        linked = has & (fb_ids == first_bid[fcode])
        earliest(np.flatnonzero(linked))
        unlinked = has & pd.isna(fb_ids)
        if unlinked.any():
            earliest(np.flatnonzero(unlinked))
        return res
    earliest(np.flatnonzero(has))
    return res


# --------------------------------------------------------------------------------------------
# cache: one computation per cut-off and run, shared by the notebooks of the run
# --------------------------------------------------------------------------------------------
_ACTIVE_CACHE: FeatureCache | None = None  # module state: a notebook kernel is one thread


class FeatureCache:
    """Customer features of one set of tables, kept as Parquet files per cut-off.

    A job computes the same features many times: segmentation at the cut-off, churn landmark
    frames a year and two years back, lifecycle stages now and a year ago, the scorer at the
    cut-off, each notebook in its own kernel. The cache computes each cut-off once per run.

    It serves only the very table objects it was opened with (identity, not equality), so a
    caller passing other tables (a filtered or edited copy) gets a fresh computation; a table
    changed in place is not detected, so code treats the loaded tables as read-only. The files are
    named by a fingerprint of the run's clean data files (names, sizes, modification times),
    so new data written by the data step never meets old features.

    Parameters
    ----------
    directory : folder of the cache files (created when needed).
    tables : the contract tables by name, as loaded (``bookings`` required).
    fingerprint : text identifying the data version; part of each file name.
    sources : table name -> the Parquet file the table was read from; with ``engine``
        ``"duckdb"`` (or ``"auto"`` and at least ``duckdb_min_bookings`` bookings) a missing
        cut-off is computed by DuckDB over these files
        (:func:`src.features.duckdb_features.customer_features_duckdb`, equal to the pandas
        result) instead of from the tables in memory.
    """

    def __init__(self, directory: str | Path, tables: Mapping[str, pd.DataFrame],
                 fingerprint: str, *, sources: Mapping[str, str | Path] | None = None,
                 engine: str = "pandas", duckdb_min_bookings: int = 20_000_000):
        if engine not in ("pandas", "duckdb", "auto"):
            raise ValueError(f"engine must be 'pandas', 'duckdb' or 'auto', not {engine!r}")
        if engine != "pandas" and not sources:
            raise ValueError("the duckdb engine needs the Parquet sources of the tables")
        self.directory = Path(directory)
        self.tables = dict(tables)
        self.fingerprint = fingerprint
        self.sources = dict(sources or {})
        self.engine = engine
        self.duckdb_min_bookings = duckdb_min_bookings
        self.engine_used: dict[str, str] = {}  # cut-off -> engine that computed it
        self.hits = 0
        self.misses = 0

    def _uses_duckdb(self) -> bool:
        if self.engine == "auto":
            return len(self.tables["bookings"]) >= self.duckdb_min_bookings
        return self.engine == "duckdb"

    def serves(self, bookings, customers, interactions, feedback) -> bool:
        """True when the four tables are the cache's own objects (absent = ``None``)."""
        given = {"bookings": bookings, "customers": customers, "interactions": interactions,
                 "feedback": feedback}
        return all(given[k] is self.tables.get(k) for k in given)

    def path(self, cutoff: pd.Timestamp) -> Path:
        """The cache file of a cut-off."""
        return self.directory / f"customer_features_{cutoff:%Y%m%dT%H%M%S}_{self.fingerprint}.parquet"

    def get(self, cutoff: pd.Timestamp, compute) -> pd.DataFrame:
        """The cached frame of ``cutoff``, else ``compute()`` written to the cache first."""
        path = self.path(cutoff)
        if path.exists():
            self.hits += 1
            return pd.read_parquet(path)
        self.misses += 1
        if self._uses_duckdb():
            from src.features.duckdb_features import customer_features_duckdb

            src = {k: v for k, v in self.sources.items() if k in self.tables}
            frame = customer_features_duckdb(
                src["bookings"], cutoff, customers=src.get("customers"),
                interactions=src.get("interactions"), feedback=src.get("feedback"),
                temp_directory=self.directory)
            self.engine_used[str(cutoff)] = "duckdb"
        else:
            frame = compute()
            self.engine_used[str(cutoff)] = "pandas"
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            frame.to_parquet(tmp)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
        except OSError:  # a cache that cannot be written is not an error: compute next time
            tmp.unlink(missing_ok=True)
        return frame


def data_fingerprint(files: Sequence[str | Path]) -> str:
    """Short hash of the names, sizes and modification times (ns) of ``files``."""
    h = hashlib.sha256()
    for f in sorted(map(Path, files)):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:12]


@contextmanager
def feature_cache(cache: FeatureCache | None) -> Iterator[FeatureCache | None]:
    """Within the block, :func:`customer_features` on the cache's tables uses ``cache``."""
    global _ACTIVE_CACHE
    before, _ACTIVE_CACHE = _ACTIVE_CACHE, cache
    try:
        yield cache
    finally:
        _ACTIVE_CACHE = before


def activate_feature_cache(cache: FeatureCache | None) -> None:
    """Use ``cache`` from now on in this process (a notebook kernel); ``None`` switches off."""
    global _ACTIVE_CACHE
    _ACTIVE_CACHE = cache
