"""Frozen-encoder probing: a head trained on English features, evaluated zero-shot in every language.

The encoder runs once per split (`task_features`): each text's (or pair's) token vectors of the
chosen layer pooled into one vector (summed over the real tokens by default), or each word's
first-subword vector for tagging. The features stay in memory, so an epoch of the head is cheap and
every seed reuses them; `cached_task_features` also keeps them in a file (the artifact store's
feature cache), keyed by everything that changes them, so a later run (a new seed, a re-run, the
`linear` protocol) skips the encoder altogether.

- `probe_task`, the `probe` protocol: the MLP head, AdamW, early stopping on the selection value
  (settings in `protocols.PROBE_SETTINGS`).
- `linear_probe_task`, the `linear` protocol: a standardised logistic regression, its C chosen on
  the selection value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xrep_assets.artifacts import committing_file
from xrep_assets.checkpoints.encoder import Encoder, check_layer, padded_batch
from xrep_assets.errors import XrepError
from xrep_assets.evaluation.heads import (
    LabelSpace,
    MLPHead,
    ModelSelection,
    catalog_value,
    example_texts,
    first_subword_states,
    language_scores,
    pool_tokens,
    selection_value,
)
from xrep_assets.evaluation.protocols import (
    Examples,
    ProtocolResult,
    Selection,
    TaskData,
    TrainingSettings,
)
from xrep_assets.study import SOURCE_LANGUAGE, Task
from xrep_assets.xglue.readers import TaggedSentences

REGULARISATION_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)


@dataclass(frozen=True)
class SplitFeatures:
    """One split of one language: its examples and one vector per row (per word for tagging)."""

    examples: Examples
    vectors: torch.Tensor


@dataclass(frozen=True)
class TaskFeatures:
    task: Task
    train: SplitFeatures
    dev: Mapping[str, SplitFeatures]
    test: Mapping[str, SplitFeatures]


def split_features(
    task: Task, encoder: Encoder, examples: Examples, layer: int, pooling: str, lang: str
) -> torch.Tensor:
    """The frozen encoder's vectors of one split at `layer`, in `lang`'s input form (its language
    marker): one per row, or one per word for tagging (sentence after sentence)."""
    return split_features_by_layer(task, encoder, examples, (layer,), pooling, lang)[0]


def split_features_by_layer(
    task: Task, encoder: Encoder, examples: Examples, layers: Sequence[int], pooling: str, lang: str
) -> list[torch.Tensor]:
    """`split_features` at each of `layers`, all from one forward pass of each batch. Rows are
    encoded in the encoder's length-sorted, token-budget batches and put back in their order."""
    for layer in layers:
        check_layer(layer, encoder.num_layers)
    if task.head == "tagging":
        return _word_features(encoder, examples.tokens, layers, lang)
    texts_a, texts_b = example_texts(task, examples)
    rows = encoder.text_rows(texts_a, texts_b, lang)
    vectors = [torch.zeros((len(rows), encoder.hidden_size), device=encoder.device) for _ in layers]
    for batch in encoder.batches([len(row["input_ids"]) for row in rows]):
        inputs = encoder.collate([rows[i] for i in batch])
        states = encoder.all_hidden_states(inputs)
        where = torch.tensor(batch, device=encoder.device)
        for out, layer in zip(vectors, layers):
            out[where] = pool_tokens(states[layer], inputs["attention_mask"], pooling).float()
    return vectors


def _word_features(encoder: Encoder, sentences: list[list[str]], layers: Sequence[int], lang: str) -> list[torch.Tensor]:
    rows, firsts = encoder.word_rows(sentences, lang)
    per_sentence: list[list[torch.Tensor | None]] = [[None] * len(rows) for _ in layers]
    for batch in encoder.batches([len(row) for row in rows]):
        inputs = padded_batch([rows[i] for i in batch], encoder.tokenizer.pad_token_id)
        states = encoder.all_hidden_states(inputs)
        for out, layer in zip(per_sentence, layers):
            words = first_subword_states(states[layer], [firsts[i] for i in batch]).float()
            for index, vectors in zip(batch, words.split([len(firsts[i]) for i in batch]), strict=True):
                out[index] = vectors
    if not rows:
        return [torch.zeros((0, encoder.hidden_size), device=encoder.device) for _ in layers]
    return [torch.cat(out) for out in per_sentence]


def task_features(
    data: TaskData, encoder: Encoder, layer: int = -1, pooling: str = "sum", log: Callable[[str], None] = print
) -> TaskFeatures:
    """Every split of `data` through the frozen encoder, once."""
    return task_features_by_layer(data, encoder, (layer,), pooling, log)[layer]


