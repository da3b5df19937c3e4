"""One score partition, start to end: what the scoring worker runs for a `ScoreSpec`.

Load the task's splits (archive or hub dataset), load the checkpoint's encoder once, and run each
protocol over each seed: the probes on features computed once per checkpoint x task x layer (and
cached in the artifact store), fine-tuning on a fresh copy of the encoder per seed. A seed whose
English dev score is not above chance (the majority-label head's value plus `CHANCE_MARGIN`) is
flagged and run again with a new seed, `chance_reruns` times at most; the rows keep the seed that
was used. Each protocol's rows go to their own score file, written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import polars as pl
import torch

from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.checkpoints.encoder import Encoder, language_codes_of
from xrep_assets.errors import EmptyOutputError
from xrep_assets.evaluation.finetuning import finetune_task
from xrep_assets.evaluation.heads import LabelSpace, majority_value
from xrep_assets.evaluation.probing import TaskFeatures, cached_task_features, linear_probe_task, probe_task
from xrep_assets.evaluation.protocols import (
    DEFAULT_POOLING,
    ProtocolResult,
    TaskData,
    TrainingSettings,
    first_examples,
    protocol_label,
    settings_for,
)
from xrep_assets.evaluation.spec import ScoreSpec
from xrep_assets.evaluation.score_files import SCORE_SCHEMA, score_parts
from xrep_assets.markdown import markdown_table
from xrep_assets.study import SOURCE_LANGUAGE, TASKS, Task
from xrep_assets.xglue.readers import TaskSource

# A head must beat the majority label by more than this on English dev (one point of the metric).
CHANCE_MARGIN = 0.01
# The k-th re-run of seed s uses seed s + k * RERUN_SEED_STRIDE: new, and never another seed of the run.
RERUN_SEED_STRIDE = 1000


@dataclass(frozen=True)
class SeedRun:
    requested_seed: int
    seed: int  # the seed whose result is kept
    result: ProtocolResult
    at_chance: list[tuple[int, float]]  # (seed, English dev value) of every run at chance level


@dataclass(frozen=True)
class ProtocolSummary:
    label: str
    pooling: str
    settings: TrainingSettings
    runs: list[SeedRun]
    scores: pl.DataFrame


@dataclass(frozen=True)
class PartitionSummary:
    task: Task
    chance: float | None  # the majority-label head's English dev value
    languages_missing: list[str]
    dev_languages: list[str]
    training_examples: int
    protocols: list[ProtocolSummary]


def library_versions(device: str = "cpu") -> str:
    """What the numbers were computed with: the libraries, and on a CPU the torch threads and the
    vector instructions ATen's kernels use (both change how float sums are split and rounded), on a
    GPU its name. Two score files of the same weights agree byte for byte only where these do."""
    record: dict[str, object] = {lib: version(lib) for lib in ("torch", "transformers", "scikit-learn", "xrep")}
    if str(device).startswith("cuda"):
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
    else:
        record |= {"cpu_threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    return json.dumps(record)


def resolve_device(device: str) -> str:
    """The scoring device's name: `auto` takes CUDA when present. Scoring runs in one process, so
    unlike pretraining (`checkpoints.training.rank_device`) there is no rank to place."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def load_task_data(
    source: TaskSource, task: Task, selection: str, max_train_examples: int | None,
    output: str = "task_scores", where: str = "the task source",
) -> tuple[TaskData, list[str]]:
    """English train, the dev sets the selection reads, every test set the source has; and the task
    languages without a test set (logged, not an error: a source may lack some).
    A split that is there but holds no example is an `EmptyOutputError` of `output`, naming `where`."""
    tested = [lang for lang in task.languages if source.has(task.key, lang, "test")]
    missing = [lang for lang in task.languages if lang not in tested]
    dev_languages = (
        [lang for lang in task.languages if source.has(task.key, lang, "dev")] if selection == "all-dev" else [SOURCE_LANGUAGE]
    )
    train = source.load(task.key, SOURCE_LANGUAGE, "train")
    dev = {lang: source.load(task.key, lang, "dev") for lang in dev_languages}
    test = {lang: source.load(task.key, lang, "test") for lang in tested}
    splits = {f"{SOURCE_LANGUAGE} train": train}
    splits |= {f"{lang} dev": examples for lang, examples in dev.items()}
    splits |= {f"{lang} test": examples for lang, examples in test.items()}
    empty = [name for name, examples in splits.items() if len(examples) == 0]
    empty += [] if test else ["test (no language has a test set)"]
    if empty:
        raise EmptyOutputError(output, where, f"{task.key} {', '.join(empty)}: no examples")
    return TaskData(task, train=first_examples(train, max_train_examples), dev=dev, test=test), missing


