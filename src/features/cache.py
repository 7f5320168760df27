"""The per-run customer-feature cache, carried by the tables it serves.

A job computes the same customer features many times (segmentation at the cut-off, churn
landmark frames a year and two years back, lifecycle stages now and a year ago, the scorer),
each notebook in its own kernel. :class:`FeatureTables` are the run's contract tables with
their :class:`FeatureCache`; :func:`features_at` is what model code calls for the features at
a cut-off: from the cache when the tables carry one, computed otherwise. There is no
module-level state: the cache travels with the tables object that was loaded, and a caller
passing other tables (a filtered copy, a plain dict) gets a fresh computation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from src.features.attributes import TierRule
from src.features.customer import customer_features
from src.features.duckdb_features import (
    TABLE_NAMES,
    USED_COLUMNS,
    ParquetSource,
    customer_features_duckdb,
    parquet_num_rows,
    read_parquet_pandas,
)
from src.fileio import atomic_write
from src.layout import RunLayout

log = logging.getLogger(__name__)

__all__ = ["FeatureCache", "FeatureTables", "build_customer_features", "data_fingerprint",
           "attribute_columns", "empty_bookings", "features_at", "run_tables"]


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
                 engine: str = "pandas", duckdb_min_bookings: int = 20_000_000,
                 snapshot_date: Any = None, tier_rule: TierRule | None = None):
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
        self.snapshot_date = snapshot_date
        self.tier_rule = tier_rule
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
        if self._uses_duckdb() and "bookings" in self.sources:
            src = {k: v for k, v in self.sources.items() if k in self.tables}
            frame = customer_features_duckdb(
                src["bookings"], cutoff, customers=src.get("customers"),
                interactions=src.get("interactions"), feedback=src.get("feedback"),
                temp_directory=self.directory, snapshot_date=self.snapshot_date,
                tier_rule=self.tier_rule)
            self.engine_used[str(cutoff)] = "duckdb"
        else:
            frame = compute()
            self.engine_used[str(cutoff)] = "pandas"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(path, frame.to_parquet)  # a concurrent reader sees all or nothing
        except OSError:  # a cache that cannot be written is not an error: compute next time
            pass
        return frame


def data_fingerprint(files: Sequence[str | Path], extra: str = "") -> str:
    """Short hash of the names, sizes and modification times (ns) of ``files`` (and of
    ``extra``: settings that change the features, e.g. the snapshot date and tier rule)."""
    h = hashlib.sha256(extra.encode())
    for f in sorted(map(Path, files)):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:12]


class FeatureTables(dict):
    """Contract tables by name (a ``dict``) that carry what features at a cut-off need
    besides the rows: the feature cache of the run they were loaded from (``cache``:
    :class:`FeatureCache` or ``None``), the date the customers table describes
    (``snapshot_date``, the data's as-of date; None: unknown), the job's tier rule
    (``tier_rule``: :class:`~src.features.attributes.TierRule` or None), the extra customer
    attribute columns of the source (``attributes``: snapshot values of ``snapshot_date``,
    e.g. a subscription export's contract and monthly charges) and the tables the source did
    not have (``absent``: a customers-only snapshot has no ``bookings``; it is served as an
    empty contract table, :func:`empty_bookings`, so every customer has zero bookings)."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], cache: FeatureCache | None = None, *,
                 snapshot_date: Any = None, tier_rule: TierRule | None = None,
                 attributes: Sequence[str] = (), absent: Sequence[str] = ()):
        super().__init__(tables)
        self.cache = cache
        self.snapshot_date = None if snapshot_date is None else pd.Timestamp(snapshot_date)
        self.tier_rule = tier_rule
        self.attributes = tuple(attributes)
        self.absent = tuple(absent)

    @property
    def has_bookings(self) -> bool:
        """False for a customers-only snapshot (no transaction log in the source)."""
        return "bookings" not in self.absent and len(self.get("bookings", ())) > 0


def empty_bookings() -> pd.DataFrame:
    """The mandatory columns of the contract ``bookings`` table with no rows (``customer_id``
    text, ``booking_date`` datetime64[ns], ``amount`` float): what a customers-only snapshot
    is served as, so features at a cut-off give every customer zero bookings."""
    return pd.DataFrame({"customer_id": pd.Series([], dtype=object),
                         "booking_date": pd.Series([], dtype="datetime64[ns]"),
                         "amount": pd.Series([], dtype="float64")})


def attribute_columns(tables: Mapping[str, pd.DataFrame], cutoff_date: Any) -> tuple[
        list[str], list[str]]:
    """The extra customer attributes usable at a cut-off, and those left out.

    The attributes of a snapshot export describe its as-of date (``snapshot_date``): they are
    used at that date (or later) and left out at an earlier cut-off, where their values were
    not known (point in time). Tables without a snapshot date (as-of unknown) use them at
    every cut-off; plain dicts carry none.

    Returns
    -------
    (usable, left_out) : column names of the customers table.
    """
    names = [c for c in getattr(tables, "attributes", ())
             if tables.get("customers") is not None and c in tables["customers"].columns]
    snapshot = getattr(tables, "snapshot_date", None)
    if snapshot is not None and pd.Timestamp(cutoff_date).normalize() < snapshot.normalize():
        return [], names
    return names, []


def features_at(tables: Mapping[str, pd.DataFrame], cutoff_date: Any) -> pd.DataFrame:
    """:func:`~src.features.customer.customer_features` of contract tables at a cut-off.

    From the tables' own cache when they are :class:`FeatureTables` with a cache serving
    exactly these table objects; computed otherwise. Same frame either way (index
    ``customer_id``; see ``customer_features`` for columns and units). Tables without bookings
    (a customers-only snapshot) give every customer zero bookings. The tables' extra customer
    attributes (:attr:`FeatureTables.attributes`) are joined as columns when the cut-off is on
    or after their as-of date and left out before it (:func:`attribute_columns`); then
    ``attrs["attributes"]`` / ``attrs["attributes_left_out"]`` name them.
    """
    cutoff = pd.Timestamp(cutoff_date)
    snapshot_date = getattr(tables, "snapshot_date", None)
    tier_rule = getattr(tables, "tier_rule", None)
    usable, left_out = attribute_columns(tables, cutoff)

    def compute() -> pd.DataFrame:
        bookings = tables.get("bookings")
        frame = customer_features(empty_bookings() if bookings is None else bookings, cutoff,
                                  customers=tables.get("customers"),
                                  interactions=tables.get("interactions"),
                                  feedback=tables.get("feedback"), snapshot_date=snapshot_date,
                                  tier_rule=tier_rule)
        if usable:
            attrs = tables["customers"].drop_duplicates("customer_id", keep="last")
            joined = frame.join(attrs.set_index("customer_id")[usable], how="left")
            joined.attrs.update(frame.attrs)
            frame = joined
        if usable or left_out:  # the export's attributes: which are in, which not yet known
            frame.attrs["attributes"] = list(usable)
            frame.attrs["attributes_left_out"] = list(left_out)
        return frame

    cache = getattr(tables, "cache", None)
    if cache is not None and cache.serves(tables.get("bookings"), tables.get("customers"),
                                          tables.get("interactions"), tables.get("feedback")):
        return cache.get(cutoff, compute)
    return compute()


def run_tables(source: RunLayout, *, cache_dir: Path | None = None, cache_features: bool = True,
               with_pii: bool = False, tier_rule: TierRule | None = None) -> FeatureTables:
    """The clean contract tables of a run (:meth:`RunLayout.read_tables`) with its feature cache.

    Parameters
    ----------
    source : the run folder whose data step wrote the tables.
    cache_dir : where the feature cache files go; default the source run's own
        ``data/feature_cache/`` (an interactive notebook reading another run's tables passes
        its scratch folder, so the source run stays untouched).
    cache_features : False: no cache (every :func:`features_at` computes).
    with_pii : keep the personal-data columns (only the export needs them).
    tier_rule : the job's tier rule (``data.tier_rule``), to rebuild tiers as of each cut-off.

    The customers table describes the data's as-of date recorded by the data step
    (``as_of_date`` in ``data/inputs.json``): its snapshot columns are used at that date only,
    and so are the extra attribute columns the loader mapped (``sources.customers.attributes``
    of the record), which :func:`features_at` joins at that date. A customers-only snapshot
    (no ``bookings`` table) gets an empty bookings table (``absent`` names it).

    The engine (pandas, or DuckDB over the run's Parquet files for many bookings) is the
    job's ``data.features_engine``, recorded by the data step in ``data/inputs.json``.
    """
    tables = source.read_tables(with_pii=with_pii)
    record = source.read_inputs_record()
    absent = tuple(name for name in ("bookings",) if name not in tables)
    if absent:  # a customers-only snapshot: every customer has zero bookings
        tables["bookings"] = empty_bookings()
    attributes = (record.get("sources", {}).get("customers") or {}).get("attributes") or []
    if isinstance(attributes, Mapping):  # {name: source column}
        attributes = list(attributes)
    context = {"snapshot_date": record.get("as_of_date"), "tier_rule": tier_rule,
               "attributes": tuple(attributes), "absent": absent}
    if not cache_features:
        return FeatureTables(tables, **context)
    files = source.table_files()
    engine = record.get("features", {})
    settings = json.dumps([str(context["snapshot_date"]), repr(tier_rule), list(attributes)])
    cache = FeatureCache(
        cache_dir or source.feature_cache_dir, tables,
        data_fingerprint(list(files.values()), extra=settings),
        sources=files, engine=engine.get("engine", "pandas"),
        duckdb_min_bookings=engine.get("duckdb_min_bookings", 20_000_000),
        snapshot_date=context["snapshot_date"], tier_rule=tier_rule)
    return FeatureTables(tables, cache, **context)


def build_customer_features(
    paths: Mapping[str, ParquetSource],
    cutoff_date,
    *,
    engine: Literal["auto", "pandas", "duckdb"] = "auto",
    auto_threshold_rows: int = 20_000_000,
    **duckdb_kwargs,
) -> pd.DataFrame:
    """Customer features from Parquet tables, with pandas or DuckDB (same result).

    Parameters
    ----------
    paths : table name -> Parquet source (file, glob or list of files); keys among
        ``bookings`` (required), ``customers``, ``interactions``, ``feedback``; an absent key
        is an absent table.
    cutoff_date : date-like; the observation date.
    engine : ``"pandas"`` reads the used columns with pandas and calls
        :func:`~src.features.customer.customer_features`; ``"duckdb"`` calls
        :func:`customer_features_duckdb`; ``"auto"`` uses DuckDB when the bookings have more
        than ``auto_threshold_rows`` rows (counted from the Parquet footers).
    auto_threshold_rows : bookings rows above which ``"auto"`` picks DuckDB.
    **duckdb_kwargs : ``memory_limit``, ``threads``, ``temp_directory`` for DuckDB (ignored by
        the pandas engine).

    Returns
    -------
    pandas.DataFrame
        One row per customer known at the cut-off, as
        :func:`~src.features.customer.customer_features`.
    """
    unknown = sorted(set(paths) - set(TABLE_NAMES))
    if unknown:
        raise ValueError(f"unknown table names {unknown}; expected some of {list(TABLE_NAMES)}")
    if "bookings" not in paths:
        raise ValueError("paths must name the bookings Parquet file ('bookings')")
    if engine not in ("auto", "pandas", "duckdb"):
        raise ValueError(f"engine must be 'auto', 'pandas' or 'duckdb', not {engine!r}")
    if engine == "auto":
        n_rows = parquet_num_rows(paths["bookings"])
        engine = "duckdb" if n_rows > auto_threshold_rows else "pandas"
        log.info("customer features: %d bookings rows -> %s engine", n_rows, engine)
    others = {name: paths.get(name) for name in TABLE_NAMES if name != "bookings"}
    if engine == "duckdb":
        return customer_features_duckdb(paths["bookings"], cutoff_date, **others,
                                        **duckdb_kwargs)
    tables = {name: read_parquet_pandas(src, USED_COLUMNS[name])
              for name, src in {"bookings": paths["bookings"], **others}.items()
              if src is not None}
    return customer_features(tables["bookings"], cutoff_date,
                             customers=tables.get("customers"),
                             interactions=tables.get("interactions"),
                             feedback=tables.get("feedback"))
