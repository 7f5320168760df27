"""Writing files so that a reader never sees half of one, and hashing them.

The one atomic-write helper and the one file-hash helper of the project: every record
(manifest, reports, JSON), table (Parquet, CSV), model file and export goes through
:func:`atomic_write` (temp file in the same folder, fsync, ``os.replace``); every input and
export hash is :func:`file_sha256`. A failed write (disk full, permissions) removes its temp
file and leaves the old file untouched. Every CSV a person opens is first passed through
:func:`neutralise_formulas` (no cell a spreadsheet would evaluate).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMULA_STARTS", "atomic_write", "file_sha256", "neutralise_formulas",
           "write_json_atomic", "write_text_atomic"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to Excel, LibreOffice and Sheets
(OWASP CSV injection): ``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(...)``."""


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """The text cells of ``df`` that a spreadsheet would evaluate, prefixed with ``'`` (shown
    as text, the value readable); numbers, dates and other text untouched. For the CSV files
    people open; Parquet keeps the raw values.

    Returns
    -------
    A shallow copy with the text columns (object, string, categorical) rewritten where needed.
    """
    out = df.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):  # the levels, not the million rows
            cats = pd.Series(s.cat.categories)
            fixed = _neutralised(cats.astype(object))
            if fixed is not None:
                out[col] = s.cat.rename_categories(list(fixed))
        elif pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            fixed = _neutralised(s)
            if fixed is not None:
                out[col] = fixed
    return out


def _neutralised(s: pd.Series) -> pd.Series | None:
    """``s`` with its risky text cells prefixed with ``'``; None when it has none."""
    values = s.to_numpy(dtype=object, na_value=None)
    present = pd.notna(values)
    if not present.any():
        return None
    starts = pd.Series(values[present]).astype(str).str.startswith(FORMULA_STARTS).to_numpy()
    where = np.flatnonzero(present)[starts]
    risky = [i for i in where if isinstance(values[i], str)]
    if not risky:
        return None
    values = values.copy()
    values[risky] = ["'" + values[i] for i in risky]
    return pd.Series(values, index=s.index, name=s.name, dtype=object)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(tmp_path)``, then rename it over ``path``.

    The temporary file sits in the same folder (the rename is atomic on one file system) and
    is flushed to disk before the rename; on any error it is removed and ``path`` is untouched.

    Returns
    -------
    pathlib.Path : ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented UTF-8 JSON atomically (non-JSON values via ``str``)."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=str, ensure_ascii=False))


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes; of a folder: of its files' relative names and
    digests, in sorted order (so a folder of Parquet parts has one stable hash)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file_sha256(f).encode() + b"\n")
        return digest.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
