"""The checkpoint asset: one dynamic partition per checkpoint, trained here or fetched from the hub."""

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg

from xrep_assets.asset_keys import MODELLING_TEAM
from xrep_assets.checkpoints.hub_watch import HUB_REVISION_TAG, hub_checkpoint, is_discovered_key
from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.checkpoints.resources import HubSource
from xrep_assets.checkpoints.spec import PretrainSpec, recipe_fields
from xrep_assets.checkpoints.record import (
    RECORD_FILE,
    TRAINING_LOG,
    CheckpointRecord,
    checkpoint_parts,
    content_revision,
    read_record,
    work_parts,
    write_record,
)
from xrep_assets.checkpoints.translation_check import CHECK_SENTENCES, check_directions, checkpoint_output_language
from xrep_assets.corpora.layout import study_corpus_dir
from xrep_assets.errors import XrepError
from xrep_assets.execution.launchers import WorkerLauncher
from xrep_assets.execution.pods import PRETRAIN_WORKER
from xrep_assets.profiles import Profile, scaled_recipe
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import (
    CONTINUED_PRETRAINING,
    HUB_CHECKPOINTS,
    OBJECTIVES,
    PRETRAINING_LANGUAGES,
    HubCheckpoint,
    LanguageCodes,
    directions_for,
)
from xrep_assets.tokenizers.assets import joint_tokenizer
from xrep_assets.tokenizers.spec import TOKENIZER_PARTS

# torch, transformers and matplotlib are imported inside the functions that use them: every run
# process and the code server import this module, and the training itself runs in the worker.
OUTPUT_LANGUAGE_CHECK = "output_language"


class PretrainConfig(dg.Config):
    """Overrides of the profile's training run; None keeps the profile's value."""

    steps: int | None = None
    seed: int = 0
    # A local Hugging Face checkpoint directory, or a hub checkpoint key of the catalog (materialized
    # first), to continue from instead of random weights.
    init_from: str | None = None
    # "study": the study's sizes; "matched": two-stack models sized to the single-stack parameter count.
    size_variant: str = "study"
    save_every: int | None = None


@dg.asset(
    partitions_def=checkpoint_partitions,
    deps=[joint_tokenizer],
    group_name="checkpoints",
    kinds={"pytorch", "huggingface"},
    owners=[MODELLING_TEAM],
    retry_policy=dg.RetryPolicy(max_retries=2),  # a retried training run resumes from its last state
    check_specs=[
        dg.AssetCheckSpec(
            OUTPUT_LANGUAGE_CHECK,
            asset="checkpoint",
            description="MT checkpoints translate held-out sentences into the requested target language "
            "(the forced-BOS / language-code trap); other checkpoints pass without a test",
        )
    ],
)
def checkpoint(
    context: dg.AssetExecutionContext,
    config: PretrainConfig,
    study: StudySettings,
    artifacts: ArtifactStore,
    hub: HubSource,
    launcher: WorkerLauncher,
) -> dg.MaterializeResult:
    """A pretrained model as a Hugging Face checkpoint directory; one dynamic partition per checkpoint.

    Trained with one of the study's objectives (from scratch, or continuing a hub checkpoint), or a
    public hub checkpoint fetched at a revision; `AutoModel.from_pretrained` loads it. Metadata:
    `parameters`, `revision` and, for a trained one, the loss curve, `final_loss` and `best_loss`
    (the last and the lowest logged training loss). The `output_language` check asks an MT
    checkpoint to translate held-out sentences into the requested language.
    """
    key = context.partition_key
    if key in OBJECTIVES:
        return _train(context, key, key, config.init_from, config, study.resolved(), artifacts, launcher)
    if key in CONTINUED_PRETRAINING:
        entry = CONTINUED_PRETRAINING[key]
        return _train(context, key, entry.objective, config.init_from or entry.init_from, config, study.resolved(), artifacts, launcher)
    if key in HUB_CHECKPOINTS or is_discovered_key(key):
        return _fetch(context, key, artifacts, hub)
    raise XrepError(f"checkpoint {key!r} is neither an objective, a continued pretraining nor a hub checkpoint of the catalog")