def is_at_chance(result: ProtocolResult, chance: float | None) -> bool:
    english = result.dev_values.get(SOURCE_LANGUAGE)
    return chance is not None and english is not None and english <= chance + CHANCE_MARGIN


def run_seed(
    seed: int, fit: Callable[[int], ProtocolResult], chance: float | None, reruns: int, log: Callable[[str], None]
) -> SeedRun:
    """`fit(seed)`, and again with a new seed while its English dev value is at chance level."""
    at_chance: list[tuple[int, float]] = []
    used, result = seed, fit(seed)
    for attempt in range(1, reruns + 1):
        if not is_at_chance(result, chance):
            break
        at_chance.append((used, result.dev_values[SOURCE_LANGUAGE]))
        used = seed + attempt * RERUN_SEED_STRIDE
        log(f"seed {at_chance[-1][0]}: English dev {at_chance[-1][1]:.4f} is at chance ({chance:.4f}); re-running with seed {used}")
        result = fit(used)
    if is_at_chance(result, chance):
        at_chance.append((used, result.dev_values[SOURCE_LANGUAGE]))
    return SeedRun(seed, used, result, at_chance)


def score_rows(spec: ScoreSpec, label: str, runs: list[SeedRun], versions: str) -> pl.DataFrame:
    rows = [
        {
            "checkpoint": spec.checkpoint, "revision": spec.revision, "task": spec.task,
            "language": s.language, "split": s.split, "metric": s.metric, "value": s.value,
            "seed": run.seed, "protocol": label, "layer": spec.layer, "n_examples": s.n_examples,
            "versions": versions,
        }
        for run in runs
        for s in run.result.scores
    ]
    return pl.DataFrame(rows, schema=SCORE_SCHEMA)


def score_partition(spec: ScoreSpec, log: Callable[[str], None] = print) -> PartitionSummary:
    """Every protocol of `spec` on its checkpoint and task; writes one score file per protocol."""
    if spec.threads:
        # Before any torch work: the thread count fixes how sums are split (README: Reproducibility).
        torch.set_num_threads(spec.threads)
    task = TASKS[spec.task]
    data, missing = load_task_data(
        spec.source.open(), task, spec.selection, spec.max_train_examples,
        f"task_scores {spec.checkpoint}|{task.key}", spec.source.describe(),
    )
    if missing:
        log(f"{task.key}: no test set for {', '.join(missing)} in {spec.source.describe()}")
    labels = LabelSpace.of(task)
    chance = majority_value(labels, data.train, data.dev[SOURCE_LANGUAGE]) if SOURCE_LANGUAGE in data.dev else None
    settings = {p: settings_for(p, task.key, spec.max_epochs, spec.patience) for p in spec.protocols}
    # Every protocol reads the same subwords (protocols.py), so one encoder serves them all.
    max_length = max(s.max_length for s in settings.values())
    # The checkpoint's record says which codes it reads, not the catalog: the hub sensor discovers
    # keys the catalog does not know.
    lang_codes = language_codes_of(Path(spec.checkpoint_dir))
    log(f"{spec.checkpoint}: language codes in the inputs: {lang_codes or 'none'}")
    device = resolve_device(spec.device)
    encoder = Encoder(Path(spec.checkpoint_dir), device=device, max_length=max_length, lang_codes=lang_codes)
    identity = {"checkpoint": spec.checkpoint, "revision": spec.revision, "max_length": encoder.max_length,
                "lang_codes": lang_codes}
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    features: dict[str, TaskFeatures] = {}  # by pooling: shared by probe and linear
    versions = library_versions(device)
    summaries = []
    for protocol in spec.protocols:
        pooling = spec.pooling or DEFAULT_POOLING[protocol]
        label = protocol_label(protocol, spec.selection, spec.pooling)
        protocol_settings = settings[protocol]
        if protocol == "finetune":
            def fit(seed: int) -> ProtocolResult:
                return finetune_task(data, encoder, protocol_settings, seed, spec.selection, spec.layer, pooling, log)
        else:
            if pooling not in features:
                cache = store.path("features", spec.checkpoint, task.key) if spec.feature_cache else None
                features[pooling] = cached_task_features(data, encoder, spec.layer, pooling, cache, identity, log)
            head = probe_task if protocol == "probe" else linear_probe_task

            def fit(seed: int, head=head, vectors=features[pooling]) -> ProtocolResult:
                return head(vectors, protocol_settings, seed, spec.selection, log)

        runs = [run_seed(seed, fit, chance, spec.chance_reruns, log) for seed in spec.seeds]
        scores = score_rows(spec, label, runs, versions)
        with store.writing_file(*score_parts(spec.checkpoint, task.key, label)) as tmp:
            scores.write_parquet(tmp)
        summaries.append(ProtocolSummary(label, pooling, protocol_settings, runs, scores))
    return PartitionSummary(task, chance, missing, list(data.dev), len(data.train), summaries)


