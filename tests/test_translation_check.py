"""The MT output-language check: forced target codes on tiny random mBART-50 / NLLB / own models, and
the language ID rate on real sentences."""

import pytest
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    M2M100Config,
    M2M100ForConditionalGeneration,
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
    NllbTokenizer,
)

from conftest import load_tokenizer
from xrep_assets.checkpoints.translation_check import (
    CHECK_SENTENCES,
    TranslationCheckError,
    check_directions,
    checkpoint_output_language,
    forced_bos_id,
    output_language_check,
    target_language_rate,
    translate,
    translation_ids,
)
from xrep_assets.study import HUB_CHECKPOINTS

WORDS = "the cat sat on mat le chat est sur tapis".split()
# A unigram vocabulary: the four specials, a few words, single letters as fallback.
PIECES = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [
    (f"▁{w}", -1.0 - i) for i, w in enumerate(WORDS)
] + [(c, -20.0) for c in "abcdefghijklmnopqrstuvwxyz"]
SOURCES = ["the cat sat", "on the mat"]
TINY = dict(
    d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
    encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=256,
)


@pytest.fixture(scope="module")
def mbart50():
    """A random mBART with mBART-50's tokenizer conventions (en_XX ... codes after the vocabulary),
    biased to start with en_XX, the source code: left alone it writes the source language."""
    tokenizer = MBart50Tokenizer(vocab=PIECES)
    torch.manual_seed(0)
    config = MBartConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=0,
                         eos_token_id=2, decoder_start_token_id=2, **TINY)
    model = MBartForConditionalGeneration(config).eval()
    model.final_logits_bias[0, tokenizer.convert_tokens_to_ids("en_XX")] = 100.0
    return model, tokenizer


@pytest.fixture(scope="module")
def nllb():
    """A random M2M100 with NLLB's tokenizer (FLORES codes), biased towards eng_Latn likewise."""
    tokenizer = NllbTokenizer(vocab={piece: i for i, (piece, _) in enumerate(PIECES)}, merges=[])
    torch.manual_seed(0)
    config = M2M100Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=0,
                          eos_token_id=2, decoder_start_token_id=2, **TINY)
    model = M2M100ForConditionalGeneration(config).eval()
    head = torch.nn.Linear(config.d_model, config.vocab_size, bias=True)  # M2M100's head has no bias of its own
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.bias.zero_()
        head.bias[tokenizer.convert_tokens_to_ids("eng_Latn")] = 100.0
    model.lm_head = head
    return model, tokenizer


def test_the_forced_bos_id_is_the_target_code_of_each_convention(mbart50, nllb, toy_tokenizer_dir):
    _, mbart_tokenizer = mbart50
    _, nllb_tokenizer = nllb
    ours = load_tokenizer(toy_tokenizer_dir)
    assert forced_bos_id(mbart_tokenizer, "fr", "mbart") == mbart_tokenizer.convert_tokens_to_ids("fr_XX")
    assert forced_bos_id(nllb_tokenizer, "fr", "nllb") == nllb_tokenizer.convert_tokens_to_ids("fra_Latn")
    assert forced_bos_id(ours, "fr", "iso") == ours.convert_tokens_to_ids("<fr>")
    assert len({forced_bos_id(mbart_tokenizer, lang, "mbart") for lang in ("ar", "zh", "en", "fr", "ru", "es")}) == 6


def test_a_language_the_tokenizer_lacks_is_an_error(toy_tokenizer_dir):
    ours = load_tokenizer(toy_tokenizer_dir)  # trained with <ar> ... <es> only
    with pytest.raises(TranslationCheckError, match="no '<de>' token"):
        forced_bos_id(ours, "de", "iso")


@pytest.mark.parametrize("fixture, convention, source_code, target_code", [
    ("mbart50", "mbart", "en_XX", "fr_XX"),
    ("nllb", "nllb", "eng_Latn", "fra_Latn"),
])
def test_the_first_generated_token_is_the_forced_target_code(request, fixture, convention, source_code, target_code):
    model, tokenizer = request.getfixturevalue(fixture)
    forced = translation_ids(model, tokenizer, SOURCES, "en", "fr", convention, max_new_tokens=4)
    assert forced[:, 0].tolist() == [model.config.decoder_start_token_id] * 2
    assert forced[:, 1].tolist() == [tokenizer.convert_tokens_to_ids(target_code)] * 2
    # The trap: without forcing, this model starts with the source code and writes English.
    unforced = translation_ids(model, tokenizer, SOURCES, "en", "fr", convention, max_new_tokens=4, force_target=False)
    assert unforced[:, 1].tolist() == [tokenizer.convert_tokens_to_ids(source_code)] * 2


def test_the_source_code_leads_the_encoder_input(mbart50, nllb):
    for (model, tokenizer), convention, code in ((mbart50, "mbart", "es_XX"), (nllb, "nllb", "spa_Latn")):
        seen = {}
        original = model.generate

        def recording_generate(**kwargs):
            seen.update(kwargs)
            return original(**kwargs)

        model.generate = recording_generate
        try:
            translate(model, tokenizer, ["the cat"], "es", "fr", convention, max_new_tokens=2)
        finally:
            del model.generate
        ids = seen["input_ids"][0].tolist()
        assert ids[0] == tokenizer.convert_tokens_to_ids(code) and ids[-1] == tokenizer.eos_token_id


