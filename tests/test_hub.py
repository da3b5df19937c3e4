"""The hub registry, `HubSource` / `HubApi` against fake hub clients (no network), the pure watch
logic, the revisions sensor, the weekly schedule and the rescoring automation condition."""

import json
import logging
from contextlib import contextmanager
from types import SimpleNamespace

import dagster as dg
import httpx2
import pytest
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from xrep_assets.asset_keys import CHECKPOINT_ASSET, LAYER_ANALYSES_ASSETS, TASK_SCORES_ASSET
from xrep_assets.checkpoints.hub_watch import (
    HF_MODEL_TYPES,
    HUB_REPO_TAG,
    HUB_REVISION_TAG,
    HubWatchError,
    ListedModel,
    RevisionChange,
    checkpoint_key,
    discovered_key,
    hub_changes,
    hub_checkpoint,
    hub_keys,
    is_commit,
    listing_search,
    matching_rule,
    read_cursor,
    repo_id_of_key,
    stale_revisions,
    write_cursor,
)
from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME, checkpoint_partitions
from xrep_assets.checkpoints.resources import HubApi, HubError, HubSource, HubUnavailableError, hub_token
from xrep_assets.checkpoints.schedules import recorded_revision, weekly_hub_reevaluation
from xrep_assets.checkpoints.sensors import hub_revisions_sensor
from xrep_assets.evaluation.partitions import score_key, score_partitions
from xrep_assets.evaluation.sensors import HUB_RESCORE_CONDITION
from xrep_assets.study import HUB_CHECKPOINTS, HUB_WATCH_RULES, OBJECTIVES, TASK_KEYS, CatalogError

M2M = HUB_CHECKPOINTS["mbart-50-m2m"]
NEW = "1" * 40  # a commit the registry has never seen
NLLB_3B = "facebook/nllb-200-3.3B"


def sha(char: str) -> str:
    return char * 40


# --------------------------------------------------------------------------------------------------
# Fakes of huggingface_hub


def http_error(cls, status: int, repo_id: str = "x/y"):
    request = httpx2.Request("GET", f"https://huggingface.co/api/models/{repo_id}")
    return cls(f"{status} error for {repo_id}", response=httpx2.Response(status, request=request))


class FakeHfApi:
    """`model_info` and `list_models` as HfApi answers them: heads per repo, a listing per author."""

    def __init__(self, heads=None, models=(), error=None, files=("config.json", "model.safetensors")):
        self.heads = dict(heads or {})
        self.models = list(models)
        self.error = error
        self.files = files
        self.calls = []

    def model_info(self, repo_id, revision=None, timeout=None):
        self.calls.append(("model_info", repo_id, revision))
        if self.error is not None:
            raise self.error
        if repo_id not in self.heads:
            raise http_error(RepositoryNotFoundError, 404, repo_id)
        if revision not in (None, "main", self.heads[repo_id]):
            raise http_error(RevisionNotFoundError, 404, repo_id)
        return SimpleNamespace(sha=self.heads[repo_id], siblings=[SimpleNamespace(rfilename=f) for f in self.files])

    def list_models(self, author=None, search=None, expand=None, limit=None):
        self.calls.append(("list_models", author, search))
        if self.error is not None:
            raise self.error
        return [m for m in self.models if m.id.startswith(f"{author}/") and (search or "") in m.id]


def listed(repo_id: str, commit: str, model_type: str | None) -> SimpleNamespace:
    return SimpleNamespace(id=repo_id, sha=commit, config={"model_type": model_type} if model_type else None, tags=[])


def hub_api_with(fake: FakeHfApi) -> HubApi:
    class FakeHubApi(HubApi):
        def client(self):
            return fake

    return FakeHubApi()


def registry_heads(**moved: str) -> dict[str, str]:
    """Each registry repo's head: its pin (or a stand-in for unpinned ones), `moved` ones replaced."""
    heads = {entry.repo_id: entry.revision or sha("a") for entry in HUB_CHECKPOINTS.values()}
    heads.update({HUB_CHECKPOINTS[key].repo_id: commit for key, commit in moved.items()})
    return heads


