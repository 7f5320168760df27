"""Peak resident memory of the runner's child processes (the notebook kernels), in MB, for
the manifest's ``peak_rss_mb`` per notebook."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

__all__ = ["PeakMemory"]


class PeakMemory:
    """Peak resident memory (MB) of the runner's child processes (the kernel) while a
    notebook runs: the kernels' high-water mark (Linux ``VmHWM``), else sampled RSS."""

    def __init__(self, interval_seconds: float = 0.25):
        self.interval = interval_seconds
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakMemory:
        try:
            import psutil  # noqa: F401 - an ipykernel dependency; without it, no measurement
        except ImportError:
            return self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    @property
    def peak_mb(self) -> float | None:
        return round(self.peak_bytes / 2**20, 1) if self.peak_bytes else None

    def _loop(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            try:
                children = me.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                self.peak_bytes = max(self.peak_bytes, _high_water_mark(child))
            if self._stop.wait(self.interval):
                return


def _high_water_mark(proc: Any) -> int:
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(proc.memory_info().rss)
    except Exception:  # noqa: BLE001 - the process may be gone
        return 0
