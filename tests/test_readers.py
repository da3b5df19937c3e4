"""Moses-zip and TMX readers: hand-made archives with exact records, errors, the real samples."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import polars as pl
import pytest

from xrep_assets.corpora.readers import BITEXT_SCHEMA, bitext_frame, read_moses_zip, read_tmx
from xrep_assets.errors import CorpusFormatError
from xrep_assets.study import CORPORA, ENGLISH_PAIRS, LanguagePair

UNPC, OPENSUBTITLES = CORPORA["unpc"], CORPORA["opensubtitles"]
EN_FR, EN_ZH = LanguagePair("en", "fr"), LanguagePair("en", "zh")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OPUS = SHARED / "opus"


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content.encode("utf-8") if isinstance(content, str) else content)
    return path


def record(line_no, text_1, text_2, doc_id=None, lang_1="en", lang_2="fr"):
    return {"line_no": line_no, "doc_id": doc_id, "lang_1": lang_1, "lang_2": lang_2,
            "text_1": text_1, "text_2": text_2}


# --------------------------------------------------------------------------------------------------
# Moses zips


def test_unpc_zip_records(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {
        "README": "not a corpus\n",
        "LICENSE": "terms\n",
        "UNPC.en-fr.en": "Distr .\nThe Council ,\r\n",
        "UNPC.en-fr.fr": "Distr .\nLe Conseil ,\n",
    })
    assert list(read_moses_zip(path, UNPC, EN_FR)) == [
        record(1, "Distr .", "Distr ."),
        record(2, "The Council ,", "Le Conseil ,"),
    ]


def test_opensubtitles_zip_maps_codes_and_reads_doc_ids(tmp_path):
    ids = ("en/1920/10323/6009214.xml.gz\tzh_cn/1920/10323/5937327.xml.gz\t1 2\t14\n"
           "en/1920/10323/6009214.xml.gz\tzh_cn/1920/10323/5937327.xml.gz\t3\t16 17\n")
    path = write_zip(tmp_path / "en-zh_cn.txt.zip", {
        "OpenSubtitles.en-zh_cn.en": "Directed by Robert Wiene .\nArt direction :\n",
        "OpenSubtitles.en-zh_cn.zh_cn": "导演 ： 罗伯特 · 威恩\n布景 及 装饰\n",
        "OpenSubtitles.en-zh_cn.ids": ids,
        "README": "x",
    })
    doc = "en/1920/10323/6009214.xml.gz"
    assert list(read_moses_zip(path, OPENSUBTITLES, EN_ZH)) == [
        record(1, "Directed by Robert Wiene .", "导演 ： 罗伯特 · 威恩", doc, "en", "zh"),
        record(2, "Art direction :", "布景 及 装饰", doc, "en", "zh"),
    ]


def test_doc_id_is_the_study_first_language_document(tmp_path):
    # OPUS orders columns alphabetically (ar before en): the l1 of LanguagePair("ar", "en") is ar.
    path = write_zip(tmp_path / "ar-en.txt.zip", {
        "OpenSubtitles.ar-en.ar": "نعم\n",
        "OpenSubtitles.ar-en.en": "Yes\n",
        "OpenSubtitles.ar-en.ids": "ar/1191/1/5.xml.gz\ten/1191/1/6.xml.gz\t1\t1\n",
    })
    [only] = read_moses_zip(path, OPENSUBTITLES, LanguagePair("ar", "en"))
    assert only["doc_id"] == "ar/1191/1/5.xml.gz"
    assert (only["text_1"], only["text_2"]) == ("نعم", "Yes")


def test_missing_member_raises(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {"UNPC.en-fr.en": "a\n", "README": "x"})
    with pytest.raises(CorpusFormatError, match=r"ending in '\.fr', found none"):
        list(read_moses_zip(path, UNPC, EN_FR))


def test_missing_ids_member_raises(tmp_path):
    path = write_zip(
        tmp_path / "en-fr.txt.zip", {"OpenSubtitles.en-fr.en": "a\n", "OpenSubtitles.en-fr.fr": "b\n"}
    )
    with pytest.raises(CorpusFormatError, match=r"ending in '\.ids'"):
        list(read_moses_zip(path, OPENSUBTITLES, EN_FR))


def test_line_count_mismatch_names_the_longer_file_and_line(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {
        "UNPC.en-fr.en": "one\ntwo\nthree\n",
        "UNPC.en-fr.fr": "un\ndeux\n",
    })
    records = read_moses_zip(path, UNPC, EN_FR)
    assert [r["line_no"] for r in (next(records), next(records))] == [1, 2]
    with pytest.raises(CorpusFormatError) as error:
        next(records)
    assert error.value.line == 3
    assert "UNPC.en-fr.en has more lines than UNPC.en-fr.fr" in error.value.message
    assert "ended after line 2" in error.value.message
    assert str(path) in str(error.value)


def test_invalid_utf8_names_the_line(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {
        "UNPC.en-fr.en": "one\ntwo\n",
        "UNPC.en-fr.fr": b"un\nd\xffeux\n",
    })
    with pytest.raises(CorpusFormatError, match="invalid UTF-8") as error:
        list(read_moses_zip(path, UNPC, EN_FR))
    assert error.value.line == 2
    assert error.value.path.endswith("!UNPC.en-fr.fr")


def test_malformed_ids_line_raises(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {
        "OpenSubtitles.en-fr.en": "a\n",
        "OpenSubtitles.en-fr.fr": "b\n",
        "OpenSubtitles.en-fr.ids": "only-one-field\n",
    })
    with pytest.raises(CorpusFormatError, match="4 tab-separated fields"):
        list(read_moses_zip(path, OPENSUBTITLES, EN_FR))


def test_not_a_zip_raises(tmp_path):
    path = tmp_path / "en-fr.txt.zip"
    path.write_bytes(b"<html>503</html>")
    with pytest.raises(CorpusFormatError, match="not a readable zip"):
        list(read_moses_zip(path, UNPC, EN_FR))


# --------------------------------------------------------------------------------------------------
# TMX

TMX = """<?xml version="1.0" encoding="utf-8"?>
<tmx version="1.4">
<header srclang="en" adminlang="en" segtype="sentence" datatype="PlainText" o-tmf="x"
        creationtool="t" creationtoolversion="1"/>
  <body>
    <tu>
      <tuv xml:lang="en"><seg>Fish &amp; chips</seg></tuv>
      <tuv xml:lang="zh_CN"><seg>炸鱼薯条</seg></tuv>
    </tu>
    <tu><tuv xml:lang="zh-cn"><seg>导演</seg></tuv><tuv xml:lang="en"><seg>Directed</seg></tuv></tu>
  </body>
