"""The encoder API on tiny randomly initialised models of each family, saved with save_pretrained."""

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch
from conftest import TOY_TEXTS, load_tokenizer
from transformers import (
    AutoModel,
    BartConfig,
    BartModel,
    BertConfig,
    BertModel,
    BertTokenizer,
    DistilBertConfig,
    DistilBertModel,
    GPT2Config,
    GPT2Model,
    GPT2Tokenizer,
    M2M100Config,
    M2M100Model,
    MarianConfig,
    MarianModel,
    MarianTokenizer,
    MBart50Tokenizer,
    MBartConfig,
    MBartModel,
    MBartTokenizer,
    NllbTokenizer,
    XLMRobertaConfig,
    XLMRobertaModel,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from xrep_assets.analysis.spectrum import weight_spectra
from xrep_assets.checkpoints.encoder import (
    Encoder,
    EncoderError,
    language_codes_for,
    pool_hidden_states,
    words_in_frame,
)
from xrep_assets.checkpoints.models import build_model
from xrep_assets.checkpoints.vocabulary import token_ids
from xrep_assets.errors import XrepError
from xrep_assets.profiles import ModelSize
from xrep_assets.study import PRETRAINING_LANGUAGES

# Marian's tokenizer asks for sacremoses' punctuation normaliser, which these tests do not need.
pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")


def _save(model, tokenizer, path):
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=["bert", "gpt2", "bart"])
def checkpoint_dir(request, toy_tokenizer_dir, tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    vocab, pad = len(tokenizer), tokenizer.pad_token_id
    model = {
        "bert": lambda: BertModel(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=2, intermediate_size=64, pad_token_id=pad)),
        "gpt2": lambda: GPT2Model(GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                             pad_token_id=pad)),
        "bart": lambda: BartModel(BartConfig(vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=1,
                                             encoder_attention_heads=2, decoder_attention_heads=2,
                                             encoder_ffn_dim=64, decoder_ffn_dim=64, pad_token_id=pad)),
    }[request.param]()
    return _save(model, tokenizer, tmp_path_factory.mktemp(request.param))


def _reference_hidden(path, text, layer):
    """Hidden states computed by hand: the model (the encoder of a seq2seq model) on one text."""
    tokenizer = load_tokenizer(path)
    model = AutoModel.from_pretrained(str(path)).eval()
    stack = model.get_encoder() if model.config.is_encoder_decoder else model
    encoded = tokenizer(text, return_tensors="pt")
    encoded.pop("token_type_ids", None)
    with torch.inference_mode():
        return stack(**encoded, output_hidden_states=True).hidden_states[layer][0].numpy(), encoded


def test_sentence_vector_is_the_mean_over_tokens_and_ignores_padding(checkpoint_dir):
    encoder = Encoder(checkpoint_dir)
    texts = ["the committee adopted the report", "le comité"]
    vectors = encoder.sentence_vectors(texts, layer=-1)
    assert vectors.shape == (2, 32)
    hidden, _ = _reference_hidden(checkpoint_dir, "le comité", -1)
    # The short text was padded in the batch; its vector must equal the unpadded mean.
    np.testing.assert_allclose(vectors[1], hidden.mean(0), rtol=1e-4, atol=1e-5)


def test_layer_zero_is_the_embedding_output(checkpoint_dir):
    encoder = Encoder(checkpoint_dir)
    hidden, _ = _reference_hidden(checkpoint_dir, "le comité", 0)
    np.testing.assert_allclose(encoder.sentence_vectors(["le comité"], layer=0)[0], hidden.mean(0), rtol=1e-4, atol=1e-5)


