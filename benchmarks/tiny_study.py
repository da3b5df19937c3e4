"""Times the whole tiny study (`xrep study`) in a fresh XREP_HOME against the 10-minute budget; with
`--submit`, also the same study submitted to a local `dagster dev` (`xrep study --submit`: one
backfill through the instance's run queue) in another fresh home, and checks both print one table.

    python benchmarks/tiny_study.py
    python benchmarks/tiny_study.py --submit
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 600.0
# The local instance's server, as the tests start it (its own process group, stopped with it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def home_env(home: str) -> dict[str, str]:
    return {**os.environ, "XREP_HOME": home, "DAGSTER_HOME": os.path.join(home, "dagster_home"), "XREP_PROFILE": "tiny"}


def table(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("|")]


def in_process() -> tuple[float, list[str]]:
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "xrep_assets.cli", "study"], env=home_env(home), check=True,
                              stdout=subprocess.PIPE, text=True)
        return time.perf_counter() - start, table(done.stdout)


def submitted() -> tuple[float, float, list[str]]:
    from dagster_server import dagster_dev

    with tempfile.TemporaryDirectory() as home:
        env = home_env(home)
        start = time.perf_counter()
        with dagster_dev(Path(home), env, Path(home) / "dagster_dev.log") as server:
            started = time.perf_counter() - start
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "xrep_assets.cli", "study", "--submit", "--url", server.url],
                                  env=env, check=True, stdout=subprocess.PIPE, text=True)
            return time.perf_counter() - start, started, table(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submit", action="store_true", help="also time `xrep study --submit` through a local dagster dev")
    args = parser.parse_args()
    seconds, in_process_table = in_process()
    print(f"tiny study in process: {seconds:.0f} s on {os.cpu_count()} cores")
    print(f"ratio: {seconds / BUDGET_SECONDS:.2f} of the {BUDGET_SECONDS:.0f} s budget -> {'OK' if seconds < BUDGET_SECONDS else 'OVER'}")
    if args.submit:
        queued, server_start, queued_table = submitted()
        print(f"tiny study submitted (xrep study --submit): {queued:.0f} s, after {server_start:.0f} s to start dagster dev")
        print(f"ratio submitted / in process: {queued / seconds:.2f}")
        print(f"same table: {'yes' if queued_table == in_process_table else 'NO'}")


if __name__ == "__main__":
    main()
