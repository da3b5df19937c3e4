"""The encoder API on tiny randomly initialised models of each family, saved with save_pretrained."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, BartConfig, BartModel, BertConfig, BertModel, GPT2Config, GPT2Model

from xrep_assets.checkpoints.encoder import Encoder
from xrep_assets.tokenizers.training import load_tokenizer


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
