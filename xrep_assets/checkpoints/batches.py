"""From corpus rows to each objective's training examples and batches, with a resumable position."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from xrep_assets.checkpoints import objectives as obj
from xrep_assets.checkpoints.spec import PretrainSpec
from xrep_assets.checkpoints.streams import CorpusTooSmallError, Row, RowStream
from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.study import DenoisingNoise, Direction

ROWS_PER_READ = 64  # rows tokenized together


class ExampleSource:
    """Turns the row stream into the objective's examples: packed blocks (MLM, CLM), documents
    (BART denoising) or one example per translation pair (TLM, MT).

    Examples built but not yet used, and the packing carry, are part of the saved state.
    """

    def __init__(self, spec: PretrainSpec, tokenizer: PreTrainedTokenizerBase, ids: TokenIds, stream: RowStream):
        self.spec, self.tokenizer, self.ids, self.stream = spec, tokenizer, ids, stream
        self.rows = iter(stream)
        self.carry: list[Any] = []
        self.pending: list[Any] = []
        self.directions = [Direction(*d.split(">")) for d in spec.directions]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=self.spec.max_length)[
            "input_ids"
        ]

    def _read(self, generator: torch.Generator) -> None:
        rows = [next(self.rows) for _ in range(min(ROWS_PER_READ, self.stream.total_rows))]
        objective = self.spec.objective
        if objective in ("mlm", "clm") and self.spec.sample_break_mode == "complete":
            blocks, self.carry = obj.pack_sentences(self._tokenize([r.text_1 for r in rows]), self.spec.max_length, self.ids, self.carry)
            self.pending += blocks
        elif objective in ("mlm", "clm"):
            blocks, self.carry = obj.pack_blocks(self._tokenize([r.text_1 for r in rows]), self.spec.max_length, self.ids, self.carry)
            self.pending += blocks
        elif objective == "bart-denoising":
            # Room for <s> and the final </s> of the target.
            documents, self.carry = obj.group_documents(self._tokenize([r.text_1 for r in rows]), self.spec.max_length - 2, self.carry)
            self.pending += documents
        else:
            firsts, seconds = self._tokenize([r.text_1 for r in rows]), self._tokenize([r.text_2 for r in rows])
            for row, ids_1, ids_2 in zip(rows, firsts, seconds):
                self.pending.append(self._pair_example(row, ids_1, ids_2, generator))

    def _pair_example(self, row: Row, ids_1: list[int], ids_2: list[int], generator: torch.Generator) -> dict:
        sides = {row.lang_1: ids_1, row.lang_2: ids_2}
        if self.spec.objective == "tlm":
            source, target = (row.lang_1, row.lang_2) if _coin(generator) else (row.lang_2, row.lang_1)
            return obj.tlm_example(source, sides[source], target, sides[target], self.ids, self.spec.max_length)
        candidates = [d for d in self.directions if {d.source, d.target} == {row.lang_1, row.lang_2}]
        direction = candidates[int(torch.randint(len(candidates), (1,), generator=generator))]
        return obj.mt_example(
            direction.source, sides[direction.source], direction.target, sides[direction.target], self.ids, self.spec.max_length
        )

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


def collate(
    objective: str, examples: list[Any], ids: TokenIds, generator: torch.Generator, noise: DenoisingNoise | None = None
) -> dict[str, torch.Tensor]:
    collators: dict[str, Callable[[], dict[str, torch.Tensor]]] = {
        "mlm": lambda: obj.mlm_batch(examples, ids, generator),
        "clm": lambda: obj.clm_batch(examples, ids),
        "tlm": lambda: obj.tlm_batch(examples, ids),
        "bart-denoising": lambda: obj.denoising_batch(examples, ids, generator, noise or obj.BART_PAPER_NOISE),
        "mt-transformer": lambda: obj.mt_batch(examples, ids),
        "mt-bart": lambda: obj.mt_batch(examples, ids),
    }
    return collators[objective]()
