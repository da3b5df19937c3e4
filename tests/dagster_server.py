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


# A run's states once it will not change (the others: QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING).
RUN_FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def launch_partition_run(server: DagsterWebserver, assets: list[str], partition: dict[str, str], run_config: dict) -> str:
    """`launchRun` on `__ASSET_JOB` for `assets` at one partition of a multi-partitioned asset, given
    as {dimension: key}; returns the run id. The tags are the ones the UI's "Materialize" sets: the
    joined key alone would reach the asset as a plain string key, not a `MultiPartitionKey`."""
    tags = {"dagster/partition": "|".join(partition.values()),
            **{f"dagster/partition/{dimension}": key for dimension, key in partition.items()}}
    result = server.query(
        "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename"
        " ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on RunConfigValidationInvalid"
        " { errors { message } } ... on InvalidSubsetError { message } ... on UnauthorizedError { message } } }",
        {"params": {
            "selector": {**server.repository(), "jobName": "__ASSET_JOB",
                         "assetSelection": [{"path": [asset]} for asset in assets]},
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }},
    )["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", f"launchRun refused: {result}"
    return result["run"]["runId"]


def wait_for_run(server: DagsterWebserver, run_id: str, timeout_s: float = 300, poll_s: float = 2) -> None:
    """Polls the run until it ends; fails the test unless it ends in SUCCESS, with the run's errors."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = server.query(
            "query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } ... on PythonError { message } } }",
            {"id": run_id},
        )["runOrError"]
        assert run["__typename"] == "Run", f"run {run_id}: {run}"
        if run["status"] in RUN_FINISHED or time.monotonic() > deadline:
            break
        time.sleep(poll_s)
    if run["status"] != "SUCCESS":
        errors = server.query(
            "query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection { events { __typename"
            " ... on ExecutionStepFailureEvent { stepKey error { message } } ... on RunFailureEvent { message } } } } }",
            {"id": run_id},
        )["logsForRun"]
        failures = [e for e in errors.get("events", []) if e["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}]
        raise AssertionError(f"run {run_id} is {run['status']} after {timeout_s:.0f} s: {failures or errors}")
