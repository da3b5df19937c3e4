"""The PUD treebanks as parallel sentences (`analysis/pud.py`): the CoNLL-U reader on hand-written and
generated files, the shipped synthetic PUD fixtures, the real PUD samples in ../shared/data (skipped
when absent), the alignment by sent_id, and the download with a fake HTTP session."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from conftest import SHARED_DATA, requires_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrep_assets.analysis.pud import (
    PUD_TREEBANKS,
    ConlluError,
    ConlluSentence,
    download_pud,
    parallel_pud,
    pud_file,
    pud_url,
    read_conllu,
)
from xrep_assets.errors import SettingError
from xrep_assets.fixtures import OPUS_MIRROR, UD_DIR
from xrep_assets.xglue.readers import UPOS_TAGS

REPO = Path(__file__).resolve().parents[1]
LIMITS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow])


def write(tmp_path: Path, content: str | bytes, name: str = "t.conllu") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def word(i: int | str, form: str, upos: str = "NOUN", misc: str = "_") -> str:
    return f"{i}\t{form}\t_\t{upos}\t_\t_\t0\troot\t_\t{misc}"


# --------------------------------------------------------------------------------------------------
# Hand-written snippets

FRENCH = "\n".join([
    "# newdoc id = d1",
    "# sent_id = fr-1",
    "# text_en = He goes to the market.",
    word(1, "Il", "PRON"),
    word(2, "va", "VERB"),
    "3-4\tau\t_\t_\t_\t_\t_\t_\t_\t_",
    word(3, "à", "ADP"),
    word(4, "le", "DET", "SpaceAfter=No"),  # a word's MISC inside a multiword token does not count
    word(5, "marché", "NOUN", "SpaceAfter=No"),
    word(6, ".", "PUNCT"),
    "",
    "# sent_id = fr-2",
    "# text = Paul lit, et Marie aussi.",
    word(1, "Paul", "PROPN"),
    word(2, "lit", "VERB", "SpaceAfter=No"),
    word(3, ",", "PUNCT"),
    word(4, "et", "CCONJ"),
    word(5, "Marie", "PROPN"),
    "5.1\tlit\t_\tVERB\t_\t_\t_\t_\t2:conj\t_",
    "5.2\tsilence\t_\t_\t_\t_\t_\t_\t_\t_",
    word(6, "aussi", "ADV", "SpaceAfter=No"),
    word(7, ".", "PUNCT"),
    "",
]) + "\n"


def test_reads_words_tags_and_texts(tmp_path):
    assert read_conllu(write(tmp_path, FRENCH)) == [
        # no `# text`: rebuilt from the surface tokens, `au` for `à le`, no space before the full stop
        ConlluSentence("fr-1", "Il va au marché.", ("Il", "va", "à", "le", "marché", "."),
                       ("PRON", "VERB", "ADP", "DET", "NOUN", "PUNCT")),
        # `# text` is taken as it is; the empty nodes are no words
        ConlluSentence("fr-2", "Paul lit, et Marie aussi.", ("Paul", "lit", ",", "et", "Marie", "aussi", "."),
                       ("PROPN", "VERB", "PUNCT", "CCONJ", "PROPN", "ADV", "PUNCT")),
    ]


def test_a_multiword_token_without_a_space_after_it(tmp_path):
    text = "\n".join(["# sent_id = 1", "1-2\tvámonos\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No",
                      word(1, "vamos", "VERB"), word(2, "nos", "PRON"), word(3, "!", "PUNCT")]) + "\n\n"
    assert read_conllu(write(tmp_path, text))[0].text == "vámonos!"


def test_a_byte_order_mark_and_a_missing_last_blank_line_change_nothing(tmp_path):
    plain = read_conllu(write(tmp_path, FRENCH, "a.conllu"))
    assert read_conllu(write(tmp_path, "\ufeff" + FRENCH.rstrip("\n"), "b.conllu")) == plain


def block(*lines: str) -> str:
    return "\n".join(lines) + "\n\n"


GOOD = block("# sent_id = a", word(1, "x"))
# (content, the line the error names (None: the file), words the message holds)
DAMAGED = {
    "nine fields": (block("# sent_id = a", "1\tx\t_\tNOUN\t_\t_\t0\troot\t_"), 2, "9 tab-separated fields"),
    "spaces for tabs": (block("# sent_id = a", "1  x  _  NOUN  _  _  0  root  _  _"), 2, "1 tab-separated fields"),
    "bad ID": (block("# sent_id = a", word("x", "x")), 2, "bad ID 'x'"),
    "ID 0": (block("# sent_id = a", word(0, "x")), 2, "bad ID '0'"),
    "skipped word": (GOOD + block("# sent_id = b", word(1, "x"), word(3, "y")), 6, "word ID 3 after word 1"),
    "range of one": (block("# sent_id = a", "1-1\tx\t_\t_\t_\t_\t_\t_\t_\t_", word(1, "x")), 2, "multiword token 1-1"),
    "range too long": (block("# sent_id = a", "1-3\txy\t_\t_\t_\t_\t_\t_\t_\t_", word(1, "x"), word(2, "y")), 4,
                       "up to word 3, but the sentence has 2"),
    "overlapping ranges": (block("# sent_id = a", "1-3\txyz\t_\t_\t_\t_\t_\t_\t_\t_", word(1, "x"),
                                 "2-3\tyz\t_\t_\t_\t_\t_\t_\t_\t_", word(2, "y"), word(3, "z")), 4, "multiword token 2-3"),
    "empty node out of place": (block("# sent_id = a", word(1, "x"), "2.1\ty\t_\t_\t_\t_\t_\t_\t_\t_"), 3,
                                "expected 1.1"),
    "empty FORM": (block("# sent_id = a", word(1, "")), 2, "empty FORM"),
    "not a UPOS": (block("# sent_id = a", word(1, "x", "NN")), 2, "UPOS 'NN'"),
    "no sent_id": (GOOD + block("# text = x", word(1, "x")), 4, "without a '# sent_id =' comment"),
    "two sent_ids": (block("# sent_id = a", "# sent_id = b", word(1, "x")), 2, "second sent_id"),
    "sent_id with a space": (block("# sent_id = a b", word(1, "x")), 1, "one non-empty word"),
    "two texts": (block("# sent_id = a", "# text = x", "# text = y", word(1, "x")), 3, "second '# text ='"),
    "duplicate sent_id": (GOOD + block("# newdoc", "# sent_id = a", word(1, "y")), 5,
                          "duplicate sent_id 'a' (first at line 1)"),
    "comment among words": (block("# sent_id = a", word(1, "x"), "# note", word(2, "y")), 3, "comment after"),
    "comments only": (GOOD + block("# sent_id = b"), 4, "without a word line"),
    "whitespace line": (GOOD + " \n" + GOOD, 4, "whitespace-only line"),
    "NUL byte": (block("# sent_id = a", word(1, "x\0")), 2, "NUL byte"),
    "CRLF line ends": (GOOD.replace("\n", "\r\n"), 1, "carriage return"),
    "empty file": ("", None, "no sentence"),
    "blank lines only": ("\n\n\n", None, "no sentence"),
    "a byte-order mark only": ("\ufeff", None, "no sentence"),
}


@pytest.mark.parametrize("content, line, message", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_file_fails_at_its_line(tmp_path, content, line, message):
    path = write(tmp_path, content)
    with pytest.raises(ConlluError) as error:
        read_conllu(path)
    assert (error.value.path, error.value.line) == (str(path), line)
    assert message in error.value.message


def test_not_utf8_fails_at_its_line(tmp_path):
    path = write(tmp_path, GOOD.encode() + b"# sent_id = b\n1\t\xff\t_\tX\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(ConlluError, match=r":5: not UTF-8: invalid start byte at byte 2"):
        read_conllu(path)


# --------------------------------------------------------------------------------------------------
# Generated files: valid ones read back to what was written, damaged ones fail at the damaged line

FORM_CHARS = st.characters(codec="utf-8", exclude_characters="\t\n\r\x00")
FORMS = st.text(FORM_CHARS, min_size=1, max_size=6)
TEXTS = st.text(FORM_CHARS, min_size=1, max_size=20).map(str.strip).filter(bool)


@dataclass(frozen=True)
class Token:
    form: str
    space_after: bool
    words: tuple[tuple[str, str], ...]  # (form, UPOS); two or more: a multiword token
    empty_nodes: int  # after the token's last word


@dataclass(frozen=True)
class Sentence:
    sent_id: str
    text: str | None
    tokens: tuple[Token, ...]

    def lines(self) -> list[str]:
        out = ["# newdoc id = doc", f"# sent_id = {self.sent_id}", "# text_en = translation", "# note"]
        out += [f"# text = {self.text}"] if self.text is not None else []
        n = 0
        for token in self.tokens:
            misc = "_" if token.space_after else "Gloss=x|SpaceAfter=No"
            if len(token.words) > 1:
                out.append(f"{n + 1}-{n + len(token.words)}\t{token.form}\t_\t_\t_\t_\t_\t_\t_\t{misc}")
            for form, upos in token.words:
                n += 1
                out.append(f"{n}\t{form}\t_\t{upos}\t_\t_\t0\tdep\t_\t{misc if len(token.words) == 1 else '_'}")
            out += [f"{n}.{k}\t{form}\t_\t_\t_\t_\t_\t_\t_\t_" for k in range(1, token.empty_nodes + 1)]
        return out

    def expected(self) -> ConlluSentence:
        rebuilt = "".join(t.form + (" " if t.space_after and k < len(self.tokens) - 1 else "")
                          for k, t in enumerate(self.tokens))
        words = [w for t in self.tokens for w in t.words]
        return ConlluSentence(self.sent_id, self.text if self.text is not None else rebuilt,
                              tuple(f for f, _ in words), tuple(u for _, u in words))


tokens = st.builds(
    Token, FORMS, st.booleans(),
    st.lists(st.tuples(FORMS, st.sampled_from(sorted(UPOS_TAGS))), min_size=1, max_size=3).map(tuple),
    st.integers(0, 2),
).map(lambda t: t if len(t.words) > 1 else replace(t, form=t.words[0][0]))  # a word alone is its own token


@st.composite
def documents(draw) -> list[Sentence]:
    n = draw(st.integers(1, 4))
    ids = draw(st.lists(st.text("abcn0123456789-_", min_size=1, max_size=8), min_size=n, max_size=n, unique=True))
    return [Sentence(i, draw(st.none() | TEXTS), tuple(draw(st.lists(tokens, min_size=1, max_size=5)))) for i in ids]


def encode(doc: list[Sentence]) -> list[str]:
    return [line for s in doc for line in [*s.lines(), ""]]


@LIMITS
@given(documents(), st.booleans())
def test_generated_files_read_back(doc, bom):
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        path = write(tmp, ("\ufeff" if bom else "") + "\n".join(encode(doc)) + "\n")
        assert read_conllu(path) == [s.expected() for s in doc]


DAMAGES = {
    "drop a tab": lambda line: line.replace("\t", "", 1),
    "an ID no format has": lambda line: "x" + line,
    "a NUL byte": lambda line: line + "\0",
    "a carriage return": lambda line: line + "\r",
}


@LIMITS
@given(documents(), st.data())
def test_a_damaged_word_line_fails_at_its_line(doc, data):
    lines = encode(doc)
    at = data.draw(st.sampled_from([i for i, line in enumerate(lines) if line[:1].isdigit()]))
    damage = data.draw(st.sampled_from(sorted(DAMAGES)))
    lines[at] = DAMAGES[damage](lines[at])
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        path = write(tmp, "\n".join(lines) + "\n")
        with pytest.raises(ConlluError) as error:
            read_conllu(path)
        assert error.value.line == at + 1, (damage, error.value)


@LIMITS
@given(documents())
def test_a_repeated_sentence_fails_at_its_sent_id(doc):
    lines = encode(doc)
    repeated = doc[0].lines()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        path = write(tmp, "\n".join(lines + repeated) + "\n")
        with pytest.raises(ConlluError, match="duplicate sent_id") as error:
            read_conllu(path)
        assert error.value.line == len(lines) + 2  # the repeated block's sent_id comment


# --------------------------------------------------------------------------------------------------
# Parallel texts


def test_parallel_texts_are_aligned_by_sorted_sent_id(tmp_path):
    for lang, rows in {"en": [("b", "Two."), ("a", "One.")], "fr": [("a", "Un."), ("b", "Deux.")]}.items():
        path = pud_file(tmp_path, lang)
        path.parent.mkdir(parents=True)
        path.write_text("".join(block(f"# sent_id = {i}", f"# text = {t}", word(1, t)) for i, t in rows), "utf-8")
    texts = parallel_pud(tmp_path, ["fr", "en"])
    assert texts == {"fr": {"a": "Un.", "b": "Deux."}, "en": {"a": "One.", "b": "Two."}}
    assert [list(t) for t in texts.values()] == [["a", "b"], ["a", "b"]]
    assert pud_file(tmp_path, "en") == tmp_path / "UD_English-PUD" / "en_pud-ud-test.conllu"


def test_a_treebank_with_other_sentences_is_named(tmp_path):
    for lang, ids in {"en": ["a", "b"], "de": ["a", "c"]}.items():
        path = pud_file(tmp_path, lang)
        path.parent.mkdir(parents=True)
        path.write_text("".join(block(f"# sent_id = {i}", word(1, "x")) for i in ids), "utf-8")
    with pytest.raises(ConlluError, match=r"de_pud-ud-test.conllu: not parallel to .*en_pud.*missing \['b'\].*\['c'\]"):
        parallel_pud(tmp_path, ["en", "de"])
    with pytest.raises(ConlluError, match="missing PUD file for fr"):
        parallel_pud(tmp_path, ["en", "fr"])
    with pytest.raises(SettingError, match="no PUD treebank for language 'nl'"):
        parallel_pud(tmp_path, ["en", "nl"])


# --------------------------------------------------------------------------------------------------
# The shipped fixtures


def test_the_fixtures_are_parallel_pud_files():
    sentences = {lang: read_conllu(pud_file(UD_DIR, lang)) for lang in PUD_TREEBANKS}
    ids = [s.sent_id for s in sentences["en"]]
    assert len(ids) == 40 and ids[0] == "n01001011" and ids == sorted(ids)
    assert all([s.sent_id for s in sentences[lang]] == ids for lang in PUD_TREEBANKS)
    texts = parallel_pud(UD_DIR, PUD_TREEBANKS)
    assert texts["en"] == {s.sent_id: s.text for s in sentences["en"]} and all(len(t) == 40 for t in texts.values())
    assert texts["en"]["n01001011"] == "Pierre Martin reads the newspaper and Sophie Dubois the book."
    assert texts["de"]["n01001011"] == "Pierre Martin liest die Zeitung und Sophie Dubois das Buch."
    raw = "".join(pud_file(UD_DIR, lang).read_text("utf-8") for lang in PUD_TREEBANKS)
    ids_column = [line.split("\t", 1)[0] for line in raw.split("\n") if line[:1].isdigit()]
    assert any("-" in i for i in ids_column) and any("." in i for i in ids_column) and "SpaceAfter=No" in raw


@pytest.mark.parametrize("lang", sorted(PUD_TREEBANKS))
def test_the_fixture_texts_are_what_their_tokens_spell(tmp_path, lang):
    # The generator writes `# text` and the tokens from one rule; the reader rebuilds one from the other.
    path = pud_file(UD_DIR, lang)
    bare = write(tmp_path, "".join(line for line in path.open(encoding="utf-8") if not line.startswith("# text =")))
    assert [s.text for s in read_conllu(bare)] == [s.text for s in read_conllu(path)]


@pytest.mark.parametrize("lang", ["ar", "zh", "en", "fr", "ru", "es"])
def test_the_fixture_words_come_from_the_corpora_lexicon(lang):
    """The tiny study's tokenizer is trained on the OPUS fixtures: the PUD words are theirs (all but a few
    inflected forms the corpora happen not to draw). German has no corpus."""
    code = "zh_cn" if lang == "zh" else lang
    corpus = ""
    for path in sorted(OPUS_MIRROR.rglob("*.txt.zip")):
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if n.rsplit(".", 1)[-1] in (lang, code)]
            corpus += "\n".join(zf.read(n).decode("utf-8") for n in members)
    words = {w for s in read_conllu(pud_file(UD_DIR, lang)) for w in s.words}
    unseen = sorted(w for w in words if w not in corpus)
    assert len(unseen) <= 0.05 * len(words), unseen


def test_regenerating_gives_the_same_pud_files(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_fixtures.py"), str(tmp_path)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    fresh, shipped = ({p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
                      for root in (tmp_path / "ud", UD_DIR))
    assert len(shipped) == 7 and fresh == shipped


# --------------------------------------------------------------------------------------------------
# The real PUD samples (../shared/data/ud; see its README, section 2)

SHARED_UD = SHARED_DATA / "ud"
# The README's counts: syntactic words (integer IDs), not multiword token lines or empty nodes.
README_WORDS = {"ar": 20747, "zh": 21415, "en": 21180, "fr": 24726, "de": 21332, "ru": 19355, "es": 23283}


@requires_shared
@pytest.mark.parametrize("lang", sorted(PUD_TREEBANKS))
def test_the_real_pud_files_read(lang):
    sentences = read_conllu(pud_file(SHARED_UD, lang))
    assert len(sentences) == 1000
    assert sum(len(s.words) for s in sentences) == README_WORDS[lang]
    assert sentences[0].sent_id == "n01001011"


@requires_shared
def test_the_real_pud_files_are_parallel():
    texts = parallel_pud(SHARED_UD, ["en", *sorted(set(PUD_TREEBANKS) - {"en"})])
    assert all(len(t) == 1000 for t in texts.values())
    assert texts["en"]["n01001011"].startswith("“While much of the digital transition is unprecedented")
    assert texts["de"]["n01001011"].startswith("„Ein Großteil des digitalen Übergangs")


@requires_shared
@pytest.mark.parametrize("lang", ["en", "fr", "zh"])  # English: empty nodes; French: 595 multiword tokens
def test_real_texts_are_what_their_tokens_spell(tmp_path, lang):
    path = pud_file(SHARED_UD, lang)
    bare = write(tmp_path, "".join(line for line in path.open(encoding="utf-8") if not line.startswith("# text =")))
    assert [s.text for s in read_conllu(bare)] == [s.text for s in read_conllu(path)]


# --------------------------------------------------------------------------------------------------
# Download, with a fake HTTP session


class FakeResponse:
    def __init__(self, url: str, content: bytes, status: int = 200):
        self.url, self.content, self.status_code = url, content, status

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code} for {self.url}")


class FakeSession:
    """Answers each URL from a dict (404 for the others) and records what was asked."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.asked = files, []

    def get(self, url: str, timeout: float) -> FakeResponse:
        self.asked.append(url)
        return FakeResponse(url, self.files[url]) if url in self.files else FakeResponse(url, b"404", 404)