def task_features_by_layer(
    data: TaskData, encoder: Encoder, layers: Sequence[int], pooling: str = "sum", log: Callable[[str], None] = print
) -> dict[int, TaskFeatures]:
    """`task_features` at each of `layers`, every split encoded once for all of them."""

    def features(examples: Examples, lang: str) -> list[SplitFeatures]:
        return [SplitFeatures(examples, v) for v in split_features_by_layer(data.task, encoder, examples, layers, pooling, lang)]

    train = features(data.train, SOURCE_LANGUAGE)
    dev = {lang: features(examples, lang) for lang, examples in data.dev.items()}
    test = {lang: features(examples, lang) for lang, examples in data.test.items()}
    log(f"{data.task.key}: features of layer{'s' if len(layers) > 1 else ''} {', '.join(map(str, layers))} "
        f"({pooling if data.task.head != 'tagging' else 'first subword'}), "
        f"{train[0].vectors.shape[0]} training vectors of size {train[0].vectors.shape[1]}")
    return {
        layer: TaskFeatures(data.task, train[k], {lang: f[k] for lang, f in dev.items()}, {lang: f[k] for lang, f in test.items()})
        for k, layer in enumerate(layers)
    }


def examples_fingerprint(examples: Examples) -> str:
    """A digest of a split's content: the feature cache's key must change when the data does."""
    digest = hashlib.sha256()
    if isinstance(examples, TaggedSentences):
        digest.update(json.dumps([examples.tokens, examples.tags], ensure_ascii=False).encode())
    else:
        for column in examples.frame.columns:
            digest.update(json.dumps(examples.frame[column].to_list(), ensure_ascii=False).encode())
    return digest.hexdigest()


