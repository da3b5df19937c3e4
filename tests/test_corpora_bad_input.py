"""Bad corpus input: a clear error naming the file (and line), and nothing written or lost."""

import gzip
import zipfile

import dagster as dg
import pytest

from xrep_assets.corpora.assets import cleaned_bitext, raw_bitext
from xrep_assets.corpora.partitions import corpus_pair_key
from xrep_assets.corpora.resources import OpusSource
from xrep_assets.errors import CorpusFormatError, EmptyOutputError
from xrep_assets.fixtures import OPUS_MIRROR
from xrep_assets.resources import ArtifactStore, StudySettings
from xrep_assets.study import CORPORA, CatalogError, LanguagePair, corpus_named

UNPC, EN_FR = CORPORA["unpc"], LanguagePair("en", "fr")
KEY = corpus_pair_key(UNPC, EN_FR)


def resources(tmp_path, mirror):
    return {
        "study": StudySettings(profile="tiny", opus_mirror=str(mirror)),
        "artifacts": ArtifactStore(root=str(tmp_path / "artifacts")),
        "opus": OpusSource(cache_dir=str(tmp_path / "cache")),
    }


def raw_output(tmp_path):
    return tmp_path / "artifacts" / "corpora" / "raw" / "unpc" / "en-fr.parquet"


def mirror_file(tmp_path, fmt="moses"):
    folder = tmp_path / "mirror" / "UNPC" / "v1.0" / fmt
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ("en-fr.txt.zip" if fmt == "moses" else "en-fr.tmx.gz")


def write_moses(path, en: bytes, fr: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("UNPC.en-fr.en", en)
        z.writestr("UNPC.en-fr.fr", fr)


def materialize_raw(tmp_path, fmt="moses"):
    return dg.materialize_to_memory(
        [raw_bitext], resources=resources(tmp_path, tmp_path / "mirror"), partition_key=KEY,
        run_config={"ops": {"raw_bitext": {"config": {"format": fmt}}}},
    )


@pytest.fixture
def previous_output(tmp_path):
    """A good earlier materialization whose file must survive every failed one."""
    dg.materialize_to_memory([raw_bitext], resources=resources(tmp_path, OPUS_MIRROR), partition_key=KEY)
    return raw_output(tmp_path).read_bytes()


def assert_untouched(tmp_path, previous):
    assert raw_output(tmp_path).read_bytes() == previous
    leftovers = [p.name for p in raw_output(tmp_path).parent.iterdir() if p.name != "en-fr.parquet"]
    assert leftovers == []


def test_sides_with_different_line_counts(tmp_path, previous_output):
    write_moses(mirror_file(tmp_path), b"one\ntwo\nthree\n", b"un\ndeux\n")
    with pytest.raises(CorpusFormatError, match=r"en-fr\.txt\.zip.*:3: .*more lines"):
        materialize_raw(tmp_path)
    assert_untouched(tmp_path, previous_output)


def test_invalid_utf8_names_the_line(tmp_path, previous_output):
    write_moses(mirror_file(tmp_path), b"one\ntwo\n", b"un\nd\xffeux\n")
    with pytest.raises(CorpusFormatError, match=r"UNPC\.en-fr\.fr:2: .*UTF-8"):
        materialize_raw(tmp_path)
    assert_untouched(tmp_path, previous_output)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_or_truncated_zip(tmp_path, previous_output, damage):
    path = mirror_file(tmp_path)
    write_moses(path, b"one\ntwo\n" * 500, b"un\ndeux\n" * 500)
    data = path.read_bytes()
    path.write_bytes(b"not a zip at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(CorpusFormatError, match=r"en-fr\.txt\.zip"):
        materialize_raw(tmp_path)
    assert_untouched(tmp_path, previous_output)


def tmx(units: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><tmx version="1.4"><header srclang="en"/><body>'
        + units + "</body></tmx>"
    ).encode()


def test_tmx_reads_like_moses(tmp_path):
    units = '<tu><tuv xml:lang="en"><seg>Hello</seg></tuv><tuv xml:lang="fr"><seg>Bonjour</seg></tuv></tu>'
    mirror_file(tmp_path, "tmx").write_bytes(gzip.compress(tmx(units)))
    result = materialize_raw(tmp_path, "tmx")
    assert result.asset_materializations_for_node("raw_bitext")[0].metadata["rows"].value == 1


def test_tmx_with_a_missing_language_variant(tmp_path, previous_output):
    units = (
        '<tu><tuv xml:lang="en"><seg>Hello</seg></tuv><tuv xml:lang="fr"><seg>Bonjour</seg></tuv></tu>'
        '<tu><tuv xml:lang="en"><seg>Alone</seg></tuv></tu>'
    )
    mirror_file(tmp_path, "tmx").write_bytes(gzip.compress(tmx(units)))
    with pytest.raises(CorpusFormatError, match=r"en-fr\.tmx\.gz.*<tu> #2 has no 'fr' variant"):
        materialize_raw(tmp_path, "tmx")
    assert_untouched(tmp_path, previous_output)


def test_truncated_gzip(tmp_path, previous_output):
    data = gzip.compress(tmx('<tu><tuv xml:lang="en"><seg>Hello</seg></tuv><tuv xml:lang="fr"><seg>Salut</seg></tuv></tu>' * 200))
    mirror_file(tmp_path, "tmx").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusFormatError, match=r"en-fr\.tmx\.gz"):
        materialize_raw(tmp_path, "tmx")
    assert_untouched(tmp_path, previous_output)


def test_unknown_format_corpus_and_language_code(tmp_path):
    with pytest.raises(CorpusFormatError, match="unknown OPUS format 'xml'"):
        materialize_raw(tmp_path, "xml")
    with pytest.raises(CatalogError, match="unknown corpus 'europarl'"):
        corpus_named("europarl")
    with pytest.raises(CatalogError, match="unknown language code 'xx' in pair 'en-xx'"):
        LanguagePair.parse("en-xx")


def test_a_corpus_emptied_by_cleaning_writes_nothing(tmp_path):
    res = resources(tmp_path, OPUS_MIRROR)
    with pytest.raises(EmptyOutputError, match=r"cleaned_bitext unpc en-fr: no pair kept of \d+.*en-fr\.parquet"):
        dg.materialize_to_memory(
            [raw_bitext, cleaned_bitext], resources=res, partition_key=KEY,
            run_config={"ops": {"cleaned_bitext": {"config": {"min_length": 1000}}}},
        )
    clean_dir = tmp_path / "artifacts" / "corpora" / "clean"
    assert [p for p in clean_dir.rglob("*") if p.is_file()] == []
