"""WARC and ARC input: warcio's real test files (../shared/warc) and WARC files written here
with warcio's writer, read by `transforms.warc` and by the Read composite."""

from __future__ import annotations

import gzip
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsbeam.pipeline.bench.warc_bench import CRAWL_DATE, write_response
from newsbeam.pipeline.run.runs import chunk_inputs
from newsbeam.schemas import REJECT_SCHEMA, RawDocument, Reject, to_row
from newsbeam.transforms.read import (
    MatchInputs,
    ReadDocuments,
    input_kind,
    match_files,
    parse_file,
    split_archives,
)
from newsbeam.transforms.warc import (
    HashingReader,
    codec_name,
    crawl_time,
    decode_html,
    meta_charset,
    parse_content_type,
    split_points,
    warc_documents,
)
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "warc"
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason="needs ../shared/warc beside the repo"
)
ARTICLE = (
    b"<!doctype html><html><head><title>Harbour reopens</title></head><body><article>"
    + b"<p>The harbour reopened on Monday after three weeks of repairs to the sea wall, "
    b"the port authority said, and the first ferries docked before noon.</p>"
    * 3
    + b"</article></body></html>"
)


def read(path: Path, max_bytes: int = 50_000_000) -> list[RawDocument | Reject]:
    opened: list[io.BufferedReader] = []

    def open_stream() -> io.BufferedReader:
        opened.append(path.open("rb"))
        return opened[-1]

    try:
        return list(warc_documents(str(path), open_stream, max_bytes))
    finally:
        for handle in opened:
            handle.close()


def summary(records: list[RawDocument | Reject]) -> list[tuple[str, str]]:
    """(offset, "document" or the reject reason) of each record."""
    return [
        (
            r.source_uri.rpartition("#offset=")[2],
            r.reason if isinstance(r, Reject) else "document",
        )
        for r in records
    ]


# --- warcio's test files ------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("example.warc", 1197),  # warcinfo ×2, response, request, revisit, request
        ("example.warc.gz", 784),  # the same, one gzip member per record
        ("example-trunc.warc", 1197),
        ("example.arc.gz", 171),  # ARC: the filedesc record is no document
        ("example-resource.warc.gz", 802),  # a resource record, no HTTP headers
    ],
)
def test_each_shared_file_has_one_document_the_example_com_page(name, offset):
    (document,) = read(SHARED / name)
    assert isinstance(document, RawDocument)
    assert document.source_uri == f"{SHARED / name}#offset={offset}"
    assert document.kind == "html"
    assert document.url == "http://example.com/"
    assert "<title>Example Domain</title>" in document.content
    assert document.crawled_at is not None and document.crawled_at.year in (2014, 2017)


@needs_shared
def test_the_offset_finds_the_record_again():
    path = SHARED / "example.warc.gz"
    (document,) = read(path)
    offset = int(document.source_uri.rpartition("=")[2])
    with path.open("rb") as handle:
        handle.seek(offset)
        member = gzip.GzipFile(fileobj=handle).readline()
    assert member == b"WARC/1.0\r\n"


@needs_shared
def test_warc_date_becomes_the_crawl_time():
    (document,) = read(SHARED / "example.warc")
    assert document.crawled_at == datetime(2017, 3, 6, 4, 2, 6, tzinfo=UTC)


@needs_shared
def test_chunked_transfer_encoding_is_undone():
    (document,) = read(SHARED / "example-iana.org-chunked.warc")
    assert document.url == "http://www.iana.org/"
    assert document.content.startswith("<!doctype html>")
    assert document.content.rstrip().endswith("</html>")
    assert "\r\n1f" not in document.content  # no chunk sizes left in the page


# --- WARC files written here --------------------------------------------------------------------


