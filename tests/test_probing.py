"""Heads, model selection and the probes on hand-made features, so every outcome can be checked by hand."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from torch import nn

from xrep_assets.evaluation.heads import (
    LabelSpace,
    ModelSelection,
    first_subword_states,
    pool_tokens,
    selection_value,
    task_metrics,
)
from xrep_assets.evaluation.probing import SplitFeatures, TaskFeatures, linear_probe_task, probe_task
from xrep_assets.evaluation.protocols import (
    FINETUNE_SETTINGS,
    PROBE_SETTINGS,
    ProtocolError,
    TrainingSettings,
    first_examples,
    protocol_label,
    settings_for,
)
from xrep_assets.study import TASK_KEYS, TASKS
from xrep_assets.xglue.readers import SENTENCE_COLUMNS, SentenceExamples, TaggedSentences

# A fast head for hand-made features: a large step, the whole training set in one batch.
FAST = TrainingSettings(learning_rate=0.05, batch_size=128, max_epochs=200, patience=3, max_length=64, weight_decay=0.0)
QUIET = {"log": lambda message: None}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """A head this small trains faster on one thread, and much faster on a machine whose cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def examples(rows, groups=None):
    frame = pl.DataFrame(
        [{"text_a": a, "text_b": b, "label": label, "group": groups[i] if groups else i}
         for i, (a, b, label) in enumerate(rows)],
        schema=SENTENCE_COLUMNS,
    )
    return SentenceExamples(Path("mem"), frame)


def keyword_vectors(split):
    """Feature 0 says whether a text contains 'yes' (or its French 'oui'): a perfectly cross-lingual encoder."""
    return torch.tensor([[4.0 * ("yes" in a or "oui" in a), 1.0] for a in split.frame["text_a"]])


def features(task, train, dev, test, vectors=keyword_vectors):
    split = lambda ex: SplitFeatures(ex, vectors(ex))  # noqa: E731
    return TaskFeatures(TASKS[task], split(train), {lang: split(ex) for lang, ex in dev.items()},
                        {lang: split(ex) for lang, ex in test.items()})


TRAIN = examples([("yes it is", "x", "1"), ("no it is not", "x", "0")] * 10)
DEV = examples([("yes", "y", "1"), ("no", "y", "0"), ("yes", "y", "1"), ("no", "y", "0")])
TEST_FR = examples([("oui", "z", "1"), ("oui", "z", "1"), ("oui", "z", "1"), ("non", "z", "0")])  # 3 positives, 1 negative


# --------------------------------------------------------------------------------------------------
# Settings and labels


def test_the_settings_table_holds_unicoders_and_the_later_studys_values():
    for task in ("NC", "XNLI", "PAWS-X", "QAM", "QADSM", "WPR"):
        s = FINETUNE_SETTINGS[task]
        assert (s.learning_rate, s.batch_size, s.max_epochs, s.max_length, s.patience) == (5e-6, 32, 10, 256, None)
    ner, pos = FINETUNE_SETTINGS["NER"], FINETUNE_SETTINGS["POS"]
    assert (ner.learning_rate, ner.batch_size, ner.max_epochs, ner.max_length) == (5e-6, 32, 20, 256)
    assert (pos.learning_rate, pos.batch_size, pos.max_epochs, pos.max_length) == (2e-5, 32, 20, 128)
    for task in TASK_KEYS:
        probe = PROBE_SETTINGS[task]
        assert (probe.learning_rate, probe.batch_size, probe.patience, probe.head_hidden) == (1e-4, 128, 3, 256)
        assert probe.max_length == FINETUNE_SETTINGS[task].max_length  # both protocols read the same subwords
    assert settings_for("finetune", "NER", max_epochs=2).max_epochs == 2
    assert settings_for("finetune", "NER").learning_rate == 5e-6
    with pytest.raises(ProtocolError, match="unknown protocol 'zero-shot'"):
        settings_for("zero-shot", "NER")


def test_the_protocol_label_names_every_choice_off_the_defaults():
    assert protocol_label("probe") == "probe"
    assert protocol_label("probe", pooling="sum") == "probe"
    assert protocol_label("finetune", "all-dev") == "finetune:all-dev"
    assert protocol_label("probe", "all-dev", "mean") == "probe:all-dev:mean-pooling"
    assert protocol_label("finetune", pooling="last") == "finetune:last-pooling"
    with pytest.raises(ProtocolError, match="unknown selection"):
        protocol_label("probe", "test-set")


