"""Sniff a text export: is it whole, how is it encoded, delimited and headed, how many rows.

The first stage of the front door after locating the file. :func:`sniff_file` reads the file
once, whole (decompressing ``.gz`` / ``.bz2`` / ``.xz`` as it goes), so that what it says is
proven on every byte, not on a sample:

- **integrity**: a compressed file that ends early or is corrupt is refused naming the
  bytes it held (a truncated download is the usual cause);
- **encoding**: a byte-order mark says UTF-8 (``utf-8-sig``); otherwise the first of UTF-8,
  GBK (only when the text is common Chinese), cp1252 and latin-1 that decodes the whole
  file;
- **delimiter**: the one of ``,`` ``;`` tab ``|`` that splits the first lines into the same
  number (at least two) of fields, the most fields winning;
- **header**: the first line must name the columns (no field of it a number or a date);
- **rows**: a file with a header and no data rows is refused as such (the rows are counted
  by DuckDB when the columns are profiled).

The decimal mark and the date formats are the columns' business (proven per column over the
whole file by :mod:`src.data.recognition.profile`). :func:`utf8_file` gives the file as plain
UTF-8 for DuckDB (the file itself when it already is). Every refusal is a
:class:`~src.data.errors.DataSourceError` naming the file and what to do.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from src.data.errors import DataSourceError

__all__ = [
    "DELIMITERS",
    "Sniffed",
    "decode_candidates",
    "open_binary",
    "read_whole",
    "sniff_file",
    "utf8_file",
]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_ENCODINGS: tuple[str, ...] = ("utf-8", "gbk", "cp1252", "latin-1")
_HEAD_LINES = 200
_CHUNK = 1 << 20
_NUMBER_OR_DATE = re.compile(r"^[+-]?[\d.,]+$|^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|"
                             r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass(frozen=True)
class Sniffed:
    """What :func:`sniff_file` found.

    Attributes
    ----------
    path : the file.
    encoding : ``utf-8``, ``utf-8-sig`` (byte-order mark), ``gbk``, ``cp1252`` or ``latin-1``.
    delimiter : the field separator.
    names : the header's column names (blanks and a byte-order mark stripped).
    size : bytes of the uncompressed text.
    compression : ``gz``, ``bz2``, ``xz`` or ``None``.
    """

    path: Path
    encoding: str
    delimiter: str
    names: list[str] = field(default_factory=list)
    size: int = 0
    compression: str | None = None

    @property
    def duckdb_native(self) -> bool:
        """Whether DuckDB reads the file as it is (UTF-8, plain or gzip)."""
        return self.encoding in ("utf-8", "utf-8-sig") and self.compression in (None, "gz")


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed by its suffix (``.gz``, ``.bz2``, ``.xz``)."""
    opener = _OPENERS.get(path.suffix.lower())
    return opener(path, "rb") if opener else open(path, "rb")


def _truncated(path: Path, got: int, exc: BaseException) -> DataSourceError:
    size = path.stat().st_size
    return DataSourceError(
        f"{path.name} is truncated or corrupt: its {path.suffix.lstrip('.')} stream ends after "
        f"{got:,} bytes of text ({size:,} bytes on disk; {type(exc).__name__}: {exc})",
        file=str(path),
        hint="copy or download the file again (a transfer that stopped early leaves such a "
        "file), or export it uncompressed")


def read_whole(path: Path) -> Iterator[bytes]:
    """The file's (decompressed) bytes in chunks, refusing a truncated or corrupt stream."""
    got = 0
    try:
        with open_binary(path) as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                got += len(chunk)
                yield chunk
    except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and \
                path.suffix.lower() not in _OPENERS:
            raise DataSourceError(f"cannot read {path.name}: {exc}", file=str(path),
                                  hint="check the file's permissions") from None
        raise _truncated(path, got, exc) from None


def _common_chinese(text: str) -> bool:
    """Most non-ASCII characters are common Chinese (GB2312), not rare GBK extensions."""
    wide = [ch for ch in text if ord(ch) > 127]
    if not wide or not re.search(r"[\u4e00-\u9fff]", text):
        return False
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= 0.9 * len(wide)


