"""Read: input kinds, decoding, gzip, JSONL line by line, and the ReadDocuments composite."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import RawDocument, Reject
from newsbeam.transforms.read import (
    DecodeError,
    MatchInputs,
    ReadDocuments,
    decode,
    input_kind,
    parse_file,
)

ARTICLE = "Officials met on Tuesday to discuss the budget. “It was productive,” one said.\n"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.txt", ("text", False)),
        ("a/b.TXT.gz", ("text", True)),
        ("page.html", ("html", False)),
        ("page.htm.gz", ("html", True)),
        ("feed.jsonl", ("jsonl", False)),
        ("gs://bucket/feed.jsonl.gz", ("jsonl", True)),
        ("notes.pdf", (None, False)),
    ],
)
def test_input_kind_follows_the_extension(path, expected):
    assert input_kind(path) == expected


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("“Curly” café".encode(), "utf-8"),
        ("“Curly” café".encode("utf-8-sig"), "utf-8-sig"),
        ("“Curly” café".encode("utf-16"), "utf-16"),
    ],
)
def test_decode_honours_utf8_and_byte_order_marks(data, encoding):
    assert decode(data) == ("“Curly” café", encoding)


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_decode_detects_a_legacy_encoding(codec):
    text = "The minister’s “final” offer — rejected by the café owners’ union. " * 5
    if codec == "latin-1":
        text = "Le café de la gare a fermé ses portes après trente années de service. " * 5
    decoded, encoding = decode(text.encode(codec))
    assert decoded == text  # the name charset-normalizer picks may be a superset, e.g. cp1250
    assert encoding != "utf-8"


def test_decode_refuses_binary():
    with pytest.raises(DecodeError):
        decode(bytes(range(256)) * 40)


def test_nul_bytes_inside_text_are_removed_and_audited():
    text = "Officials met on Tuesday to discuss the budget for the coming year. " * 3
    (doc,) = parse_file("in/a.txt", text.encode()[:30] + b"\x00" + text.encode()[30:])
    assert doc.content == text
    assert [(r.kind, r.rule, r.text) for r in doc.repairs] == [
        ("encoding_repair", "control_characters_removed", "1 × U+0000")
    ]


def test_a_text_file_is_one_document():
    (doc,) = parse_file("in/a.txt", ARTICLE.encode())
    assert doc == RawDocument(source_uri="in/a.txt", kind="text", content=ARTICLE, encoding="utf-8")


def test_gzip_is_decompressed_and_truncated_gzip_rejected():
    data = gzip.compress(ARTICLE.encode())
    (doc,) = parse_file("in/a.txt.gz", data)
    assert doc.content == ARTICLE
    (reject,) = parse_file("in/b.txt.gz", data[: len(data) // 2])
    assert (reject.stage, reject.reason) == ("read", "corrupt_gzip")
    assert "in/b.txt.gz" in reject.message


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [
        ("empty.txt", b"", "empty_file"),
        ("blank.txt", b"  \n\t\n", "empty_file"),
        ("binary.txt", bytes(range(256)) * 40, "binary_file"),
        ("notes.pdf", b"%PDF-1.4", "unsupported_kind"),
        ("huge.txt", b"word " * 5_000, "too_large"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(path, data, reason):
    (reject,) = parse_file(path, data, max_bytes=20_000)
    assert isinstance(reject, Reject)
    assert (reject.source_uri, reject.stage, reject.reason) == (path, "read", reason)
    assert reject.message.startswith(path)


def test_jsonl_rejects_only_the_broken_lines_with_their_numbers():
    lines = [
        json.dumps({"text": ARTICLE, "url": "https://example.com/a", "source": "Example Post"}),
        "{not json",
        json.dumps({"title": "no text"}),
        "",
        json.dumps({"html": "<p>Hello</p>", "published_at": "2024-05-01T10:00:00"}),
        json.dumps({"text": 42}),
    ]
    records = list(parse_file("feed.jsonl", "\n".join(lines).encode()))
    good = [r for r in records if isinstance(r, RawDocument)]
    bad = [r for r in records if isinstance(r, Reject)]
    assert [d.source_uri for d in good] == ["feed.jsonl#1", "feed.jsonl#5"]
    assert good[0].url == "https://example.com/a" and good[0].source == "Example Post"
    assert (
        good[1].kind == "html" and good[1].published_at.isoformat() == "2024-05-01T10:00:00+00:00"
    )
    assert [(r.source_uri, r.line, r.reason) for r in bad] == [
        ("feed.jsonl#2", 2, "invalid_json"),
        ("feed.jsonl#3", 3, "invalid_record"),
        ("feed.jsonl#6", 6, "invalid_record"),
    ]
    assert bad[2].errors[0].loc == "text"


def _write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def test_read_documents_composite_splits_documents_and_rejects(tmp_path):
    good = _write(tmp_path, "good.txt", ARTICLE.encode())
    _write(tmp_path, "empty.txt", b"")
    jsonl = _write(tmp_path, "feed.jsonl", b'{"text": "One line of news."}\n{broken\n')
    with TestPipeline() as p:
        paths = p | MatchInputs([str(tmp_path / "*.txt"), str(tmp_path / "*.jsonl"), good])
        documents, rejects = paths | ReadDocuments()
        assert_that(
            documents | beam.Map(lambda d: d.source_uri),
            equal_to([good, f"{jsonl}#1"]),
            label="documents",
        )
        assert_that(
            rejects | beam.Map(lambda r: (Path(r.source_uri).name, r.reason)),
            equal_to([("empty.txt", "empty_file"), ("feed.jsonl#2", "invalid_json")]),
            label="rejects",
        )
