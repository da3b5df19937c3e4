"""The objectives' batches against hand-computed values, and the random ones against their rates."""

from __future__ import annotations

import pytest
import torch

from xrep_assets.checkpoints.objectives import (
    clm_batch,
    denoising_batch,
    group_documents,
    infill,
    mlm_batch,
    mt_batch,
    mt_example,
    pack_blocks,
    permute_sentences,
    split_budget,
    tlm_batch,
    tlm_example,
)
from xrep_assets.checkpoints.vocabulary import TokenIds
from xrep_assets.study import OBJECTIVES, DenoisingNoise

IDS = TokenIds(size=50, pad=1, bos=0, eos=2, mask=49, languages={"en": 4, "fr": 5, "zh": 6})
MASKED = OBJECTIVES["mlm"].predicted_share  # the study's masking share (BERT's 15 %, asserted below)
NON_SPECIAL = [i for i in range(IDS.size) if i not in IDS.special]  # 43 ids: 50 minus 7 special


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# pack_blocks, clm_batch


def test_pack_blocks_cuts_full_blocks_and_carries_the_rest_across_calls():
    blocks, carry = pack_blocks([[10, 11, 12], [13, 14]], length=5, ids=IDS)
    # stream 10 11 12 2 13 14 2: one block of 4 content tokens, 3 left over
    assert blocks == [[0, 10, 11, 12, 2]]
    assert carry == [13, 14, 2]

    # stream 13 14 2 | 15 2 | 16..21 2 = 12 tokens = three blocks; 16..21 spans the last two
    blocks, carry = pack_blocks([[15], [], [16, 17, 18, 19, 20, 21]], length=5, ids=IDS, carry=carry)
    assert blocks == [[0, 13, 14, 2, 15], [0, 2, 16, 17, 18], [0, 19, 20, 21, 2]]
    assert carry == []


def test_pack_blocks_returns_nothing_until_a_block_is_full():
    assert pack_blocks([[10], [11]], length=8, ids=IDS) == ([], [10, 2, 11, 2])
    with pytest.raises(ValueError, match="length"):
        pack_blocks([[10]], length=1, ids=IDS)