@pytest.fixture
def instance():
    """A throwaway instance (with an instance ref, which schedule contexts need) holding a partition
    for every objective and registry checkpoint."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, [*OBJECTIVES, *HUB_CHECKPOINTS])
        yield instance


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelname, record.getMessage()))


# --------------------------------------------------------------------------------------------------
# Registry


def test_the_registry_pins_commits_or_says_it_does_not():
    for entry in HUB_CHECKPOINTS.values():
        assert entry.revision is None or is_commit(entry.revision), entry.key
        assert repo_id_of_key(entry.key) == entry.repo_id
        assert "--" not in entry.key  # never collides with a discovered key
    pinned = {key for key, entry in HUB_CHECKPOINTS.items() if entry.revision}
    assert pinned == {"mbert", "xlmr-base", "nllb-600m", "mbart-50-m2m"}


def test_watch_rules_name_known_families_and_cover_the_mbart_50_and_nllb_repos():
    assert all(rule.family in HF_MODEL_TYPES for rule in HUB_WATCH_RULES)
    assert listing_search(HUB_WATCH_RULES[0]) == "mbart-large-50"
    matched = {e.key for e in HUB_CHECKPOINTS.values() if matching_rule(ListedModel(e.repo_id, NEW, None, tuple(HF_MODEL_TYPES[e.family])))}
    assert matched == {"mbart-50", "mbart-50-m2o", "mbart-50-o2m", "mbart-50-m2m", "nllb-600m"}


# --------------------------------------------------------------------------------------------------
# Keys of discovered models


def test_discovered_keys_read_back_to_their_repo_and_are_valid_partition_keys():
    key = discovered_key(NLLB_3B)
    assert key == "facebook--nllb-200-3.3B"
    assert repo_id_of_key(key) == NLLB_3B
    assert checkpoint_key(M2M.repo_id) == "mbart-50-m2m" and checkpoint_key(NLLB_3B) == key
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, [key])
    scores = score_partitions.get_partition_keys(dynamic_partitions_store=instance)
    assert score_key(key, "NER") in scores and len(scores) == len(TASK_KEYS)


@pytest.mark.parametrize("repo_id", ["nllb-200-3.3B", "facebook/nllb--200", "facebook/a..b", "a/b/c", "facebook/"])
def test_a_malformed_repo_id_is_an_error(repo_id):
    with pytest.raises(HubWatchError, match="not a hub repo id"):
        discovered_key(repo_id)


def test_a_discovered_key_gets_its_rules_fields_and_an_unknown_key_is_an_error():
    entry = hub_checkpoint("facebook--nllb-200-3.3B")
    assert (entry.repo_id, entry.revision, entry.family, entry.role, entry.lang_codes) == (NLLB_3B, None, "m2m100", "MT", "nllb")
    assert hub_checkpoint("mbart-50") is HUB_CHECKPOINTS["mbart-50"]
    with pytest.raises(CatalogError, match="matches no watch rule"):
        hub_checkpoint("google--gemma-2b")
    with pytest.raises(CatalogError, match="neither a hub checkpoint"):
        repo_id_of_key("no-such-checkpoint")
    assert hub_keys(["mlm", "mbart-50", "facebook--nllb-200-3.3B", "bad--"]) == ["mbart-50", "facebook--nllb-200-3.3B"]


# --------------------------------------------------------------------------------------------------
# Pure watch logic


def test_nothing_new_changes_nothing_and_unpinned_repos_get_a_baseline():
    found = hub_changes(registry_heads(), [], {}, set(HUB_CHECKPOINTS))
    assert found.changes == () and found.new_keys == ()
    assert found.cursor == registry_heads()


def test_a_new_commit_of_a_registry_repo_is_one_change():
    cursor = registry_heads()
    found = hub_changes(registry_heads(**{"mbart-50-m2m": NEW}), [], cursor, set(HUB_CHECKPOINTS))
    assert found.changes == (RevisionChange("mbart-50-m2m", M2M.repo_id, M2M.revision, NEW),)
    assert found.cursor[M2M.repo_id] == NEW and found.new_keys == ()
    # The pin is the baseline of a repo never seen; a checkpoint outside the study is not fetched.
    assert hub_changes(registry_heads(**{"mbart-50-m2m": NEW}), [], {}, set(HUB_CHECKPOINTS)).changes == found.changes
    assert hub_changes(registry_heads(**{"mbart-50-m2m": NEW}), [], cursor, {"mbert"}).changes == ()


def test_a_model_matching_a_rule_is_discovered_once_and_tracked_after():
    models = [
        ListedModel(NLLB_3B, sha("b"), "m2m_100"),
        ListedModel("facebook/nllb-200-custom", sha("c"), None, ("llama",)),  # another architecture
        ListedModel("facebook/bart-large", sha("d"), "bart"),  # no rule's name pattern
        ListedModel("facebook/mbart-large-50-many-to-many-mmt", NEW, "mbart"),  # a registry repo: heads decide
    ]
    first = hub_changes(registry_heads(), models, registry_heads(), set(HUB_CHECKPOINTS))
    assert first.new_keys == ("facebook--nllb-200-3.3B",)
    assert first.changes == (RevisionChange("facebook--nllb-200-3.3B", NLLB_3B, None, sha("b")),)
    partitions = set(HUB_CHECKPOINTS) | {"facebook--nllb-200-3.3B"}
    assert hub_changes(registry_heads(), models, first.cursor, partitions).changes == ()
    moved = [ListedModel(NLLB_3B, sha("e"), "m2m_100")]
    assert hub_changes(registry_heads(), moved, first.cursor, partitions).changes == (
        RevisionChange("facebook--nllb-200-3.3B", NLLB_3B, sha("b"), sha("e")),
    )
    # A reset cursor: a model that already has its partition only gets a baseline.
    assert hub_changes(registry_heads(), models, {}, partitions).changes == ()


def test_the_cursor_round_trips_and_a_corrupt_one_is_an_error():
    assert read_cursor(write_cursor({"b/x": sha("b"), "a/x": sha("a")})) == {"a/x": sha("a"), "b/x": sha("b")}
    assert read_cursor(None) == {} and read_cursor("") == {}
    with pytest.raises(HubWatchError, match="not JSON"):
        read_cursor("{oops")
    with pytest.raises(HubWatchError, match="repo id -> commit"):
        read_cursor('["a/x"]')


def test_stale_revisions_leave_out_local_and_unfetched_checkpoints():
    recorded = {"mbert": sha("a"), "xlmr-base": sha("b"), "mbart-50": "local:/hub/facebook/mbart-large-50", "nllb-600m": None}
    heads = {"mbert": sha("a"), "xlmr-base": sha("c"), "mbart-50": sha("d"), "nllb-600m": sha("e")}
    assert stale_revisions(recorded, heads) == {"xlmr-base": sha("c")}


# --------------------------------------------------------------------------------------------------
# HubSource


def source_with(fake: FakeHfApi, downloaded: dict, files=("config.json", "model.safetensors"), config=None, **kwargs) -> HubSource:
    class FakeSource(HubSource):
        def client(self):
            return fake

        def download(self, repo_id, commit, dest, skip):
            downloaded.update(repo_id=repo_id, commit=commit, skip=skip)
            dest.mkdir(parents=True, exist_ok=True)
            for name in files:
                (dest / name).write_text(json.dumps(config or {"model_type": "mbart"}), encoding="utf-8")

    return FakeSource(**kwargs)


def test_fetch_resolves_the_revision_to_a_commit_and_downloads_that(tmp_path):
    fake, downloaded = FakeHfApi(heads={M2M.repo_id: M2M.revision}), {}
    assert source_with(fake, downloaded).fetch(M2M, tmp_path / "out") == M2M.revision
    assert fake.calls == [("model_info", M2M.repo_id, M2M.revision)]
    assert downloaded["commit"] == M2M.revision
    assert "*.py" in downloaded["skip"] and "*.bin" in downloaded["skip"]  # no code; safetensors suffice


def test_fetch_of_an_unpinned_checkpoint_takes_the_head_and_a_requested_revision_wins(tmp_path):
    unpinned = HUB_CHECKPOINTS["mbart-50"]
    fake, downloaded = FakeHfApi(heads={unpinned.repo_id: sha("a")}, files=("config.json", "pytorch_model.bin")), {}
    source = source_with(fake, downloaded, files=("config.json", "pytorch_model.bin"))
    assert source.fetch(unpinned, tmp_path / "a") == sha("a")
    assert fake.calls[-1] == ("model_info", unpinned.repo_id, "main")
    assert "*.bin" not in downloaded["skip"]  # the only weights there are
    assert source.fetch(unpinned, tmp_path / "b", revision=sha("a")) == sha("a")
    assert fake.calls[-1] == ("model_info", unpinned.repo_id, sha("a"))


@pytest.mark.parametrize("error, message", [
    (http_error(RepositoryNotFoundError, 404), "no such model repo on the hub"),
    (http_error(RevisionNotFoundError, 404), "has no revision 'v9'"),
    (http_error(GatedRepoError, 403), "gated"),
    (http_error(HfHubHTTPError, 401), "refused access"),
])
def test_fetch_errors_name_the_repo_and_what_is_wrong(tmp_path, error, message):
    source = source_with(FakeHfApi(error=error), {})
    with pytest.raises(HubError, match=message) as raised:
        source.fetch(M2M, tmp_path / "out", revision="v9")
    assert M2M.repo_id in str(raised.value) and not isinstance(raised.value, HubUnavailableError)


def test_an_unknown_repo_and_a_missing_revision_against_the_fake_hub(tmp_path):
    source = source_with(FakeHfApi(heads={M2M.repo_id: M2M.revision}), {})
    unknown = HUB_CHECKPOINTS["mbert"].__class__("ghost", "facebook/no-such-model", None, "mbart", "LM", "mbart", "ghost")
    with pytest.raises(HubError, match="facebook/no-such-model@main: no such model repo"):
        source.fetch(unknown, tmp_path / "a")
    with pytest.raises(HubError, match=f"has no revision '{sha('f')}'"):
        source.fetch(M2M, tmp_path / "b", revision=sha("f"))


@pytest.mark.parametrize("error", [
    httpx2.ConnectError("connection refused"), httpx2.ReadTimeout("timed out"), TimeoutError("timed out"),
    http_error(HfHubHTTPError, 503),
])
def test_network_trouble_is_a_retryable_hub_error(tmp_path, error):
    with pytest.raises(HubUnavailableError, match=M2M.repo_id):
        source_with(FakeHfApi(error=error), {}).fetch(M2M, tmp_path / "out")


def test_a_download_without_weights_or_needing_remote_code_is_an_error(tmp_path):
    fake = FakeHfApi(heads={M2M.repo_id: M2M.revision})
    with pytest.raises(HubError, match="no weights"):
        source_with(fake, {}, files=("config.json",)).fetch(M2M, tmp_path / "a")
    with pytest.raises(HubError, match="trust_remote_code"):
        source_with(fake, {}, config={"auto_map": {"AutoModel": "modeling_x.Model"}}).fetch(M2M, tmp_path / "b")


def test_a_pinned_commit_resolved_to_another_is_an_error(tmp_path):
    fake = FakeHfApi(heads={M2M.repo_id: M2M.revision})
    fake.model_info = lambda repo_id, revision=None, timeout=None: SimpleNamespace(sha=NEW, siblings=[])
    with pytest.raises(HubError, match="another one"):
        source_with(fake, {}).fetch(M2M, tmp_path / "out")


def test_local_mode_needs_the_folder_and_its_weights(tmp_path):
    source = HubSource(local_dir=str(tmp_path))
    with pytest.raises(HubError, match="no folder"):
        source.fetch(M2M, tmp_path / "out")
    folder = tmp_path / M2M.repo_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "mbart"}', encoding="utf-8")
    with pytest.raises(HubError, match="no weights"):
        source.fetch(M2M, tmp_path / "out")
    (folder / "model.safetensors").write_bytes(b"weights")
    assert source.fetch(M2M, tmp_path / "out") == f"local:{folder}"
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == b"weights"


def test_the_token_comes_only_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_default_var")
    monkeypatch.setenv("XREP_TEST_TOKEN", "hf_secret")
    assert HubSource(token_env_var="XREP_TEST_TOKEN").client().token == "hf_secret"
    monkeypatch.delenv("XREP_TEST_TOKEN")
    # Unset: no token at all (False), not the stored login nor HF_TOKEN.
    assert hub_token("XREP_TEST_TOKEN") is False
    assert HubApi(token_env_var="XREP_TEST_TOKEN").client().token is False


# --------------------------------------------------------------------------------------------------
# HubApi


def test_hub_api_reads_heads_and_listings():
    fake = FakeHfApi(heads={M2M.repo_id: M2M.revision}, models=[listed(NLLB_3B, sha("b"), "m2m_100"), listed("google/x", sha("c"), "t5")])
    api = hub_api_with(fake)
    assert api.head_revision(M2M.repo_id) == M2M.revision
    assert api.list_models("facebook", "nllb-200") == [ListedModel(NLLB_3B, sha("b"), "m2m_100", ())]
    with pytest.raises(HubError, match="no such model repo"):
        api.head_revision("facebook/no-such-model")
    with pytest.raises(HubUnavailableError, match="ConnectError"):
        hub_api_with(FakeHfApi(error=httpx2.ConnectError("down"))).list_models("facebook", "nllb-200")


# --------------------------------------------------------------------------------------------------
# Sensor


def sensor_context(instance, fake, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"hub_api": hub_api_with(fake)})
    captured = Captured()
    context.log.addHandler(captured)
    return context, captured


def test_the_sensor_requests_nothing_when_nothing_is_new(instance):
    context, _ = sensor_context(instance, FakeHfApi(heads=registry_heads()))
    first = hub_revisions_sensor(context)
    assert not first.run_requests and not first.dynamic_partitions_requests
    assert read_cursor(first.cursor) == registry_heads()
    context, _ = sensor_context(instance, FakeHfApi(heads=registry_heads()), cursor=first.cursor)
    again = hub_revisions_sensor(context)
    assert not again.run_requests and again.cursor == first.cursor


def test_the_sensor_skips_with_a_logged_reason_and_keeps_its_cursor_when_the_hub_fails(instance):
    cursor = write_cursor(registry_heads())
    for error in (httpx2.ConnectError("connection refused"), http_error(HfHubHTTPError, 502), TimeoutError("read timed out")):
        context, captured = sensor_context(instance, FakeHfApi(heads=registry_heads(), error=error), cursor=cursor)
        result = hub_revisions_sensor(context)
        assert isinstance(result, dg.SkipReason)
        assert result.skip_message.startswith("hub not checked this tick, cursor kept: ")
        assert any(reason in result.skip_message for reason in ("could not reach the hub", "answered 502"))
        assert [level for level, _ in captured.messages] == ["WARNING"]
        assert captured.messages[0][1] == result.skip_message


def test_the_sensor_discovers_a_new_model_as_a_partition_and_fetches_it(instance):
    fake = FakeHfApi(heads=registry_heads(), models=[listed(NLLB_3B, sha("b"), "m2m_100"), listed("facebook/nllb-200-x", sha("c"), "llama")])
    context, _ = sensor_context(instance, fake, cursor=write_cursor(registry_heads()))
    result = hub_revisions_sensor(context)
    [partitions] = result.dynamic_partitions_requests
    assert list(partitions.partition_keys) == ["facebook--nllb-200-3.3B"]
    [request] = result.run_requests
    assert request.partition_key == "facebook--nllb-200-3.3B"
    assert request.tags[HUB_REVISION_TAG] == sha("b") and request.tags[HUB_REPO_TAG] == NLLB_3B
    assert ("list_models", "facebook", "nllb-200") in fake.calls and ("list_models", "facebook", "mbart-large-50") in fake.calls


# The stand-ins carry the real assets' keys and partitions; `task_scores` the condition it must get.
@dg.asset(name="checkpoint", partitions_def=checkpoint_partitions)
def checkpoint_standin() -> dg.MaterializeResult:
    return dg.MaterializeResult()


@dg.asset(name="task_scores", partitions_def=score_partitions, deps=[checkpoint_standin], automation_condition=HUB_RESCORE_CONDITION)
def task_scores_standin() -> dg.MaterializeResult:
    return dg.MaterializeResult()


STANDINS = [checkpoint_standin, task_scores_standin]


def requested_scores(result) -> set:
    return set(result.get_requested_partitions(dg.AssetKey("task_scores")))


def test_a_new_revision_is_fetched_then_exactly_that_checkpoints_scores_run(instance):
    """The issue's case end to end: the sensor requests the fetch; the fetch (a run with the sensor's
    tags) makes the automation request exactly mbart-50-m2m's 8 score partitions, then nothing more."""
    assert CHECKPOINT_ASSET == checkpoint_standin.key
    baseline = dg.evaluate_automation_conditions(defs=STANDINS, instance=instance)
    assert baseline.total_requested == 0

    context, _ = sensor_context(instance, FakeHfApi(heads=registry_heads(**{"mbart-50-m2m": NEW})), cursor=write_cursor(registry_heads()))
    result = hub_revisions_sensor(context)
    [request] = result.run_requests
    assert (request.partition_key, request.tags[HUB_REVISION_TAG]) == ("mbart-50-m2m", NEW)
    assert read_cursor(result.cursor)[M2M.repo_id] == NEW

    dg.materialize([checkpoint_standin], partition_key=request.partition_key, tags=request.tags, instance=instance)
    rescored = dg.evaluate_automation_conditions(defs=STANDINS, instance=instance, cursor=baseline.cursor)
    assert requested_scores(rescored) == {score_key("mbart-50-m2m", task) for task in TASK_KEYS}
    assert rescored.total_requested == 8
    after = dg.evaluate_automation_conditions(defs=STANDINS, instance=instance, cursor=rescored.cursor)
    assert after.total_requested == 0


