"""One checkpoint's layer-wise analyses, start to end: what the analysis worker runs for an `AnalyzeSpec`.

The checkpoint's encoder is loaded once. The analyses that read the parallel sentences (CKA,
retrieval) share their vectors: each language of each set is encoded once, every layer coming out of
the same forward pass of each batch (`Encoder.sentence_vectors_by_layer`), mean-pooled over the
sentence's subwords, the input cut at `max_length` subwords. The weight spectrum reads the weights
alone. The layer-wise probe trains the scorer's frozen-encoder protocol on each layer's features,
built as the scorer builds them (its max length, pooling and feature cache: a layer the scorer has
encoded is read, the others come out of one pass), without the scorer's re-runs of a seed at chance
level (a layer at chance is a finding). Each analysis is written to its own file
(`files.analysis_parts`), atomically; its asset's tables and plots are drawn from that file in the
run process (`report.py`), so only row counts travel through dagster-pipes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import torch

from xrep_assets.analysis.files import CKA_SCHEMA, PROBE_SCHEMA, RETRIEVAL_SCHEMA, SPECTRUM_SCHEMA, analysis_parts
from xrep_assets.analysis.measures import linear_cka, retrieval_accuracy
from xrep_assets.analysis.parallel import parallel_sets
from xrep_assets.analysis.spec import ANALYSIS_ASSETS, ENCODING_ANALYSES, AnalyzeSpec
from xrep_assets.analysis.spectrum import MatrixSpectrum, weight_spectra
from xrep_assets.artifacts import ArtifactFolder
from xrep_assets.checkpoints.encoder import Encoder, language_codes_of
from xrep_assets.errors import EmptyOutputError
from xrep_assets.evaluation.probing import cached_task_features_by_layer, linear_probe_task, probe_task
from xrep_assets.evaluation.protocols import DEFAULT_POOLING, settings_for
from xrep_assets.evaluation.scoring import load_task_data, resolve_device
from xrep_assets.study import SOURCE_LANGUAGE, TASKS

# dataset -> language -> (layers, sentences, hidden)
LayerVectors = Mapping[str, Mapping[str, np.ndarray]]


def encode_sets(encoder: Encoder, sets: Mapping[str, Mapping[str, list[str]]], log: Callable[[str], None]) -> dict[str, dict[str, np.ndarray]]:
    """Every sentence of every set at every layer, each language in its own input form (its marker)."""
    vectors: dict[str, dict[str, np.ndarray]] = {}
    for dataset, by_lang in sets.items():
        vectors[dataset] = {lang: encoder.sentence_vectors_by_layer(texts, lang=lang) for lang, texts in by_lang.items()}
        sizes = next(iter(vectors[dataset].values())).shape
        log(f"{dataset}: {len(by_lang)} languages x {sizes[1]} sentences encoded, layers 0-{sizes[0] - 1}")
    return vectors


def cka_frame(checkpoint: str, revision: str | None, vectors: LayerVectors) -> pl.DataFrame:
    """Per set, language and layer: linear CKA with English on the same sentences."""
    rows = []
    for dataset, by_lang in vectors.items():
        if SOURCE_LANGUAGE not in by_lang:
            continue
        reference = by_lang[SOURCE_LANGUAGE]
        for lang, layers in by_lang.items():
            if lang == SOURCE_LANGUAGE:
                continue
            for layer in range(layers.shape[0]):
                rows.append({"checkpoint": checkpoint, "revision": revision, "dataset": dataset, "language": lang,
                             "reference": SOURCE_LANGUAGE, "layer": layer, "cka": linear_cka(layers[layer], reference[layer]),
                             "sentences": layers.shape[1]})
    return pl.DataFrame(rows, schema=CKA_SCHEMA)


def retrieval_frame(checkpoint: str, revision: str | None, vectors: LayerVectors) -> pl.DataFrame:
    """Per set, language pair (both directions) and layer: the share of sentences whose nearest
    neighbour in the other language is their translation."""
    rows = []
    for dataset, by_lang in vectors.items():
        for a, b in combinations(sorted(by_lang), 2):
            for layer in range(by_lang[a].shape[0]):
                found = retrieval_accuracy(by_lang[a][layer], by_lang[b][layer])
                for source, target, accuracy in ((a, b, found.forward), (b, a, found.backward)):
                    rows.append({"checkpoint": checkpoint, "revision": revision, "dataset": dataset, "source": source,
                                 "target": target, "layer": layer, "accuracy": accuracy, "sentences": by_lang[a].shape[1]})
    return pl.DataFrame(rows, schema=RETRIEVAL_SCHEMA)


def spectrum_frame(checkpoint: str, revision: str | None, spectra: list[MatrixSpectrum]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"checkpoint": checkpoint, "revision": revision, "layer": s.layer, "matrix": s.name, "rows": s.shape[0],
          "cols": s.shape[1], "effective_rank": s.effective_rank, "top_singular_value": float(s.singular_values[0]),
          "singular_values": s.singular_values.tolist()} for s in spectra],
        schema=SPECTRUM_SCHEMA,
    )


def probe_frame(spec: AnalyzeSpec, encoder: Encoder, store: ArtifactFolder, log: Callable[[str], None]) -> pl.DataFrame:
    """The probe of `spec.probe_task` trained on every layer's features, each seed, scored on every test
    language."""
    task = TASKS[spec.probe_task]
    data, missing = load_task_data(spec.source.open(), task, "english-dev", spec.max_train_examples,
                                   f"probe_by_layer {spec.checkpoint}", spec.source.describe())
    if missing:
        log(f"{task.key}: no test set for {', '.join(missing)} in {spec.source.describe()}")
    settings = settings_for(spec.probe_protocol, task.key, patience=spec.patience)
    # As the scorer builds its encoder and cache key, so that the two share cache entries.
    encoder = encoder.with_max_length(settings.max_length)
    identity = {"checkpoint": spec.checkpoint, "revision": spec.revision, "max_length": encoder.max_length,
                "lang_codes": encoder.lang_codes}
    cache = store.path("features", spec.checkpoint, task.key) if spec.feature_cache else None
    layers = tuple(range(encoder.num_layers + 1))
    features = cached_task_features_by_layer(data, encoder, layers, DEFAULT_POOLING[spec.probe_protocol], cache, identity, log)
    head = probe_task if spec.probe_protocol == "probe" else linear_probe_task
    rows = []
    for layer in layers:
        for seed in spec.seeds:
            result = head(features[layer], settings, seed, "english-dev", log)
            rows += [{"checkpoint": spec.checkpoint, "revision": spec.revision, "task": task.key,
                      "protocol": spec.probe_protocol, "language": s.language, "layer": layer, "metric": s.metric,
                      "value": s.value, "seed": seed, "n_examples": s.n_examples}
                     for s in result.scores if s.split == "test"]
        log(f"{task.key}: layer {layer} probed ({len(spec.seeds)} seed{'s' if len(spec.seeds) > 1 else ''})")
    return pl.DataFrame(rows, schema=PROBE_SCHEMA)


def analyze_checkpoint(spec: AnalyzeSpec, log: Callable[[str], None] = print) -> dict[str, dict[str, object]]:
    """Every analysis of `spec`; writes one file per analysis; returns each asset's metadata by key."""
    if spec.threads:
        torch.set_num_threads(spec.threads)  # before any torch work: it fixes how sums are split
    directory = Path(spec.checkpoint_dir)
    encoder = Encoder(directory, device=resolve_device(spec.device), max_length=spec.max_length,
                      pooling=spec.pooling, lang_codes=language_codes_of(directory))
    return run_analyses(spec, encoder, log)


