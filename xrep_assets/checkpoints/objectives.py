"""Training batches for the study's six pretraining objectives, from lists of token ids.

Pure data logic: no model, no tokenizer. Inputs are token ids WITHOUT special tokens; the functions
here add the bos/eos/language tags each objective needs. Every random choice goes through an explicit
``torch.Generator``, so a batch is reproducible from (seed, step); no global RNG is touched.

- MLM (BERT) and CLM (GPT-2): ``pack_blocks`` then ``mlm_batch`` / ``clm_batch``.
- TLM (Conneau & Lample 2019, on GPT-2): ``tlm_example`` then ``tlm_batch``.
- BART denoising (Lewis et al. 2020): ``group_documents``, then ``denoising_batch``
  (sentence permutation + text infilling: ``permute_sentences``, ``infill``).
- MT (mBART-50 tag convention, Transformer or BART): ``mt_example`` then ``mt_batch``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.errors import XrepError
from xrep_assets.study import DenoisingNoise

IGNORE_INDEX = -100  # what Hugging Face losses skip


class ObjectiveError(XrepError, ValueError):
    """Inputs an objective cannot turn into a batch (also a ValueError, as callers catch that)."""


# --------------------------------------------------------------------------------------------------
# Shared helpers


def _require_rows(rows: Sequence, what: str) -> None:
    if len(rows) == 0:
        raise ObjectiveError(f"cannot build a batch from no {what}")


def _right_pad(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([list(row) + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def _attention_mask(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    # From the lengths, not from `ids.pad`: a tokenizer may reuse eos as pad (GPT-2 does).
    width = max(len(row) for row in rows)
    return torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], dtype=torch.long)


def _special_tensor(ids: TokenIds) -> torch.Tensor:
    return torch.tensor(sorted(ids.special), dtype=torch.long)


# --------------------------------------------------------------------------------------------------
# MLM and CLM: packed blocks


def pack_blocks(
    sentences: Iterable[list[int]], length: int, ids: TokenIds, carry: list[int] | None = None
) -> tuple[list[list[int]], list[int]]:
    """Packs sentences (each followed by eos) into blocks of exactly ``length`` tokens, bos first.

    Returns the full blocks and the leftover content (shorter than ``length - 1``) to pass back as
    ``carry`` with the next sentences. Long sentences span blocks; empty ones are skipped.
    """
    if length < 2:
        raise ObjectiveError(f"a block needs room for bos and one token; got length={length}")
    stream = list(carry or [])
    for sentence in sentences:
        if sentence:
            stream.extend(sentence)
            stream.append(ids.eos)
    content = length - 1
    full = len(stream) // content * content
    blocks = [[ids.bos, *stream[start : start + content]] for start in range(0, full, content)]
    return blocks, stream[full:]


def pack_sentences(
    sentences: Iterable[list[int]], length: int, ids: TokenIds, carry: list[list[int]] | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """Packs whole sentences (each followed by eos) into blocks of at most ``length`` tokens, bos
    first (fairseq's --sample-break-mode complete): no sentence spans two blocks; one longer than a
    block is cut and stands alone. Returns the blocks and the sentences of the open block."""
    documents, carry = group_documents(sentences, length - 1, carry)
    return [[ids.bos, *_join_sentences(document, ids.eos)] for document in documents], carry


def _eligible_for_masking(input_ids: torch.Tensor, attention_mask: torch.Tensor, ids: TokenIds) -> torch.Tensor:
    return attention_mask.bool() & ~torch.isin(input_ids, _special_tensor(ids))


def _choose_masked_positions(eligible: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    chosen = (torch.rand(eligible.shape, generator=generator) < probability) & eligible
    if not chosen.any():
        # A batch with no target has an undefined (NaN) loss: force one eligible position.
        candidates = eligible.flatten().nonzero().squeeze(1)
        pick = candidates[torch.randint(len(candidates), (1,), generator=generator)]
        chosen = chosen.flatten()
        chosen[pick] = True
        chosen = chosen.view(eligible.shape)
    return chosen


def _non_special_ids(ids: TokenIds) -> torch.Tensor:
    vocabulary = torch.arange(ids.size, dtype=torch.long)
    return vocabulary[~torch.isin(vocabulary, _special_tensor(ids))]


def mlm_batch(
    blocks: Sequence[list[int]], ids: TokenIds, generator: torch.Generator, probability: float
) -> dict[str, torch.Tensor]:
    """BERT masking: each non-special, non-pad token is chosen with ``probability`` (the catalog's
    ``predicted_share``, BERT's 15 %); of the chosen,
    80% become ``ids.mask``, 10% a uniformly random non-special id, 10% stay. ``labels`` hold the
    original id at chosen positions and -100 elsewhere; at least one position is always chosen."""
    _require_rows(blocks, "blocks")
    if not 0.0 <= probability <= 1.0:
        raise ObjectiveError(f"the masking probability must lie in [0, 1]; got {probability}")
    original = _right_pad(blocks, ids.pad)
    attention_mask = _attention_mask(blocks)
    eligible = _eligible_for_masking(original, attention_mask, ids)
    if not eligible.any():
        raise ObjectiveError("no block has a maskable (non-special) token")
    replacements = _non_special_ids(ids)
    if len(replacements) == 0:
        raise ObjectiveError(f"all {ids.size} ids are special: none can serve as a random replacement")

    chosen = _choose_masked_positions(eligible, probability, generator)
    # One uniform draw per position splits the chosen ones 80 / 10 / 10.
    action = torch.rand(original.shape, generator=generator)
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    random_ids = replacements[torch.randint(len(replacements), original.shape, generator=generator)]

    input_ids = original.clone()
    input_ids[to_mask] = ids.mask
    input_ids[to_random] = random_ids[to_random]
    labels = torch.where(chosen, original, torch.full_like(original, IGNORE_INDEX))
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def clm_batch(blocks: Sequence[list[int]], ids: TokenIds) -> dict[str, torch.Tensor]:
    """Causal LM: labels are the inputs with pads ignored; the model shifts them itself."""
    _require_rows(blocks, "blocks")
    input_ids = _right_pad(blocks, ids.pad)
    attention_mask = _attention_mask(blocks)
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


# --------------------------------------------------------------------------------------------------
# TLM: a translation pair as one GPT-2 sequence

TLM_OVERHEAD = 4  # two language tags and two eos


def split_budget(length_a: int, length_b: int, budget: int) -> tuple[int, int]:
    """Token counts of a pair's two segments that fit ``budget``, cutting the longer side first; when
    both are cut, the first keeps the odd token. TLM's examples and the encoder's tagged pairs share it."""
    if length_a + length_b <= budget:
        return length_a, length_b
    half = budget // 2
    if length_a <= half:
        return length_a, budget - length_a
    if length_b <= half:
        return budget - length_b, length_b
    return budget - half, half


def tlm_example(
    src_lang: str, src: list[int], tgt_lang: str, tgt: list[int], ids: TokenIds, max_length: int
) -> dict[str, list[int]]:
    """``[<src>] src [eos] [<tgt>] tgt [eos]`` with positions restarting at 0 for the target side,
    so each sentence sits at the positions it has alone (Conneau & Lample 2019). Content is cut,
    longer side first, to fit ``max_length``; each side keeps at least one token when it has one."""
    if max_length < TLM_OVERHEAD + 2:
        raise ObjectiveError(f"TLM needs max_length >= 6 (tags, eos and a token per side); got {max_length}")
    src_keep, tgt_keep = split_budget(len(src), len(tgt), max_length - TLM_OVERHEAD)
    source = [ids.language(src_lang), *src[:src_keep], ids.eos]
    target = [ids.language(tgt_lang), *tgt[:tgt_keep], ids.eos]
    return {
        "input_ids": source + target,
        "position_ids": list(range(len(source))) + list(range(len(target))),
    }


def tlm_batch(examples: Sequence[dict[str, list[int]]], ids: TokenIds) -> dict[str, torch.Tensor]:
    """Pads TLM examples right. Labels ignore pads and the first token (the source tag): no earlier
    token predicts it. Every other token, the target tag included, is predicted."""
    _require_rows(examples, "examples")
    rows = [example["input_ids"] for example in examples]
    positions = [example["position_ids"] for example in examples]
    for row, position in zip(rows, positions, strict=True):
        if len(row) != len(position):
            raise ObjectiveError(f"an example has {len(row)} input ids but {len(position)} position ids")
    input_ids = _right_pad(rows, ids.pad)
    attention_mask = _attention_mask(rows)
    labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    labels[:, 0] = IGNORE_INDEX
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": _right_pad(positions, 0),
        "labels": labels,
    }


# --------------------------------------------------------------------------------------------------
# BART denoising: sentence permutation + text infilling


def group_documents(
    sentences: Iterable[list[int]], max_tokens: int, carry: list[list[int]] | None = None
) -> tuple[list[list[list[int]]], list[list[int]]]:
    """Groups consecutive sentences into documents of at most ``max_tokens`` tokens, counting one eos
    per sentence (the bos the batch adds is not counted). A sentence too long for any document is
    truncated and stands alone. Returns the complete documents and the unfinished one as the carry."""
    if max_tokens < 2:
        raise ObjectiveError(f"a document needs room for a token and its eos; got max_tokens={max_tokens}")
    documents: list[list[list[int]]] = []
    current = [list(sentence) for sentence in carry or []]
    used = sum(len(sentence) + 1 for sentence in current)
    for sentence in sentences:
        if not sentence:
            continue
        cost = len(sentence) + 1
        if cost > max_tokens:
            if current:
                documents.append(current)
            documents.append([list(sentence[: max_tokens - 1])])
            current, used = [], 0
        elif used + cost > max_tokens:
            documents.append(current)
            current, used = [list(sentence)], cost
        else:
            current.append(list(sentence))
            used += cost
    return documents, current


def permute_sentences(document: list[list[int]], generator: torch.Generator, share: float = 1.0) -> list[list[int]]:
    """The document with `share` of its sentences (rounded up) shuffled among their own places, as
    fairseq's --permute-sentences; share 1 is a uniformly random order of all of them."""
    if share >= 1.0:
        order = torch.randperm(len(document), generator=generator).tolist()
        return [document[index] for index in order]
    count = math.ceil(len(document) * share)
    if count < 2:
        return list(document)
    places = torch.randperm(len(document), generator=generator)[:count]
    order = torch.arange(len(document))
    order[places] = places[torch.randperm(count, generator=generator)]
    return [document[index] for index in order.tolist()]


def rotate(tokens: list[int], generator: torch.Generator) -> list[int]:
    """The tokens between the first and the last rotated to start at a random one (fairseq's rolling
    noise, BART's document rotation); the first (bos) and last (eos) stay in place."""
    if len(tokens) < 4:
        return list(tokens)
    offset = 1 + int(torch.randint(len(tokens) - 2, (1,), generator=generator))
    return [tokens[0], *tokens[offset:-1], *tokens[1:offset], tokens[-1]]


def _poisson(rate: float, generator: torch.Generator) -> int:
    return int(torch.poisson(torch.tensor([rate], dtype=torch.float), generator=generator).item())


def _extend_span(start: int, length: int, masked_by: list[int], eligible: set[int], span: int) -> list[int]:
    """Positions from ``start`` rightwards, at most ``length``, stopping at a special or masked one."""
    covered = []
    position = start
    while len(covered) < length and position in eligible and masked_by[position] < 0:
        masked_by[position] = span
        covered.append(position)
        position += 1
    return covered


def infill(
    tokens: list[int],
    ids: TokenIds,
    generator: torch.Generator,
    mask_ratio: float = 0.3,
    poisson_lambda: float = 3.0,
) -> list[int]:
    """BART text infilling: removes ``round(mask_ratio * n)`` of the ``n`` non-special tokens in spans
    of Poisson(``poisson_lambda``) length, each span replaced by ONE ``ids.mask``; a 0-length span
    inserts a mask. Spans start at a random unmasked token and stop at a special token (eos
    separators stay) or at an earlier span, so the removed count is exact."""
    if not 0.0 <= mask_ratio <= 1.0:
        raise ObjectiveError(f"the mask ratio must lie in [0, 1]; got {mask_ratio}")
    if poisson_lambda <= 0:
        raise ObjectiveError(f"the span-length rate must be positive; got {poisson_lambda}")
    special = ids.special
    eligible = {position for position, token in enumerate(tokens) if token not in special}
    target = round(mask_ratio * len(eligible))

    masked_by = [-1] * len(tokens)  # span index per position, -1 when kept
    inserted_before = [0] * (len(tokens) + 1)  # 0-length spans
    free = sorted(eligible)  # unmasked eligible positions, swap-removed below
    slot = {position: index for index, position in enumerate(free)}
    removed = 0
    span = 0
    while removed < target:
        length = min(_poisson(poisson_lambda, generator), target - removed)
        start = free[int(torch.randint(len(free), (1,), generator=generator).item())]
        if length == 0:
            inserted_before[start] += 1
        for position in _extend_span(start, length, masked_by, eligible, span):
            last = free.pop()
            if last != position:
                free[slot[position]] = last
                slot[last] = slot[position]
            del slot[position]
            removed += 1
        span += 1

    noised: list[int] = []
    for position, token in enumerate(tokens):
        noised.extend([ids.mask] * inserted_before[position])
        if masked_by[position] < 0:
            noised.append(token)
        elif position == 0 or masked_by[position - 1] != masked_by[position]:
            noised.append(ids.mask)
    return noised


def _join_sentences(sentences: Sequence[list[int]], eos: int) -> list[int]:
    return [token for sentence in sentences for token in (*sentence, eos)]


# Lewis et al. (2020)'s best noise: text infilling of 30 % in Poisson(3) spans, every sentence permuted.
BART_PAPER_NOISE = DenoisingNoise(mask=0.3, poisson_lambda=3.0, permute_sentences=1.0, rotate=0.0)


def denoising_batch(
    documents: Sequence[list[list[int]]],
    ids: TokenIds,
    generator: torch.Generator,
    noise: DenoisingNoise = BART_PAPER_NOISE,
) -> dict[str, torch.Tensor]:
    """BART pretraining pairs: the input is the document noised in fairseq's order (sentences
    permuted, spans infilled, then the whole rotated with probability ``noise.rotate``), the labels
    the original document, both ``[bos] s1 [eos] s2 [eos] ...``. Infilling's 0-length spans can make
    an input a few tokens longer than its labels."""
    _require_rows(documents, "documents")
    inputs, targets = [], []
    for document in documents:
        if not document:
            raise ObjectiveError("a document has no sentences")
        shuffled = _join_sentences(permute_sentences(document, generator, noise.permute_sentences), ids.eos)
        noised = [ids.bos, *infill(shuffled, ids, generator, noise.mask, noise.poisson_lambda)]
        if noise.rotate > 0 and float(torch.rand((), generator=generator)) < noise.rotate:
            noised = rotate(noised, generator)
        inputs.append(noised)
        targets.append([ids.bos, *_join_sentences(document, ids.eos)])
    return {
        "input_ids": _right_pad(inputs, ids.pad),
        "attention_mask": _attention_mask(inputs),
        "labels": _right_pad(targets, IGNORE_INDEX),
    }


# --------------------------------------------------------------------------------------------------
# Machine translation, mBART-50 tag convention


def _tagged(lang_id: int, content: list[int], eos: int, max_length: int) -> list[int]:
    return [lang_id, *content[: max_length - 2], eos]


def mt_example(
    src_lang: str, src: list[int], tgt_lang: str, tgt: list[int], ids: TokenIds, max_length: int
) -> dict[str, list[int]]:
    """``[<src>] src [eos]`` -> ``[<tgt>] tgt [eos]``; each side cut to ``max_length``, tags and eos kept.
    The target tag is the first label, so the decoder learns which language to produce."""
    if max_length < 3:
        raise ObjectiveError(f"MT needs max_length >= 3 (tag, a token, eos); got {max_length}")
    return {
        "input_ids": _tagged(ids.language(src_lang), src, ids.eos, max_length),
        "labels": _tagged(ids.language(tgt_lang), tgt, ids.eos, max_length),
    }


def mt_batch(examples: Sequence[dict[str, list[int]]], ids: TokenIds) -> dict[str, torch.Tensor]:
    """Pads sources with pad and labels with -100, each to its own longest row."""
    _require_rows(examples, "examples")
    sources = [example["input_ids"] for example in examples]
    return {
        "input_ids": _right_pad(sources, ids.pad),
        "attention_mask": _attention_mask(sources),
        "labels": _right_pad([example["labels"] for example in examples], IGNORE_INDEX),
    }