def test_the_studys_own_fetches_and_trainings_trigger_no_rescoring(instance):
    baseline = dg.evaluate_automation_conditions(defs=STANDINS, instance=instance)
    dg.materialize([checkpoint_standin], partition_key="mlm", instance=instance)
    dg.materialize([checkpoint_standin], partition_key="mbert", instance=instance)
    assert dg.evaluate_automation_conditions(defs=STANDINS, instance=instance, cursor=baseline.cursor).total_requested == 0


def test_a_corrupt_cursor_is_a_clear_error(instance):
    context, _ = sensor_context(instance, FakeHfApi(heads=registry_heads()), cursor="not json")
    with pytest.raises(HubWatchError, match="cursor is not JSON"):
        hub_revisions_sensor(context)


# --------------------------------------------------------------------------------------------------
# Weekly schedule


def record_fetch(instance, key: str, revision: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(CHECKPOINT_ASSET, partition=key, metadata={"revision": revision}))


@contextmanager
def schedule_context(instance, fake):
    """A schedule context opened and closed in the test: it opens its own instance from the ref, which
    sets Dagster's current defs-state storage until the context closes; one left open is closed by the
    garbage collector at any later time, restoring a dead instance's storage under another test."""
    with dg.build_schedule_context(instance=instance, resources={"hub_api": hub_api_with(fake)}) as context:
        captured = Captured()
        context.log.addHandler(captured)
        yield context, captured


