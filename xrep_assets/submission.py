"""`xrep study --submit`: the study as one asset backfill on a running Dagster instance (a local
`dagster dev`, or a cluster's webserver), through the webserver's GraphQL API, followed to its end.

The instance does the rest: its backfill daemon materializes the assets in dependency order (the
corpus partitions before the allocation, each checkpoint before its score partitions, the comparison
last), its run queue starts as many runs at once as the instance allows (`dagster.yaml`'s
`max_concurrent_runs`, the Helm values' limits on a cluster) and the warehouse pool lets one writer
into DuckDB at a time. One backfill rather than one per stage: while any of its partitions is
targeted, the automation conditions see the study in progress and request nothing, so the study is
never run twice; and a failed partition is re-run alone from the UI ("Re-execute from failure").
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from xrep_assets.analysis.assets import analysis_sentences, layer_analyses
from xrep_assets.checkpoints.assets import checkpoint
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.corpora.assets import cleaned_bitext, pretraining_corpus, raw_bitext
from xrep_assets.definitions import checkpoint_job
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.assets import task_scores
from xrep_assets.orchestration import StudyRunFailed, StudySlice
from xrep_assets.tokenizers.assets import joint_tokenizer
from xrep_assets.warehouse.assets import corpus_statistics, cross_lingual_comparison, warehouse_analyses, warehouse_scores

# The backfill's states once nothing more will run (REQUESTED: still running; CANCELING: stopping).
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class InstanceError(XrepError):
    """The webserver cannot be reached, or refused a request: names the URL and Dagster's message."""


class FollowingStopped(XrepError):
    """Ctrl-C while following: the backfill goes on in the instance; says where to watch or cancel it."""


@dataclass(frozen=True)
class AssetProgress:
    asset: str
    targeted: int
    materialized: int
    in_progress: int
    failed: int


@dataclass(frozen=True)
class BackfillProgress:
    status: str
    assets: tuple[AssetProgress, ...]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def line(self) -> str:
        """`12/26 materialized, 2 running, 0 failed (raw_bitext 10/10, cleaned_bitext 2/10, ...)`."""
        done = sum(a.materialized for a in self.assets)
        total = sum(a.targeted for a in self.assets)
        running = sum(a.in_progress for a in self.assets)
        failed = sum(a.failed for a in self.assets)
        parts = ", ".join(f"{a.asset} {a.materialized}/{a.targeted}" for a in self.assets)
        return f"{done}/{total} materialized, {running} running, {failed} failed ({parts})"


