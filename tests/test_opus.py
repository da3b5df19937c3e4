"""OPUS client: URLs, API answers, resumable download against a local HTTP server, the mirror."""

from __future__ import annotations

import dataclasses
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from xrep_assets.corpora import opus
from xrep_assets.corpora.opus import (
    download,
    fallback_url,
    mirror_path,
    download_source,
    opus_api_url,
    parse_opus_api_response,
)
from xrep_assets.errors import CorpusFormatError
from xrep_assets.study import CORPORA, LanguagePair

UNPC, OPENSUBTITLES = CORPORA["unpc"], CORPORA["opensubtitles"]
EN_ZH, EN_FR = LanguagePair("en", "zh"), LanguagePair("en", "fr")
PAYLOAD = bytes(range(256)) * 40  # 10240 bytes, every byte value: offsets errors show up

# --------------------------------------------------------------------------------------------------
# URLs and API answers


def test_api_url_unpc():
    assert opus_api_url(UNPC, EN_FR) == (
        "https://opus.nlpl.eu/opusapi/?corpus=UNPC&source=en&target=fr&preprocessing=moses&version=v1.0"
    )


def test_api_url_opensubtitles_uses_opus_codes():
    assert opus_api_url(OPENSUBTITLES, EN_ZH) == (
        "https://opus.nlpl.eu/opusapi/?corpus=OpenSubtitles&source=en&target=zh_cn"
        "&preprocessing=moses&version=v2018"
    )


def test_fallback_urls():
    assert fallback_url(UNPC, LanguagePair("ar", "en")) == (
        "https://object.pouta.csc.fi/OPUS-UNPC/v1.0/moses/ar-en.txt.zip"
    )
    assert fallback_url(OPENSUBTITLES, EN_ZH) == (
        "https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/en-zh_cn.txt.zip"
    )


API_ANSWER = {
    "corpora": [
        {
            "alignment_pairs": 11174128,
            "corpus": "OpenSubtitles",
            "documents": 23463,
            "id": 123456,
            "latest": "True",
            "preprocessing": "moses",
            "size": 190735,
            "source": "en",
            "source_tokens": 87000000,
            "target": "zh_cn",
            "target_tokens": 75000000,
            "url": "https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/en-zh_cn.txt.zip",
            "version": "v2018",
        }
    ]
}


def test_parse_api_answer_gives_url_and_bytes():
    url, size = parse_opus_api_response(API_ANSWER)
    assert url == "https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/en-zh_cn.txt.zip"
    assert size == 190735 * 1024


def test_parse_api_answer_skips_other_preprocessing():
    tmx = dict(API_ANSWER["corpora"][0], preprocessing="tmx", url="https://x/tmx/en-zh_cn.tmx.gz")
    answer = {"corpora": [tmx, API_ANSWER["corpora"][0]]}
    assert parse_opus_api_response(answer)[0].endswith("/moses/en-zh_cn.txt.zip")


def test_tmx_format_has_its_own_query_url_and_file_name():
    assert "preprocessing=tmx" in opus_api_url(UNPC, EN_FR, "tmx")
    assert fallback_url(OPENSUBTITLES, EN_ZH, "tmx") == (
        "https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/tmx/en-zh_cn.tmx.gz"
    )
    answer = {"corpora": [
        {"url": "https://o/moses/en-fr.txt.zip", "preprocessing": "moses", "size": 1},
        {"url": "https://o/tmx/en-fr.tmx.gz", "preprocessing": "tmx", "size": 2},
    ]}
    assert parse_opus_api_response(answer, fmt="tmx") == ("https://o/tmx/en-fr.tmx.gz", 2048)


def test_unknown_format_is_a_clear_error():
    with pytest.raises(CorpusFormatError, match="unknown OPUS format 'xml'"):
        fallback_url(UNPC, EN_FR, "xml")


def test_parse_empty_api_answer_raises():
    with pytest.raises(CorpusFormatError, match="no moses file"):
        parse_opus_api_response({"corpora": []})
    with pytest.raises(CorpusFormatError, match="no 'corpora'"):
        parse_opus_api_response({"error": "x"})


# --------------------------------------------------------------------------------------------------
# A local HTTP server that honours Range requests and records what it was asked


class FileServer:
    def __init__(self, payload: bytes):
        self.payload = payload
        self.requests: list[dict[str, str]] = []
        self.honour_range = True
        self.cut_after: int | None = None  # stop sending after this many body bytes
        self.json_body: bytes | None = None

    @property
    def ranges(self) -> list[str | None]:
        return [r.get("Range") for r in self.requests]


