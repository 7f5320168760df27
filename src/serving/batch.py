"""Scoring outside a notebook: a feature file or SQL table in batches (``crm score``), or a
Spark DataFrame (past one machine), with a registered scorer.

Both load the scorer the MLflow registry names (``<name>@champion``, ``<name>/<version>``)
and call the same pyfunc as every other entry point; memory is bounded by one batch.
Units: rows, seconds, customers per second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from tqdm.auto import tqdm

from src.decisioning.scoring import MissingColumnsError
from src.fileio import atomic_write, neutralise_formulas
from src.models.frames import signature_dtypes
from src.serving.registry import resolve_model_uri

__all__ = ["score_file", "spark_score"]

# --------------------------------------------------------------------------------------------
# batch scoring of a file or SQL table (``crm score``)
# --------------------------------------------------------------------------------------------
_ARROW_TYPES = {"string": "string", "double": "float64", "long": "int64", "boolean": "bool"}


def _batches(source: str, table: str | None, batch_size: int):
    """(total rows or None, iterator of DataFrames) for a Parquet/CSV file or a SQL table."""
    if "://" in source:
        if not table:
            raise ValueError("--table is required with a database URL")
        engine = sa.create_engine(source)
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                raise ValueError(f"table {table!r} not found in {source}; tables: "
                                 f"{sa.inspect(conn).get_table_names()}")
            total = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar()

        def gen():
            with engine.connect() as conn:
                yield from pd.read_sql_query(sa.text(f'SELECT * FROM "{table}"'), conn,
                                             chunksize=batch_size)
        return int(total), gen()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"input {path} not found")
    if path.suffix == ".parquet":
        pf = pq.ParquetFile(path)
        return pf.metadata.num_rows, (b.to_pandas() for b in pf.iter_batches(batch_size))
    if path.suffix == ".csv":
        return None, pd.read_csv(path, chunksize=batch_size, encoding="utf-8-sig",
                                 dtype={"customer_id": str, "cutoff_date": str})
    raise ValueError(f"input {path}: use a .parquet or .csv file, or a database URL + --table")


def score_file(model: str, source: str, output: str | Path, *, table: str | None = None,
               batch_size: int = 100_000, show_progress: bool = True,
               client: Any | None = None) -> dict[str, Any]:
    """Score a feature table with a registered scorer, in batches, into Parquet or CSV.

    Parameters
    ----------
    model : ``<name>@<alias>``, ``<name>/<version>`` or ``<name>`` (its champion).
    source : ``.parquet`` / ``.csv`` file of :func:`scoring_features` rows, or a database
        URL (``sqlite:///crm.db``) with ``table``.
    output : ``.parquet`` or ``.csv`` (UTF-8 with BOM); written atomically.
    batch_size : rows per batch (memory is bounded by one batch).

    Returns
    -------
    dict with ``model_uri``, ``version``, ``rows``, ``seconds``, ``rows_per_second``.

    Raises
    ------
    src.serving.registry.UnknownModelError : unknown model / alias / version (lists them).
    MissingColumnsError : the input lacks columns the model needs (named).
    """
    output = Path(output)
    if output.suffix not in (".parquet", ".csv"):
        raise ValueError(f"output {output}: use a .parquet or .csv file")
    uri, version = resolve_model_uri(model, client)
    loaded = mlflow.pyfunc.load_model(uri)
    inputs = loaded.metadata.get_input_schema().input_names()
    out_types = {c.name: c.type.name for c in loaded.metadata.get_output_schema().inputs}
    schema = pa.schema([(n, pa.from_numpy_dtype(np.dtype(_ARROW_TYPES[t]))
                         if t != "string" else pa.string()) for n, t in out_types.items()])
    total, batches = _batches(source, table, batch_size)
    t0 = time.perf_counter()
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = None
        bar = tqdm(total=total, unit="customers", disable=not show_progress, desc="scoring")
        try:
            for i, batch in enumerate(batches):
                missing = [c for c in inputs if c not in batch.columns]
                if missing:
                    raise MissingColumnsError(missing, f"input {source}")
                scored = loaded.predict(signature_dtypes(batch[inputs]))
                if output.suffix == ".parquet":
                    tab = pa.Table.from_pandas(scored, schema=schema, preserve_index=False)
                    writer = writer or pq.ParquetWriter(tmp, schema)
                    writer.write_table(tab)
                else:
                    neutralise_formulas(scored).to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False,
                                  encoding="utf-8-sig" if i == 0 else "utf-8")
                rows += len(batch)
                bar.update(len(batch))
            if writer is None and output.suffix == ".parquet":
                pq.write_table(schema.empty_table(), tmp)
        finally:
            bar.close()
            if writer is not None:
                writer.close()

    atomic_write(output, write)
    secs = time.perf_counter() - t0
    return {"model_uri": uri, "version": version, "rows": rows, "seconds": secs,
            "rows_per_second": rows / secs if secs > 0 else float("nan"), "output": str(output)}


# --------------------------------------------------------------------------------------------
# Spark
# --------------------------------------------------------------------------------------------
def spark_score(spark: Any, model_uri: str, features: Any) -> Any:
    """Score a Spark DataFrame of :func:`scoring_features` rows with a logged scorer.

    Use it past one machine (tens of millions of customers, features already in Spark); on
    one machine ``crm score`` (pandas, in batches) is simpler and as fast per core. The
    registered model runs unchanged in each Spark worker through ``mlflow.pyfunc.spark_udf``
    (``env_manager="local"``: the workers need this project installed, as the driver).

    MLflow's ``spark_udf`` turns a missing value of a string column into the text
    ``"None"`` (it casts the column with ``astype(str)``); the string columns are set back to
    null here, so Spark scores equal pandas scores.

    Parameters
    ----------
    spark : ``pyspark.sql.SparkSession``.
    model_uri : e.g. ``models:/demo_scorer@champion`` (``<job>_scorer``).
    features : Spark DataFrame with the model's input columns (numbers as double).

    Returns
    -------
    Spark DataFrame with the scored columns (the model's output signature).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    inputs = mlflow.models.get_model_info(model_uri).signature.inputs.input_names()
    scored = features.withColumn("__scored", udf(F.struct(*inputs))).select("__scored.*")
    for field in scored.schema.fields:
        if isinstance(field.dataType, StringType):
            c = F.col(field.name)
            scored = scored.withColumn(field.name, F.when(c == "None", F.lit(None)).otherwise(c))
    return scored


