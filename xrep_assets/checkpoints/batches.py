"""From corpus rows to each objective's training examples and batches, with a resumable position."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from xrep_assets.checkpoints import objectives as obj
from xrep_assets.checkpoints.spec import PretrainSpec
from xrep_assets.checkpoints.streams import CorpusTooSmallError, Row, RowStream
from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.study import OBJECTIVES, BatchKind, DenoisingNoise, Direction, Objective

ROWS_PER_READ = 64  # rows tokenized together


class ExampleSource:
    """Turns the row stream into the objective's examples, as its batch kind reads rows
    (`BATCH_BUILDERS`): packed blocks (MLM, CLM), documents (BART denoising) or one example per
    translation pair (TLM, MT).

    Examples built but not yet used, and the packing carry, are part of the saved state.
    """

    def __init__(self, spec: PretrainSpec, tokenizer: PreTrainedTokenizerBase, ids: TokenIds, stream: RowStream):
        self.spec, self.tokenizer, self.ids, self.stream = spec, tokenizer, ids, stream
        self.builder = BATCH_BUILDERS[OBJECTIVES[spec.objective].batches]
        self.rows = iter(stream)
        self.carry: list[Any] = []
        self.pending: list[Any] = []
        self.directions = [Direction(*d.split(">")) for d in spec.directions]

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=self.spec.max_length)[
            "input_ids"
        ]

    def _read(self, generator: torch.Generator) -> None:
        rows = [next(self.rows) for _ in range(min(ROWS_PER_READ, self.stream.total_rows))]
        self.pending += self.builder.read(self, rows, generator)

    def _fill(self, n: int, generator: torch.Generator) -> None:
        start_epochs = self.stream.completed_epochs
        while len(self.pending) < n:
            self._read(generator)
            if self.stream.completed_epochs > start_epochs + 1:
                raise CorpusTooSmallError(
                    f"the pretraining corpus ({self.stream.total_rows} rows) cannot fill one batch of {n} "
                    f"{self.spec.objective} examples of up to {self.spec.max_length} tokens, even read twice over"
                )

    def take(self, n: int, generator: torch.Generator) -> list[Any]:
        """The next `n` examples."""
        self._fill(n, generator)
        taken, self.pending = self.pending[:n], self.pending[n:]
        return taken

    def take_token_batches(self, count: int, max_tokens: int, max_sentences: int, generator: torch.Generator) -> list[list[Any]]:
        """The next `count` batches, each of consecutive examples holding at most `max_tokens` padded
        tokens (longest example x examples, as fairseq's --max-tokens counts) and `max_sentences`
        examples. Unlike fairseq, examples are not sorted by length first: batches keep stream order."""
        batches = []
        for _ in range(count):
            batch: list[Any] = []
            longest = 0
            while len(batch) < max_sentences:
                self._fill(1, generator)
                width = max(longest, example_length(self.pending[0]))
                if batch and width * (len(batch) + 1) > max_tokens:
                    break
                batch.append(self.pending.pop(0))
                longest = width
            batches.append(batch)
        return batches

    def state(self) -> dict:
        return {"stream": self.stream.state(), "carry": self.carry, "pending": self.pending}

    def restore(self, state: dict) -> None:
        self.stream.restore(state["stream"])
        self.carry, self.pending = state["carry"], state["pending"]


def example_length(example: Any) -> int:
    """Positions an example occupies once collated: a block, a document (plus bos and one eos per
    sentence), or the longer side of a pair."""
    if isinstance(example, dict):
        return max(len(example["input_ids"]), len(example.get("labels", ())))
    if example and isinstance(example[0], list):
        return 1 + sum(len(sentence) + 1 for sentence in example)
    return len(example)


def _coin(generator: torch.Generator) -> bool:
    return bool(torch.randint(2, (1,), generator=generator))


# --------------------------------------------------------------------------------------------------
# The builders of each batch kind (study.Objective.batches): rows to examples, examples to a batch


def _blocks(source: ExampleSource, rows: list[Row], generator: torch.Generator) -> list[list[int]]:
    """Sentences packed into blocks of max_length: whole sentences only under `complete`."""
    pack = obj.pack_sentences if source.spec.sample_break_mode == "complete" else obj.pack_blocks
    blocks, source.carry = pack(source.tokenize([r.text_1 for r in rows]), source.spec.max_length, source.ids, source.carry)
    return blocks


def _documents(source: ExampleSource, rows: list[Row], generator: torch.Generator) -> list[list[list[int]]]:
    # Room for <s> and the final </s> of the target.
    documents, source.carry = obj.group_documents(source.tokenize([r.text_1 for r in rows]), source.spec.max_length - 2, source.carry)
    return documents


def _sides(source: ExampleSource, rows: list[Row]) -> list[tuple[Row, dict[str, list[int]]]]:
    """Each pair with its two sides' token ids by language."""
    firsts, seconds = source.tokenize([r.text_1 for r in rows]), source.tokenize([r.text_2 for r in rows])
    return [(row, {row.lang_1: ids_1, row.lang_2: ids_2}) for row, ids_1, ids_2 in zip(rows, firsts, seconds)]


def _tlm_pairs(source: ExampleSource, rows: list[Row], generator: torch.Generator) -> list[dict]:
    """One sequence per pair, its sides in a random order."""
    examples = []
    for row, sides in _sides(source, rows):
        src, tgt = (row.lang_1, row.lang_2) if _coin(generator) else (row.lang_2, row.lang_1)
        examples.append(obj.tlm_example(src, sides[src], tgt, sides[tgt], source.ids, source.spec.max_length))
    return examples


def _translations(source: ExampleSource, rows: list[Row], generator: torch.Generator) -> list[dict]:
    """One example per pair, in one of the spec's directions between its languages, drawn at random."""
    examples = []
    for row, sides in _sides(source, rows):
        candidates = [d for d in source.directions if {d.source, d.target} == {row.lang_1, row.lang_2}]
        direction = candidates[int(torch.randint(len(candidates), (1,), generator=generator))]
        examples.append(obj.mt_example(
            direction.source, sides[direction.source], direction.target, sides[direction.target], source.ids, source.spec.max_length
        ))
    return examples


@dataclass(frozen=True)
class BatchBuilder:
    # The examples of some rows; the packing readers keep their unfinished block in `source.carry`.
    read: Callable[[ExampleSource, list[Row], torch.Generator], list[Any]]
    # A batch of examples: (examples, ids, generator, the objective's catalog entry, denoising noise).
    collate: Callable[[list[Any], TokenIds, torch.Generator, Objective, DenoisingNoise | None], dict[str, torch.Tensor]]


BATCH_BUILDERS: dict[BatchKind, BatchBuilder] = {
    "mlm": BatchBuilder(
        _blocks, lambda examples, ids, generator, objective, noise: obj.mlm_batch(examples, ids, generator, objective.predicted_share)
    ),
    "clm": BatchBuilder(_blocks, lambda examples, ids, generator, objective, noise: obj.clm_batch(examples, ids)),
    "tlm": BatchBuilder(_tlm_pairs, lambda examples, ids, generator, objective, noise: obj.tlm_batch(examples, ids)),
    "denoising": BatchBuilder(
        _documents, lambda examples, ids, generator, objective, noise: obj.denoising_batch(examples, ids, generator, noise or obj.BART_PAPER_NOISE)
    ),
    "translation": BatchBuilder(_translations, lambda examples, ids, generator, objective, noise: obj.mt_batch(examples, ids)),
}


def collate(
    objective: str, examples: list[Any], ids: TokenIds, generator: torch.Generator, noise: DenoisingNoise | None = None
) -> dict[str, torch.Tensor]:
    """One batch of `objective`'s examples, as its batch kind builds it (`noise`: BART denoising's)."""
    entry = OBJECTIVES[objective]
    return BATCH_BUILDERS[entry.batches].collate(examples, ids, generator, entry, noise)