def test_word_vectors_take_each_words_first_subword(checkpoint_dir):
    encoder = Encoder(checkpoint_dir)
    words = ["the", "committee", "adopted", "委员会通过了报告"]
    (vectors,) = encoder.word_vectors([words])
    assert vectors.shape == (4, 32)
    tokenizer = load_tokenizer(checkpoint_dir)
    encoded = tokenizer([words], is_split_into_words=True, return_tensors="pt")
    first = {}
    for position, word in enumerate(encoded.word_ids(0)):
        if word is not None:
            first.setdefault(word, position)
    encoded.pop("token_type_ids", None)
    model = AutoModel.from_pretrained(str(checkpoint_dir)).eval()
    stack = model.get_encoder() if model.config.is_encoder_decoder else model
    with torch.inference_mode():
        hidden = stack(**encoded, output_hidden_states=True).hidden_states[-1][0].numpy()
    for word, position in first.items():
        np.testing.assert_allclose(vectors[word], hidden[position], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------------
# Every family: hub-like models with their own tokenizers, and the study's own checkpoints

HIDDEN = 32
TINY = dict(d_model=HIDDEN, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
            decoder_ffn_dim=64, max_position_embeddings=64)
LONG, SHORT = "le comité a adopté le rapport", "le comité"
WORDS = ["the", "committee", "adopted", "委员会通过了报告"]


@dataclass(frozen=True)
class Family:
    name: str
    path: Path
    lang_codes: str | None
    layers: int  # the stack's: an encoder-decoder's encoder layers
    frame: tuple[list[str], list[str]]  # tokens around a French text's subwords


def _spm_dir(toy_tokenizer_dir, tmp, name):
    """A folder holding only the toy sentencepiece model, as mBART's tokenizer files are named."""
    folder = tmp / name
    folder.mkdir()
    shutil.copy(toy_tokenizer_dir / "sentencepiece.bpe.model", folder / "sentencepiece.bpe.model")
    return folder


def _bert_tokenizer():
    texts = TOY_TEXTS["en"] + TOY_TEXTS["fr"] + TOY_TEXTS["zh"]
    words = {w for t in TOY_TEXTS["en"] + TOY_TEXTS["fr"] for w in t.split()} - {"adopted", "adopté"}
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *chars, *("##" + c for c in chars)]
    return BertTokenizer(vocab={token: i for i, token in enumerate(dict.fromkeys(vocab))}, strip_accents=False)


def _gpt2_tokenizer():
    # Byte-level BPE without merges: one token per byte; no pad token, as GPT-2's own.
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    vocab["<|endoftext|>"] = len(vocab)
    return GPT2Tokenizer(vocab=vocab, merges=[])


def _nllb_tokenizer(toy_tokenizer_dir):
    # The spm pieces as a character-level BPE; the constructor adds NLLB's 204 FLORES codes.
    pieces = spm.SentencePieceProcessor(model_file=str(toy_tokenizer_dir / "sentencepiece.bpe.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(3, pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(i), len(vocab))
    return NllbTokenizer(vocab=vocab, merges=[])


def _marian_tokenizer(toy_tokenizer_dir, folder):
    folder.mkdir()
    for name in ("source.spm", "target.spm"):
        shutil.copy(toy_tokenizer_dir / "sentencepiece.bpe.model", folder / name)
    pieces = spm.SentencePieceProcessor(model_file=str(toy_tokenizer_dir / "sentencepiece.bpe.model"))
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())} | {"<pad>": pieces.get_piece_size()}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    return MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))


def _own(objective, tokenizer):
    ids = token_ids(tokenizer, PRETRAINING_LANGUAGES)
    return build_model(objective, ids, ModelSize(layers=2, hidden=HIDDEN, heads=2, ffn=64, max_positions=64))


