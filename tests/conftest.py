"""Shared test helpers: where the optional real samples are, and a tiny tokenizer trained once."""

from __future__ import annotations

from pathlib import Path

import pytest

# ../shared/data beside the repository: real samples, absent on a user's fresh clone.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
requires_shared = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not present")

TOY_TEXTS = {
    "en": ["the committee adopted the report", "the delegate signed the resolution", "the child reads a book"] * 20,
    "fr": ["le comité a adopté le rapport", "le délégué a signé la résolution", "l'enfant lit un livre"] * 20,
    "zh": ["委员会通过了报告", "代表签署了决议", "孩子读一本书"] * 20,
    "ru": ["комитет принял доклад", "делегат подписал резолюцию", "ребенок читает книгу"] * 20,
}


@pytest.fixture(scope="session")
def toy_tokenizer_dir(tmp_path_factory):
    from xrep_assets.tokenizers.training import train_joint_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    train_joint_tokenizer(TOY_TEXTS, out, vocab_size=150, alpha=0.3)
    return out


@pytest.fixture(autouse=True)
def _fresh_defs_state_storage():
    """Dagster keeps the current defs-state storage in a context variable; a sensor or schedule
    context built in one test can leave it pointing at that test's discarded instance, which breaks
    the next Definitions a later test builds. Every test starts without one."""
    from dagster._core.storage.defs_state.base import _current_storage

    token = _current_storage.set(None)
    yield
    try:
        _current_storage.reset(token)
    except ValueError:
        _current_storage.set(None)
