"""XGLUE metrics against hand-computed values (the arithmetic is written next to each number)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from xrep_assets.evaluation.metrics import (
    SECONDARY_METRICS,
    MetricError,
    accuracy,
    ner_f1,
    pad_truncated_predictions,
    pos_accuracy,
    ranking_ndcg,
    score_task,
    score_task_metrics,
    xglue_pos_value,
)

# --------------------------------------------------------------------------------------------------
# accuracy


def test_accuracy_counts_exact_label_matches():
    gold = ["entailment", "neutral", "contradiction", "neutral", "entailment"]
    pred = ["entailment", "contradiction", "contradiction", "neutral", "neutral"]
    # matches at rows 0, 2, 3 -> 3 / 5
    assert accuracy(gold, pred) == pytest.approx(3 / 5)


def test_accuracy_rejects_length_mismatch_and_empty_input():
    with pytest.raises(MetricError):
        accuracy(["0", "1"], ["0"])
    with pytest.raises(MetricError):
        accuracy([], [])


# --------------------------------------------------------------------------------------------------
# nDCG (WPR)

LOG2_3 = math.log2(3)


def test_ranking_ndcg_by_hand():
    groups = ["q1", "q1", "q1", "q2", "q1", "q1"]
    grades = [3, 2, 0, 4, 0, 1]
    scores = [0.1, 0.9, 0.5, 0.3, 0.8, 0.2]
    # rows 0-2, query q1: ranked by score -> rows 1, 2, 0 with grades 2, 0, 3
    #   DCG  = 2/log2(2) + 0/log2(3) + 3/log2(4) = 2 + 0 + 1.5 = 3.5
    #   IDCG = 3/log2(2) + 2/log2(3) + 0/log2(4) = 3 + 2/log2(3)
    first = 3.5 / (3 + 2 / LOG2_3)  # = 0.82124
    # row 3, query q2: one row -> skipped
    # rows 4-5, q1 again after q2 -> a new query: ranked rows 4, 5 with grades 0, 1
    #   DCG = 0/1 + 1/log2(3);  IDCG = 1/1 + 0/log2(3) = 1
    second = (1 / LOG2_3) / 1  # = 0.63093
    assert ranking_ndcg(groups, grades, scores) == pytest.approx((first + second) / 2)  # = 0.72608


def test_ranking_ndcg_does_not_merge_a_query_that_comes_back():
    groups = ["q1", "q1", "q2", "q2", "q1", "q1"]
    grades = [1, 0, 1, 0, 0, 1]
    scores = [0.9, 0.1, 0.9, 0.1, 0.9, 0.1]
    # runs 1 and 2 are ranked perfectly (nDCG 1); run 3 puts grade 0 first: (1/log2(3)) / 1.
    # Merging both q1 runs would give one 4-row query with another value.
    assert ranking_ndcg(groups, grades, scores) == pytest.approx((1 + 1 + 1 / LOG2_3) / 3)


def test_ranking_ndcg_counts_a_query_with_only_zero_grades_as_zero():
    # sklearn gives a query with IDCG = 0 the score 0, and the evaluator keeps it in the mean.
    assert ranking_ndcg(["a", "a", "b", "b"], [0, 0, 1, 0], [0.2, 0.1, 0.9, 0.1]) == pytest.approx((0 + 1) / 2)


def evaluator_ndcg(query_strings, grades, scores):
    """XGLUE's WPR value written out step by step from its evaluator: a query id that grows whenever
    the query string differs from the previous row's, ids as dict keys, lists of fewer than 2 rows
    skipped, sklearn's ndcg_score per list, numpy's mean of the per-query values."""
    query_id, previous, lists = 0, "", {}
    for query, grade, score in zip(query_strings, grades, scores):
        if query != previous and previous:
            query_id += 1
        previous = query
        lists.setdefault(query_id, ([], []))
        lists[query_id][0].append(float(score))
        lists[query_id][1].append(float(grade))
    values = [ndcg_score(np.asarray([g]), np.asarray([p])) for p, g in lists.values() if len(g) >= 2]
    return np.array(values).mean()


def test_ranking_ndcg_has_the_evaluator_bits():
    # 300 random queries of 1-5 rows. For this seed a correctly rounded mean (math.fsum / n) differs
    # from numpy's pairwise mean in the last bit; the evaluator uses numpy's, so do we.
    rng = np.random.default_rng(0)
    queries, grades, scores = [], [], []
    for q in range(300):
        n = int(rng.integers(1, 6))
        queries += [f"q{q}"] * n
        grades += [str(g) for g in rng.integers(0, 5, size=n)]
        scores += [float(x) for x in rng.random(n)]
    expected = evaluator_ndcg(queries, grades, scores)
    per_query = [ndcg_score([[float(g) for g in grades[i:j]]], [scores[i:j]])
                 for i, j in _runs(queries) if j - i >= 2]
    assert math.fsum(per_query) / len(per_query) != expected  # the difference the old code had
    assert ranking_ndcg(queries, grades, scores) == expected  # bit for bit


def _runs(keys):
    start = 0
    for index in range(1, len(keys) + 1):
        if index == len(keys) or keys[index] != keys[start]:
            yield start, index
            start = index


def test_ranking_ndcg_without_a_scorable_query_is_an_error():
    with pytest.raises(MetricError):
        ranking_ndcg(["a", "b"], [1, 0], [0.5, 0.4])


# --------------------------------------------------------------------------------------------------
# NER F1 (seqeval default mode)


def test_ner_f1_on_iob2_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    # gold entities: PER(0-1), LOC(3), ORG(s2: 0); predicted: PER(0-1), ORG(3), ORG(s2: 0)
    # tp = 2 (PER, ORG in s2), fp = 1 (ORG at 3), fn = 1 (LOC)
    # P = 2/3, R = 2/3, F1 = 2/3
    assert ner_f1(gold, pred) == pytest.approx(2 / 3)


def test_ner_f1_on_iob1_by_hand():
    gold = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "I-LOC", "I-LOC"]]
    # IOB1: an entity may start with I-; B-LOC right after I-LOC starts a second LOC entity.
    # gold: PER(0-1), LOC(3), LOC(4); predicted: PER(0-1), LOC(3-4)
    # tp = 1, fp = 1, fn = 2 -> P = 1/2, R = 1/3, F1 = 2 * (1/6) / (5/6) = 2/5
    assert ner_f1(gold, pred) == pytest.approx(2 / 5)


def test_ner_f1_never_joins_entities_across_sentences():
    gold = [["O", "I-PER"], ["I-PER", "O"]]
    pred = [["O", "I-PER"], ["O", "O"]]
    # two gold PER entities (one per sentence), one predicted and correct
    # tp = 1, fp = 0, fn = 1 -> P = 1, R = 1/2, F1 = 2/3   (one joined entity would give 0)
    assert ner_f1(gold, pred) == pytest.approx(2 / 3)


def test_ner_f1_without_predicted_entities_is_zero():
    assert ner_f1([["B-PER", "O"]], [["O", "O"]]) == 0.0


# --------------------------------------------------------------------------------------------------
# POS: token accuracy and the value XGLUE reports


def test_pos_values_by_hand():
    gold = [["NOUN", "NOUN", "VERB", "ADJ", "ADV"]]
    pred = [["NOUN", "NOUN", "VERB", "ADV", "ADV"]]
    # token accuracy: 4 of 5 tokens right -> 0.8
    assert pos_accuracy(gold, pred) == pytest.approx(4 / 5)
    # XGLUE: seqeval chunks, type = tag without its first letter, equal neighbours merge:
    #   gold chunks OUN(0-1), ERB(2), DJ(3), DV(4); predicted OUN(0-1), ERB(2), DV(3-4)
    #   precision = correct predicted chunks / predicted chunks = 2 / 3
    assert xglue_pos_value(gold, pred) == pytest.approx(2 / 3)


def test_xglue_pos_value_does_not_tell_cconj_from_sconj():
    gold = [["CCONJ", "NOUN"]]
    pred = [["SCONJ", "NOUN"]]
    # token accuracy 1/2; but CCONJ and SCONJ both have the seqeval type CONJ -> chunks equal, 2/2
    assert pos_accuracy(gold, pred) == pytest.approx(1 / 2)
    assert xglue_pos_value(gold, pred) == pytest.approx(1.0)


def test_xglue_pos_value_keeps_the_evaluators_chunk_quirks():
    # SCONJ has the seqeval prefix S (a one-token chunk): CCONJ CCONJ is one CONJ chunk, SCONJ SCONJ
    # two, so none of the two predicted chunks is correct although every token type matches.
    assert xglue_pos_value([["CCONJ", "CCONJ"]], [["SCONJ", "SCONJ"]]) == 0.0
    # X has the type "_" of the O seqeval puts between sentences, so a sentence-final X chunk is not
    # closed there. Predicted [NOUN X] [NOUN]: the X is lost, chunks OUN(0), OUN(3) (positions count
    # the O between sentences); gold [NOUN NOUN] [NOUN]: OUN(0-1), OUN(3). Correct: OUN(3) -> 1/2,
    # where the wrong X, had it been a chunk, would have given 1/3.
    assert xglue_pos_value([["NOUN", "NOUN"], ["NOUN"]], [["NOUN", "X"], ["NOUN"]]) == pytest.approx(1 / 2)
    # a lone sentence-final X is no chunk at all: no predicted chunk -> 0 (seqeval's zero division)
    assert xglue_pos_value([["X"]], [["X"]]) == 0.0
    assert pos_accuracy([["X"]], [["X"]]) == 1.0


def test_tagging_metrics_reject_shape_mismatch():
    with pytest.raises(MetricError):
        pos_accuracy([["NOUN", "VERB"]], [["NOUN"]])
    with pytest.raises(MetricError):
        ner_f1([["O"]], [["O"], ["O"]])


def test_truncated_predictions_are_padded_with_o_as_the_evaluator_does():
    assert pad_truncated_predictions([["B-PER", "I-PER", "O"]], [["B-PER"]]) == [["B-PER", "O", "O"]]
    with pytest.raises(MetricError):
        pad_truncated_predictions([["O"]], [["O", "O"]])


# --------------------------------------------------------------------------------------------------
# score_task


def test_score_task_uses_each_task_metric():
    assert score_task("QADSM", ["Good", "Bad"], ["Good", "Good"]) == ("accuracy", pytest.approx(1 / 2))
    # WPR: one query, ranked perfectly -> nDCG 1
    assert score_task("WPR", ["2", "0"], ["0.7", "0.1"], groups=[0, 0]) == ("ndcg", pytest.approx(1.0))
    # NER: the truncated prediction is padded with O, so the second gold entity is missed:
    # tp = 1, fp = 0, fn = 1 -> F1 = 2/3
    assert score_task("NER", [["I-PER", "O", "I-LOC"]], [["I-PER"]]) == ("f1", pytest.approx(2 / 3))
    # POS reports XGLUE's value: chunks NOUN(0-1) vs predicted NOUN(0), VERB(1) -> 0 / 2
    assert score_task("POS", [["NOUN", "NOUN"]], [["NOUN", "VERB"]]) == ("xglue_pos", pytest.approx(0.0))


def test_score_task_metrics_adds_token_accuracy_for_pos_only():
    gold = [["NOUN", "NOUN", "VERB"], ["ADV"]]
    pred = [["NOUN", "VERB", "VERB"], []]  # the second sentence truncated -> padded with O
    # token accuracy over the padded prediction: NOUN right, NOUN->VERB, VERB right, ADV->O -> 2/4
    # XGLUE: gold chunks OUN(0-1) ERB(2) DV(4); predicted OUN(0) ERB(1-2) (O is no chunk) -> 0/2
    assert score_task_metrics("POS", gold, pred) == {"xglue_pos": 0.0, "token_accuracy": pytest.approx(2 / 4)}
    assert list(score_task_metrics("POS", gold, pred)) == ["xglue_pos", "token_accuracy"]  # catalog metric first
    assert score_task_metrics("NC", ["news", "sports"], ["news", "news"]) == {"accuracy": pytest.approx(1 / 2)}
    assert set(SECONDARY_METRICS) == {"POS"}


def test_score_task_needs_groups_for_ranking():
    with pytest.raises(MetricError):
        score_task("WPR", ["1", "0"], ["0.1", "0.2"])