def _build_family(name, toy_tokenizer_dir, tmp):
    """A tiny random checkpoint of family `name` saved under `tmp`, with what its encoder should report."""
    torch.manual_seed(0)
    toy = load_tokenizer(toy_tokenizer_dir)
    plain = (["<s>"], ["</s>"])
    lang_codes = None
    if name == "bert":
        tokenizer = _bert_tokenizer()
        model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64))
        layers, frame = 2, (["[CLS]"], ["[SEP]"])
    elif name == "xlm-roberta":
        tokenizer = toy
        model = XLMRobertaModel(XLMRobertaConfig(vocab_size=len(toy), hidden_size=HIDDEN, num_hidden_layers=2,
                                                 num_attention_heads=2, intermediate_size=64,
                                                 max_position_embeddings=66, pad_token_id=toy.pad_token_id))
        layers, frame = 2, plain
    elif name == "gpt2":
        tokenizer = _gpt2_tokenizer()
        model = GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_embd=HIDDEN, n_layer=3, n_head=2, n_positions=64))
        layers, frame = 3, ([], [])
    elif name in ("mbart-50", "mbart-cc25"):
        tokenizer_class = MBart50Tokenizer if name == "mbart-50" else MBartTokenizer
        tokenizer = tokenizer_class.from_pretrained(str(_spm_dir(toy_tokenizer_dir, tmp, "spm")))
        # 2 encoder and 3 decoder layers: the encoder's count is the one reported.
        model = MBartModel(MBartConfig(vocab_size=len(tokenizer), encoder_layers=2, decoder_layers=3,
                                       pad_token_id=tokenizer.pad_token_id, **TINY))
        # mBART-50 puts the code first, mBART-cc25 after </s>.
        lang_codes, layers = "mbart", 2
        frame = (["fr_XX"], ["</s>"]) if name == "mbart-50" else ([], ["</s>", "fr_XX"])
    elif name == "nllb":
        tokenizer = _nllb_tokenizer(toy_tokenizer_dir)
        model = M2M100Model(M2M100Config(vocab_size=len(tokenizer), encoder_layers=2, decoder_layers=1,
                                         pad_token_id=tokenizer.pad_token_id, **TINY))
        lang_codes, layers, frame = "nllb", 2, (["fra_Latn"], ["</s>"])
    elif name == "marian":
        tokenizer = _marian_tokenizer(toy_tokenizer_dir, tmp / "marian-files")
        model = MarianModel(MarianConfig(vocab_size=len(tokenizer), encoder_layers=2, decoder_layers=1,
                                         pad_token_id=tokenizer.pad_token_id,
                                         decoder_start_token_id=tokenizer.pad_token_id, **TINY))
        layers, frame = 2, ([], ["</s>"])
    else:  # the study's own checkpoints, named by objective
        tokenizer, model = toy, _own(name, toy)
        lang_codes, layers = language_codes_for(name), 2
        frame = (["<fr>"], ["</s>"]) if lang_codes == "iso" else plain
    return Family(name, _save(model, tokenizer, tmp / "checkpoint"), lang_codes, layers, frame)