def test_clm_batch_pads_right_and_ignores_pads_in_labels():
    batch = clm_batch([[0, 10, 11, 2], [0, 12]], IDS)
    assert batch["input_ids"].tolist() == [[0, 10, 11, 2], [0, 12, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[0, 10, 11, 2], [0, 12, -100, -100]]
    assert all(t.dtype == torch.long for t in batch.values())


def test_clm_batch_keeps_a_real_eos_when_pad_reuses_the_eos_id():
    gpt2_like = TokenIds(size=50, pad=2, bos=0, eos=2, mask=49, languages={})
    batch = clm_batch([[0, 10, 2], [0, 11]], gpt2_like)
    assert batch["input_ids"].tolist() == [[0, 10, 2], [0, 11, 2]]
    assert batch["labels"].tolist() == [[0, 10, 2], [0, 11, -100]]


# --------------------------------------------------------------------------------------------------
# mlm_batch


def random_blocks(count: int, longest: int, seed: int) -> list[list[int]]:
    """Blocks of varying length (so there are pads): bos, non-special tokens, an eos every 10th."""
    g = seeded(seed)
    pool = torch.tensor(NON_SPECIAL)
    blocks = []
    for _ in range(count):
        length = int(torch.randint(longest // 2, longest + 1, (1,), generator=g))
        content = pool[torch.randint(len(pool), (length - 1,), generator=g)].tolist()
        blocks.append([IDS.bos] + [IDS.eos if i % 10 == 9 else t for i, t in enumerate(content)])
    return blocks


@pytest.fixture(scope="module")
def large_mlm():
    blocks = random_blocks(256, 256, seed=0)
    original = clm_batch(blocks, IDS)["input_ids"]  # padded originals, for comparison
    return original, mlm_batch(blocks, IDS, seeded(1), MASKED)


def test_mlm_never_chooses_special_or_pad_positions(large_mlm):
    original, batch = large_mlm
    chosen = batch["labels"] != -100
    special = torch.isin(original, torch.tensor(sorted(IDS.special)))
    assert not (chosen & special).any()
    assert not (chosen & (batch["attention_mask"] == 0)).any()
    # labels hold the original id; unchosen positions are untouched
    assert torch.equal(batch["labels"][chosen], original[chosen])
    assert torch.equal(batch["input_ids"][~chosen], original[~chosen])
    assert (batch["input_ids"][batch["attention_mask"] == 0] == IDS.pad).all()


def test_mlm_chooses_15_percent_of_eligible_positions(large_mlm):
    original, batch = large_mlm
    eligible = (batch["attention_mask"] == 1) & ~torch.isin(original, torch.tensor(sorted(IDS.special)))
    rate = (batch["labels"] != -100).sum().item() / eligible.sum().item()
    # ~44,000 eligible positions: the rate's standard deviation is sqrt(.15 * .85 / 44000) = 0.0017,
    # so 0.01 is about 6 of them.
    assert eligible.sum().item() > 40_000
    assert abs(rate - 0.15) < 0.01


def test_mlm_splits_chosen_positions_80_10_10(large_mlm):
    original, batch = large_mlm
    chosen = batch["labels"] != -100
    after = batch["input_ids"][chosen]
    before = original[chosen]
    n = chosen.sum().item()
    masked = (after == IDS.mask).sum().item() / n
    changed = ((after != IDS.mask) & (after != before)).sum().item() / n
    unchanged = (after == before).sum().item() / n
    # A random replacement draws the original id itself with probability 1/43, and then looks unchanged.
    # ~6,500 chosen positions: standard deviations are 0.005 (80%) and 0.004 (10%); tolerances ~5 of them.
    assert abs(masked - 0.8) < 0.025
    assert abs(changed - 0.1 * 42 / 43) < 0.02
    assert abs(unchanged - (0.1 + 0.1 / 43)) < 0.02


def test_mlm_random_replacements_are_non_special_and_cover_the_vocabulary(large_mlm):
    original, batch = large_mlm
    chosen = batch["labels"] != -100
    after = batch["input_ids"][chosen]
    replaced = after[(after != IDS.mask) & (after != original[chosen])]
    assert set(replaced.tolist()) <= set(NON_SPECIAL)
    # ~640 uniform draws over 43 ids (~15 each): missing one has probability about 43 * e^-15.
    assert set(replaced.tolist()) == set(NON_SPECIAL)


def test_mlm_is_reproducible_from_the_seed():
    blocks = random_blocks(8, 32, seed=3)
    first = mlm_batch(blocks, IDS, seeded(7), MASKED)
    again = mlm_batch(blocks, IDS, seeded(7), MASKED)
    other = mlm_batch(blocks, IDS, seeded(8), MASKED)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["labels"], other["labels"])


def test_mlm_chooses_one_position_when_chance_chose_none():
    batch = mlm_batch([[0, 2, 4], [0, 10, 2]], IDS, seeded(0), probability=0.0)
    # token 10 at row 1, column 1 is the only non-special token
    assert batch["labels"].tolist() == [[-100, -100, -100], [-100, 10, -100]]
    for seed in range(5):
        labels = mlm_batch(random_blocks(4, 16, seed), IDS, seeded(seed), probability=0.0)["labels"]
        assert (labels != -100).sum().item() == 1


def test_mlm_rejects_batches_it_cannot_mask():
    with pytest.raises(ValueError, match="maskable"):
        mlm_batch([[0, 2, 4]], IDS, seeded(0), MASKED)
    with pytest.raises(ValueError, match="probability"):
        mlm_batch([[0, 10]], IDS, seeded(0), probability=1.5)


# --------------------------------------------------------------------------------------------------
# TLM


def test_split_budget_cuts_the_longer_side_first():
    assert split_budget(3, 4, 8) == (3, 4)  # both fit
    assert split_budget(10, 2, 8) == (6, 2)  # the short side whole, the long one the rest
    assert split_budget(2, 10, 8) == (2, 6)
    assert split_budget(10, 10, 8) == (4, 4)  # both long: half each
    assert split_budget(10, 10, 7) == (4, 3)  # the first keeps the odd token


def test_tlm_example_restarts_positions_for_the_target():
    example = tlm_example("en", [10, 11], "fr", [20], IDS, max_length=20)
    assert example == {"input_ids": [4, 10, 11, 2, 5, 20, 2], "position_ids": [0, 1, 2, 3, 0, 1, 2]}


def test_tlm_example_cuts_the_longer_side_first():
    # budget 10 - 4 = 6 content tokens: the 2-token target fits whole, the source keeps 4
    example = tlm_example("en", list(range(10, 18)), "fr", [20, 21], IDS, max_length=10)
    assert example["input_ids"] == [4, 10, 11, 12, 13, 2, 5, 20, 21, 2]
    assert example["position_ids"] == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    # both sides long, budget 5: source 3, target 2
    example = tlm_example("en", list(range(10, 18)), "fr", list(range(20, 27)), IDS, max_length=9)
    assert example["input_ids"] == [4, 10, 11, 12, 2, 5, 20, 21, 2]
    # the shortest allowed keeps one token per side
    assert tlm_example("en", [10, 11, 12], "fr", [20, 21, 22], IDS, max_length=6)["input_ids"] == [4, 10, 2, 5, 20, 2]
    with pytest.raises(ValueError, match="max_length >= 6"):
        tlm_example("en", [10], "fr", [20], IDS, max_length=5)


def test_tlm_batch_pads_positions_with_zero_and_ignores_the_source_tag():
    examples = [
        tlm_example("en", [10, 11], "fr", [20], IDS, max_length=20),
        tlm_example("zh", [30], "en", [31], IDS, max_length=20),
    ]
    batch = tlm_batch(examples, IDS)
    assert batch["input_ids"].tolist() == [[4, 10, 11, 2, 5, 20, 2], [6, 30, 2, 4, 31, 2, 1]]
    assert batch["attention_mask"].tolist() == [[1] * 7, [1] * 6 + [0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2], [0, 1, 2, 0, 1, 2, 0]]
    assert batch["labels"].tolist() == [[-100, 10, 11, 2, 5, 20, 2], [-100, 30, 2, 4, 31, 2, -100]]


# --------------------------------------------------------------------------------------------------
# MT


def test_mt_example_tags_both_sides_and_truncates_inside_the_tags():
    example = mt_example("en", [10, 11, 12], "fr", [20, 21], IDS, max_length=4)
    assert example == {"input_ids": [4, 10, 11, 2], "labels": [5, 20, 21, 2]}
    with pytest.raises(ValueError, match="max_length >= 3"):
        mt_example("en", [10], "fr", [20], IDS, max_length=2)


def test_mt_batch_pads_sources_and_labels_separately():
    examples = [
        mt_example("en", [10, 11, 12], "fr", [20, 21], IDS, max_length=4),
        mt_example("zh", [30], "en", [40, 41, 42, 43], IDS, max_length=10),
    ]
    batch = mt_batch(examples, IDS)
    assert batch["input_ids"].tolist() == [[4, 10, 11, 2], [6, 30, 2, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[5, 20, 21, 2, -100, -100], [4, 40, 41, 42, 43, 2]]


# --------------------------------------------------------------------------------------------------
# BART denoising


def test_group_documents_fills_up_to_max_tokens_and_carries_the_open_document():
    # costs (tokens + eos): 3, 2, 4, 8, 2 with max_tokens 6
    sentences = [[10, 11], [12], [13, 14, 15], [16, 17, 18, 19, 20, 21, 22], [23]]
    documents, carry = group_documents(sentences, max_tokens=6)
    assert documents == [[[10, 11], [12]], [[13, 14, 15]], [[16, 17, 18, 19, 20]]]
    assert carry == [[23]]
    documents, carry = group_documents([[24, 25], [], [26]], max_tokens=6, carry=carry)
    assert documents == [[[23], [24, 25]]]
    assert carry == [[26]]


def test_permute_sentences_is_a_reproducible_permutation():
    document = [[10 + i] for i in range(6)]
    orders = {tuple(map(tuple, permute_sentences(document, seeded(seed)))) for seed in range(10)}
    assert all(sorted(order) == sorted(map(tuple, document)) for order in orders)
    assert len(orders) > 1
    assert permute_sentences(document, seeded(4)) == permute_sentences(document, seeded(4))


def align(original: list[int], noised: list[int]) -> list[tuple[int, list[int]]]:
    """Per gap between kept tokens: (masks in the noised text, original tokens removed).

    Needs distinct non-special ids in ``original``; kept tokens must appear in their original order."""
    where = {token: i for i, token in enumerate(original) if token not in IDS.special}
    gaps, masks, previous = [], 0, -1
    for token in noised + [None]:
        if token == IDS.mask:
            masks += 1
            continue
        if token is None:
            position = len(original)
        elif token in where:
            position = where[token]
        else:  # a special token: the next one of that id in the original
            position = original.index(token, previous + 1)
        assert position > previous, "kept tokens must stay in order"
        gaps.append((masks, original[previous + 1 : position]))
        masks, previous = 0, position
    return gaps


def sentences_with_eos(count: int, length: int) -> list[int]:
    tokens = []
    for s in range(count):
        tokens += list(range(100 + s * length, 100 + (s + 1) * length)) + [IDS.eos]
    return tokens


def test_infill_removes_the_ratio_in_spans_and_keeps_separators():
    tokens = [IDS.language("en")] + sentences_with_eos(100, 20)  # 2,000 maskable tokens
    for seed in range(3):
        noised = infill(tokens, IDS, seeded(seed))
        gaps = align(tokens, noised)
        removed = sum(len(lost) for _, lost in gaps)
        assert removed == round(0.3 * 2000)
        assert noised.count(IDS.eos) == 100 and noised[0] == IDS.language("en")
        for masks, lost in gaps:
            assert not set(lost) & IDS.special
            assert masks >= 1 or not lost  # every removed run sits under a mask
        # Poisson(3) spans remove ~3 tokens per mask; spans cut at sentence ends or earlier spans,
        # and 0-length spans (5% of draws), push the count up, but far from one mask per token.
        masks = noised.count(IDS.mask)
        assert 600 / 4 < masks < 600 / 1.5


def test_infill_replaces_each_span_by_one_mask_and_inserts_masks_for_empty_spans():
    tokens = sentences_with_eos(5, 40)
    # lambda 100: no draw is 0, each span removes >= 1 token, so there are never more masks than removed
    for seed in range(5):
        gaps = align(tokens, infill(tokens, IDS, seeded(seed), poisson_lambda=100.0))
        assert all(1 <= masks <= len(lost) for masks, lost in gaps if masks or lost)
    # lambda 0.05: 95% of draws are 0-length spans, each inserting a mask next to kept tokens
    noised = infill(tokens, IDS, seeded(0), poisson_lambda=0.05)
    removed = sum(len(lost) for _, lost in align(tokens, noised))
    assert removed == 60
    assert noised.count(IDS.mask) > 2 * removed


def test_infill_is_reproducible_and_leaves_text_alone_at_ratio_zero():
    tokens = sentences_with_eos(10, 15)
    assert infill(tokens, IDS, seeded(5)) == infill(tokens, IDS, seeded(5))
    assert infill(tokens, IDS, seeded(5)) != infill(tokens, IDS, seeded(6))
    assert infill(tokens, IDS, seeded(5), mask_ratio=0.0) == tokens


def test_denoising_batch_labels_keep_the_original_order():
    documents = [[[10, 11, 12], [13, 14], [15]], [[20]]]
    batch = denoising_batch(documents, IDS, seeded(0))
    assert batch["labels"].tolist() == [[0, 10, 11, 12, 2, 13, 14, 2, 15, 2], [0, 20, 2] + [-100] * 7]
    inputs = batch["input_ids"].tolist()
    lengths = batch["attention_mask"].sum(dim=1).tolist()
    assert [row[0] for row in inputs] == [0, 0]
    assert [row[:n].count(IDS.eos) for row, n in zip(inputs, lengths)] == [3, 1]
    assert all(token == IDS.pad for row, n in zip(inputs, lengths) for token in row[n:])


def test_denoising_batch_input_is_a_sentence_permutation_without_masking():
    documents = [[[10 + 3 * i, 11 + 3 * i] for i in range(6)]]
    for seed in range(3):
        batch = denoising_batch(documents, IDS, seeded(seed), DenoisingNoise(mask=0.0, poisson_lambda=3.0, permute_sentences=1.0, rotate=0.0))
        row = batch["input_ids"][0].tolist()
        assert row[0] == IDS.bos
        sentences = [tuple(row[i : i + 2]) for i in range(1, len(row), 3)]
        assert row[3::3] == [IDS.eos] * 6
        assert sorted(sentences) == sorted(map(tuple, documents[0]))


# --------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "build",
    [
        lambda: mlm_batch([], IDS, seeded(0), MASKED),
        lambda: clm_batch([], IDS),
        lambda: tlm_batch([], IDS),
        lambda: denoising_batch([], IDS, seeded(0)),
        lambda: mt_batch([], IDS),
    ],
)
def test_an_empty_batch_is_a_value_error(build):
    with pytest.raises(ValueError, match="no "):
        build()