def feature_cache_key(data: TaskData, encoder_identity: Mapping[str, object], layer: int, pooling: str) -> str:
    """The cache key of `data`'s features: the checkpoint (its revision), how inputs are built
    (max length, language markers), the layer, the pooling, and every split's content."""
    parts = {
        "encoder": dict(encoder_identity), "layer": layer, "pooling": pooling, "task": data.task.key,
        "train": examples_fingerprint(data.train),
        "dev": {lang: examples_fingerprint(e) for lang, e in sorted(data.dev.items())},
        "test": {lang: examples_fingerprint(e) for lang, e in sorted(data.test.items())},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class FeatureCacheError(XrepError):
    """A feature cache entry that cannot be used (damaged bytes, another format, not the data's
    splits): names the file. The cache reads it as a miss."""


def save_task_features(features: TaskFeatures, path: Path) -> None:
    """The vectors of every split in one file with their digest, committed durably
    (`committing_file`): at every instant `path` holds the whole entry or what it held before."""
    tensors = {"train": features.train.vectors.cpu()}
    tensors |= {f"dev.{lang}": split.vectors.cpu() for lang, split in features.dev.items()}
    tensors |= {f"test.{lang}": split.vectors.cpu() for lang, split in features.test.items()}
    with committing_file(path) as tmp:
        torch.save({"tensors": tensors, "sha256": vectors_digest(tensors)}, tmp)


def load_task_features(data: TaskData, path: Path, device: str = "cpu") -> TaskFeatures:
    """`data`'s features from `save_task_features`' file (the caller's key says they are `data`'s).
    An entry that is not whole, or whose splits or rows are not `data`'s, is a `FeatureCacheError`:
    torch reads damaged bytes without complaint where they are vectors, so the digest is checked."""
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # damaged bytes make torch's reader raise almost any type (zip, pickle, storage)
        raise FeatureCacheError(f"{path}: not a readable feature cache entry ({err!r})") from err
    tensors = entry.get("tensors") if isinstance(entry, dict) else None
    if not isinstance(tensors, dict) or not all(isinstance(t, torch.Tensor) for t in tensors.values()):
        raise FeatureCacheError(f"{path}: not a feature cache entry (one written before entries had a digest?)")
    if entry.get("sha256") != vectors_digest(tensors):
        raise FeatureCacheError(f"{path}: its vectors do not match their sha256")
    splits = {"train": data.train} | {f"dev.{lang}": e for lang, e in data.dev.items()}
    splits |= {f"test.{lang}": e for lang, e in data.test.items()}
    if tensors.keys() != splits.keys():
        raise FeatureCacheError(f"{path}: holds the splits {sorted(tensors)}, the data has {sorted(splits)}")
    for name, examples in splits.items():
        rows = examples.num_tokens if isinstance(examples, TaggedSentences) else len(examples)
        if tensors[name].dim() != 2 or tensors[name].shape[0] != rows:
            raise FeatureCacheError(f"{path}: {name} has vectors of shape {tuple(tensors[name].shape)}, the data {rows} rows")

    def split(name: str, examples: Examples) -> SplitFeatures:
        return SplitFeatures(examples, tensors[name].to(device))

    return TaskFeatures(
        data.task,
        split("train", data.train),
        {lang: split(f"dev.{lang}", e) for lang, e in data.dev.items()},
        {lang: split(f"test.{lang}", e) for lang, e in data.test.items()},
    )


def vectors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """The sha256 of named CPU tensors: each name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.contiguous().flatten().view(torch.uint8).numpy().data)
    return digest.hexdigest()


def cached_task_features(
    data: TaskData,
    encoder: Encoder,
    layer: int,
    pooling: str,
    cache_dir: Path | None,
    encoder_identity: Mapping[str, object],
    log: Callable[[str], None] = print,
) -> TaskFeatures:
    """`task_features`, read from `cache_dir` when an earlier run computed the same ones (no cache
    when `cache_dir` is None). An entry that cannot be used is a miss: computed again and replaced."""
    return cached_task_features_by_layer(data, encoder, (layer,), pooling, cache_dir, encoder_identity, log)[layer]


def cached_task_features_by_layer(
    data: TaskData,
    encoder: Encoder,
    layers: Sequence[int],
    pooling: str,
    cache_dir: Path | None,
    encoder_identity: Mapping[str, object],
    log: Callable[[str], None] = print,
) -> dict[int, TaskFeatures]:
    """`cached_task_features` at each of `layers`: each layer's entry is read where an earlier run
    (the scorer's, a layer-wise probe's) wrote it, the missing layers are encoded together, in one
    pass, and each is saved. A layer counted from the end (-1) shares the entry of its index."""
    if cache_dir is None:
        return task_features_by_layer(data, encoder, layers, pooling, log)
    found: dict[int, TaskFeatures] = {}
    paths = {
        layer: cache_dir / f"{feature_cache_key(data, encoder_identity, layer % (encoder.num_layers + 1), pooling)}.pt"
        for layer in layers
    }
    for layer, path in paths.items():
        if path.is_file():
            try:
                found[layer] = load_task_features(data, path, encoder.device)
            except FeatureCacheError as err:
                log(f"{data.task.key}: {err}; computing the features again")
            else:
                log(f"{data.task.key}: features of layer {layer} from the cache {path}")
    missing = [layer for layer in layers if layer not in found]
    if missing:
        computed = task_features_by_layer(data, encoder, missing, pooling, log)
        for layer, features in computed.items():
            save_task_features(features, paths[layer])
        found |= computed
    return {layer: found[layer] for layer in layers}


def probe_task(
    features: TaskFeatures,
    settings: TrainingSettings,
    seed: int = 0,
    selection: Selection = "english-dev",
    log: Callable[[str], None] = print,
) -> ProtocolResult:
    """The MLP head trained on the English features; after each epoch the selection value on dev
    decides whether this is the best head yet; `settings.patience` epochs without a better one stop
    training. The best head is scored on every test language."""
    torch.manual_seed(seed)
    labels = LabelSpace.of(features.task)
    x, y = features.train.vectors, labels.targets(features.train.examples).to(features.train.vectors.device)
    head = MLPHead(x.shape[1], settings.head_hidden, len(labels)).to(x.device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    order = torch.Generator().manual_seed(seed)
    tracker = ModelSelection(selection, settings.patience)
    for epoch in range(1, settings.max_epochs + 1):
        head.train()
        for rows in torch.randperm(x.shape[0], generator=order).split(settings.batch_size):
            rows = rows.to(x.device)
            loss = torch.nn.functional.cross_entropy(head(x[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            dev_values = {
                lang: catalog_value(labels, head(split.vectors), split.examples) for lang, split in features.dev.items()
            }
        if tracker.update(epoch, dev_values, head):
            break
    tracker.restore_best(head)
    log(f"{features.task.key}: seed {seed}, epoch {tracker.best_epoch} of {tracker.epochs_run} kept, "
        f"{selection} {features.task.metric}={tracker.best_value:.4f}")
    with torch.no_grad():
        outputs = {lang: (head(split.vectors), split.examples) for lang, split in features.test.items()}
    return ProtocolResult(
        f"epoch {tracker.best_epoch}", tracker.best_value, tracker.best_values, tracker.epochs_run,
        language_scores(labels, outputs),
    )


def linear_probe_task(
    features: TaskFeatures,
    settings: TrainingSettings | None = None,
    seed: int = 0,
    selection: Selection = "english-dev",
    log: Callable[[str], None] = print,
) -> ProtocolResult:
    """A standardised logistic regression per C of `REGULARISATION_GRID`; the C with the best
    selection value is scored on every test language. (`settings` are not used: no epochs.)"""
    labels = LabelSpace.of(features.task)
    x, y = features.train.vectors.cpu().numpy(), labels.targets(features.train.examples).numpy()
    best = None
    for c in REGULARISATION_GRID:
        head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed)).fit(x, y)

        def logits(split, head=head) -> torch.Tensor:
            # Log-probabilities over every label (a label absent from training gets none).
            full = np.full((split.vectors.shape[0], len(labels)), -np.inf)
            if split.vectors.shape[0]:
                full[:, head.classes_] = head.predict_log_proba(split.vectors.cpu().numpy())
            return torch.from_numpy(full)

        dev_values = {
            lang: catalog_value(labels, logits(split), split.examples) for lang, split in features.dev.items()
        }
        value = selection_value(dev_values, selection)
        log(f"{features.task.key}: C={c} {selection} {features.task.metric}={value:.4f}")
        if best is None or value > best[1]:
            best = (c, value, dev_values, logits)
    assert best is not None
    c, value, dev_values, logits = best
    scores = language_scores(labels, {lang: (logits(split), split.examples) for lang, split in features.test.items()})
    return ProtocolResult(f"C={c}", value, dev_values, None, scores)