FAMILIES = ["bert", "xlm-roberta", "gpt2", "mbart-50", "mbart-cc25", "nllb", "marian",
            "mlm", "clm", "tlm", "mt-transformer", "mt-bart"]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, toy_tokenizer_dir, tmp_path_factory):
    return _build_family(request.param, toy_tokenizer_dir, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def family_encoder(family):
    return Encoder(family.path, lang_codes=family.lang_codes)


def _frame_ids(encoder, family):
    prefix, suffix = family.frame
    return encoder.tokenizer.convert_tokens_to_ids(prefix), encoder.tokenizer.convert_tokens_to_ids(suffix)


def _stack_states(encoder, inputs, layer=-1):
    with torch.inference_mode():
        return encoder.stack(**inputs, output_hidden_states=True).hidden_states[layer].numpy()


def test_every_family_gives_one_vector_per_text_and_per_word(family, family_encoder):
    encoder = family_encoder
    assert encoder.num_layers == family.layers
    if family.name in ("mbart-50", "mbart-cc25", "nllb", "marian", "mt-transformer", "mt-bart"):
        assert type(encoder.stack).__name__.endswith("Encoder")  # the encoder stack, not the whole model
    assert encoder.sentence_vectors([LONG, SHORT, "委员会"], lang="fr").shape == (3, HIDDEN)
    assert encoder.sentence_vectors([LONG, SHORT], [SHORT, None], lang="fr").shape == (2, HIDDEN)
    words = encoder.word_vectors([WORDS, ["le", "comité"]], lang="fr")
    assert [w.shape for w in words] == [(4, HIDDEN), (2, HIDDEN)]

    embeddings = encoder.sentence_vectors([LONG], layer=0, lang="fr")
    last = encoder.sentence_vectors([LONG], layer=-1, lang="fr")
    assert not np.allclose(embeddings, last)
    np.testing.assert_array_equal(encoder.sentence_vectors([LONG], layer=family.layers, lang="fr"), last)
    with pytest.raises(EncoderError, match=f"layers 0 \\(embeddings\\) to {family.layers}"):
        encoder.sentence_vectors([LONG], layer=family.layers + 1, lang="fr")


def test_every_layer_comes_from_one_forward_pass_and_equals_the_one_layer_vectors(family, family_encoder, monkeypatch):
    encoder = family_encoder
    texts = [LONG, SHORT, "委员会"]
    one_by_one = [encoder.sentence_vectors(texts, layer=layer, lang="fr") for layer in range(family.layers + 1)]
    passes = []
    forward = encoder.all_hidden_states
    monkeypatch.setattr(encoder, "all_hidden_states", lambda inputs: passes.append(1) or forward(inputs))
    every = encoder.sentence_vectors_by_layer(texts, lang="fr")
    assert every.shape == (family.layers + 1, 3, HIDDEN)
    assert len(passes) == len(encoder.batches([len(r["input_ids"]) for r in encoder.text_rows(texts, lang="fr")]))
    for layer, vectors in enumerate(one_by_one):
        np.testing.assert_allclose(every[layer], vectors, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(encoder.sentence_vectors_by_layer(texts, layers=(-1, 0), lang="fr")[1], every[0])


def test_the_weight_spectrum_files_every_layer_of_every_family(family, family_encoder):
    spectra = weight_spectra(family_encoder.stack)
    assert {s.layer for s in spectra} == set(range(family.layers + 1))  # the embeddings and each layer
    for s in spectra:
        assert len(s.singular_values) == min(s.shape) and np.all(np.diff(s.singular_values) <= 1e-9)
        assert 1.0 <= s.effective_rank <= min(s.shape) + 1e-9


def test_the_input_frames_the_subwords_with_the_language_marker(family, family_encoder):
    encoder = family_encoder
    prefix, suffix = _frame_ids(encoder, family)
    content = encoder.tokenizer(SHORT, add_special_tokens=False)["input_ids"]
    inputs = encoder.encoded_texts([SHORT], lang="fr")
    assert inputs["input_ids"][0].tolist() == prefix + content + suffix
    if family.lang_codes is not None:  # the French code or tag is really in the ids
        french = {"mbart": "fr_XX", "nllb": "fra_Latn", "iso": "<fr>"}[family.lang_codes]
        assert encoder.tokenizer.convert_tokens_to_ids(french) in inputs["input_ids"][0].tolist()
    if family.name == "bert":  # BERT's segment ids mark the pair's second text and its [SEP]
        pair = encoder.encoded_texts([SHORT], [SHORT], lang="fr")
        assert pair["token_type_ids"][0].tolist() == [0] * (len(content) + 2) + [1] * (len(content) + 1)


def test_the_sentence_vector_is_the_mean_over_real_tokens(family, family_encoder):
    encoder = family_encoder
    vectors = encoder.sentence_vectors([LONG, SHORT], lang="fr")
    assert 0 in encoder.encoded_texts([LONG, SHORT], lang="fr")["attention_mask"][1]  # padded in the batch
    alone = encoder.encoded_texts([SHORT], lang="fr")  # no padding
    np.testing.assert_allclose(vectors[1], _stack_states(encoder, alone)[0].mean(0), rtol=1e-4, atol=1e-5)


def test_word_vectors_read_each_words_first_subword_after_the_marker(family, family_encoder):
    encoder = family_encoder
    prefix, suffix = _frame_ids(encoder, family)
    pieces = encoder.tokenizer(WORDS, add_special_tokens=False)["input_ids"]
    ids = prefix + [i for word in pieces for i in word] + suffix
    first = [len(prefix) + sum(len(p) for p in pieces[:k]) for k in range(len(WORDS))]

    inputs, positions = encoder.encoded_words([WORDS], lang="fr")
    assert inputs["input_ids"][0].tolist() == ids
    assert positions == [first]
    if encoder.tokenizer.is_fast and family.lang_codes != "iso":
        # The same ids and first subwords as the tokenizer's own pre-split encoding.
        own = encoder.tokenizer([WORDS], is_split_into_words=True)
        assert own["input_ids"][0] == ids
        assert [own.word_ids(0).index(k) for k in range(len(WORDS))] == first

    (vectors,) = encoder.word_vectors([WORDS], lang="fr")
    hidden = _stack_states(encoder, {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids))})
    np.testing.assert_allclose(vectors, hidden[0, first], rtol=1e-4, atol=1e-5)