def test_labels_are_the_tasks_own_and_wpr_grades_read_as_numbers():
    assert LabelSpace.of(TASKS["XNLI"]).labels == ("contradiction", "entailment", "neutral")
    grades = LabelSpace.of(TASKS["WPR"])
    assert grades.labels == ("0", "1", "2", "3", "4")
    # Probabilities 1/2 on grade 0 and 1/2 on grade 4: the expected grade is 2.
    logits = torch.log(torch.tensor([[0.5, 1e-12, 1e-12, 1e-12, 0.5]]))
    assert grades.expected_grades(logits) == pytest.approx([2.0], abs=1e-6)
    assert first_examples(TRAIN, 3).labels == ["1", "0", "1"]


# --------------------------------------------------------------------------------------------------
# Head inputs


def test_summed_pooling_adds_the_real_tokens_only():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                           [[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert pool_tokens(hidden, mask, "sum").tolist() == [[4.0, 6.0], [3.0, 3.0]]
    assert pool_tokens(hidden, mask, "mean").tolist() == [[2.0, 3.0], [1.0, 1.0]]
    assert pool_tokens(hidden, mask, "last").tolist() == [[3.0, 4.0], [2.0, 2.0]]


def test_first_subword_states_follow_the_words_and_zero_a_cut_word():
    hidden = torch.arange(12.0).reshape(2, 3, 2)  # row 0: [0,1],[2,3],[4,5]; row 1: [6,7],[8,9],[10,11]
    states = first_subword_states(hidden, [[1, 2], [0, None]])
    assert states.tolist() == [[2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [0.0, 0.0]]


# --------------------------------------------------------------------------------------------------
# Model selection


class Fixed(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(value)))


def run_selection(selection, per_epoch, patience):
    tracker = ModelSelection(selection, patience)
    for epoch, values in enumerate(per_epoch, start=1):
        if tracker.update(epoch, values, Fixed(epoch)):
            break
    return tracker


def test_early_stopping_waits_patience_epochs_after_the_best():
    english = [0.50, 0.60, 0.60, 0.55, 0.59, 0.90, 0.95]
    tracker = run_selection("english-dev", [{"en": v} for v in english], patience=3)
    # best at epoch 2 (0.60; epoch 3 only ties it), epochs 3, 4, 5 bring nothing better: stop after 5
    assert (tracker.best_epoch, tracker.epochs_run, tracker.best_value) == (2, 5, 0.60)
    model = Fixed(0)
    tracker.restore_best(model)
    assert model.value.item() == 2.0  # the state saved at epoch 2
    assert run_selection("english-dev", [{"en": v} for v in english], patience=None).best_epoch == 7


def test_all_dev_selects_by_the_mean_over_languages():
    per_epoch = [
        {"en": 0.70, "fr": 0.30, "de": 0.20},  # mean 0.40
        {"en": 0.90, "fr": 0.20, "de": 0.10},  # English's best; mean 0.40
        {"en": 0.80, "fr": 0.50, "de": 0.50},  # mean 0.60: the best mean
        {"en": 0.60, "fr": 0.40, "de": 0.40},  # mean ~0.467
    ]
    english, mean = run_selection("english-dev", per_epoch, None), run_selection("all-dev", per_epoch, None)
    assert (english.best_epoch, english.best_value) == (2, 0.90)
    assert mean.best_epoch == 3 and mean.best_value == pytest.approx(0.60)
    assert selection_value({"en": 0.8, "fr": 0.4}, "all-dev") == pytest.approx(0.6)
    with pytest.raises(ProtocolError, match="needs an 'en' dev set"):
        selection_value({"fr": 0.4}, "english-dev")


# --------------------------------------------------------------------------------------------------
# The MLP probe


def test_separable_features_reach_full_dev_accuracy_and_transfer():
    result = probe_task(features("PAWS-X", TRAIN, {"en": DEV}, {"fr": TEST_FR}), FAST, **QUIET)
    assert result.dev_value == 1.0 and result.dev_values == {"en": 1.0}
    [score] = result.scores
    assert (score.language, score.split, score.metric, score.value, score.n_examples) == ("fr", "test", "accuracy", 1.0, 4)
    # patience 3 after the first epoch that reached 1.0
    assert result.epochs_run == int(result.selected.removeprefix("epoch ")) + 3


def test_a_blind_probe_stops_after_patience_epochs():
    blind = lambda split: torch.ones((len(split), 2))  # noqa: E731
    result = probe_task(features("PAWS-X", TRAIN, {"en": DEV}, {"fr": TEST_FR}, blind), FAST, **QUIET)
    # every epoch predicts one class for the balanced dev set: 0.5 at epoch 1, never better
    assert (result.selected, result.epochs_run, result.dev_value) == ("epoch 1", 4, 0.5)
    assert result.scores[0].value in (0.75, 0.25)  # one class everywhere on the French test


def test_all_dev_and_english_dev_keep_different_probes():
    # French dev has the same inputs as English dev with every label flipped: whatever the head
    # predicts, English and French accuracies add up to 1, so their mean is 0.5 at every epoch.
    flipped = examples([("oui", "y", "0"), ("non", "y", "1"), ("oui", "y", "0"), ("non", "y", "1")])
    data = features("PAWS-X", TRAIN, {"en": DEV, "fr": flipped}, {"fr": TEST_FR})
    english = probe_task(data, FAST, selection="english-dev", **QUIET)
    mean = probe_task(data, FAST, selection="all-dev", **QUIET)
    assert english.dev_value == 1.0 and english.dev_values == {"en": 1.0, "fr": 0.0}
    assert (mean.selected, mean.epochs_run, mean.dev_value) == ("epoch 1", 4, 0.5)


def test_tagging_probe_scores_entities_with_seqeval():
    words = lambda split: torch.tensor([[4.0 * w[0].isupper(), 1.0] for s in split.tokens for w in s])  # noqa: E731
    train = TaggedSentences([["Paris", "is", "big"], ["see", "Rome", "now"]] * 5, [["I-LOC", "O", "O"], ["O", "I-LOC", "O"]] * 5)
    test = TaggedSentences([["Madrid", "es", "grande"], ["Lima", "y", "Quito"]], [["I-LOC", "O", "O"], ["I-LOC", "O", "O"]])
    result = probe_task(features("NER", train, {"en": train}, {"es": test}, words), FAST, **QUIET)
    # Capitalised words are I-LOC -> Madrid, Lima (correct) and Quito (a false positive):
    # precision 2/3, recall 2/2 -> F1 = 2 * (2/3 * 1) / (2/3 + 1) = 0.8
    assert result.scores[0].value == pytest.approx(0.8)


def test_pos_writes_the_xglue_value_and_token_accuracy():
    words = lambda split: torch.tensor([[4.0 * w[0].isupper(), 1.0] for s in split.tokens for w in s])  # noqa: E731
    train = TaggedSentences([["Ana", "runs"], ["Bo", "sleeps"]] * 5, [["PROPN", "VERB"]] * 10)
    test = TaggedSentences([["Eva", "lee", "Mar"]], [["PROPN", "VERB", "NOUN"]])
    result = probe_task(features("POS", train, {"en": train}, {"es": test}, words), FAST, **QUIET)
    values = {s.metric: s.value for s in result.scores}
    # Predicted PROPN VERB PROPN: 2 of 3 tokens right; seqeval chunks (type ROPN, ERB, ROPN) 2 of 3 right
    assert values == pytest.approx({"xglue_pos": 2 / 3, "token_accuracy": 2 / 3})
    assert [(s.language, s.split, s.n_examples) for s in result.scores] == [("es", "test", 1)] * 2


def test_ranking_probe_reports_ndcg_per_query_group():
    pairs = [("yes page", "2"), ("no page", "0")] * 10
    train = examples([("q", page, grade) for page, grade in pairs], groups=[i // 2 for i in range(len(pairs))])
    test = examples([("q1", "no", "0"), ("q1", "yes", "2"), ("q2", "yes", "2"), ("q2", "no", "0")], groups=[0, 0, 1, 1])
    pages = lambda split: torch.tensor([[4.0 * ("yes" in b), 1.0] for b in split.frame["text_b"]])  # noqa: E731
    result = probe_task(features("WPR", train, {"en": train}, {"fr": test}, pages), FAST, **QUIET)
    # The "yes" page gets the higher expected grade in both queries: ideal order, nDCG 1.0 for each.
    assert result.scores[0].metric == "ndcg" and result.scores[0].value == pytest.approx(1.0)


def test_task_metrics_split_word_predictions_back_into_sentences():
    labels = LabelSpace.of(TASKS["NER"])
    index = labels.labels.index
    logits = torch.full((3, len(labels)), -5.0)
    for row, tag in enumerate(["I-PER", "O", "O"]):
        logits[row, index(tag)] = 5.0
    gold = TaggedSentences([["Ana", "ve"], ["hoy"]], [["I-PER", "O"], ["O"]])
    assert task_metrics(labels, logits, gold) == {"f1": 1.0}


# --------------------------------------------------------------------------------------------------
# The linear probe (the `linear` protocol)


def test_linear_probe_transfers_separable_features():
    result = linear_probe_task(features("PAWS-X", TRAIN, {"en": DEV}, {"fr": TEST_FR}), **QUIET)
    assert result.selected == "C=0.01" and result.dev_value == 1.0 and result.epochs_run is None
    assert [(s.language, s.metric, s.value) for s in result.scores] == [("fr", "accuracy", 1.0)]
    assert np.isfinite(result.dev_value)
