"""A real `dagster dev` (webserver and daemon) on 127.0.0.1 for the end-to-end tests of the instance:
started in its own process group, so that stopping it stops the daemon and every run it launched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xrep_assets.paths import REPO_ROOT
from xrep_assets.submission import DagsterWebserver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, grace_s: float = 20) -> None:
    """SIGTERM to the group (the webserver stops in ~3 s), SIGKILL to what is left after `grace_s`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # run workers still in the group
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@contextmanager
def dagster_dev(home: Path, env: dict[str, str], log: Path, start_timeout_s: float = 180) -> Iterator[DagsterWebserver]:
    """`dagster dev -w workspace.yaml` for the xrep home `home` (its `dagster_home` holds the instance,
    created as `xrep dagster-home` does, without the UI's first-visit pop-up); yields a client of it once
    the code location has loaded."""
    dagster_home = home / "dagster_home"
    subprocess.run([sys.executable, "-m", "xrep_assets.cli", "dagster-home"], env=env, check=True, capture_output=True, timeout=120)
    (dagster_home / ".nux").mkdir(exist_ok=True)
    (dagster_home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    port = free_port()
    command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = DagsterWebserver(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
            try:
                urllib.request.urlopen(f"{server.url}/server_info", timeout=5).close()
                server.repository()  # the code location has loaded
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        yield server
    finally:
        stop_group(process)
