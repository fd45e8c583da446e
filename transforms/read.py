"""Read: match input patterns, open whole files, decode them, and turn them into RawDocuments.

The input kind follows the extension (`.txt`, `.html`/`.htm`, `.jsonl`, each optionally `.gz`).
Every file or JSONL line that cannot become a RawDocument becomes a Reject at stage "read".
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import BinaryIO, NamedTuple

import apache_beam as beam
import charset_normalizer
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from pydantic import ValidationError

from schemas import RawDocument, Reject
from schemas.models import JsonlRecord
from transforms.errors import error_details
from transforms.routing import SplitOff

KINDS = {".txt": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
DEFAULT_MAX_BYTES = 50_000_000
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_OK = {"\t", "\n", "\r", "\f", "\v"}
_CHUNK = 1 << 20


class Fingerprint(NamedTuple):
    """An input file as it was read: its path, size in bytes and SHA-256 of those bytes (as
    stored, before any gzip decompression). What `_inputs/` records."""

    path: str
    size: int
    sha256: str


def read_head(handle: BinaryIO, limit: int) -> tuple[bytes, int, str]:
    """(the first `limit` bytes, the whole stream's size, its SHA-256): the head is kept, the
    rest is only hashed, so a file too large to parse still gets a checksum."""
    digest = hashlib.sha256()
    head = handle.read(limit)
    digest.update(head)
    size = len(head)
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return head, size, digest.hexdigest()


class DecodeError(ValueError):
    """Bytes that are not text in any encoding we can detect."""


def input_kind(path: str) -> tuple[str | None, bool]:
    """(kind, gzipped) for a path; kind is None for an unsupported extension."""
    name = path.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[:-3]
    for extension, kind in KINDS.items():
        if name.endswith(extension):
            return kind, gzipped
    return None, gzipped


def _control_share(text: str) -> float:
    sample = text[:20_000]
    if not sample:
        return 0.0
    controls = sum(1 for c in sample if c < " " and c not in _CONTROL_OK)
    return controls / len(sample)


def _detect_encoding(data: bytes) -> str:
    """charset-normalizer's best guess; on a tie, windows-1252, the web's commonest legacy
    encoding (WHATWG decodes latin-1 as windows-1252 too)."""
    results = charset_normalizer.from_bytes(data[:2_000_000])
    best = results.best()
    if best is None:
        raise DecodeError("no text encoding fits these bytes")
    tied = {r.encoding for r in results if (r.chaos, r.coherence) == (best.chaos, best.coherence)}
    if "cp1252" in tied or "cp1252" in best.could_be_from_charset:
        return "cp1252"
    return best.encoding


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes to text: BOM first, then UTF-8, then charset-normalizer's best guess.

    Raises DecodeError for bytes that look binary. NUL bytes inside otherwise good text are removed.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").replace("\x00", ""), encoding
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        encoding = _detect_encoding(data)
        text = data.decode(encoding, errors="replace")
    if _control_share(text) > 0.02:
        raise DecodeError(f"{_control_share(text):.0%} of the characters are control bytes")
    return text.replace("\x00", ""), encoding


def _excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text[:300].decode("utf-8", errors="replace")
    return text[:300]


def parse_file(
    path: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[RawDocument | Reject]:
    """Turn one file's bytes into RawDocuments (one per file, or one per JSONL line) and Rejects."""

    def reject(reason: str, message: str, **extra) -> Reject:
        return Reject(
            source_uri=extra.pop("uri", path),
            stage="read",
            reason=reason,
            message=f"{path}: {message}",
            **extra,
        )

    kind, gzipped = input_kind(path)
    if kind is None:
        yield reject(
            "unsupported_kind",
            "unsupported file type; newsbeam reads "
            ".txt, .html, .htm and .jsonl, optionally gzip-compressed (.gz)",
        )
        return
    if gzipped:
        try:
            data = _gunzip(data, max_bytes)
        except (OSError, EOFError, zlib.error) as error:
            yield reject(
                "corrupt_gzip",
                f"cannot decompress ({error}); the file is truncated or "
                "not gzip: re-download it, or remove the .gz extension if it is plain text",
            )
            return
    if len(data) > max_bytes:
        yield reject(
            "too_large",
            f"{len(data):,} bytes is over the limit of {max_bytes:,}; "
            "split the file or raise --max-bytes",
            excerpt=_excerpt(data),
        )
        return
    if not data.strip():
        yield reject("empty_file", "the file is empty or only white space; nothing to read")
        return
    try:
        text, encoding = decode(data)
    except DecodeError as error:
        yield reject(
            "binary_file",
            f"not text ({error}); remove it from the input pattern",
            excerpt=_excerpt(data),
        )
        return
    if kind == "jsonl":
        yield from parse_jsonl(path, text, encoding)
    else:
        yield RawDocument(source_uri=path, kind=kind, content=text, encoding=encoding)


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress at most max_bytes + 1 bytes, so a gzip bomb cannot exhaust memory."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        return stream.read(max_bytes + 1)


def parse_jsonl(path: str, text: str, encoding: str) -> Iterator[RawDocument | Reject]:
    """One RawDocument per good line; each bad line is a Reject naming its line number."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        yield parse_record(f"{path}#{number}", f"{path} line {number}", line, encoding, number)


def parse_record(
    uri: str, where: str, line: str, encoding: str, number: int | None = None
) -> RawDocument | Reject:
    """One JSON object (a JSONL line, a Pub/Sub message) → a RawDocument, or a Reject saying
    what is wrong with it. `where` names the record in messages; `number` is its line."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return Reject(
            source_uri=uri,
            stage="read",
            reason="invalid_json",
            line=number,
            message=f"{where}: not valid JSON ({error.msg} at column {error.colno}); "
            + ("each line must be one JSON object" if number else "expected one JSON object"),
            excerpt=_excerpt(line),
        )
    try:
        record = JsonlRecord.model_validate(value)
    except ValidationError as error:
        details = error_details(error)
        return Reject(
            source_uri=uri,
            stage="read",
            reason="invalid_record",
            line=number,
            errors=details,
            excerpt=_excerpt(line),
            message=f"{where}: " + "; ".join(f"{d.loc}: {d.msg}" for d in details),
        )
    published_at = record.published_at
    if published_at is not None and published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    return RawDocument(
        source_uri=uri,
        kind="html" if record.html is not None and record.text is None else "text",
        content=record.text if record.text is not None else record.html or "",
        encoding=encoding,
        url=record.url,
        title=record.title,
        published_at=published_at,
        source=record.source,
    )