def test_our_models_get_the_source_tag_and_the_forced_target_tag(toy_tokenizer_dir):
    """The study's own MT models: `<src> x </s>` in, `</s> <tgt> ...` out, as the MT objective trains them."""
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    torch.manual_seed(0)
    config = BartConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id, **TINY)
    model = BartForConditionalGeneration(config).eval()
    ids = translation_ids(model, tokenizer, ["the committee adopted the report"], "en", "fr", "iso", max_new_tokens=3)
    assert ids[0, :2].tolist() == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<fr>")]
    batch = tokenizer(["the committee adopted the report"], add_special_tokens=False)["input_ids"][0]
    seen = {}
    model.generate = lambda **kwargs: seen.update(kwargs) or ids
    translate(model, tokenizer, ["the committee adopted the report"], "en", "fr", "iso")
    assert seen["input_ids"][0].tolist() == [tokenizer.convert_tokens_to_ids("<en>"), *batch, tokenizer.eos_token_id]
    assert seen["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids("<fr>")


def test_target_language_rate_on_real_sentences():
    translations = [
        "Le comité a adopté le rapport sur la situation économique.",
        "Nous avons mangé au restaurant hier soir.",
        "Les enfants jouent dans le jardin.",
        "El gobierno anunció nuevas medidas económicas.",
        "我们明天去图书馆看书。",
        "",  # an empty output is never in the target language
    ]
    assert target_language_rate(translations, "fr") == 3 / 6
    assert target_language_rate(translations, "es") == 1 / 6
    assert target_language_rate(translations, "zh") == 1 / 6
    assert target_language_rate(list(CHECK_SENTENCES["fr"]), "fr") == 1.0
    assert target_language_rate(list(CHECK_SENTENCES["en"]), "en") == 1.0
    with pytest.raises(TranslationCheckError):
        target_language_rate([], "fr")


class ScriptedModel:
    """Generates a fixed sentence after the decoder start and the forced code: the check's language
    ID then sees real text, so pass/fail is decided by the threshold alone."""

    device = torch.device("cpu")

    def __init__(self, tokenizer, replies):
        self.tokenizer, self.replies = tokenizer, replies

    def generate(self, input_ids, forced_bos_token_id, **_):
        rows = [[self.tokenizer.eos_token_id, forced_bos_token_id,
                 *self.tokenizer(self.replies[i % len(self.replies)], add_special_tokens=False)["input_ids"]]
                for i in range(len(input_ids))]
        return self.tokenizer.pad({"input_ids": rows}, return_tensors="pt")["input_ids"]


def test_output_language_check_passes_on_the_threshold(toy_tokenizer_dir):
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    sources = ["the committee adopted the report"] * 4
    french = ScriptedModel(tokenizer, ["le comité a adopté le rapport"])
    passed, rate, examples = output_language_check(french, tokenizer, sources, "en", "fr", "iso")
    assert (passed, rate) == (True, 1.0)
    assert examples[0] == ("the committee adopted the report", "le comité a adopté le rapport")
    assert len(examples) == 3

    half = ScriptedModel(tokenizer, ["le comité a adopté le rapport", "the delegate signed the resolution"])
    assert output_language_check(half, tokenizer, sources, "en", "fr", "iso")[:2] == (False, 0.5)
    assert output_language_check(half, tokenizer, sources, "en", "fr", "iso", threshold=0.5)[:2] == (True, 0.5)
    with pytest.raises(TranslationCheckError, match="threshold"):
        output_language_check(half, tokenizer, sources, "en", "fr", "iso", threshold=1.5)


def test_check_directions_follow_what_each_checkpoint_translates():
    assert check_directions(HUB_CHECKPOINTS["mbart-50-m2o"]) == [("fr", "en")]
    assert check_directions(HUB_CHECKPOINTS["mbart-50-o2m"]) == [("en", "fr")]
    assert check_directions(HUB_CHECKPOINTS["mbart-50-m2m"], "es") == [("en", "es")]
    assert check_directions(HUB_CHECKPOINTS["nllb-600m"]) == [("en", "fr")]
    assert check_directions(HUB_CHECKPOINTS["mbart-50"]) == []
    assert check_directions(HUB_CHECKPOINTS["mbert"]) == []


def test_a_saved_checkpoint_is_checked_per_direction(mbart50, tmp_path):
    """The asset check's entry point: a checkpoint folder, its convention and directions. A random
    model writes no French, so the check fails, and says so per direction."""
    model, tokenizer = mbart50
    model.save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    results = checkpoint_output_language(tmp_path, "mbart", [("en", "fr"), ("fr", "en")], max_new_tokens=4)
    assert list(results) == ["en>fr", "fr>en"]
    assert [result.passed for result in results.values()] == [False, False]
    assert all(len(result.examples) == 3 for result in results.values())
    with pytest.raises(TranslationCheckError, match="no check sentences in zh"):
        checkpoint_output_language(tmp_path, "mbart", [("zh", "en")])