def resolve_init_from(init_from: str, artifacts: ArtifactStore) -> tuple[Path, LanguageCodes]:
    """(directory, language-code convention) of a hub key (materialized) or a local directory. The
    continued model keeps the hub model's tokenizer, so its convention: the one its record says (the
    catalog's for a record written before records carried it)."""
    if init_from in HUB_CHECKPOINTS:
        directory = artifacts.path(*checkpoint_parts(init_from))
        if not (directory / "config.json").exists():
            raise XrepError(f"init_from {init_from!r}: materialize the checkpoint partition {init_from!r} first ({directory} is empty)")
        recorded = read_record(directory).lang_codes if (directory / RECORD_FILE).exists() else None
        return directory, recorded or HUB_CHECKPOINTS[init_from].lang_codes
    directory = Path(init_from)
    if not (directory / "config.json").exists():
        raise XrepError(f"init_from {init_from!r} is neither a hub checkpoint of the catalog nor a checkpoint directory")
    return directory, "iso"


def pretrain_spec(
    key: str,
    objective: str,
    init_from: str | None,
    config: PretrainConfig,
    profile: Profile,
    artifacts: ArtifactStore,
    out_dir: Path,
    processes: int = 1,
) -> PretrainSpec:
    from xrep_assets.checkpoints.models import model_size  # torch (see the note above OUTPUT_LANGUAGE_CHECK)

    tokenizer, lang_codes, init_dir = str(artifacts.path(*TOKENIZER_PARTS)), "iso", None
    if init_from is not None:
        init_path, lang_codes = resolve_init_from(init_from, artifacts)
        init_dir, tokenizer = str(init_path), str(init_path)  # a continued model keeps its own vocabulary
    recipe = scaled_recipe(objective, profile, config.steps)
    steps = recipe.updates
    pairs = tuple(p.key for p in profile.pairs)
    languages = tuple(lang for lang in PRETRAINING_LANGUAGES if any(lang in (p.l1, p.l2) for p in profile.pairs))
    size = model_size(objective, profile.model_size, profile.seq2seq_size, config.size_variant, profile.tokenizer_vocab_size)
    spec = PretrainSpec(
        objective=objective,
        tokenizer=tokenizer,
        corpus=str(study_corpus_dir(artifacts.path())),
        languages=languages,
        pairs=pairs,
        directions=tuple(d.key for d in directions_for(profile.pairs)),
        out_dir=str(out_dir),
        work_dir="",
        size=size,
        seed=config.seed,
        # A retried pod loses at most one save interval (paper: 5k of 600k), tiny runs save 4 times.
        save_every=config.save_every or max(1, min(steps // 4, recipe.save_interval_updates)),
        log_every=max(1, min(50, steps // 8)),
        init_from=init_dir,
        lang_codes=lang_codes,
        device=profile.device,
        threads=profile.threads,
        extra={"checkpoint": key},
        **recipe_fields(recipe, processes),
    )
    # Attempts of the same run (retries, a re-launch after a crash) share their work folder and resume.
    identity = hashlib.sha256(json.dumps(spec.training_identity(), sort_keys=True).encode()).hexdigest()[:12]
    return replace(spec, work_dir=str(artifacts.path(*work_parts(key), identity)))


def _train(
    context: dg.AssetExecutionContext,
    key: str,
    objective: str,
    init_from: str | None,
    config: PretrainConfig,
    profile: Profile,
    artifacts: ArtifactStore,
    launcher: WorkerLauncher,
) -> dg.MaterializeResult:
    with artifacts.writing_dir(*checkpoint_parts(key)) as tmp:
        processes = launcher.worker_processes(PRETRAIN_WORKER, profile)
        spec = pretrain_spec(key, objective, init_from, config, profile, artifacts, tmp, processes)
        spec_path = spec.write(Path(spec.work_dir) / "spec.json")
        context.log.info(f"pretraining {key} ({objective}) with {spec_path}")
        reported = launcher.launch(context, PRETRAIN_WORKER, spec_path, profile)
        if not (tmp / "config.json").exists():
            raise XrepError(f"the pretraining worker for {key} ended without writing a checkpoint to {tmp}")
        log = json.loads((tmp / TRAINING_LOG).read_text(encoding="utf-8"))
        revision = content_revision(tmp)
        write_record(tmp, trained_record(key, objective, spec.lang_codes, revision, log["parameters"], context.run_id))
    shutil.rmtree(artifacts.path(*work_parts(key)), ignore_errors=True)  # the states of a finished run
    from xrep_assets.plots import loss_curve, png_markdown  # matplotlib

    losses = [tuple(point) for point in log["losses"]]
    directions = []
    if OBJECTIVES[objective].role == "MT":
        directions = [tuple(d.split(">")) for d in spec.directions if d.split(">")[0] in CHECK_SENTENCES][:2]
    # Our own models may be too small to translate yet (tiny profile): a failure warns, never blocks.
    check = output_language_result(artifacts.path(*checkpoint_parts(key)), spec.lang_codes, directions, dg.AssetCheckSeverity.WARN)
    return dg.MaterializeResult(
        check_results=[check],
        metadata={
            **(reported.metadata or {}),
            "objective": OBJECTIVES[objective].name,
            "architecture": OBJECTIVES[objective].family,
            "init_from": init_from or "random",
            "revision": revision,  # what score rows name these weights by (warehouse: the training run behind them)
            "model_size": dg.MetadataValue.json(spec.size.__dict__),
            "loss_curve": dg.MetadataValue.md(png_markdown(loss_curve(losses, f"{key}: training loss"), "loss curve")),
            "path": str(artifacts.path(*checkpoint_parts(key))),
        }
    )


def _fetch(context: dg.AssetExecutionContext, key: str, artifacts: ArtifactStore, hub: HubSource) -> dg.MaterializeResult:
    from transformers import AutoConfig, AutoModel

    from xrep_assets.checkpoints.models import count_parameters

    entry = hub_checkpoint(key)  # a catalog entry, or one a watch rule of the sensor discovered
    with artifacts.writing_dir(*checkpoint_parts(key)) as tmp:
        # The sensor and the weekly schedule tag a re-fetch with the revision they saw.
        revision = hub.fetch(entry, tmp, revision=context.run.tags.get(HUB_REVISION_TAG))
        config = AutoConfig.from_pretrained(str(tmp), trust_remote_code=False)
        parameters = count_parameters(AutoModel.from_pretrained(str(tmp), trust_remote_code=False))
        write_record(tmp, hub_record(entry, revision, parameters, context.run_id))
    context.log.info(f"{entry.repo_id}@{revision}: {parameters:,} parameters")
    directory = artifacts.path(*checkpoint_parts(key))
    check = output_language_result(directory, entry.lang_codes, check_directions(entry), dg.AssetCheckSeverity.ERROR)
    return dg.MaterializeResult(
        check_results=[check],
        metadata={
            "repo_id": entry.repo_id,
            "revision": revision,
            "role": entry.role,
            "architecture": config.model_type,
            "parameters": parameters,
            "path": str(directory),
        },
    )


def trained_record(
    key: str, objective: str, lang_codes: LanguageCodes, revision: str, parameters: int, run_id: str | None
) -> CheckpointRecord:
    """The record of a checkpoint trained with `objective` on a vocabulary of convention `lang_codes`
    (ours "iso"; a continued hub model's own): everything scoring needs, so it never asks the catalog."""
    from xrep_assets.checkpoints.encoder import source_marker

    return CheckpointRecord(
        key, "trained", revision, OBJECTIVES[objective].family, parameters, run_id,
        lang_codes=lang_codes, source_marker=source_marker(lang_codes, objective),
    )


def hub_record(entry: HubCheckpoint, revision: str, parameters: int, run_id: str | None) -> CheckpointRecord:
    """The record of a fetched hub checkpoint, from its catalog entry or the watch rule that discovered it."""
    from xrep_assets.checkpoints.encoder import source_marker

    return CheckpointRecord(
        entry.key, "hub", revision, entry.family, parameters, run_id,
        lang_codes=entry.lang_codes, source_marker=source_marker(entry.lang_codes, None),
    )


def output_language_result(
    directory: Path, lang_codes: str, directions: list[tuple[str, str]], severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """The output-language check of one checkpoint: every direction's outputs mostly in its target."""
    if not directions:
        return dg.AssetCheckResult(check_name=OUTPUT_LANGUAGE_CHECK, passed=True, metadata={"tested": "not a translation model"})
    results = checkpoint_output_language(directory, lang_codes, directions)
    return dg.AssetCheckResult(
        check_name=OUTPUT_LANGUAGE_CHECK,
        passed=all(r.passed for r in results.values()),
        severity=severity,
        metadata={
            "target_language_rate": dg.MetadataValue.json({d: round(r.rate, 3) for d, r in results.items()}),
            "examples": dg.MetadataValue.json({d: r.examples[:2] for d, r in results.items()}),
        },
    )