# --------------------------------------------------------------------------------------------------
# What the asset shows: metadata as dagster-pipes carries it (raw values, or {"raw_value", "type"})


def language_score_table(task: Task, scores: pl.DataFrame) -> pl.DataFrame:
    """The catalog metric per test language: mean and std over seeds (other metrics stay in the file)."""
    return (
        scores.filter(pl.col("metric") == task.metric)
        .group_by("language", maintain_order=True)
        .agg(pl.col("value").mean().alias(task.metric), pl.col("value").std().alias("std over seeds"),
             pl.col("n_examples").first().alias("n"))
    )


def partition_metadata(spec: ScoreSpec, summary: PartitionSummary) -> dict[str, object]:
    """Shared keys, then `<protocol>/...` keys per protocol; `task_average` is the first protocol's.
    Each language's score is a number of its own (`<protocol>/score/<language>`) so that the UI
    charts it across materializations."""
    task = summary.task

    def md(frame: pl.DataFrame) -> dict:
        return {"raw_value": markdown_table(frame, float_precision=4), "type": "md"}

    metadata: dict[str, object] = {
        "protocols": ", ".join(p.label for p in summary.protocols),
        "selection": spec.selection,
        "dev_languages": ", ".join(summary.dev_languages),
        "layer": spec.layer,
        "seeds": ", ".join(map(str, spec.seeds)),
        "training_examples": summary.training_examples,
        "languages_missing": ", ".join(summary.languages_missing) or "none",
        "revision": spec.revision or "",
        "chance_level": summary.chance if summary.chance is not None else float("nan"),
        "at_chance": {"raw_value": at_chance_report(summary), "type": "json"},
    }
    dev_column = f"{spec.selection} {task.metric}"
    for index, protocol in enumerate(summary.protocols):
        per_language = language_score_table(task, protocol.scores)
        average = float(per_language[task.metric].mean()) if per_language.height else float("nan")
        if index == 0:
            metadata["task_average"] = average
            metadata["languages"] = per_language.height
        selected = pl.DataFrame([
            {"seed": run.seed, "selected": run.result.selected, "epochs run": run.result.epochs_run,
             dev_column: run.result.dev_value}
            for run in protocol.runs
        ])
        prefix = f"{protocol.label}/"
        metadata |= {
            f"{prefix}task_average": average,
            **{f"{prefix}score/{lang}": float(value) for lang, value in per_language.select("language", task.metric).iter_rows()},
            f"{prefix}per_language": md(per_language),
            f"{prefix}selected": md(selected),
            f"{prefix}pooling": protocol.pooling if task.head != "tagging" else "first subword",
            f"{prefix}settings": {"raw_value": protocol.settings.__dict__, "type": "json"},
        }
    return metadata


def at_chance_report(summary: PartitionSummary) -> list[dict]:
    """Each seed run at chance level: which protocol, which seed, its English dev value, and whether
    the kept result (after re-runs) is still at chance."""
    return [
        {"protocol": p.label, "seed": seed, "english_dev": value, "kept": seed == run.seed}
        for p in summary.protocols
        for run in p.runs
        for seed, value in run.at_chance
    ]


def still_at_chance(report: list[Mapping]) -> list[Mapping]:
    return [entry for entry in report if entry["kept"]]
