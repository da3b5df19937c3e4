"""A real headless browser for the UI tests: Debian's `chromium` (`.ci/run` installs it; no browser is
downloaded), each call in a fresh profile, returning the page as rendered or a screenshot of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from xrep_assets.paths import REPO_ROOT

# Virtual time lets the page's GraphQL queries and rendering settle before the dump or the screenshot;
# without it a screenshot catches the asset graph blank.
VIRTUAL_TIME_BUDGET_MS = 15000

# What the Dagster UI (1.13) shows instead of a page when a query or the code location fails.
ERROR_MARKERS = ("Unexpected GraphQL error", "GraphQL Error", "Python Error", "PythonError", "Network error",
                 "An error occurred", "Error loading", "could not be found", "No assets were found")


def chromium() -> str:
    """The path of Debian's `chromium`; without it the UI tests fail, saying how to install it (a
    skipped UI test would let the suite pass without the UI ever having been driven)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("the UI tests need Debian's `chromium`, which is not installed: `apt-get install chromium` "
                    "(.ci/run installs it)")
    return path


def artifacts_dir() -> Path:
    """Where the UI tests leave their screenshots for CI to keep: `$XREP_TEST_ARTIFACTS`, else the
    repository's (git-ignored) `var/test-artifacts`."""
    folder = Path(os.environ.get("XREP_TEST_ARTIFACTS") or REPO_ROOT / "var" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _headless(args: list[str], timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="xrep-chromium-") as profile:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", *args]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if completed.returncode != 0:
        raise RuntimeError(f"chromium exited with {completed.returncode} for {args[-1]}: {completed.stderr[-2000:]}")
    return completed.stdout


class _VisibleText(HTMLParser):
    """The text nodes of a page, without its scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self._hidden += tag in {"script", "style"}

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in {"script", "style"}

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.lines.append(data.strip())


def rendered_text(url: str, timeout_s: float = 120) -> list[str]:
    """The text nodes of `url` once rendered (its DOM after the page's scripts ran), in document order."""
    parser = _VisibleText()
    parser.feed(_headless(["--dump-dom", url], timeout_s))
    return parser.lines


def screenshot(url: str, path: Path, width: int = 1600, height: int = 1000, timeout_s: float = 120) -> Path:
    _headless([f"--screenshot={path}", f"--window-size={width},{height}", "--hide-scrollbars", url], timeout_s)
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {url} to {path}")
    return path
