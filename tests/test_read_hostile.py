"""Read on hostile input: every file becomes RawDocuments or Rejects naming the file (and line),
never an exception; good records among bad ones are never lost."""

from __future__ import annotations

import codecs
import gzip
import json
import random
from pathlib import Path
from types import SimpleNamespace

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbeam.schemas import REJECT_SCHEMA, RawDocument, Reject, to_row
from newsbeam.transforms import read
from newsbeam.transforms.extract import extract_article
from newsbeam.transforms.read import (
    MatchInputs,
    ParseFileFn,
    ReadDocuments,
    display_path,
    parse_file,
)
from newsbeam.transforms.validate import validate_article
from tests.bounded import CPU_BOUND, run_bounded
from tests.test_encoding import sloppy_windows_1252

ARTICLE = (
    "The minister’s “final” offer was rejected by the café owners’ union on Tuesday after a "
    "long night of talks in the capital, officials said.\n\n"
    "Union leaders said they would meet again next week — “We are not done,” one of them said, "
    "adding that the members would vote on any new proposal.\n"
)


def records(path: str, data: bytes, **kw) -> list[RawDocument | Reject]:
    return list(parse_file(path, data, **kw))


def reasons(path: str, data: bytes, **kw) -> list[tuple[str, str | None, int | None]]:
    return [
        (r.source_uri, r.reason, r.line) if isinstance(r, Reject) else (r.source_uri, None, None)
        for r in records(path, data, **kw)
    ]


# --- empty, binary, NUL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.txt", b""),
        ("blank.txt", b"  \n\t\r\n"),
        ("bom-only.txt", codecs.BOM_UTF8),
        ("utf16-blank.txt", "  \n".encode("utf-16")),
        ("unicode-spaces.txt", "\u00a0\u3000\u2028\n".encode()),
        ("nul-only.txt", b"\x00" * 1000),
        ("blank.jsonl", b"\n \n\t\n"),
        ("empty.txt.gz", gzip.compress(b"")),
    ],
)
def test_empty_and_white_space_files_are_rejected(name, data):
    ((uri, reason, line),) = reasons(name, data)
    assert (uri, reason, line) == (name, "empty_file", None)


@pytest.mark.parametrize("name", ["x.txt", "x.html", "x.jsonl", "x.txt.gz"])
def test_binary_files_are_rejected_whatever_their_name(name):
    (reject,) = records(name, bytes(range(256)) * 64)
    assert (reject.stage, reject.reason) == ("read", "binary_file")
    assert reject.message.startswith(f"{name}: not text")


def test_nul_padding_after_an_article_keeps_the_article():
    (doc,) = records("padded.txt", ARTICLE.encode() + b"\x00" * 8192)
    assert doc.content == ARTICLE
    assert doc.repairs[0].text == "8192 × U+0000"


# --- encodings reach the article -----------------------------------------------------------


def article_body(data: bytes, name: str = "a.txt"):
    (doc,) = records(name, data)
    article = validate_article(extract_article(doc))
    return article.body, [b for b in article.boilerplate if b.kind == "encoding_repair"]


@pytest.mark.parametrize("codec", ["cp1252", "utf-16", "utf-16-be", "utf-8-sig"])
def test_legacy_and_utf16_text_is_written_with_its_curly_quotes(codec):
    body, repairs = article_body(ARTICLE.encode(codec))
    assert "The minister’s “final” offer" in body and "“We are not done,”" in body
    assert repairs == []


def test_latin_1_text_is_decoded():
    text = ARTICLE.replace("’", "'").replace("“", '"').replace("”", '"').replace("—", "-")
    body, _ = article_body(text.encode("latin-1"))
    assert "café owners' union" in body


def test_mojibake_is_repaired_in_the_body_and_audited_in_boilerplate():
    broken = sloppy_windows_1252(ARTICLE.encode("utf-8")).encode("utf-8")
    body, repairs = article_body(broken)
    assert "The minister’s “final” offer" in body and "café" in body
    assert repairs and all(r.rule.startswith("mojibake:") for r in repairs)
    assert "ministerâ€™s" in repairs[0].text


# --- gzip ----------------------------------------------------------------------------------


def jsonl(count: int) -> bytes:
    return "".join(json.dumps({"text": f"{ARTICLE} {i}"}) + "\n" for i in range(count)).encode()


