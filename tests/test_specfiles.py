"""The worker specs' one convention: `write` / `read` through `SpecFile`, every read error the spec's
own, naming the file."""

from __future__ import annotations

import json

import pytest

from xrep_assets.checkpoints.spec import PretrainSpec, PretrainSpecError
from xrep_assets.evaluation.spec import ScoreSpec, ScoreSpecError
from xrep_assets.profiles import ModelSize
from xrep_assets.study import DenoisingNoise
from xrep_assets.tokenizers.spec import TokenizeSpec, TokenizeSpecError
from xrep_assets.xglue.sources import DataSource

PRETRAIN = PretrainSpec(
    objective="mt-bart", tokenizer="/tok", corpus="/corpus", languages=("en", "fr"), pairs=("en-fr",),
    directions=("en>fr", "fr>en"), out_dir="/out", work_dir="/work", size=ModelSize(1, 32, 2, 64, 64), steps=4,
    batch_size=2, max_length=16, learning_rate=1e-3, warmup_steps=1, adam_betas=(0.9, 0.999),
    noise=DenoisingNoise(mask=0.3, poisson_lambda=3.5, permute_sentences=1.0, rotate=0.0),
)
SCORE = ScoreSpec(
    checkpoint="mlm", revision=None, checkpoint_dir="/ckpt", task="QAM", source=DataSource("hub", "microsoft/xglue"),
    protocols=("probe",), selection="english-dev", layer=-1, pooling=None, seeds=(0, 1), max_epochs=None,
    patience=None, max_train_examples=None, chance_reruns=0, artifacts_root="/artifacts",
)
TOKENIZE = TokenizeSpec(artifacts_root="/artifacts", vocab_size=400, sample_alpha=0.3, sample_sentences=1000)
SPECS = [(PRETRAIN, PretrainSpecError), (SCORE, ScoreSpecError), (TOKENIZE, TokenizeSpecError)]


@pytest.mark.parametrize("spec", [s for s, _ in SPECS], ids=lambda s: type(s).__name__)
def test_a_spec_round_trips(tmp_path, spec):
    assert type(spec).read(spec.write(tmp_path / "specs" / "spec.json")) == spec


@pytest.mark.parametrize(("spec", "error"), SPECS, ids=lambda s: getattr(s, "__name__", type(s).__name__))
def test_every_bad_spec_file_is_the_specs_error_naming_the_file(tmp_path, spec, error):
    path = spec.write(tmp_path / "spec.json")
    fields = json.loads(path.read_text())

    def read_with(changes: dict, drop: str | None = None) -> None:
        path.write_text(json.dumps({k: v for k, v in (fields | changes).items() if k != drop}))
        type(spec).read(path)

    with pytest.raises(error, match=r"spec.json: unknown fields \['colour'\]"):
        read_with({"colour": "red"})
    first = next(iter(fields))
    with pytest.raises(error, match=rf"spec.json: .*missing 1 required positional argument: '{first}'"):
        read_with({}, drop=first)
    path.write_text("[1, 2]")
    with pytest.raises(error, match=rf"spec.json: a {type(spec).what} is a JSON object"):
        type(spec).read(path)
    with pytest.raises(error, match=r"nowhere.json: not a readable"):
        type(spec).read(tmp_path / "nowhere.json")


def test_a_value_a_spec_refuses_names_the_file(tmp_path):
    path = PRETRAIN.write(tmp_path / "p.json")
    path.write_text(path.read_text().replace('"mt-bart"', '"xlm"'))
    with pytest.raises(PretrainSpecError, match=r"p.json: unknown objective 'xlm'"):
        PretrainSpec.read(path)
    path = SCORE.write(tmp_path / "s.json")
    path.write_text(path.read_text().replace('"hub"', '"ftp"'))
    with pytest.raises(ScoreSpecError, match=r"s.json: unknown data source kind 'ftp'"):
        ScoreSpec.read(path)
    path = SCORE.write(tmp_path / "s.json")
    path.write_text(path.read_text().replace('"probe"', '"zero-shot"'))
    with pytest.raises(ScoreSpecError, match=r"s.json: unknown protocol 'zero-shot'"):
        ScoreSpec.read(path)
    path = TOKENIZE.write(tmp_path / "t.json")
    path.write_text(path.read_text().replace('"sample_sentences": 1000', '"sample_sentences": 0'))
    with pytest.raises(TokenizeSpecError, match=r"t.json: sample_sentences must be at least 1, got 0"):
        TokenizeSpec.read(path)