def test_the_language_changes_an_mbart_encoding(toy_tokenizer_dir, tmp_path):
    family = _build_family("mbart-50", toy_tokenizer_dir, tmp_path)
    encoder = Encoder(family.path, lang_codes="mbart")
    tokenizer = encoder.tokenizer
    assert encoder.encoded_texts([SHORT], lang="en")["input_ids"][0, 0] == tokenizer.convert_tokens_to_ids("en_XX")
    assert encoder.encoded_texts([SHORT], lang="fr")["input_ids"][0, 0] == tokenizer.convert_tokens_to_ids("fr_XX")
    assert not np.allclose(encoder.sentence_vectors([SHORT], lang="en"), encoder.sentence_vectors([SHORT], lang="fr"))
    words = [["le", "comité"]]
    assert not np.allclose(encoder.word_vectors(words, lang="en")[0], encoder.word_vectors(words, lang="fr")[0])
    with pytest.raises(EncoderError, match="pass lang"):
        encoder.sentence_vectors([SHORT])
    # mBART-50 has no code for Bulgarian: it is shown as English, the language the head was trained on.
    assert encoder.encoded_texts([SHORT], lang="bg")["input_ids"][0, 0] == tokenizer.convert_tokens_to_ids("en_XX")


def test_gpt2_last_pooling_reads_the_last_real_token(toy_tokenizer_dir, tmp_path):
    family = _build_family("gpt2", toy_tokenizer_dir, tmp_path)
    encoder = Encoder(family.path, pooling="last")
    assert encoder.tokenizer.pad_token is not None  # GPT-2 has none; batches need one
    vectors = encoder.sentence_vectors([LONG, SHORT])
    alone = encoder.encoded_texts([SHORT])
    np.testing.assert_allclose(vectors[1], _stack_states(encoder, alone)[0, -1], rtol=1e-4, atol=1e-5)
    first = Encoder(family.path, pooling="first").sentence_vectors([LONG, SHORT])
    np.testing.assert_allclose(first[1], _stack_states(encoder, alone)[0, 0], rtol=1e-4, atol=1e-5)


def test_our_mt_models_read_the_tag_and_our_lms_none(toy_tokenizer_dir, tmp_path):
    tokenizer = load_tokenizer(toy_tokenizer_dir)
    mt = Encoder(_build_family("mt-bart", toy_tokenizer_dir, tmp_path / "mt").path, lang_codes="iso")
    content = tokenizer(SHORT, add_special_tokens=False)["input_ids"]
    # [<src>] tokens [</s>], as mt_example builds the source; no <s>.
    zh, fr = tokenizer.convert_tokens_to_ids("<zh>"), tokenizer.convert_tokens_to_ids("<fr>")
    eos = tokenizer.eos_token_id
    assert mt.encoded_texts([SHORT], lang="zh")["input_ids"][0].tolist() == [zh, *content, eos]
    pair = mt.encoded_texts([SHORT], ["le"], lang="fr")["input_ids"][0].tolist()
    assert pair == [fr, *content, eos, fr, *tokenizer("le", add_special_tokens=False)["input_ids"], eos]
    mlm = Encoder(_build_family("mlm", toy_tokenizer_dir, tmp_path / "mlm").path, lang_codes=language_codes_for("mlm"))
    assert mlm.encoded_texts([SHORT], lang="fr")["input_ids"][0].tolist() == [tokenizer.bos_token_id, *content, eos]


