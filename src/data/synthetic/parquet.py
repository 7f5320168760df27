"""Writing synthetic data sets as Parquet, whole or generated chunk by chunk.

:func:`write_parquet` writes the four contract tables and ``truth`` as Parquet plus
``planted.json``, :func:`generate_to_parquet` generates and writes in one call, and
:func:`generate_chunks_to_parquet` writes a data set too large for memory as
``<table>/part-<i>.parquet`` files (about 3 GB of memory per million customers of a chunk).
Every file is written through a temporary file and renamed, so no reader sees a partial file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from src.data.synthetic.generator import SyntheticData, generate
from src.fileio import atomic_write

__all__ = [
    "generate_chunks_to_parquet",
    "generate_to_parquet",
    "write_parquet",
]


def write_parquet(data: SyntheticData, out_dir: str | Path) -> dict[str, Path]:
    """Write the four tables and ``truth`` as Parquet plus ``planted.json``.

    Parameters
    ----------
    data : a generated data set.
    out_dir : folder (created if missing).

    Returns
    -------
    dict
        ``{"customers", "bookings", "interactions", "feedback", "truth", "planted"}`` -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    frames = {**data.tables(), "truth": data.truth}
    for name, df in frames.items():
        path = out / f"{name}.parquet"
        atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        paths[name] = path
    path = out / "planted.json"
    text = json.dumps(data.planted, indent=2, ensure_ascii=False)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    paths["planted"] = path
    return paths


def generate_to_parquet(
    out_dir: str | Path, n_customers: int = 10_000, *, seed: int = 0, **kw: Any
) -> dict[str, Path]:
    """:func:`generate` then :func:`write_parquet`; ``kw`` go to :func:`generate`."""
    return write_parquet(generate(n_customers, seed=seed, **kw), out_dir)


def generate_chunks_to_parquet(
    out_dir: str | Path,
    n_customers: int,
    *,
    chunk_customers: int = 1_000_000,
    seed: int = 0,
    show_progress: bool = True,
    **kw: Any,
) -> dict[str, Path]:
    """Generate a data set too large for memory as Parquet parts, one chunk at a time.

    Chunk ``i`` is :func:`generate` of ``chunk_customers`` customers (the last one smaller)
    with seed ``(seed, i)`` and ``id_offset = i * chunk_customers``: every chunk follows the
    same personas and planted parameters, ids are distinct across chunks, and memory is that
    of one chunk (about 3 GB per million customers). E-mails and phone numbers are unique
    within a chunk only.

    Parameters
    ----------
    out_dir : folder; the result is ``<out_dir>/<table>/part-<i>.parquet`` for the four
        tables and ``truth``.
    n_customers : customers in all.
    chunk_customers : customers per chunk.
    seed : base seed.
    kw : passed to :func:`generate` (dates).

    Returns
    -------
    dict : table name -> its folder of parts.
    """
    from tqdm.auto import tqdm

    if n_customers < 1 or chunk_customers < 1:
        raise ValueError("n_customers and chunk_customers must be >= 1")
    out = Path(out_dir)
    n_chunks = -(-n_customers // chunk_customers)
    folders = {name: out / name for name in ("customers", "bookings", "interactions", "feedback",
                                             "truth")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i in tqdm(range(n_chunks), desc="generating chunks", unit="chunk", disable=not show_progress):
        n = min(chunk_customers, n_customers - i * chunk_customers)
        chunk_seed = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        data = generate(n, seed=chunk_seed, id_offset=i * chunk_customers, **kw)
        for name, df in {**data.tables(), "truth": data.truth}.items():
            path = folders[name] / f"part-{i:04d}.parquet"
            atomic_write(path, lambda p, df=df: df.to_parquet(p, index=False))
        del data
    return folders