def decode_candidates(head: bytes) -> list[str]:
    """Encodings to try on a file starting with ``head``, most likely first."""
    if head.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    out = []
    for enc in _ENCODINGS:
        try:
            text = head[: head.rfind(b"\n") + 1 or len(head)].decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "gbk" and not _common_chinese(text):
            continue  # decodable as gbk by chance (e.g. 'ü' + a letter), not Chinese text
        if enc == "cp1252" and not any(0x80 <= b <= 0x9F for b in head):
            continue  # identical to latin-1 on these bytes; latin-1 is the plainer name
        out.append(enc)
    return out or ["latin-1"]


def _decodes_whole(path: Path, encoding: str) -> tuple[bool, int]:
    decoder = codecs.getincrementaldecoder(encoding)()
    size = 0
    try:
        for chunk in read_whole(path):
            size += len(chunk)
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, size
    return True, size


def _head_text(path: Path, encoding: str) -> str:
    with open_binary(path) as fh:
        head = fh.read(256 << 10)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    cut = text.rfind("\n")
    return text if cut < 0 else text[: cut + 1]


def _delimiter(text: str, path: Path) -> tuple[str, list[str]]:
    lines = text.splitlines()[:_HEAD_LINES]
    best: tuple[int, str, list[str]] | None = None
    for delim in DELIMITERS:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
        rows = [r for r in rows if r]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows[1:]) >= 0.9 * max(len(rows) - 1, 1)
        if consistent and (best is None or width > best[0]):
            best = (width, delim, rows[0])
    if best is None:
        first = next(csv.reader(io.StringIO(lines[0] if lines else "")), [])
        return ",", first
    return best[1], best[2]


def sniff_file(path: str | Path) -> Sniffed:
    """Sniff a CSV (also ``.gz``, ``.bz2``, ``.xz``) read whole; see the module notes.

    Raises
    ------
    DataSourceError
        The file is missing or empty, truncated or corrupt, has no header line (the first
        line holds data) or no data rows.
    """
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"no such file: {path.name}", file=str(path),
                              hint="check the path (relative paths resolve against the "
                              "current folder)")
    if path.stat().st_size == 0:
        raise DataSourceError(f"{path.name} is empty (0 bytes)", file=str(path),
                              hint="export the table again; the file has no header and no rows")
    head = next(read_whole(path), b"")
    if not head.strip():
        raise DataSourceError(f"{path.name} holds no text", file=str(path),
                              hint="export the table again with a header row and its data")
    size = 0
    for encoding in decode_candidates(head):
        ok, size = _decodes_whole(path, encoding)
        if ok:
            break
    else:
        encoding = "latin-1"  # decodes any byte
    text = _head_text(path, encoding)
    delimiter, header = _delimiter(text, path)
    names = [h.lstrip("\ufeff").strip() for h in header]
    if names and all(_NUMBER_OR_DATE.match(n) for n in names if n):
        raise DataSourceError(
            f"{path.name}: the first line holds data, not column names "
            f"({', '.join(names[:4])}, ...)", file=str(path),
            hint="export the file with a header row (the column names) as its first line")
    records = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(r)]
    if len(records) < 2 and size <= len(text.encode(encoding, errors="replace")) + 4:
        raise DataSourceError(
            f"{path.name} has a header and no data rows (columns: {', '.join(names)})",
            file=str(path), hint="export the table again with its rows")
    suffix = path.suffix.lower().lstrip(".")
    return Sniffed(path=path, encoding=encoding, delimiter=delimiter, names=names, size=size,
                   compression=suffix if f".{suffix}" in _OPENERS else None)


@contextmanager
def utf8_file(sniffed: Sniffed) -> Iterator[Path]:
    """The file as DuckDB reads it: itself when UTF-8 (plain or gzip), else a plain UTF-8
    copy in a temporary folder removed on exit."""
    if sniffed.duckdb_native:
        yield sniffed.path
        return
    with tempfile.TemporaryDirectory(prefix="crm-sniff-") as tmp:
        out = Path(tmp) / "utf8.csv"
        with open_binary(sniffed.path) as raw, \
                io.TextIOWrapper(raw, encoding=sniffed.encoding, newline="") as src, \
                open(out, "w", encoding="utf-8", newline="") as dst:
            first = src.read(_CHUNK)
            dst.write(first.lstrip("\ufeff"))
            shutil.copyfileobj(src, dst, _CHUNK)
        yield out
