"""The probe on encoders whose features are known, so the scores can be computed by hand."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from xrep_assets.evaluation.loaders import SENTENCE_COLUMNS, SentenceExamples, TaggedSentences
from xrep_assets.evaluation.probing import probe_task
from xrep_assets.study import TASKS


class KeywordEncoder:
    """Feature 0 says whether a text contains 'yes' (or its French 'oui'): a perfectly cross-lingual encoder."""

    def sentence_vectors(self, texts_a, texts_b=None, layer=-1, lang=None):
        texts = [a + " " + (b or "") for a, b in zip(texts_a, texts_b or [None] * len(texts_a))]
        return np.array([[float("yes" in t or "oui" in t), 1.0] for t in texts])

    def word_vectors(self, sentences, layer=-1, lang=None):
        return [np.array([[float(w[0].isupper()), 1.0] for w in words]) for words in sentences]


class BlindEncoder(KeywordEncoder):
    """Sees nothing: every text has the same vector."""

    def sentence_vectors(self, texts_a, texts_b=None, layer=-1, lang=None):
        return np.ones((len(texts_a), 2))


def examples(rows):
    frame = pl.DataFrame(
        [{"text_a": a, "text_b": b, "label": label, "group": i} for i, (a, b, label) in enumerate(rows)],
        schema=SENTENCE_COLUMNS,
    )
    return SentenceExamples(Path("mem"), frame)


TRAIN = examples([("yes it is", "x", "1"), ("no it is not", "x", "0")] * 10)
DEV = examples([("yes", "y", "1"), ("no", "y", "0")])
# French test: 3 positives, 1 negative
TEST_FR = examples([("oui", "z", "1"), ("oui", "z", "1"), ("oui", "z", "1"), ("non", "z", "0")])


def test_a_cross_lingual_encoder_transfers_perfectly():
    result = probe_task(TASKS["PAWS-X"], KeywordEncoder(), TRAIN, DEV, {"fr": ("test", TEST_FR)}, log=lambda m: None)
    assert result.dev_value == 1.0
    [score] = result.scores
    assert (score.language, score.split, score.metric, score.value, score.n_examples) == ("fr", "test", "accuracy", 1.0, 4)


def test_a_blind_encoder_scores_the_majority_share():
    # Balanced training labels and identical features: the head predicts one class everywhere,
    # scoring 3/4 if it picks "1" and 1/4 if it picks "0".
    result = probe_task(TASKS["PAWS-X"], BlindEncoder(), TRAIN, DEV, {"fr": ("test", TEST_FR)}, log=lambda m: None)
    assert result.scores[0].value in (0.75, 0.25)


def test_tagging_probe_scores_entities_with_seqeval():
    train = TaggedSentences([["Paris", "is", "big"], ["see", "Rome", "now"]] * 5, [["I-LOC", "O", "O"], ["O", "I-LOC", "O"]] * 5)
    test = TaggedSentences([["Madrid", "es", "grande"], ["Lima", "y", "Quito"]], [["I-LOC", "O", "O"], ["I-LOC", "O", "O"]])
    result = probe_task(TASKS["NER"], KeywordEncoder(), train, train, {"es": ("test", test)}, log=lambda m: None)
    # Predictions: capitalised words are I-LOC -> Madrid, Lima (correct) and Quito (a false positive)
    # precision 2/3, recall 2/2 -> F1 = 2 * (2/3 * 1) / (2/3 + 1) = 0.8
    assert result.scores[0].value == pytest.approx(0.8)


def test_ranking_probe_reports_ndcg_per_query_group():
    train = SentenceExamples(Path("mem"), pl.DataFrame(
        [{"text_a": "q", "text_b": page, "label": grade, "group": i // 2}
         for i, (page, grade) in enumerate([("yes page", "2"), ("no page", "0")] * 10)],
        schema=SENTENCE_COLUMNS,
    ))
    frame = pl.DataFrame(
        [
            {"text_a": "q1", "text_b": "no", "label": "0", "group": 0},
            {"text_a": "q1", "text_b": "yes", "label": "2", "group": 0},
            {"text_a": "q2", "text_b": "yes", "label": "2", "group": 1},
            {"text_a": "q2", "text_b": "no", "label": "0", "group": 1},
        ],
        schema=SENTENCE_COLUMNS,
    )
    test = SentenceExamples(Path("mem"), frame)
    result = probe_task(TASKS["WPR"], KeywordEncoder(), train, train, {"fr": ("test", test)}, log=lambda m: None)
    # The "yes" page ranks first in both queries: ideal order, nDCG 1.0 for each query.
    assert result.scores[0].value == pytest.approx(1.0)
