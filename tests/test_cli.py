"""`xrep evaluate-predictions`: the official evaluator's number for a predictions file, as JSON."""

import json
import subprocess
import sys

from xrep_assets.fixtures import XGLUE_DIR


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xrep_assets.cli", *args], capture_output=True, text=True, timeout=120)


def test_evaluate_predictions_prints_the_accuracy_as_json(tmp_path):
    gold = XGLUE_DIR / "XNLI" / "fr.test"
    labels = [line.rsplit("\t", 1)[1] for line in gold.read_text(encoding="utf-8").splitlines()]
    # Three of the 120 predictions wrong: accuracy 117/120.
    flipped = {"entailment": "neutral", "neutral": "contradiction", "contradiction": "entailment"}
    predictions = [flipped[label] if i < 3 else label for i, label in enumerate(labels)]
    pred = tmp_path / "fr.prediction"
    pred.write_text("\n".join(predictions) + "\n", encoding="utf-8")

    done = run_cli("evaluate-predictions", "XNLI", str(gold), str(pred), "--lang", "fr")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["task"] == "XNLI" and result["metric"] == "accuracy" and result["n"] == 120
    assert result["value"] == 117 / 120


def test_evaluate_predictions_names_the_file_when_a_line_is_missing(tmp_path):
    gold = XGLUE_DIR / "XNLI" / "fr.test"
    pred = tmp_path / "short.prediction"
    pred.write_text("entailment\n", encoding="utf-8")
    done = run_cli("evaluate-predictions", "XNLI", str(gold), str(pred))
    assert done.returncode == 2
    assert "short.prediction" in done.stderr


def test_plan_without_the_flag_plans_the_environments_profile(monkeypatch, capsys):
    from xrep_assets import cli

    monkeypatch.setenv("XREP_PROFILE", "paper")
    assert cli.main(["plan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "paper"
    monkeypatch.delenv("XREP_PROFILE")  # unset: the default, tiny
    assert cli.main(["plan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "tiny"
