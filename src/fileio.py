"""Writing files so that a reader never sees half of one, and hashing them.

The one atomic-write helper and the one file-hash helper of the project: every record
(manifest, reports, JSON), table (Parquet, CSV), model file and export goes through
:func:`atomic_write` (temp file in the same folder, fsync, ``os.replace``); every input and
export hash is :func:`file_sha256`. A failed write (disk full, permissions) removes its temp
file and leaves the old file untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "file_sha256", "write_json_atomic", "write_text_atomic"]


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