def test_a_tagged_pair_is_cut_to_max_length(toy_tokenizer_dir, tmp_path):
    family = _build_family("mt-transformer", toy_tokenizer_dir, tmp_path)
    encoder = Encoder(family.path, max_length=12, lang_codes="iso")
    ids = encoder.encoded_texts([LONG * 3], [SHORT], lang="en")["input_ids"][0].tolist()
    assert len(ids) == 12 and ids.count(encoder.tokenizer.eos_token_id) == 2


def test_language_codes_follow_how_each_checkpoint_was_trained():
    objectives = ("mlm", "clm", "bart-denoising", "tlm", "mt-transformer", "mt-bart")
    assert [language_codes_for(key) for key in objectives] == [None, None, None, "iso", "iso", "iso"]
    assert [language_codes_for(k) for k in ("mbert", "xlmr-base", "mbart-50", "nllb-600m", "mbart-50+mt")] == [
        None, None, "mbart", "nllb", "mbart",
    ]
    with pytest.raises(EncoderError, match="'t5-small' is not in the study catalog"):
        language_codes_for("t5-small")


def test_pooling_by_hand_with_left_and_right_padding():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]], [[9.0, 9.0], [2.0, 4.0], [4.0, 8.0]]])
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])  # right-padded, left-padded
    assert pool_hidden_states(hidden, mask, "mean").tolist() == [[2.0, 1.0], [3.0, 6.0]]
    assert pool_hidden_states(hidden, mask, "first").tolist() == [[1.0, 0.0], [2.0, 4.0]]
    assert pool_hidden_states(hidden, mask, "last").tolist() == [[3.0, 2.0], [4.0, 8.0]]


def test_words_cut_off_by_the_budget_have_no_position():
    assert words_in_frame([[5, 6], [7], [8, 9]], [1], [2], budget=3) == ([1, 5, 6, 7, 2], [1, 3, None])
    assert words_in_frame([[5, 6], [], [8]], [], [2], budget=9) == ([5, 6, 8, 2], [0, None, 2])


def test_an_architecture_without_adapter_is_an_error(tmp_path):
    model = DistilBertModel(DistilBertConfig(vocab_size=20, dim=HIDDEN, n_layers=1, n_heads=2, hidden_dim=64))
    model.save_pretrained(tmp_path)
    with pytest.raises(EncoderError, match="no encoder adapter for model type 'distilbert'; supported: bert, .*marian"):
        Encoder(tmp_path)


def test_a_checkpoint_without_weights_is_an_error(checkpoint_dir, tmp_path):
    shutil.copytree(checkpoint_dir, tmp_path / "copy")
    (tmp_path / "copy" / "model.safetensors").unlink()
    with pytest.raises(EncoderError, match=re.escape(f"{tmp_path / 'copy'}: no model weights")):
        Encoder(tmp_path / "copy")
    with pytest.raises(EncoderError, match="no such checkpoint directory"):
        Encoder(tmp_path / "absent")
    with pytest.raises(EncoderError, match="not a Hugging Face checkpoint"):
        Encoder(tmp_path)


def test_a_language_the_tokenizer_cannot_mark_is_shown_as_english_or_is_an_error(checkpoint_dir, tmp_path):
    encoder = Encoder(checkpoint_dir, lang_codes="iso")
    english = encoder.tokenizer.convert_tokens_to_ids("<en>")
    assert encoder.encoded_texts([SHORT], lang="de")["input_ids"][0, 0] == english  # no <de> tag: German as English
    encoder._token_id_of = lambda lang: None  # a tokenizer with no language tags at all
    with pytest.raises(EncoderError, match="no iso token for 'de' nor for English"):
        encoder.sentence_vectors([SHORT], lang="de")
    with pytest.raises(EncoderError, match="has no src_lang for mbart codes"):
        Encoder(checkpoint_dir, lang_codes="mbart")
