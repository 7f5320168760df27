"""Atomic writes and file hashes (src.fileio): a reader never sees half a file, a failed write
leaves the old file and no temp file, a folder has one stable hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from src.fileio import atomic_write, file_sha256, write_json_atomic, write_text_atomic


def leftovers(folder: Path) -> list[str]:
    """Temp files of atomic_write left in ``folder`` (``.<name>.<pid>-<hex>.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_text_atomic_creates_then_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    assert write_text_atomic(path, "first") == path
    assert path.read_text(encoding="utf-8") == "first"
    write_text_atomic(path, "second, ümlaut")
    assert path.read_text(encoding="utf-8") == "second, ümlaut"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_write_json_atomic_round_trips_and_stringifies_other_values(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    write_json_atomic(path, {"status": "running"})
    write_json_atomic(path, {"status": "succeeded", "run_dir": tmp_path, "name": "Zoë"})
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "status": "succeeded", "run_dir": str(tmp_path), "name": "Zoë"}
    assert "Zoë" in path.read_text(encoding="utf-8")  # ensure_ascii=False
    assert leftovers(tmp_path) == []


def test_atomic_write_passes_a_temp_path_in_the_same_folder(tmp_path: Path) -> None:
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_bytes(b"\x00\x01")

    assert atomic_write(tmp_path / "model.joblib", write) == tmp_path / "model.joblib"
    assert seen[0].parent == tmp_path and seen[0].name != "model.joblib"
    assert (tmp_path / "model.joblib").read_bytes() == b"\x00\x01"
    assert not seen[0].exists()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_write_leaves_old_file_untouched_and_no_temp(tmp_path: Path,
                                                             error: BaseException) -> None:
    path = tmp_path / "scored.csv"
    write_text_atomic(path, "old content")

    def half_write(tmp: Path) -> None:
        tmp.write_text("half of the new", encoding="utf-8")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, half_write)
    assert path.read_text(encoding="utf-8") == "old content"
    assert leftovers(tmp_path) == []


def test_failed_first_write_creates_nothing(tmp_path: Path) -> None:
    def fail(tmp: Path) -> None:
        tmp.write_text("partial", encoding="utf-8")
        raise ValueError("cannot serialise")

    with pytest.raises(ValueError, match="cannot serialise"):
        atomic_write(tmp_path / "new.json", fail)
    assert list(tmp_path.iterdir()) == []


def test_file_sha256_of_a_file_equals_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # > 1 MiB: read in more than one chunk
    path = tmp_path / "bookings.parquet"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(str(empty)) == hashlib.sha256(b"").hexdigest()


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


FILES = {"part-0.parquet": b"aaa", "part-1.parquet": b"bbb", "sub/part-2.parquet": b"ccc"}


def test_file_sha256_of_a_folder_is_stable_and_independent_of_creation_order(tmp_path: Path) -> None:
    forward = make_folder(tmp_path / "a", FILES)
    backward = make_folder(tmp_path / "b", dict(reversed(list(FILES.items()))))
    assert file_sha256(forward) == file_sha256(forward)
    assert file_sha256(forward) == file_sha256(backward)
    assert len(file_sha256(forward)) == 64
    assert file_sha256(forward) != file_sha256(forward / "part-0.parquet")


@pytest.mark.parametrize("change", ["content", "rename", "add", "remove"])
def test_file_sha256_of_a_folder_changes_when_a_file_changes(tmp_path: Path, change: str) -> None:
    folder = make_folder(tmp_path / "parts", FILES)
    before = file_sha256(folder)
    if change == "content":
        (folder / "part-1.parquet").write_bytes(b"bbB")
    elif change == "rename":
        (folder / "part-1.parquet").rename(folder / "part-9.parquet")
    elif change == "add":
        (folder / "part-3.parquet").write_bytes(b"")
    else:
        (folder / "sub" / "part-2.parquet").unlink()
    assert file_sha256(folder) != before