def test_a_truncated_gzip_text_file_is_rejected():
    data = gzip.compress(ARTICLE.encode() * 20)
    assert reasons("cut.txt.gz", data[: len(data) // 2]) == [("cut.txt.gz", "corrupt_gzip", None)]


def test_a_truncated_gzip_jsonl_keeps_its_complete_lines():
    data = gzip.compress(jsonl(40))
    found = records("feed.jsonl.gz", data[: len(data) * 2 // 3])
    *good, lost = found
    assert good and all(isinstance(r, RawDocument) for r in good)
    assert [r.source_uri for r in good] == [f"feed.jsonl.gz#{i}" for i in range(1, len(good) + 1)]
    assert (lost.reason, lost.line, lost.source_uri) == (
        "corrupt_gzip",
        len(good) + 1,
        f"feed.jsonl.gz#{len(good) + 1}",
    )
    assert "every line after it" in lost.message


def test_a_gzip_jsonl_cut_inside_its_first_line_is_one_reject():
    assert reasons("feed.jsonl.gz", gzip.compress(jsonl(3))[:20]) == [
        ("feed.jsonl.gz", "corrupt_gzip", None)
    ]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("two-members.txt.gz", gzip.compress(ARTICLE.encode()) + gzip.compress(b"More.\n")),
        ("trailing.txt.gz", gzip.compress(ARTICLE.encode() + b"More.\n") + b"\x00\x00junk"),
        ("not-gzip.txt.gz", ARTICLE.encode() + b"More.\n"),
        ("secretly-gzip.txt", gzip.compress(ARTICLE.encode() + b"More.\n")),
    ],
)
def test_compression_follows_the_bytes_not_the_name(name, data):
    (doc,) = records(name, data)
    assert doc.content == ARTICLE + "More.\n"


def test_a_gzip_bomb_is_too_large():
    bomb = gzip.compress(b" " * 5_000_000)
    assert reasons("bomb.txt.gz", bomb, max_bytes=1_000_000) == [("bomb.txt.gz", "too_large", None)]


# --- JSONL ---------------------------------------------------------------------------------

GOOD = json.dumps({"text": ARTICLE, "source": "Example Post"})


@pytest.mark.parametrize(
    ("line", "reason", "loc"),
    [
        ("{not json", "invalid_json", None),
        ('{"text": "unterminated', "invalid_json", None),
        ("[" * 100_000 + "]" * 100_000, "invalid_json", None),
        ('{"text": ' + "1" * 5_000 + "}", "invalid_json", None),
        ("null", "invalid_record", "record"),
        ("[1, 2]", "invalid_record", "record"),
        ('"just a string"', "invalid_record", "record"),
        ('{"title": "no text"}', "invalid_record", "record"),
        ('{"text": "   "}', "invalid_record", "record"),
        ('{"text": 42}', "invalid_record", "text"),
        ('{"text": "x", "title": ["a"]}', "invalid_record", "title"),
        ('{"text": "x", "url": {"a": 1}}', "invalid_record", "url"),
        ('{"text": "x", "source": 7}', "invalid_record", "source"),
        ('{"text": "x", "published_at": "yesterday"}', "invalid_record", "published_at"),
        ('{"text": "x", "published_at": 1e30}', "invalid_record", "published_at"),
        ('{"text": "\\u0000\\u001b"}', "invalid_record", None),
    ],
)
def test_a_broken_line_among_good_ones_is_the_only_reject(line, reason, loc):
    found = records("feed.jsonl", f"{GOOD}\n{line}\r\n{GOOD}\n".encode())
    assert [type(r).__name__ for r in found] == ["RawDocument", "Reject", "RawDocument"]
    bad = found[1]
    assert (bad.source_uri, bad.stage, bad.reason, bad.line) == ("feed.jsonl#2", "read", reason, 2)
    assert bad.message.startswith("feed.jsonl line 2: ")
    if loc:
        assert bad.errors[0].loc == loc
    assert [r.source_uri for r in found[::2]] == ["feed.jsonl#1", "feed.jsonl#3"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"text": "First part\u2028second part."}', "First part\u2028second part."),
        ('{"text": "raw\ttab inside"}', "raw\ttab inside"),
        ('{"text": "emoji \\ud83d\\ude00 and lone \\ud800."}', "emoji 😀 and lone \ufffd."),
        ('{"text": "nul\\u0000 inside"}', "nul inside"),
        ('{"text": "cafÃ© â€™"}', "café ’"),
        ('{"text": "x", "published_at": "", "url": " ", "source": ""}', "x"),
    ],
)
def test_odd_but_readable_lines_are_records(line, expected):
    (doc,) = records("feed.jsonl", line.encode())
    assert doc.content == expected
    assert (doc.url, doc.source, doc.published_at) == (None, None, None)


def test_binary_and_legacy_lines_in_a_jsonl_file_cost_only_themselves():
    garbage = bytes(b for b in random.Random(3).randbytes(30_000) if b != 0x0A)
    legacy = json.dumps({"text": "Le café de la gare."}, ensure_ascii=False).encode("cp1252")
    data = b"\n".join([garbage, GOOD.encode(), legacy, GOOD.encode()])
    found = records("feed.jsonl", data)
    assert [(r.source_uri, getattr(r, "reason", None)) for r in found] == [
        ("feed.jsonl#1", "invalid_json"),
        ("feed.jsonl#2", None),
        ("feed.jsonl#3", None),
        ("feed.jsonl#4", None),
    ]
    assert found[2].content == "Le café de la gare."


def test_a_jsonl_file_of_mostly_binary_lines_is_one_binary_reject():
    garbage = random.Random(4).randbytes(30_000)
    assert reasons("feed.jsonl", garbage + b"\n" + GOOD.encode()) == [
        ("feed.jsonl", "binary_file", None)
    ]