def run_analyses(spec: AnalyzeSpec, encoder: Encoder, log: Callable[[str], None] = print) -> dict[str, dict[str, object]]:
    """`analyze_checkpoint` with the checkpoint's encoder loaded."""
    store = ArtifactFolder(spec.artifacts_root, spec.artifacts_remote)
    frames: dict[str, pl.DataFrame] = {}
    if ENCODING_ANALYSES & set(spec.analyses):
        sets = parallel_sets(pl.read_parquet(spec.sentences), spec.sentences)
        vectors = encode_sets(encoder, sets, log)
        if "cka" in spec.analyses:
            frames["cka"] = cka_frame(spec.checkpoint, spec.revision, vectors)
        if "retrieval" in spec.analyses:
            frames["retrieval"] = retrieval_frame(spec.checkpoint, spec.revision, vectors)
    if "spectrum" in spec.analyses:
        frames["spectrum"] = spectrum_frame(spec.checkpoint, spec.revision, weight_spectra(encoder.stack))
    if "probe" in spec.analyses:
        frames["probe"] = probe_frame(spec, encoder, store, log)
    for analysis, frame in frames.items():
        if frame.height == 0:  # e.g. CKA on sets without English: checked before any file is written
            raise EmptyOutputError(f"{ANALYSIS_ASSETS[analysis]} {spec.checkpoint}", spec.sentences, "no row")
    reports = {}
    for analysis, frame in frames.items():
        with store.writing_file(*analysis_parts(spec.checkpoint, analysis)) as tmp:
            frame.write_parquet(tmp)
        # Only small numbers travel through dagster-pipes (a line of ~100 KB of plots was read half
        # written by its reader); the assets draw the tables and plots from the file (report.py).
        reports[ANALYSIS_ASSETS[analysis]] = {"rows": frame.height}
        log(f"{ANALYSIS_ASSETS[analysis]}: {frame.height} rows")
    return reports
