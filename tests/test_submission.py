"""`xrep study --submit` without a server: the slice, the progress it prints, how a failed backfill and
an unreachable or foreign webserver are reported (the real instance: tests/test_instance_e2e.py)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import pytest

from xrep_assets.errors import SettingError
from xrep_assets.orchestration import StudyRunFailed, study_slice
from xrep_assets.paths import dagster_yaml
from xrep_assets.profiles import PROFILES
from xrep_assets.submission import AssetProgress, BackfillProgress, DagsterWebserver, FollowingStopped, InstanceError, submit_study

TINY = PROFILES["tiny"]


class ScriptedServer:
    """A stand-in webserver whose backfill reports the given progress, one per poll."""

    url = "http://instance"

    def __init__(self, progress: list[BackfillProgress]):
        self.progress, self.launched, self.registered = list(progress), [], []

    def repository(self):
        return {"repositoryLocationName": "xrep", "repositoryName": "__repository__"}

    def add_checkpoint_partitions(self, repository, keys):
        self.registered.extend(keys)

    def launch_backfill(self, targets, run_config, title, tags):
        self.launched.append((targets, run_config, title, tags))
        return "abcd"

    def backfill_progress(self, backfill_id):
        return self.progress.pop(0)


def progress(status: str, *assets: tuple[str, int, int, int, int]) -> BackfillProgress:
    return BackfillProgress(status, tuple(AssetProgress(*a) for a in assets))


def test_slice_narrows_checkpoints_and_tasks_and_refuses_unknown_ones():
    chosen = study_slice(TINY, ["mt-transformer"], ["POS", "NC"])
    assert chosen.checkpoints == ("mt-transformer",)
    assert [str(k) for k in chosen.score_keys] == ["mt-transformer|NC", "mt-transformer|POS"]  # catalog order
    assert len(chosen.corpus_keys) == 2 * len(TINY.pairs) and chosen.upstream
    assert len(study_slice(TINY).score_keys) == len(TINY.checkpoints) * 8
    with pytest.raises(SettingError, match="'xlmr' is not in the tiny profile"):
        study_slice(TINY, ["xlmr"])
    with pytest.raises(SettingError, match="unknown task 'XQuAD'"):
        study_slice(TINY, tasks=["XQuAD"])


def test_submit_follows_the_backfill_and_prints_each_change():
    server = ScriptedServer([
        progress("REQUESTED", ("raw_bitext", 2, 0, 2, 0), ("cross_lingual_comparison", 1, 0, 0, 0)),
        progress("REQUESTED", ("raw_bitext", 2, 0, 2, 0), ("cross_lingual_comparison", 1, 0, 0, 0)),
        progress("COMPLETED_SUCCESS", ("raw_bitext", 2, 2, 0, 0), ("cross_lingual_comparison", 1, 1, 0, 0)),
    ])
    lines: list[str] = []
    run_config = {"resources": {"study": {"config": {"profile": "tiny"}}}}
    assert submit_study(server, study_slice(TINY, ["mlm"]), run_config, "xrep study (tiny)", log=lines.append, poll_s=0) == "abcd"
    assert server.registered == ["mlm"]
    _, sent_config, _, tags = server.launched[0]
    assert sent_config["resources"] == run_config["resources"] and sent_config["execution"] == {"config": {"in_process": {}}}
    assert tags == {"xrep/study": "xrep study (tiny)"}
    assert lines == [
        "-> backfill abcd: http://instance/runs/b/abcd",
        "   0/3 materialized, 2 running, 0 failed (raw_bitext 0/2, cross_lingual_comparison 0/1)",
        "   3/3 materialized, 0 running, 0 failed (raw_bitext 2/2, cross_lingual_comparison 1/1)",
    ]


def test_a_failed_partition_fails_the_study_naming_the_asset_and_the_backfill():
    server = ScriptedServer([progress("COMPLETED_FAILED", ("checkpoint", 2, 1, 0, 1), ("task_scores", 16, 8, 0, 0))])
    with pytest.raises(StudyRunFailed, match=r"backfill abcd ended COMPLETED_FAILED \(failed: checkpoint\); see http://instance/runs/b/abcd"):
        submit_study(server, study_slice(TINY), {}, "t", log=lambda _: None, poll_s=0)
    canceled = ScriptedServer([progress("CANCELED", ("checkpoint", 2, 1, 0, 0))])
    with pytest.raises(StudyRunFailed, match=r"ended CANCELED \(not materialized: checkpoint\)"):
        submit_study(canceled, study_slice(TINY), {}, "t", log=lambda _: None, poll_s=0)


def test_ctrl_c_stops_following_and_says_the_backfill_goes_on():
    class Interrupted(ScriptedServer):
        def backfill_progress(self, backfill_id):
            raise KeyboardInterrupt

    with pytest.raises(FollowingStopped, match="stopped following backfill abcd; it goes on in the instance: .* http://instance/runs/b/abcd"):
        submit_study(Interrupted([]), study_slice(TINY), {}, "t", log=lambda _: None, poll_s=0)


@pytest.fixture
def json_server():
    """A local HTTP server answering every POST with the JSON body set in `answer[0]`."""
    answer = [{}]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(answer[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", answer
    server.shutdown()


def test_graphql_errors_and_foreign_servers_are_instance_errors(json_server):
    url, answer = json_server
    server = DagsterWebserver(url)
    answer[0] = {"errors": [{"message": "Cannot query field 'x'"}]}
    with pytest.raises(InstanceError, match="graphql: Cannot query field 'x'"):
        server.query("{ x }")
    answer[0] = {"data": {"repositoriesOrError": {"__typename": "RepositoryConnection", "nodes": [
        {"name": "__repository__", "location": {"name": "other"}, "jobs": [{"name": "etl"}]}]}}}
    with pytest.raises(InstanceError, match="serves no code location with xrep's `checkpoint_job`"):
        server.repository()
    answer[0] = {"data": {"launchPartitionBackfill": {"__typename": "PythonError", "message": "boom"}}}
    with pytest.raises(InstanceError, match="launching the backfill: PythonError: boom"):
        server.launch_backfill([], {}, "t", {})


def test_cli_without_a_webserver_fails_in_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "xrep_assets.cli", "study", "--submit", "--url", "http://127.0.0.1:9"],
        env={"XREP_HOME": str(tmp_path), "PATH": ""}, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("xrep study: no Dagster webserver answers at http://127.0.0.1:9")
    assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("cores", "runs"), [(1, 1), (2, 1), (3, 1), (8, 4), (16, 8)])
def test_the_local_run_queue_fits_the_machine(tmp_path, cores, runs):
    """Two threads per tiny run: the queue starts cores // 2 runs at once, at least one; the
    instance accepts the file."""
    import dagster as dg
    import yaml

    (tmp_path / "dagster.yaml").write_text(dagster_yaml(cores), encoding="utf-8")
    config = yaml.safe_load(dagster_yaml(cores))["concurrency"]
    assert config["runs"]["max_concurrent_runs"] == runs and config["pools"]["default_limit"] == 1
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == runs