def served(tag: str, languages=PUD_TREEBANKS) -> dict[str, bytes]:
    return {pud_url(tag, lang): pud_file(UD_DIR, lang).read_bytes() for lang in languages}


def test_download_writes_the_release_in_the_pud_layout(tmp_path):
    session = FakeSession(served("r2.14"))
    files = download_pud(tmp_path, "r2.14", session=session)
    assert session.asked == [
        f"https://raw.githubusercontent.com/UniversalDependencies/{treebank}/r2.14/{lang}_pud-ud-test.conllu"
        for lang, treebank in PUD_TREEBANKS.items()
    ]
    assert session.asked[0] == (
        "https://raw.githubusercontent.com/UniversalDependencies/UD_Arabic-PUD/r2.14/ar_pud-ud-test.conllu"
    )
    assert files == {lang: pud_file(tmp_path, lang) for lang in PUD_TREEBANKS}
    assert all(files[lang].read_bytes() == pud_file(UD_DIR, lang).read_bytes() for lang in PUD_TREEBANKS)
    assert parallel_pud(tmp_path, PUD_TREEBANKS) == parallel_pud(UD_DIR, PUD_TREEBANKS)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(pud_file(Path(), lang) for lang in PUD_TREEBANKS)  # nothing else, no temporary


def test_a_garbled_download_never_replaces_a_good_file(tmp_path):
    download_pud(tmp_path, "r2.14", ["en"], session=FakeSession(served("r2.14", ["en"])))
    good = pud_file(tmp_path, "en").read_bytes()
    html = {pud_url("r2.15", "en"): b"<html><body>rate limited</body></html>\n"}
    url = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-PUD/r2.15/en_pud-ud-test.conllu"
    with pytest.raises(ConlluError, match=f"^{url}:1: 1 tab-separated"):
        download_pud(tmp_path, "r2.15", ["en"], session=FakeSession(html))
    assert pud_file(tmp_path, "en").read_bytes() == good
    assert [p.name for p in pud_file(tmp_path, "en").parent.iterdir()] == ["en_pud-ud-test.conllu"]  # no temporary left


def test_download_failures_are_raised(tmp_path):
    with pytest.raises(requests.HTTPError, match="404"):
        download_pud(tmp_path, "r9.99", ["de"], session=FakeSession({}))
    assert not pud_file(tmp_path, "de").exists()
    with pytest.raises(SettingError, match="not a git tag name"):
        download_pud(tmp_path, "r2.14/../main", ["de"], session=FakeSession({}))
    with pytest.raises(SettingError, match="not a git tag name"):
        download_pud(tmp_path, "..", ["de"], session=FakeSession({}))
    with pytest.raises(SettingError, match="no PUD treebank for language 'ja'"):
        download_pud(tmp_path, "r2.14", ["ja"], session=FakeSession({}))