def test_a_truncated_jsonl_gz_with_only_blank_complete_lines_is_one_reject():
    packed = gzip.compress(b"\n\n" + jsonl(50))
    assert reasons("feed.jsonl.gz", packed[: len(packed) // 2][:40]) == [
        ("feed.jsonl.gz", "corrupt_gzip", None)
    ]


def test_a_lone_surrogate_escape_is_replaced_and_audited():
    (doc,) = records("feed.jsonl", b'{"text": "a \\ud800 b", "title": "t \\udfff"}')
    assert (doc.content, doc.title) == ("a \ufffd b", "t \ufffd")
    assert [r.rule for r in doc.repairs] == ["surrogates_repaired", "surrogates_repaired"]


# --- paths ---------------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_recorded_readably():
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    assert display_path(name) == "caf\\xe9.txt"
    (doc,) = records(name, ARTICLE.encode())
    assert doc.source_uri == "caf\\xe9.txt"
    (reject,) = records(b"caf\xe9.pdf".decode("utf-8", "surrogateescape"), b"%PDF")
    assert reject.source_uri == "caf\\xe9.pdf" and reject.message.startswith("caf\\xe9.pdf: ")


def test_the_same_file_under_two_patterns_and_spellings_is_read_once(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    (tmp_path / "b.txt").write_text(ARTICLE)
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    patterns = [
        f"{tmp_path}/*.txt",
        f"{tmp_path}/a.txt",
        f"{tmp_path}/./a.txt",
        f"{tmp_path}//a.txt",
    ]
    with TestPipeline() as p:
        documents, _ = p | MatchInputs(patterns) | ReadDocuments()
        assert_that(
            documents | beam.Map(lambda d: d.source_uri),
            equal_to([f"{tmp_path}/a.txt", f"{tmp_path}/b.txt"]),
        )


def test_an_unexpected_reader_failure_is_a_reject_not_a_crash(monkeypatch):
    def explode(path, data, max_bytes, first_line=1):
        yield RawDocument(source_uri=f"{path}#1", kind="text", content="ok", encoding="utf-8")
        raise RuntimeError("boom")

    monkeypatch.setattr(read, "parse_file", explode)
    readable = SimpleNamespace(
        metadata=SimpleNamespace(path="in/feed.jsonl"), open=lambda: _Bytes(b"{}")
    )
    document, reject = ParseFileFn(1000).process(readable)
    assert document.source_uri == "in/feed.jsonl#1"
    assert reject.reason == "reader_error"
    assert "after 1 records (RuntimeError: boom)" in reject.message


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def read(self, size: int = -1) -> bytes:
        return self._data


# --- properties ----------------------------------------------------------------------------

EXTENSIONS = [".txt", ".html", ".htm", ".jsonl", ".txt.gz", ".html.gz", ".jsonl.gz", ".pdf", ""]
hostile_bytes = st.one_of(
    st.binary(max_size=2_000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=300).map(lambda t: t.encode("utf-16")),
    st.text(st.characters(max_codepoint=255), max_size=300).map(lambda t: t.encode("latin-1")),
    st.lists(
        st.sampled_from(
            [GOOD, "{broken", "null", '{"text": 1}', '{"text": "\\ud800"}', "", "\u2028", "[[["]
        ),
        max_size=8,
    ).map(lambda lines: "\n".join(lines).encode()),
)


def _maybe_gzip(data: bytes, how: int) -> bytes:
    if how == 0:
        return data
    packed = gzip.compress(data)
    return packed if how == 1 else packed[: max(1, len(packed) * how // 4)]


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(hostile_bytes, st.sampled_from(EXTENSIONS), st.integers(0, 3))
def test_parse_file_never_raises_and_accounts_for_every_file(data, extension, gzipped):
    path = f"in/file{extension}"
    found = records(path, _maybe_gzip(data, gzipped))
    assert found, "a file must yield at least one record"
    for record in found:
        assert isinstance(record, RawDocument | Reject)
        assert record.source_uri.startswith(path)
        if isinstance(record, Reject):
            assert record.stage == "read" and record.reason
            assert record.message.startswith(path)
            pa.Table.from_pylist([to_row(record)], schema=REJECT_SCHEMA)  # storable
        else:
            assert record.content.strip()
            record.content.encode("utf-8")


def test_reading_20_mb_takes_bounded_time():
    data = (ARTICLE.replace("’", "'") * 75_000).encode("cp1252")[:20_000_000]
    documents, cpu = run_bounded(lambda: records("big.txt", data), cpu_seconds=CPU_BOUND)
    (doc,) = documents
    assert len(doc.content) > 19_000_000 and cpu < CPU_BOUND


def test_reads_every_line_of_a_file_with_many_of_them(tmp_path):
    path = Path(tmp_path / "many.jsonl")
    path.write_bytes(jsonl(500))
    with TestPipeline() as p:
        documents, rejects = p | MatchInputs([str(path)]) | ReadDocuments()
        count = beam.combiners.Count.Globally
        assert_that(documents | "CountDocs" >> count(), equal_to([500]), label="docs")
        assert_that(rejects | "CountRejects" >> count(), equal_to([0]), label="rejects")