def test_the_schedule_refetches_only_checkpoints_whose_head_moved(instance):
    instance.add_dynamic_partitions(CHECKPOINTS_PARTITION_NAME, ["facebook--nllb-200-3.3B"])
    record_fetch(instance, "mbart-50-m2m", M2M.revision)
    record_fetch(instance, "mbert", HUB_CHECKPOINTS["mbert"].revision)
    record_fetch(instance, "mbart-50", "local:/hub/facebook/mbart-large-50")  # offline fetch: not compared
    record_fetch(instance, "facebook--nllb-200-3.3B", sha("b"))
    assert recorded_revision(instance, "mbart-50-m2m") == M2M.revision
    assert recorded_revision(instance, "xlmr-base") is None

    heads = {**registry_heads(**{"mbart-50-m2m": NEW, "mbart-50": sha("d")}), NLLB_3B: sha("e")}
    fake = FakeHfApi(heads=heads)
    with schedule_context(instance, fake) as (context, _):
        requests = weekly_hub_reevaluation(context)
    assert sorted((r.partition_key, r.tags[HUB_REVISION_TAG]) for r in requests) == [
        ("facebook--nllb-200-3.3B", sha("e")), ("mbart-50-m2m", NEW),
    ]
    asked = {call[1] for call in fake.calls}
    assert asked == {M2M.repo_id, HUB_CHECKPOINTS["mbert"].repo_id, NLLB_3B}  # only fetched, non-local ones