def crawl(path: Path, compress: bool = True) -> Path:
    """Every kind of record a crawl holds, in the order crawlers write them."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=compress)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        write_response(writer, "https://news.example/harbour", ARTICLE)
        writer.write_record(
            writer.create_warc_record(
                "https://news.example/harbour",
                "metadata",
                payload=io.BytesIO(b"outlinks: https://news.example/\r\n"),
                warc_content_type="application/warc-fields",
            )
        )
        write_response(
            writer, "https://news.example/gone", b"<html>Not found</html>", status="404 Not Found"
        )
        write_response(writer, "https://news.example/moved", b"", status="301 Moved Permanently")
        write_response(
            writer, "https://news.example/photo.jpg", b"\xff\xd8\xff\xe0JFIF", "image/jpeg"
        )
        write_response(writer, "https://news.example/blank", b"", "text/html")
        write_response(writer, "https://news.example/untyped", ARTICLE, content_type=None)
        writer.write_record(
            writer.create_revisit_record(
                "https://news.example/harbour",
                digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                refers_to_uri="https://news.example/harbour",
                refers_to_date="2026-11-20T06:30:00Z",
                http_headers=StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"
                ),
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "https://news.example/saved",
                "resource",
                payload=io.BytesIO(ARTICLE),
                warc_content_type="text/html; charset=utf-8",
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "https://news.example/logo.png",
                "resource",
                payload=io.BytesIO(b"\x89PNG\r\n\x1a\n"),
                warc_content_type="image/png",
            )
        )
    return path


EXPECTED = [
    "document",  # the 200 text/html response
    "http_status_404",
    "http_status_301",
    "not_html",
    "empty_body",
    "document",  # no Content-Type, but the body is an HTML page
    "document",  # the HTML resource
    "not_html",  # the PNG resource
]


@pytest.mark.parametrize("compress", [True, False])
def test_every_record_kind_is_a_document_a_reject_or_not_an_input(tmp_path, compress):
    records = read(crawl(tmp_path / ("crawl.warc.gz" if compress else "crawl.warc"), compress))
    assert [outcome for _, outcome in summary(records)] == EXPECTED
    rejects = {r.reason: r.message for r in records if isinstance(r, Reject)}
    assert "http status 404" in rejects["http_status_404"]
    messages = [r.message for r in records if isinstance(r, Reject)]
    assert any("not html: image/jpeg" in m for m in messages)
    assert any("not html: image/png" in m for m in messages)
    documents = [r for r in records if isinstance(r, RawDocument)]
    assert [d.url for d in documents] == [
        "https://news.example/harbour",
        "https://news.example/untyped",
        "https://news.example/saved",
    ]
    assert all(d.crawled_at == CRAWL_DATE for d in documents[:2])
    assert all(r.stage == "read" for r in records if isinstance(r, Reject))
    assert all("#offset=" in r.source_uri for r in records)
    assert len({r.source_uri for r in records}) == len(records)


def test_a_whole_file_gzip_is_read_like_the_plain_file(tmp_path):
    plain = crawl(tmp_path / "crawl.warc", compress=False)
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    assert summary(read(whole)) == summary(read(plain))  # offsets into the decompressed stream
    cut = tmp_path / "whole-cut.warc.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    records = read(cut)
    assert isinstance(records[0], RawDocument)
    assert records[-1].reason == "truncated_record"


@pytest.mark.parametrize("compress", [True, False])
# Cut in the headers, in the HTTP headers, in the body (a cut in a gzip member's 8-byte trailer
# loses no content: the record is read).
@pytest.mark.parametrize("cut", [0.01, 0.05, 0.2, 0.5, 0.9])
def test_a_truncated_last_record_loses_only_itself(tmp_path, compress, cut):
    path = tmp_path / ("cut.warc.gz" if compress else "cut.warc")
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=compress)
        write_response(writer, "https://news.example/a", ARTICLE)
        write_response(writer, "https://news.example/b", ARTICLE.replace(b"harbour", b"airport"))
        last = handle.tell()
        write_response(writer, "https://news.example/c", ARTICLE * 3, with_request=False)
    data = path.read_bytes()
    path.write_bytes(data[: last + int((len(data) - last) * cut)])
    records = read(path)
    assert [type(r).__name__ for r in records] == ["RawDocument", "RawDocument", "Reject"]
    assert [r.url for r in records[:2]] == ["https://news.example/a", "https://news.example/b"]
    assert records[2].reason == "truncated_record"
    assert records[2].source_uri == f"{path}#offset={last}"
    assert "the 2 documents before it were read" in records[2].message


def test_a_broken_gzip_member_keeps_the_records_before_it(tmp_path):
    path = tmp_path / "broken.warc.gz"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        write_response(writer, "https://news.example/a", ARTICLE)
        broken = handle.tell()
        write_response(writer, "https://news.example/b", ARTICLE * 4, with_request=False)
        end = handle.tell()
        write_response(writer, "https://news.example/c", ARTICLE)
    data = bytearray(path.read_bytes())
    middle = (broken + end) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    records = read(path)
    assert isinstance(records[0], RawDocument) and records[0].url == "https://news.example/a"
    assert isinstance(records[1], Reject)
    assert records[1].reason == "truncated_record"
    assert records[1].source_uri.endswith(f"#offset={broken}")


def test_a_file_that_is_no_warc_and_an_empty_one_are_rejected(tmp_path):
    page = tmp_path / "page.warc"
    page.write_bytes(ARTICLE)
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert [r.reason for r in read(page)] == ["not_warc"]
    assert [r.reason for r in read(empty)] == ["empty_file"]


def test_a_body_over_max_bytes_is_rejected_and_the_next_record_read(tmp_path):
    path = tmp_path / "big.warc.gz"
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        write_response(writer, "https://news.example/big", ARTICLE * 50)
        write_response(writer, "https://news.example/small", ARTICLE)
    records = read(path, max_bytes=len(ARTICLE) * 10)
    assert [getattr(r, "reason", "document") for r in records] == ["too_large", "document"]


def test_parse_file_reads_warc_bytes_per_record_not_per_file(tmp_path):
    path = crawl(tmp_path / "crawl.warc.gz")
    data = path.read_bytes()
    records = list(parse_file(str(path), data, max_bytes=len(ARTICLE) * 2))
    assert [getattr(r, "reason", "document") for r in records] == EXPECTED


def test_warc_and_arc_are_input_kinds():
    assert input_kind("CC-NEWS-20261120.warc.gz") == ("warc", True)
    assert input_kind("crawl.WARC") == ("warc", False)
    assert input_kind("old.arc.gz") == ("warc", True)
    assert input_kind("old.arc") == ("warc", False)


# --- decoding -------------------------------------------------------------------------------------


def test_http_charset_then_meta_charset_then_detection():
    cyrillic = "<html><body><p>Новости дня: порт снова открыт.</p></body></html>"
    body = cyrillic.encode("cp1251")
    assert decode_html(body, "windows-1251").encoding == "cp1251"
    meta = b'<html><head><meta charset="windows-1251"></head>' + body
    assert decode_html(meta, None).text.endswith(cyrillic)
    assert decode_html(meta, None).encoding == "cp1251"
    assert "порт" in decode_html(body, None).text  # detected
    utf8 = cyrillic.encode("utf-8")
    assert decode_html(utf8, "ISO-8859-1").text == cyrillic  # the commonest wrong label
    latin = "<p>Caf\u00e9 \u2019open\u2019</p>".encode("cp1252")
    assert decode_html(latin, "ISO-8859-1").text == "<p>Caf\u00e9 \u2019open\u2019</p>"
    assert decode_html(utf8, "utf-8; nonsense").text == cyrillic  # unknown label: detection
    assert decode_html(body, "utf-8").encoding == "cp1251"  # a label the bytes refute


def test_charset_helpers():
    assert parse_content_type('text/html; charset="UTF-8"') == ("text/html", "UTF-8")
    assert parse_content_type("Image/JPEG") == ("image/jpeg", None)
    assert parse_content_type(None) == (None, None)
    assert (
        meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">') == "gbk"
    )
    assert meta_charset(b"<p>charset=utf-8</p>") is None
    assert codec_name("latin1") == "cp1252"
    assert codec_name("x-unknown") is None
    assert crawl_time("2017-03-06T04:02:06Z") == datetime(2017, 3, 6, 4, 2, 6, tzinfo=UTC)
    assert crawl_time("2017-03-06T04:02:06.123456Z").microsecond == 123456
    assert crawl_time("yesterday") is None


def test_the_hashing_reader_fingerprints_the_file_as_stored():
    data = b"x" * 3_000_000
    reader = HashingReader(io.BytesIO(data))
    reader.read(10)
    reader.drain()
    assert (reader.size, reader.sha256()) == (len(data), hashlib.sha256(data).hexdigest())


# --- the Read composite -------------------------------------------------------------------------


def test_read_documents_spreads_a_warc_and_reads_other_kinds_beside_it(tmp_path):
    crawl(tmp_path / "crawl.warc.gz")
    (tmp_path / "page.html").write_bytes(ARTICLE)
    with TestPipeline() as p:
        documents, rejects = (
            p
            | MatchInputs([str(tmp_path / "*.warc.gz"), str(tmp_path / "*.html")])
            | ReadDocuments()
        )
        assert_that(
            documents | "Urls" >> beam.Map(lambda d: (d.source_uri.rpartition("/")[2], d.url)),
            equal_to(
                [
                    ("page.html", None),
                    *[
                        (f"crawl.warc.gz#offset={o}", u)
                        for o, u in _document_offsets(tmp_path / "crawl.warc.gz")
                    ],
                ]
            ),
            label="Documents",
        )
        assert_that(
            rejects | "Reasons" >> beam.Map(lambda r: r.reason),
            equal_to([r for r in EXPECTED if r != "document"]),
            label="Rejects",
        )


def _document_offsets(path: Path) -> list[tuple[str, str]]:
    return [
        (r.source_uri.rpartition("=")[2], r.url) for r in read(path) if isinstance(r, RawDocument)
    ]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory) -> dict[bool, bytes]:
    folder = tmp_path_factory.mktemp("crawls")
    return {c: crawl(folder / f"crawl-{c}.warc", c).read_bytes() for c in (True, False)}


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(
    st.booleans(),
    st.floats(0, 1),
    st.binary(max_size=40),
    st.integers(0, 40),
    st.booleans(),
)
def test_damaged_crawls_never_raise_and_every_record_is_accounted_for(
    crawls, compress, where, patch, remove, cut
):
    data = crawls[compress]
    at = int(where * len(data))
    data = data[:at] if cut else data[:at] + patch + data[at + remove :]
    found = list(parse_file("in/crawl.warc.gz", data))
    for record in found:
        assert isinstance(record, RawDocument | Reject)
        assert record.source_uri.startswith("in/crawl.warc.gz")
        if isinstance(record, Reject):
            assert record.stage == "read" and record.reason and record.message.startswith("in/")
            pa.Table.from_pylist([to_row(record)], schema=REJECT_SCHEMA)
        else:
            assert record.content.strip() and record.kind == "html"
    truncations = [r for r in found if isinstance(r, Reject) and r.reason == "truncated_record"]
    assert len(truncations) <= 1 and (not truncations or found[-1] is truncations[0])


# --- parts of a large file ----------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_the_parts_of_a_file_read_together_are_the_whole_file(tmp_path, compress):
    path = crawl(tmp_path / ("crawl.warc.gz" if compress else "crawl.warc"), compress)
    with path.open("rb") as handle:
        points = split_points(handle, 3)
    assert len(points) == 3  # 8 documents: 3 + 3 + 2
    parts = []
    for start, stop in zip(points, [*points[1:], None], strict=True):
        with path.open("rb") as handle:
            parts.extend(warc_documents(str(path), lambda h=handle: h, 50_000_000, start, stop))
    assert summary(parts) == summary(read(path))


def test_a_whole_file_gzip_is_one_part(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(crawl(tmp_path / "crawl.warc", compress=False).read_bytes()))
    with whole.open("rb") as handle:
        assert split_points(handle, 2) == [0]


def test_split_archives_cuts_large_warcs_into_parts_that_carry_the_files_checksum(tmp_path):
    path = crawl(tmp_path / "crawl.warc.gz")
    (tmp_path / "a.txt").write_text("text")
    files = match_files([str(tmp_path / "*")])
    split = split_archives(files, 3)
    assert [type(f).__name__ for f in split] == ["FileMetadata"] + ["ArchivePart"] * 3
    parts = split[1:]
    assert [p.last for p in parts] == [False, False, True]
    assert {p.sha256 for p in parts} == {hashlib.sha256(path.read_bytes()).hexdigest()}
    assert parts[0].start == 0 and parts[-1].stop is None
    assert [p.stop for p in parts[:-1]] == [p.start for p in parts[1:]]
    assert split_archives(files, 100) == files  # few enough records: the file stays whole
    assert chunk_inputs(split, 4) == [split[:2], split[2:3], split[3:4]]
