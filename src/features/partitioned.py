"""Scoring features for more customers than fit in pandas: partition by customer, then compute.

Every scoring feature of a customer depends on that customer's own rows only (bookings,
customers row, interactions, surveys). So the tables can be split into parts that each hold
*all* rows of a subset of customers, and the features of each part computed with the one
pandas implementation (:func:`src.decisioning.scoring.scoring_features`), giving exactly the
features of the whole. The split is done by DuckDB straight from Parquet to Parquet
(``hash(customer_id) % n_parts``) under a memory limit, spilling to disk, so neither the
bookings nor the result ever sit in memory whole: peak memory is that of one part.

This is the path of ``crm features`` and of the ten-million-customer benchmark
(``benchmarks/bench_scoring.py --sizes 10000000``); the weekly job at a million customers
keeps all tables in pandas.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from src.data.contract import TABLES
from src.features.duckdb_features import parquet_files, sql_literal
from src.features.scoring import scoring_features
from src.fileio import atomic_write

__all__ = ["contract_dtypes", "partition_by_customer", "partitioned_scoring_features"]

PathLike = str | Path
Source = PathLike | Sequence[PathLike]
_PART_COL = "_part"


def _sql_list(files: Sequence[str]) -> str:
    return "[" + ", ".join(sql_literal(f) for f in files) + "]"


def partition_by_customer(
    sources: Mapping[str, Source],
    out_dir: PathLike,
    n_parts: int,
    *,
    memory_limit: str = "2GB",
    threads: int | None = None,
) -> dict[str, Path]:
    """Split each table into ``n_parts`` Parquet folders by ``hash(customer_id) % n_parts``.

    Parameters
    ----------
    sources : table name (``bookings`` required; ``customers``, ``interactions``,
        ``feedback`` optional) -> Parquet file, folder, glob or list of them
        (:func:`src.features.duckdb_features.parquet_files`; a missing one raises
        :class:`src.data.errors.DataSourceError`).
    out_dir : folder of the result: ``<out_dir>/<table>/_part=<i>/*.parquet``.
    n_parts : number of parts (>= 1); a customer's rows of every table land in the same part.
    memory_limit : DuckDB memory limit (e.g. ``"2GB"``); beyond it DuckDB spills to
        ``<out_dir>/.spill``.
    threads : DuckDB threads (``None``: DuckDB's default, all cores).

    Returns
    -------
    dict : table name -> its partitioned folder.
    """
    import duckdb

    if n_parts < 1:
        raise ValueError(f"n_parts must be >= 1, got {n_parts}")
    unknown = sorted(set(sources) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; known: {list(TABLES)}")
    if "bookings" not in sources:
        raise ValueError("sources needs the bookings table")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{(out / '.spill').as_posix()}'")
        con.execute("SET preserve_insertion_order = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        folders = {}
        for name, source in sources.items():
            files = parquet_files(source)
            cols = [r[0] for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({_sql_list(files)})").fetchall()]
            if "customer_id" not in cols:
                raise ValueError(f"{name} ({files[0]}...) has no customer_id column")
            target = out / name
            shutil.rmtree(target, ignore_errors=True)
            con.execute(
                f"COPY (SELECT *, CAST(hash(customer_id) % {int(n_parts)} AS INTEGER) AS {_PART_COL} "
                f"FROM read_parquet({_sql_list(files)})) TO '{target.as_posix()}' "
                f"(FORMAT parquet, PARTITION_BY ({_PART_COL}))")
            folders[name] = target
    finally:
        con.close()
        shutil.rmtree(out / ".spill", ignore_errors=True)
    return folders


def _read_part(folder: Path, part: int) -> pd.DataFrame | None:
    files = sorted((folder / f"{_PART_COL}={part}").glob("*.parquet"))
    if not files:
        return None
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return frame.drop(columns=[_PART_COL], errors="ignore")


def contract_dtypes(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give a table read back from DuckDB-written Parquet the loader's dtypes (``category``
    with the contract's levels, nullable ``Int64`` / ``boolean``, ``datetime64[ns]``), which
    the round trip turns into plain strings, floats and objects. Columns outside the contract
    are left as they are."""
    spec = TABLES[table]
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        if col.kind == "category":
            dtype = pd.CategoricalDtype(list(col.allowed)) if col.allowed else "category"
            frame[col.name] = s.astype(dtype)
        elif col.kind == "int":
            frame[col.name] = pd.to_numeric(s).astype("Int64")
        elif col.kind == "bool":
            frame[col.name] = s.astype("boolean")
        elif col.kind in ("date", "datetime"):
            frame[col.name] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "float":
            frame[col.name] = pd.to_numeric(s).astype("float64")
    return frame


def partitioned_scoring_features(
    sources: Mapping[str, Source],
    cutoff_date: Any,
    out_path: PathLike,
    *,
    n_parts: int | None = None,
    customers_per_part: int = 1_000_000,
    settings: Any = None,
    work_dir: PathLike | None = None,
    memory_limit: str = "2GB",
    threads: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """:func:`src.decisioning.scoring.scoring_features` of tables too large for pandas, into Parquet.

    Parameters
    ----------
    sources : table name -> Parquet file, folder, glob or list (see
        :func:`partition_by_customer`); the tables in the contract's columns.
    cutoff_date : date-like; the features' cut-off.
    out_path : the ``.parquet`` file written (one row per customer; row groups per part).
    n_parts : number of parts; default ``ceil(customers / customers_per_part)`` with the
        customers counted by DuckDB.
    customers_per_part : customers per part when ``n_parts`` is not given; peak memory is
        about that of :func:`scoring_features` on this many customers (~3 GB per million).
    settings : :class:`src.decisioning.scoring.FeatureSettings`.
    work_dir : folder of the partitioned copy (removed afterwards); default a temporary one
        beside ``out_path``.
    memory_limit, threads : DuckDB settings of the partitioning.

    Returns
    -------
    dict with ``rows`` (customers), ``parts``, ``partition_seconds``, ``feature_seconds``,
    ``output``.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    out_path = Path(out_path)
    if out_path.suffix != ".parquet":
        raise ValueError(f"output {out_path}: use a .parquet file")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if n_parts is None:
        files = parquet_files(sources.get("customers", sources["bookings"]))
        con = duckdb.connect()
        try:
            n_customers = con.execute(f"SELECT count(DISTINCT customer_id) FROM "
                                      f"read_parquet({_sql_list(files)})").fetchall()[0][0]
        finally:
            con.close()
        n_parts = max(1, math.ceil(n_customers / customers_per_part))
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=".partitions-", dir=work_dir or out_path.parent))
    try:
        folders = partition_by_customer(sources, work, n_parts, memory_limit=memory_limit,
                                        threads=threads)
        t1 = time.perf_counter()
        rows = 0
        columns: list[str] | None = None

        def write(tmp: Path) -> None:
            nonlocal rows, columns
            writer = None
            try:
                for part in tqdm(range(n_parts), desc="features by part", unit="part",
                                 disable=not show_progress):
                    tables = {}
                    for name, folder in folders.items():
                        frame = _read_part(folder, part)
                        if frame is not None:
                            tables[name] = contract_dtypes(name, frame)
                    if "bookings" not in tables:
                        continue
                    feats = scoring_features(tables, cutoff_date, settings)
                    del tables
                    if columns is None:
                        columns = list(feats.columns)
                    extra = [c for c in feats.columns if c not in columns]
                    if extra:
                        raise ValueError(
                            f"part {part} has feature columns {extra} the first part had not "
                            "(a category level seen only in some customers' rows); add the level "
                            "to the contract or use fewer parts")
                    feats = feats.reindex(columns=columns)
                    for c in feats.columns:  # one Parquet schema for every part
                        if isinstance(feats[c].dtype, pd.CategoricalDtype):
                            feats[c] = feats[c].astype(object)
                        elif str(feats[c].dtype) == "boolean":
                            feats[c] = feats[c].astype("float32")
                    table = pa.Table.from_pandas(feats, preserve_index=False)
                    if writer is None:
                        schema = table.schema
                        writer = pq.ParquetWriter(tmp, schema)
                    writer.write_table(table.cast(schema))
                    rows += len(feats)
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:
                raise ValueError("no part holds any booking")

        atomic_write(out_path, write)
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"rows": rows, "parts": n_parts, "partition_seconds": t1 - t0,
            "feature_seconds": t2 - t1, "output": str(out_path)}
