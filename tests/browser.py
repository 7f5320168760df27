"""Headless Chromium for the tests that check a page as a real browser renders it.

Debian's Chromium (``apt-get install chromium``) at ``/usr/bin/chromium`` or on the PATH; a
test that needs it fails (never skips) when it is missing, saying how to install it. Each call
starts a browser with a new empty profile and stops it within :data:`TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_SECONDS = 60
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str:
    """The Chromium executable; fails the test when there is none."""
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is not installed, and this test checks the page in a real "
                    "browser: install it with `apt-get install chromium` (as root; "
                    "`apt-get update` first if apt cannot find it)", pytrace=False)
    return found


def run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args`` in a new profile; its whole process group is
    stopped after :data:`TIMEOUT_SECONDS` (the test then fails)."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT_SECONDS} s: {' '.join(cmd)}")
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def dump_dom(page: Path) -> str:
    """The DOM of a local HTML file after Chromium rendered it (serialised HTML)."""
    done = run_chromium("--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0 and "<html" in done.stdout, (
        f"chromium --dump-dom failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 1800) -> Path:
    """A PNG screenshot of a local HTML file in a ``width`` x ``height`` window."""
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    done = run_chromium(f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
                        page.resolve().as_uri())
    assert done.returncode == 0 and png.exists(), (
        f"chromium --screenshot failed ({done.returncode}): {done.stderr[-2000:]}")
    return png