def match_paths(patterns: Iterable[str]) -> list[str]:
    """The distinct files the patterns match, in order (a file matched twice is listed once)."""
    paths: dict[str, None] = {}
    for result in FileSystems.match(list(patterns)):
        paths.update(
            dict.fromkeys(m.path for m in result.metadata_list if not m.path.endswith("/"))
        )
    return list(paths)


class MatchInputs(beam.PTransform):
    """File patterns → distinct matched paths (a file matched by two patterns is read once).

    `match_now`: list the files while building the pipeline and start from them, rather than
    matching inside it. The Dask runner needs it: it spreads a `Create` over partitions, and a
    single pattern would put every file in one partition.
    """

    def __init__(self, patterns: Iterable[str], match_now: bool = False) -> None:
        super().__init__()
        self._patterns = list(patterns)
        self._match_now = match_now

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[str]:
        if self._match_now:
            return pbegin | "ListFiles" >> beam.Create(match_paths(self._patterns))
        return (
            pbegin
            | "ListPatterns" >> beam.Create(self._patterns)
            | "MatchFiles" >> fileio.MatchAll()
            | "TakePaths" >> beam.Map(lambda metadata: metadata.path)
            | "DropRepeatedPaths" >> beam.Distinct()
        )


class ParseFileFn(beam.DoFn):
    """Reads one matched file and emits its RawDocuments and Rejects, and with `fingerprint`
    also one Fingerprint of the file (path, size, checksum) for the ledger of inputs.

    Example input: a fileio.ReadableFile for `seeds/000_383991272e6f6611.txt`.
    """

    def __init__(self, max_bytes: int, fingerprint: bool = False) -> None:
        self._max_bytes = max_bytes
        self._fingerprint = fingerprint
        self._files = Metrics.counter("read", "files")
        self._documents = Metrics.counter("read", "documents")
        self._rejected = Metrics.counter("read", "rejected")
        self._bytes = Metrics.distribution("read", "file_bytes")

    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        self._files.inc()
        try:
            with readable.open() as handle:
                # One byte past the limit is enough to know the file is too large.
                if self._fingerprint:
                    data, size, sha256 = read_head(handle, self._max_bytes + 1)
                else:
                    data = handle.read(self._max_bytes + 1)
        except OSError as error:
            self._rejected.inc()
            yield Reject(
                source_uri=path,
                stage="read",
                reason="unreadable_file",
                message=f"{path}: cannot open ({error}); check that it exists and is readable",
            )
            return
        self._bytes.update(len(data))
        if self._fingerprint:
            yield Fingerprint(path, size, sha256)
        for record in parse_file(path, data, self._max_bytes):
            (self._rejected if isinstance(record, Reject) else self._documents).inc()
            yield record


class ReadDocuments(beam.PTransform):
    """Matched paths → (RawDocuments, Rejects)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, paths: beam.PCollection[str]):
        return (
            paths
            | "OpenFiles" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            | "ParseFiles" >> beam.ParDo(ParseFileFn(self._max_bytes))
            | "SplitRejects" >> SplitOff(Reject)
        )


class ReadInputFiles(beam.PTransform):
    """Matched paths → (RawDocuments, Rejects, Fingerprints): ReadDocuments, plus one
    Fingerprint per file read, which the ledger of inputs (`_inputs/`) records. A file that
    cannot be opened has no Fingerprint: it is a Reject and is tried again by the next run."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, paths: beam.PCollection[str]):
        records, fingerprints = (
            paths
            | "OpenFiles" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            | "ParseFiles" >> beam.ParDo(ParseFileFn(self._max_bytes, fingerprint=True))
            | "SplitFingerprints" >> SplitOff(Fingerprint)
        )
        documents, rejects = records | "SplitRejects" >> SplitOff(Reject)
        return documents, rejects, fingerprints