</tmx>
"""


@pytest.mark.parametrize("name", ["en-zh_cn.tmx", "en-zh_cn.tmx.gz"])
def test_tmx_records(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(TMX.encode()) if name.endswith(".gz") else TMX.encode())
    assert list(read_tmx(path, OPENSUBTITLES, EN_ZH)) == [
        record(1, "Fish & chips", "炸鱼薯条", None, "en", "zh"),
        record(2, "Directed", "导演", None, "en", "zh"),
    ]


def test_tmx_unit_missing_a_language_raises(tmp_path):
    path = tmp_path / "en-fr.tmx"
    path.write_text(TMX.replace('<tuv xml:lang="zh-cn"><seg>导演</seg></tuv>', ""), encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="<tu> #2 has no 'zh' variant"):
        list(read_tmx(path, OPENSUBTITLES, EN_ZH))


def test_tmx_malformed_xml_raises(tmp_path):
    path = tmp_path / "en-fr.tmx"
    path.write_text(TMX.replace("</tu>", "", 1), encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="malformed XML"):
        list(read_tmx(path, OPENSUBTITLES, EN_ZH))


# --------------------------------------------------------------------------------------------------
# Frames


def test_bitext_frame_schema_and_zero_records():
    empty = bitext_frame([])
    assert empty.schema == pl.Schema(BITEXT_SCHEMA)
    assert empty.height == 0
    frame = bitext_frame([record(1, "a", "b"), record(2, "c", "d", "doc")])
    assert frame.schema == pl.Schema(BITEXT_SCHEMA)
    assert frame.get_column("doc_id").to_list() == [None, "doc"]


# --------------------------------------------------------------------------------------------------
# Real samples (shared/data, see its README section 1)

LINE_COUNTS = {
    ("unpc", "ar-en"): 84, ("unpc", "en-es"): 98, ("unpc", "en-fr"): 68, ("unpc", "en-ru"): 85,
    ("unpc", "en-zh"): 77,
    ("opensubtitles", "ar-en"): 73, ("opensubtitles", "en-es"): 97, ("opensubtitles", "en-fr"): 59,
    ("opensubtitles", "en-ru"): 93, ("opensubtitles", "en-zh"): 79,
}
needs_samples = pytest.mark.skipif(not SHARED.exists(), reason="shared/data samples not present")


def sample_zip(corpus_key: str, pair: LanguagePair) -> Path:
    corpus = CORPORA[corpus_key]
    a, b = corpus.opus_pair(pair)
    return OPUS / corpus.opus_name / corpus.version / "moses" / f"{a}-{b}.txt.zip"


@needs_samples
@pytest.mark.parametrize("corpus_key,pair", [(c, p) for c in CORPORA for p in ENGLISH_PAIRS],
                         ids=lambda v: getattr(v, "key", v))
def test_sample_zips_line_counts(corpus_key, pair):
    corpus = CORPORA[corpus_key]
    frame = bitext_frame(read_moses_zip(sample_zip(corpus_key, pair), corpus, pair))
    assert frame.height == LINE_COUNTS[(corpus_key, pair.key)]
    assert frame.get_column("line_no").to_list() == list(range(1, frame.height + 1))
    assert set(frame.get_column("lang_1")) == {pair.l1} and set(frame.get_column("lang_2")) == {pair.l2}
    doc_ids = frame.get_column("doc_id")
    if corpus.has_document_ids:
        assert doc_ids.null_count() == 0
        assert all(d.startswith(f"{corpus.opus_code(pair.l1)}/") for d in doc_ids)
    else:
        assert doc_ids.null_count() == frame.height


@needs_samples
def test_sample_opensubtitles_zh_first_line():
    [first, *_] = read_moses_zip(sample_zip("opensubtitles", EN_ZH), OPENSUBTITLES, EN_ZH)
    assert first["doc_id"] == "en/1920/10323/6009214.xml.gz"
    assert first["text_2"].startswith("《 卡里 加利 博士 的 小屋 》")


@needs_samples
def test_sample_tmx_equals_moses_zip():
    tmx = list(read_tmx(OPUS / "UNPC" / "v1.0" / "tmx" / "en-fr.tmx.gz", UNPC, EN_FR))
    moses = list(read_moses_zip(sample_zip("unpc", EN_FR), UNPC, EN_FR))
    assert len(tmx) == 68
    assert tmx == moses


def test_corrupt_member_raises(tmp_path):
    path = write_zip(tmp_path / "en-fr.txt.zip", {"UNPC.en-fr.en": "one\n" * 50, "UNPC.en-fr.fr": "un\n" * 50})
    data = bytearray(path.read_bytes())
    offset = data.index(b"one\none")  # stored uncompressed: flip a byte of the English text
    data[offset] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(CorpusFormatError, match="corrupt archive member"):
        list(read_moses_zip(path, UNPC, EN_FR))
