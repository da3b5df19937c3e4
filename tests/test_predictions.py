"""`evaluate_predictions`: official gold files and prediction files, values computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import SHARED_DATA, requires_shared
from xrep_assets.errors import TaskDataError, XrepError
from xrep_assets.evaluation.predictions import evaluate_predictions, resolve_task_key
from xrep_assets.xglue.layout import task_file

LOG2_3 = math.log2(3)
XGLUE = SHARED_DATA / "xglue" / "xglue_full_dataset"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# One value per task family


def test_accuracy_three_of_four(tmp_path):
    gold = write(tmp_path / "xglue.qam.de.test", "q1\tp1\t1\nq2\tp2\t0\nq3\tp3\t0\nq4\tp4\t1\n")
    pred = write(tmp_path / "de.prediction", "1\n0\n1\n1\n")
    # rows 1, 2, 4 right -> 3/4
    assert evaluate_predictions("QAM", gold, pred, "de") == {
        "task": "QAM", "metric": "accuracy", "value": pytest.approx(3 / 4), "n": 4, "lang": "de",
    }


def test_pawsx_header_is_not_a_row_and_lines_are_stripped(tmp_path):
    gold = write(tmp_path / "test_2k.tsv", "id\tsentence1\tsentence2\tlabel\n1\ta\tb\t1\n2\tc\td\t0\n")
    pred = write(tmp_path / "pred.txt", " 1 \r\n1\n\n\n")  # stripped like the evaluator; blank lines at the end
    # row 1 right, row 2 wrong -> 1/2
    result = evaluate_predictions("pawsx", gold, pred)
    assert (result["task"], result["value"], result["n"]) == ("PAWS-X", pytest.approx(1 / 2), 2)
    assert "lang" not in result and "secondary" not in result


def test_ndcg_of_two_queries_by_hand(tmp_path):
    gold = write(
        tmp_path / "xglue.wpr.de.test",
        "qa\tt1\ts1\t2\nqa\tt2\ts2\t0\nqa\tt3\ts3\t1\n"  # query A: 3 pages
        "qc\tt4\ts4\t3\n"  # query C: one page -> skipped
        "qb\tt5\ts5\t0\nqb\tt6\ts6\t3\n",  # query B: 2 pages
    )
    pred = write(tmp_path / "de.prediction", "0.5\n0.5\n0.1\n7\n0.9\n2e-1\n")
    # sklearn's ndcg_score: gain = grade, discount 1/log2(rank + 1), tied scores share their discounts.
    # A: rows 1, 2 tie at 0.5 (ranks 1-2), row 3 at rank 3
    #   DCG  = mean(2, 0) * (1/log2(2) + 1/log2(3)) + 1/log2(4) = 1 + 1/log2(3) + 0.5
    #   IDCG = 2/log2(2) + 1/log2(3) + 0/log2(4)                = 2 + 1/log2(3)
    query_a = (1.5 + 1 / LOG2_3) / (2 + 1 / LOG2_3)  # = 0.80995
    # B: grade 0 ranked first: DCG = 0 + 3/log2(3); IDCG = 3/log2(2) + 0 = 3
    query_b = (3 / LOG2_3) / 3  # = 0.63093
    result = evaluate_predictions("WPR", gold, pred, "de")
    assert (result["metric"], result["n"]) == ("ndcg", 6)
    assert result["value"] == pytest.approx((query_a + query_b) / 2)  # = 0.72044


def test_ner_f1_on_iob1_with_a_truncated_sentence(tmp_path):
    gold = write(
        tmp_path / "de.test",
        "Peter I-PER\nMüller I-PER\nin O\nBerlin I-LOC\nBonn B-LOC\n\nDie O\nUNO I-ORG\ntagt O\n",
    )
    pred = write(tmp_path / "de.prediction", "I-PER\nI-PER\nO\nI-LOC\nI-LOC\n\nO\nB-ORG\n")
    # IOB1 (seqeval default mode): gold entities PER(Peter Müller), LOC(Berlin), LOC(Bonn) - B-LOC
    # after I-LOC starts a second one -, ORG(UNO): 4. Predicted: PER(Peter Müller), LOC(Berlin Bonn),
    # ORG(UNO) - B-ORG and I-ORG are the same one-token entity -: 3; the second sentence is one tag
    # short and padded with O. Correct: PER, ORG -> P = 2/3, R = 2/4, F1 = 2PR/(P+R) = 4/7
    result = evaluate_predictions("NER", gold, pred)
    assert (result["metric"], result["n"]) == ("f1", 2)
    assert result["value"] == pytest.approx(4 / 7)


def test_pos_reports_xglue_value_and_token_accuracy(tmp_path):
    gold = write(tmp_path / "POS" / "de.test", "Die DET\nStadt NOUN\nBonn NOUN\nwächst VERB\n\nund CCONJ\nhier ADV\n")
    pred = write(tmp_path / "preds" / "POS" / "de.prediction", "DET\nNOUN\nVERB\nVERB\n\nSCONJ\nADV\n\n")
    # token accuracy: DET NOUN (NOUN->VERB) VERB | (CCONJ->SCONJ) ADV -> 4 of 6
    # XGLUE (seqeval chunks; type = tag without its first letter, equal neighbours merge):
    #   gold chunks ET(0) OUN(1-2) ERB(3) | CONJ(5) DV(6); predicted ET(0) OUN(1) ERB(2-3) | CONJ(5) DV(6)
    #   correct predicted chunks: ET(0), CONJ(5) (CCONJ and SCONJ are both type CONJ), DV(6) -> 3 of 5
    # gold and predictions given as the evaluator's folders: archive root and prediction root
    result = evaluate_predictions("POS", tmp_path, tmp_path / "preds", "de")
    assert result == {
        "task": "POS", "metric": "xglue_pos", "value": pytest.approx(3 / 5), "n": 2, "lang": "de",
        "secondary": {"token_accuracy": pytest.approx(4 / 6)},
    }


# --------------------------------------------------------------------------------------------------
# Errors name the file and the line


@pytest.fixture
def qam_gold(tmp_path):
    return write(tmp_path / "xglue.qam.fr.dev", "q1\tp1\t1\nq2\tp2\t0\nq3\tp3\t0\n")


def test_too_many_predictions(tmp_path, qam_gold):
    pred = write(tmp_path / "p", "1\n0\n0\n1\n")
    with pytest.raises(TaskDataError, match=r"p:4: more predictions than the 3 rows of .*xglue\.qam\.fr\.dev"):
        evaluate_predictions("QAM", qam_gold, pred)


def test_too_few_predictions(tmp_path, qam_gold):
    pred = write(tmp_path / "p", "1\n0\n\n")
    ends_early = r"p:3: the file ends after 2 predictions; .*xglue\.qam\.fr\.dev has 3 rows"
    with pytest.raises(TaskDataError, match=ends_early):
        evaluate_predictions("QAM", qam_gold, pred)


def test_unknown_label_and_inner_blank_line(tmp_path, qam_gold):
    with pytest.raises(TaskDataError, match=r"p:2: unknown label 'yes'"):
        evaluate_predictions("QAM", qam_gold, write(tmp_path / "p", "1\nyes\n0\n"))
    # a blank line inside the file is an empty prediction for that row, not a skipped line
    with pytest.raises(TaskDataError, match=r"p:2: unknown label ''"):
        evaluate_predictions("QAM", qam_gold, write(tmp_path / "p", "1\n\n0\n0\n"))
    # predictions are compared as written: XNLI-MT's "contradictory" is not a label of the gold files
    gold = write(tmp_path / "de.dev", "P\tH\tcontradiction\n")
    with pytest.raises(TaskDataError, match=r"p:1: unknown label 'contradictory'"):
        evaluate_predictions("XNLI", gold, write(tmp_path / "p", "contradictory\n"))


def test_unparsable_grades(tmp_path):
    gold = write(tmp_path / "xglue.wpr.fr.test", "q\tt\ts\t1\nq\tt\ts\t0\n")
    with pytest.raises(TaskDataError, match=r"p:2: unparsable grade \(expected a number such as 0-4\): 'Good'"):
        evaluate_predictions("WPR", gold, write(tmp_path / "p", "0.3\nGood\n"))
    with pytest.raises(TaskDataError, match=r"p:1: unparsable grade \(expected a finite number\): 'nan'"):
        evaluate_predictions("WPR", gold, write(tmp_path / "p", "nan\n0.1\n"))


def test_tagging_errors(tmp_path):
    gold = write(tmp_path / "es.test", "a O\nb I-PER\n\nc O\n")
    with pytest.raises(TaskDataError, match=r"p:3: sentence 1 has more tags than the 2 tokens"):
        evaluate_predictions("NER", gold, write(tmp_path / "p", "O\nO\nO\n\nO\n"))
    with pytest.raises(TaskDataError, match=r"p:6: more sentences than the 2 of"):
        evaluate_predictions("NER", gold, write(tmp_path / "p", "O\nO\n\nO\n\nO\n"))
    with pytest.raises(TaskDataError, match=r"p:2: the file ends after 1 sentences; .*es\.test has 2"):
        evaluate_predictions("NER", gold, write(tmp_path / "p", "O\nO\n"))
    with pytest.raises(TaskDataError, match=r"p:2: unknown tag 'I-PERSON'"):
        evaluate_predictions("NER", gold, write(tmp_path / "p", "O\nI-PERSON\n\nO\n"))
    # several blank lines between sentences are one break
    assert evaluate_predictions("NER", gold, write(tmp_path / "p", "O\nI-PER\n\n\n\nO\n"))["value"] == 1.0


def test_missing_files_languages_and_tasks(tmp_path, qam_gold):
    with pytest.raises(TaskDataError, match="missing prediction file"):
        evaluate_predictions("QAM", qam_gold, tmp_path / "nothing")
    with pytest.raises(XrepError, match="give the language"):
        evaluate_predictions("QAM", tmp_path, qam_gold)
    with pytest.raises(XrepError, match="QAM has no language 'es'"):
        evaluate_predictions("QAM", qam_gold, qam_gold, "es")
    with pytest.raises(XrepError, match="unknown task 'MLQA'"):
        resolve_task_key("MLQA")
    assert [resolve_task_key(n) for n in ("paws-x", "PAWSX", "nc", "Pos")] == ["PAWS-X", "PAWS-X", "NC", "POS"]


# --------------------------------------------------------------------------------------------------
# Real German dev data: the gold labels as predictions score 1


def _gold_as_predictions(gold: Path, skip_header: bool, tagging: bool) -> str:
    """The prediction file a perfect system writes, built from the raw gold lines (not our reader)."""
    lines = gold.read_text(encoding="utf-8").splitlines()[1 if skip_header else 0 :]
    if tagging:
        return "\n".join(line.split()[-1] if line.strip() else "" for line in lines) + "\n"
    return "\n".join(line.split("\t")[-1].strip() for line in lines) + "\n"


@requires_shared
@pytest.mark.parametrize(
    ("task", "n"),
    [("NC", 1000), ("XNLI", 2495), ("PAWS-X", 2000), ("QAM", 10000), ("QADSM", 10000), ("NER", 2874), ("POS", 799)],
)
def test_real_german_dev_gold_as_predictions(tmp_path, task, n):
    gold = task_file(XGLUE, task, "de", "dev")
    text = _gold_as_predictions(gold, skip_header=task == "PAWS-X", tagging=task in ("NER", "POS"))
    pred = write(tmp_path / "de.prediction", text)
    result = evaluate_predictions(task, XGLUE, pred, "de", split="dev")
    assert (result["value"], result["n"]) == (1.0, n)
    if task == "POS":
        assert result["secondary"] == {"token_accuracy": 1.0}