def test_the_schedule_skips_when_nothing_changed_or_the_hub_fails(instance):
    record_fetch(instance, "mbart-50-m2m", M2M.revision)
    with schedule_context(instance, FakeHfApi(heads=registry_heads())) as (context, _):
        assert isinstance(weekly_hub_reevaluation(context), dg.SkipReason)
    with schedule_context(instance, FakeHfApi(error=httpx2.ConnectTimeout("timed out"))) as (context, captured):
        skipped = weekly_hub_reevaluation(context)
    assert isinstance(skipped, dg.SkipReason) and "could not reach the hub" in skipped.skip_message
    assert captured.messages == [("WARNING", skipped.skip_message)]


def test_the_schedule_runs_mondays_at_four_utc_and_everything_is_registered():
    from xrep_assets.definitions import defs

    assert (weekly_hub_reevaluation.cron_schedule, weekly_hub_reevaluation.execution_timezone) == ("0 4 * * 1", "UTC")
    assert defs.resolve_schedule_def("weekly_hub_reevaluation").job_name == "checkpoint_job"
    assert defs.resolve_sensor_def("hub_revisions_sensor").job_name == "checkpoint_job"
    assert defs.resolve_sensor_def("hub_rescore_sensor") is not None


def test_the_shared_asset_keys_are_the_assets_keys():
    """The rescoring sensor targets `task_scores` and the schedule reads `checkpoint` by key, without
    importing the assets: the keys must be the real ones, with the condition on the real asset."""
    from xrep_assets.checkpoints.assets import checkpoint
    from xrep_assets.definitions import defs
    from xrep_assets.evaluation.assets import task_scores

    assert (checkpoint.key, task_scores.key) == (CHECKPOINT_ASSET, TASK_SCORES_ASSET)
    assert task_scores.automation_conditions_by_key[TASK_SCORES_ASSET] == HUB_RESCORE_CONDITION
    graph = defs.resolve_asset_graph()
    # ...and the sensor evaluates the warehouse's conditions below it (tests/test_automation.py)
    assert defs.resolve_sensor_def("hub_rescore_sensor").asset_selection.resolve(graph) == {
        TASK_SCORES_ASSET, dg.AssetKey("warehouse_scores"), dg.AssetKey("cross_lingual_comparison"),
        *LAYER_ANALYSES_ASSETS, dg.AssetKey("warehouse_analyses"),
    }
    # the layer-wise analyses, by key too, carry the same condition
    from xrep_assets.analysis.assets import layer_analyses

    assert set(layer_analyses.keys) == set(LAYER_ANALYSES_ASSETS)
    assert all(layer_analyses.automation_conditions_by_key[key] == HUB_RESCORE_CONDITION for key in LAYER_ANALYSES_ASSETS)