@pytest.fixture()
def server():
    state = FileServer(PAYLOAD)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def do_GET(self):
            state.requests.append({"path": self.path, **dict(self.headers)})
            if state.json_body is not None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.json_body)))
                self.end_headers()
                self.wfile.write(state.json_body)
                return
            body, total = state.payload, len(state.payload)
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and state.honour_range:
                start = int(match.group(1))
                if start >= total:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
                body = body[start:]
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if state.cut_after is None else body[: state.cut_after])

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/OPUS-UNPC/v1.0/moses/en-fr.txt.zip"
    yield state
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------------------------------
# download


def test_download_whole_file(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    assert download(server.url, dest, len(PAYLOAD)) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_suffix(".part").exists()
    assert server.ranges == [None]


def test_download_resumes_from_part(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    dest.with_suffix(".part").write_bytes(PAYLOAD[:3000])
    download(server.url, dest, len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=3000-"]


def test_download_resumes_after_dropped_connection(server, tmp_path, monkeypatch):
    # Small chunks: a dropped connection loses at most the chunk being read.
    monkeypatch.setattr(opus, "DOWNLOAD_CHUNK_BYTES", 1000)
    dest = tmp_path / "en-fr.txt.zip"
    server.cut_after = 4000
    with pytest.raises((requests.RequestException, CorpusFormatError)):
        download(server.url, dest, len(PAYLOAD))
    assert not dest.exists()
    assert dest.with_suffix(".part").read_bytes() == PAYLOAD[:4000]
    server.cut_after = None
    download(server.url, dest, len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=4000-"]


def test_download_of_complete_part_only_renames(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    dest.with_suffix(".part").write_bytes(PAYLOAD)
    download(server.url, dest, len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={len(PAYLOAD)}-"]  # answered 416: nothing more to send


def test_download_restarts_when_server_ignores_range(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    dest.with_suffix(".part").write_bytes(b"stale bytes")
    server.honour_range = False
    download(server.url, dest, len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_complete_file_is_not_downloaded_again(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    dest.write_bytes(PAYLOAD)
    download(server.url, dest, len(PAYLOAD))
    assert server.requests == []


def test_size_mismatch_raises_and_keeps_dest_absent(server, tmp_path):
    dest = tmp_path / "en-fr.txt.zip"
    with pytest.raises(CorpusFormatError, match="size 10240 bytes, expected 20480"):
        download(server.url, dest, 2 * len(PAYLOAD))
    assert not dest.exists()


def test_api_sizes_within_a_kib_pass(server, tmp_path):
    # The API's size is rounded KiB: 10240 bytes may be listed as 10 KiB or as 10.4 KiB -> 10.
    download(server.url, tmp_path / "a.zip", len(PAYLOAD) + 1000)
    assert (tmp_path / "a.zip").read_bytes() == PAYLOAD


def test_download_source_from_api_and_fallback(server):
    server.json_body = b'{"corpora": [{"preprocessing": "moses", "size": 7, "url": "https://o/x.txt.zip"}]}'

    class LocalSession(requests.Session):
        def get(self, url, **kwargs):  # the API lives on the local server in this test
            return super().get(server.url + "?" + url.split("?", 1)[1], **kwargs)

    assert download_source(UNPC, EN_FR, session=LocalSession()) == ("https://o/x.txt.zip", 7168)
    assert "?corpus=UNPC&source=en&target=fr&preprocessing=moses&version=v1.0" in server.requests[0]["path"]

    class DeadSession(requests.Session):
        def get(self, url, **kwargs):
            raise requests.ConnectionError("no network")

    fallback = (fallback_url(UNPC, EN_FR), None)
    assert download_source(UNPC, EN_FR, session=DeadSession()) == fallback


def test_a_version_opus_does_not_list_is_an_error_not_a_guess(server):
    """The API answered and lists nothing: the corpus/version/pair does not exist; no fallback URL."""
    server.json_body = b'{"corpora": []}'

    class LocalSession(requests.Session):
        def get(self, url, **kwargs):
            return super().get(server.url + "?" + url.split("?", 1)[1], **kwargs)

    unknown_version = dataclasses.replace(UNPC, version="v9.9")
    with pytest.raises(CorpusFormatError, match=r"version=v9\.9.*lists no moses file"):
        download_source(unknown_version, EN_FR, session=LocalSession())


# --------------------------------------------------------------------------------------------------
# Mirror


def test_mirror_path_uses_object_store_layout(tmp_path):
    path = tmp_path / "OpenSubtitles" / "v2018" / "moses" / "en-zh_cn.txt.zip"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"zip")
    assert mirror_path(tmp_path, OPENSUBTITLES, EN_ZH) == path


def test_mirror_path_absent_raises(tmp_path):
    with pytest.raises(CorpusFormatError, match="not in the mirror") as error:
        mirror_path(tmp_path, UNPC, EN_FR)
    assert error.value.path == str(tmp_path / "UNPC" / "v1.0" / "moses" / "en-fr.txt.zip")
