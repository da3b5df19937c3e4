"""Times the whole tiny study (`xrep study`) in a fresh XREP_HOME against the 10-minute budget.

    python benchmarks/tiny_study.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

BUDGET_SECONDS = 600.0


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XREP_HOME": home, "DAGSTER_HOME": os.path.join(home, "dagster_home"), "XREP_PROFILE": "tiny"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "xrep_assets.cli", "study"], env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    print(f"tiny study: {seconds:.0f} s on {os.cpu_count()} cores")
    print(f"ratio: {seconds / BUDGET_SECONDS:.2f} of the {BUDGET_SECONDS:.0f} s budget -> {'OK' if seconds < BUDGET_SECONDS else 'OVER'}")


if __name__ == "__main__":
    main()