def study_targets(chosen: StudySlice) -> list[dict[str, Any]]:
    """The backfill's `partitionsByAssets`: each asset of the study with the slice's partitions (a
    single-key range per partition; no `partitions` for an unpartitioned asset)."""

    def target(asset: dg.AssetsDefinition | dg.AssetKey, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        key = asset if isinstance(asset, dg.AssetKey) else asset.key
        selector: dict[str, Any] = {"assetKey": {"path": list(key.path)}}
        if keys is not None:
            selector["partitions"] = {"ranges": [{"start": str(key), "end": str(key)} for key in keys]}
        return selector

    upstream = [
        target(raw_bitext, chosen.corpus_keys),
        target(cleaned_bitext, chosen.corpus_keys),
        target(pretraining_corpus),
        target(corpus_statistics),
        target(analysis_sentences),
        target(joint_tokenizer),
        target(checkpoint, chosen.checkpoints),
        *(target(key, chosen.checkpoints) for key in sorted(layer_analyses.keys)),
        target(warehouse_analyses, chosen.checkpoints),
    ]
    scores = [target(task_scores, chosen.score_keys), target(warehouse_scores, chosen.score_keys), target(cross_lingual_comparison)]
    return [*upstream, *scores] if chosen.upstream else scores


def backfill_run_config(run_config: dict) -> dict:
    """The study's run config with each run's steps in the run's own process: a backfill run holds
    one partition whose steps follow one another (raw -> cleaned, scores -> rows), so a process per
    step would only add its start-up (several seconds of imports) to every run."""
    return {**run_config, "execution": {"config": {"in_process": {}}}}


class DagsterWebserver:
    """The few GraphQL calls `--submit` makes, with Dagster's error unions turned into `InstanceError`."""

    def __init__(self, url: str, timeout_s: float = 60):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def query(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": document, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.load(response)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise InstanceError(f"no Dagster webserver answers at {self.url} ({reason}); start one with `make dev`") from error
        except json.JSONDecodeError as error:
            raise InstanceError(f"{self.url}/graphql did not answer JSON: is it a Dagster webserver?") from error
        if answer.get("errors"):
            raise InstanceError(f"{self.url}/graphql: {answer['errors'][0].get('message', answer['errors'][0])}")
        return answer["data"]

    @staticmethod
    def _unwrap(result: dict[str, Any], expected: str, what: str) -> dict[str, Any]:
        if result.get("__typename") != expected:
            raise InstanceError(f"{what}: {result.get('__typename')}: {result.get('message', '')}".rstrip(": "))
        return result

    def repository(self) -> dict[str, str]:
        """The selector of the repository that holds xrep's jobs (any code location name)."""
        data = self.query(
            "{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name location { name } jobs { name } } }"
            " ... on PythonError { message } } }"
        )["repositoriesOrError"]
        for node in self._unwrap(data, "RepositoryConnection", "listing the code locations")["nodes"]:
            if any(job["name"] == checkpoint_job.name for job in node["jobs"]):
                return {"repositoryLocationName": node["location"]["name"], "repositoryName": node["name"]}
        raise InstanceError(f"{self.url} serves no code location with xrep's `{checkpoint_job.name}`; is it xrep's workspace?")

    def add_checkpoint_partitions(self, repository: dict[str, str], keys: tuple[str, ...]) -> None:
        for key in keys:
            result = self.query(
                "mutation($repository: RepositorySelector!, $name: String!, $key: String!) {"
                " addDynamicPartition(repositorySelector: $repository, partitionsDefName: $name, partitionKey: $key) {"
                " __typename ... on PythonError { message } ... on UnauthorizedError { message } } }",
                {"repository": repository, "name": CHECKPOINTS_PARTITION_NAME, "key": key},
            )["addDynamicPartition"]
            if result["__typename"] != "DuplicateDynamicPartitionError":  # already registered: fine
                self._unwrap(result, "AddDynamicPartitionSuccess", f"registering checkpoint {key!r}")

    def launch_backfill(self, targets: list[dict[str, Any]], run_config: dict, title: str, tags: Mapping[str, str]) -> str:
        result = self.query(
            "mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {"
            " __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }"
            " ... on InvalidSubsetError { message } ... on UnauthorizedError { message }"
            " ... on PartitionSetNotFoundError { message } ... on RunConflict { message } } }",
            {"params": {
                "partitionsByAssets": targets,
                "runConfigData": run_config,
                "title": title,
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            }},
        )["launchPartitionBackfill"]
        return self._unwrap(result, "LaunchBackfillSuccess", "launching the backfill")["backfillId"]

    def backfill_progress(self, backfill_id: str) -> BackfillProgress:
        result = self.query(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename"
            " ... on PartitionBackfill { status assetBackfillData { assetBackfillStatuses { __typename"
            " ... on AssetPartitionsStatusCounts { assetKey { path } numPartitionsTargeted numPartitionsInProgress"
            " numPartitionsMaterialized numPartitionsFailed }"
            " ... on UnpartitionedAssetStatus { assetKey { path } inProgress materialized failed } } } }"
            " ... on PythonError { message } ... on BackfillNotFoundError { message } } }",
            {"id": backfill_id},
        )["partitionBackfillOrError"]
        backfill = self._unwrap(result, "PartitionBackfill", f"backfill {backfill_id}")
        assets = []
        for entry in (backfill.get("assetBackfillData") or {}).get("assetBackfillStatuses", []):
            name = "/".join(entry["assetKey"]["path"])
            if entry["__typename"] == "AssetPartitionsStatusCounts":
                assets.append(AssetProgress(name, entry["numPartitionsTargeted"], entry["numPartitionsMaterialized"],
                                            entry["numPartitionsInProgress"], entry["numPartitionsFailed"]))
            else:
                assets.append(AssetProgress(name, 1, int(entry["materialized"]), int(entry["inProgress"]), int(entry["failed"])))
        return BackfillProgress(backfill["status"], tuple(assets))

    def latest_markdown(self, asset: str, label: str) -> str | None:
        """A markdown metadata entry of the asset's latest materialization (None: not materialized)."""
        result = self.query(
            "query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename ... on Asset {"
            " assetMaterializations(limit: 1) { metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } } } }",
            {"key": {"path": [asset]}},
        )["assetOrError"]
        for materialization in result.get("assetMaterializations", []):
            for entry in materialization["metadataEntries"]:
                if entry["label"] == label and "mdStr" in entry:
                    return entry["mdStr"]
        return None


def submit_study(
    server: DagsterWebserver,
    chosen: StudySlice,
    run_config: dict,
    title: str,
    log: Callable[[str], None] = print,
    poll_s: float = 2.0,
) -> str:
    """Registers the slice's checkpoints, launches it as one backfill and follows it, logging each
    change of progress; returns the backfill id. Raises `StudyRunFailed` naming the failed assets
    once the backfill ends with any partition failed (the rest of it has run as far as it could)."""
    repository = server.repository()
    server.add_checkpoint_partitions(repository, chosen.checkpoints)
    backfill_id = server.launch_backfill(study_targets(chosen), backfill_run_config(run_config), title, {"xrep/study": title})
    log(f"-> backfill {backfill_id}: {server.url}/runs/b/{backfill_id}")
    last = ""
    try:
        while True:
            progress = server.backfill_progress(backfill_id)
            line = progress.line()
            if line != last:
                log(f"   {line}")
                last = line
            if progress.finished:
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        raise FollowingStopped(
            f"stopped following backfill {backfill_id}; it goes on in the instance: watch or cancel it at {server.url}/runs/b/{backfill_id}"
        ) from None
    failed = [a.asset for a in progress.assets if a.failed]
    unfinished = [a.asset for a in progress.assets if a.materialized < a.targeted]
    if failed or unfinished or progress.status not in {"COMPLETED", "COMPLETED_SUCCESS"}:
        detail = f"failed: {', '.join(failed)}" if failed else f"not materialized: {', '.join(unfinished) or 'none'}"
        raise StudyRunFailed(
            f"backfill {backfill_id} ended {progress.status} ({detail}); see {server.url}/runs/b/{backfill_id}"
            " and re-execute it from failure there"
        )
    return backfill_id
