"""Read: match input patterns, open whole files, decode them, and turn them into RawDocuments.

The input kind follows the extension (`.txt`, `.html`/`.htm`, `.jsonl`, each optionally `.gz`;
`.warc`/`.arc`, optionally `.gz`, read record by record by `transforms.warc`);
compression follows the bytes (a gzip stream is decompressed whatever the name says, a `.gz` file
that is not gzip is read as it is). Every file or JSONL line that cannot become a RawDocument
becomes a Reject at stage "read" naming the file, the line, and what to do. `parse_file` never
raises and yields at least one record per file, so the ledger can count every input.

Hostile input and what it becomes (docs/hostile-input.md has the whole catalogue):
- empty, white-space-only or NUL-only files: `empty_file`; binary files: `binary_file`;
- a truncated or corrupt gzip stream: `corrupt_gzip`; for JSONL the complete lines before the
  damage are still read, and one reject names the first line lost;
- text in any encoding is decoded and repaired by `transforms.encoding` (audited);
- a JSONL file is decoded line by line when it must be, so a binary or oddly encoded line costs
  only itself;
- JSONL lines are split on `\\n` only (U+2028 inside a string is text), parsed leniently (raw
  tabs inside strings), and a line that is not an object, nests too deep, or holds a number too
  long to parse is `invalid_json`; wrong field types are `invalid_record` with the field named.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Any, BinaryIO, NamedTuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from pydantic import ValidationError

from newsbeam.schemas import Boilerplate, RawDocument, Reject
from newsbeam.schemas.models import JsonlRecord
from newsbeam.transforms.encoding import (
    Decoded,
    DecodeError,
    decode_bytes,
    decode_lines,
    repair_text,
)
from newsbeam.transforms.errors import error_details
from newsbeam.transforms.inputs import entry_problem, is_regular_input, unlisted_entries
from newsbeam.transforms.routing import SplitOff
from newsbeam.transforms.timing import stage_timer, timed
from newsbeam.transforms.warc import HashingReader, split_points, warc_documents

__all__ = ["DecodeError", "MatchInputs", "ReadDocuments", "decode", "input_kind", "parse_file"]

KINDS = {
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
    ".warc": "warc",
    ".arc": "warc",
}
DEFAULT_MAX_BYTES = 50_000_000
GZIP_MAGIC = b"\x1f\x8b"


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


def display_path(path: str) -> str:
    """The path as it is recorded (`source_uri`): bytes of a file name that are not UTF-8 are
    shown as `\\xNN`, so the name stays readable, distinct and storable."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a file's bytes; see `transforms.encoding.decode_bytes`."""
    decoded = decode_bytes(data)
    return decoded.text, decoded.encoding


def _excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text[:300].decode("utf-8", errors="replace")
    return text[:300]


def _reader_error(uri: str, emitted: int, error: Exception, excerpt: str = "") -> Reject:
    """The reject for a reader that failed where it never should: the file is kept in the
    ledger's account, with what it had produced."""
    return Reject(
        source_uri=uri,
        stage="read",
        reason="reader_error",
        message=f"{uri}: reading failed after {emitted} records "
        f"({type(error).__name__}: {error}); please report it with the file",
        excerpt=excerpt,
    )


def gunzip(data: bytes, max_bytes: int) -> tuple[bytes, str | None]:
    """(decompressed bytes, None) for a sound gzip stream (several members are joined; bytes
    after the last member are ignored, as `gzip -d` does), or (the bytes decompressed before the
    damage, what is wrong) for a truncated or corrupt one. At most max_bytes + 1 bytes are
    produced, so a gzip bomb cannot exhaust memory."""
    out = bytearray()
    rest = data
    while rest.startswith(GZIP_MAGIC):
        stream = zlib.decompressobj(wbits=31)
        pending = rest
        try:
            while pending:
                out += stream.decompress(pending, max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    return bytes(out), None
                pending = stream.unconsumed_tail
        except zlib.error as error:
            return bytes(out), f"the gzip stream is corrupt ({error})"
        if not stream.eof:
            return bytes(out), "the gzip stream ends early (the file is truncated)"
        rest = stream.unused_data
    return bytes(out), None


def parse_file(
    path: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, first_line: int = 1
) -> Iterator[RawDocument | Reject]:
    """Turn one file's bytes into RawDocuments (one per file, or one per JSONL line) and Rejects.
    `first_line`: the number of the first line of `data` (a part of a JSONL file, `JsonlPart`).

    Never raises; yields at least one record.
    """
    uri = display_path(path)

    def reject(reason: str, message: str, **extra: Any) -> Reject:
        return Reject(
            source_uri=uri, stage="read", reason=reason, message=f"{uri}: {message}", **extra
        )

    kind, _ = input_kind(path)
    if kind is None:
        yield reject(
            "unsupported_kind",
            "unsupported file type; newsbeam reads "
            ".txt, .html, .htm, .jsonl, .warc and .arc, optionally gzip-compressed (.gz)",
        )
        return
    if kind == "warc":  # `--max-bytes` bounds each record, not the whole archive
        yield from warc_documents(uri, lambda: io.BytesIO(data), max_bytes)
        return
    if len(data) > max_bytes:
        yield reject(
            "too_large",
            f"over {max_bytes:,} bytes; split the file or raise --max-bytes",
            excerpt=_excerpt(data),
        )
        return
    damage = None
    if data.startswith(GZIP_MAGIC):
        data, damage = gunzip(data, max_bytes)
        if len(data) > max_bytes:
            yield reject(
                "too_large",
                f"decompresses to over {max_bytes:,} bytes; split the file or raise --max-bytes",
                excerpt=_excerpt(data),
            )
            return
        if damage and kind != "jsonl":
            yield reject(
                "corrupt_gzip",
                f"cannot decompress: {damage}; re-download the file",
                excerpt=_excerpt(data),
            )
            return
        if damage:  # keep the complete lines: a JSONL line is a record on its own
            complete = data.rfind(b"\n") + 1
            lost_from = data[:complete].count(b"\n") + 1
            data = data[:complete]
    if not data.strip(b" \t\r\n\f\v\x00"):
        if damage:
            yield reject("corrupt_gzip", f"cannot decompress: {damage}; re-download the file")
        else:
            yield reject("empty_file", "the file is empty or only white space; nothing to read")
        return
    try:
        decoded = decode_lines(data) if kind == "jsonl" else decode_bytes(data)
    except DecodeError as error:
        yield reject(
            "binary_file",
            f"not text ({error}); remove it from the input pattern",
            excerpt=_excerpt(data),
        )
        return
    if kind == "jsonl":
        yield from parse_jsonl(uri, decoded, report_empty=damage is None, first_line=first_line)
        if damage:
            yield Reject(
                source_uri=f"{uri}#{lost_from}",
                stage="read",
                reason="corrupt_gzip",
                line=lost_from,
                message=f"{uri} line {lost_from}: {damage}; this line and every line after it "
                "are lost, the lines before it were read; re-download the file",
            )
        return
    text, repairs = repair_text(decoded.text)
    if not text.strip():
        yield reject("empty_file", "the file holds only white space or control characters")
        return
    yield RawDocument(
        source_uri=uri,
        kind=kind,
        content=text,
        encoding=decoded.encoding,
        repairs=[*decoded.repairs, *repairs],
    )


def _repaired_field(value: str | None, audit: list[Boilerplate]) -> str | None:
    if value is None:
        return None
    text, found = repair_text(value)
    audit.extend(found)
    return text


def parse_record(
    uri: str,
    where: str,
    line: str,
    encoding: str,
    number: int | None = None,
    repairs: Iterable[Boilerplate] = (),
) -> RawDocument | Reject:
    """One JSON object (a JSONL line, a Pub/Sub message) → a RawDocument, or a Reject saying
    what is wrong with it. `where` names the record in messages; `number` is its line;
    `repairs` are what decoding its file changed."""
    expected = "each line must be one JSON object" if number else "expected one JSON object"
    try:
        value = json.loads(line, strict=False)
    except RecursionError:
        return Reject(
            source_uri=uri,
            stage="read",
            reason="invalid_json",
            line=number,
            message=f"{where}: JSON nested too deeply to parse; {expected}",
            excerpt=_excerpt(line),
        )
    except ValueError as error:  # JSONDecodeError, or an integer too long to convert
        detail = (
            f"{error.msg} at column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else str(error).split(";")[0]
        )
        return Reject(
            source_uri=uri,
            stage="read",
            reason="invalid_json",
            line=number,
            message=f"{where}: not valid JSON ({detail}); {expected}",
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
    audit = list(repairs)
    text = _repaired_field(record.text, audit)
    html = _repaired_field(record.html, audit)
    if not (text or "").strip() and not (html or "").strip():
        return Reject(
            source_uri=uri,
            stage="read",
            reason="invalid_record",
            line=number,
            excerpt=_excerpt(line),
            message=f"{where}: 'text' and 'html' hold only control characters; nothing to read",
        )
    return RawDocument(
        source_uri=uri,
        kind="html" if html is not None and not (text or "").strip() else "text",
        content=text if (text or "").strip() else html or "",
        encoding=encoding,
        url=_repaired_field(record.url, []),
        title=_repaired_field(record.title, audit),
        published_at=published_at,
        source=_repaired_field(record.source, []),
        repairs=audit,
    )


def parse_jsonl(
    uri: str, decoded: Decoded, report_empty: bool = True, first_line: int = 1
) -> Iterator[RawDocument | Reject]:
    """One RawDocument per good line; each bad line is a Reject naming its line number (the
    first line being `first_line`). A file without a single record is one `empty_file` Reject
    (when `report_empty`)."""
    records = 0
    for number, line in enumerate(decoded.text.split("\n"), start=first_line):
        if not line.strip():
            continue
        records += 1
        yield parse_record(
            f"{uri}#{number}",
            f"{uri} line {number}",
            line,
            decoded.encoding,
            number,
            decoded.repairs,
        )
    if records == 0 and report_empty:
        yield Reject(
            source_uri=uri,
            stage="read",
            reason="empty_file",
            message=f"{uri}: no JSON lines in the file, only white space; nothing to read",
        )


def file_identity(path: str) -> str:
    """What makes two matched paths the same file: the resolved path for local files
    (`in/./a.txt`, `in//a.txt`, a symbolic link), the path itself elsewhere (`gs://…`)."""
    if "://" in path:
        return path
    return os.path.realpath(path)


def _identity_key(metadata: FileMetadata) -> tuple[bytes, FileMetadata]:
    # Bytes, not str: Beam encodes str elements as strict UTF-8, and a file name that is not
    # UTF-8 (surrogate-escaped by Python) would fail the whole run.
    return os.fsencode(file_identity(metadata.path)), metadata


def _spelling_order(metadata: FileMetadata) -> tuple[int, bytes]:
    return len(metadata.path), os.fsencode(metadata.path)


def match_files(patterns: Iterable[str]) -> list[FileMetadata]:
    """The distinct files the patterns match, now (not inside a pipeline), sorted by path; a file
    matched twice or under two spellings is listed once, under its shortest spelling. Entries
    the listing drops (dangling links, loops, unreadable folders) are listed too, to be
    rejected (`transforms.inputs`)."""
    patterns = list(patterns)
    spellings: dict[bytes, list[FileMetadata]] = {}
    listed = [result.metadata_list for result in FileSystems.match(patterns)]
    for found in [*listed, *map(unlisted_entries, patterns)]:
        for metadata in found:
            if not metadata.path.endswith("/"):
                key, _ = _identity_key(metadata)
                spellings.setdefault(key, []).append(metadata)
    chosen = [min(found, key=_spelling_order) for found in spellings.values()]
    return sorted(chosen, key=_spelling_order)


def match_paths(patterns: Iterable[str]) -> list[str]:
    """The paths of `match_files(patterns)`."""
    return [metadata.path for metadata in match_files(patterns)]


class MatchInputs(beam.PTransform):
    """File patterns → FileMetadata of the distinct matched files: a file matched by two patterns,
    or under two spellings of its path, is read once, under its shortest spelling (so every run
    agrees). Elements are FileMetadata, never bare paths, so that any file name survives Beam's
    coders.

    `match_now`: list the files while building the pipeline and start from them, rather than
    matching inside it. The Dask runner needs it: it spreads a `Create` over partitions, and a
    single pattern would put every file in one partition.
    """

    def __init__(self, patterns: Iterable[str], match_now: bool = False) -> None:
        super().__init__()
        self._patterns = list(patterns)
        self._match_now = match_now

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[FileMetadata]:
        if self._match_now:
            return pbegin | "ListFiles" >> beam.Create(match_files(self._patterns))
        patterns = pbegin | "ListPatterns" >> beam.Create(self._patterns)
        listed = patterns | "MatchFiles" >> fileio.MatchAll()
        unlisted = patterns | "FindUnlistedEntries" >> beam.FlatMap(unlisted_entries)
        return (
            (listed, unlisted)
            | "CollectEntries" >> beam.Flatten()
            | "KeyByFile" >> beam.Map(_identity_key)
            | "GroupSpellings" >> beam.GroupByKey()
            | "TakeOneSpelling"
            >> beam.MapTuple(lambda _file, found: min(found, key=_spelling_order))
        )


class ArchivePart(FileMetadata):
    """One part of a large WARC file: the records that start at byte `start` up to `stop` (None:
    the end of the file), about `documents` document records; read as an input of its own, so a
    local run's chunks can hold one part each. `size` and `sha256` are the whole file's (taken
    when it was split): the ledger of inputs records the file once its `last` part is read."""

    def __init__(
        self,
        metadata: FileMetadata,
        start: int,
        stop: int | None,
        documents: int,
        sha256: str,
        last: bool,
    ) -> None:
        super().__init__(metadata.path, metadata.size_in_bytes, metadata.last_updated_in_seconds)
        self.start, self.stop, self.documents = start, stop, documents
        self.sha256, self.last = sha256, last

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ArchivePart)
            and super().__eq__(other)
            and (self.start, self.stop) == (other.start, other.stop)
        )

    def __hash__(self) -> int:
        return hash((self.path, self.start))

    def __repr__(self) -> str:
        return f"ArchivePart({self.path!r}, start={self.start}, stop={self.stop})"


def split_archives(files: list[FileMetadata], documents: int) -> list[FileMetadata]:
    """`files` with every WARC or ARC file of more than `documents` document records replaced by
    its parts (ArchiveParts of `documents` records each, in order); other files as they are.
    Each archive is read once here, record headers only, and its checksum taken on the way. A
    file that cannot be read or split stays whole (reading it rejects what is wrong)."""
    out: list[FileMetadata] = []
    for metadata in files:
        if input_kind(metadata.path)[0] != "warc" or not is_regular_input(metadata.path):
            out.append(metadata)
            continue
        try:
            with FileSystems.open(
                metadata.path, compression_type=CompressionTypes.UNCOMPRESSED
            ) as handle:
                reader = HashingReader(handle)
                points = split_points(reader, documents)  # type: ignore[arg-type]
                reader.drain()
        except OSError:
            points = [0]
        if len(points) == 1:
            out.append(metadata)
            continue
        bounds = [*points[1:], None]
        out.extend(
            ArchivePart(metadata, start, stop, documents, reader.sha256(), stop is None)
            for start, stop in zip(points, bounds, strict=True)
        )
    return out


class JsonlPart(ArchivePart):
    """One part of a large JSONL file: its lines from byte `start` up to `stop` (None: the end
    of the file), `documents` records, the first of them line `first_line` of the file; read
    as an input of its own, so that a chunk holds a bounded number of records and bytes (one
    file's records would otherwise all be in one chunk). Its size and checksum are the whole
    file's: the ledger of inputs records the file when its `last` part is read."""

    def __init__(
        self,
        metadata: FileMetadata,
        start: int,
        stop: int | None,
        documents: int,
        first_line: int,
        sha256: str,
        last: bool,
    ) -> None:
        super().__init__(metadata, start, stop, documents, sha256, last)
        self.first_line = first_line

    def __repr__(self) -> str:
        return f"JsonlPart({self.path!r}, start={self.start}, stop={self.stop})"


def _splittable_jsonl(metadata: FileMetadata, max_bytes: int) -> bool:
    """A JSONL file whose lines can be cut at `\\n` bytes as stored: local or remote, not gzip
    (a stream cannot be entered midway), not UTF-16 or UTF-32 (a `\\n` byte is half a
    character there), not over `max_bytes` (rejected whole, unread), a regular file."""
    kind, _ = input_kind(metadata.path)
    if kind != "jsonl" or isinstance(metadata, ArchivePart):
        return False
    if metadata.size_in_bytes > max_bytes or not is_regular_input(metadata.path):
        return False
    try:
        with FileSystems.open(
            metadata.path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return not head.startswith((GZIP_MAGIC, b"\xff\xfe", b"\xfe\xff")) and b"\x00" not in head


def jsonl_parts(metadata: FileMetadata, records: int, max_part_bytes: int) -> list[FileMetadata]:
    """`metadata` cut into JsonlParts of at most `records` records (non-blank lines) and about
    `max_part_bytes` bytes each (a part ends at the first line boundary past it), read once to
    find the cuts and the checksum; `[metadata]` when one part would do or the file cannot be
    read (reading it then rejects what is wrong)."""
    digest = hashlib.sha256()
    cuts: list[tuple[int, int, int]] = []  # (start byte, first line, records) per part
    start, first, count, offset = 0, 1, 0, 0
    try:
        with FileSystems.open(
            metadata.path, compression_type=CompressionTypes.UNCOMPRESSED
        ) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    if count and (count >= records or offset - start >= max_part_bytes):
                        cuts.append((start, first, count))
                        start, first, count = offset, number, 0
                    count += 1
                digest.update(line)
                offset += len(line)
    except OSError:
        return [metadata]
    cuts.append((start, first, count))
    if len(cuts) == 1:
        return [metadata]
    whole = FileMetadata(metadata.path, offset, metadata.last_updated_in_seconds)
    stops = [cut[0] for cut in cuts[1:]] + [None]
    return [
        JsonlPart(whole, begin, stop, count, line, digest.hexdigest(), stop is None)
        for (begin, line, count), stop in zip(cuts, stops, strict=True)
    ]


def split_inputs(
    files: list[FileMetadata],
    records: int,
    max_part_bytes: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[FileMetadata]:
    """`files` with every large WARC or ARC file cut into ArchiveParts of `records` records
    (`split_archives`) and every large JSONL file into JsonlParts of at most `records` records
    and about `max_part_bytes` bytes (`jsonl_parts`), so that a local run's chunks hold a
    bounded number of records and bytes whatever the files."""
    out: list[FileMetadata] = []
    for metadata in split_archives(files, records):
        if _splittable_jsonl(metadata, max_bytes):
            out.extend(jsonl_parts(metadata, records, max_part_bytes))
        else:
            out.append(metadata)
    return out


class ArchiveRecord(NamedTuple):
    """A RawDocument read from a WARC or ARC file: one file holds many, to be spread over the
    workers (a type of its own, not a tagged output: see `transforms.routing`)."""

    document: RawDocument


class ParseFileFn(beam.DoFn):
    """Reads one matched file and emits its RawDocuments (ArchiveRecords for a WARC file) and
    Rejects, and with `fingerprint` also one Fingerprint of the file (path, size, checksum) for
    the ledger of inputs.

    Example input: a fileio.ReadableFile for `seeds/000_383991272e6f6611.txt`.
    """

    def __init__(self, max_bytes: int, fingerprint: bool = False) -> None:
        self._max_bytes = max_bytes
        self._fingerprint = fingerprint
        self._files = Metrics.counter("read", "files")
        self._documents = Metrics.counter("read", "documents")
        self._rejected = Metrics.counter("read", "rejected")
        self._bytes = Metrics.distribution("read", "file_bytes")
        self._time = stage_timer("read")

    def _reject(self, reject: Reject) -> Reject:
        self._rejected.inc()
        Metrics.counter("read", f"rejected_{reject.reason}").inc()
        return reject

    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        uri = display_path(path)
        self._files.inc()
        problem = entry_problem(path, uri)  # before opening: a FIFO would block the read
        if problem is not None:
            yield self._reject(problem)
            return
        if input_kind(path)[0] == "warc":
            yield from self._read_archive(readable, uri)
            return
        part = readable.metadata if isinstance(readable.metadata, JsonlPart) else None
        try:
            with readable.open() as handle:
                # One byte past the limit is enough to know the file is too large.
                if part is not None:
                    handle.seek(part.start)
                    data = handle.read(-1 if part.stop is None else part.stop - part.start)
                    size, sha256 = part.size_in_bytes, part.sha256
                elif self._fingerprint:
                    data, size, sha256 = read_head(handle, self._max_bytes + 1)
                else:
                    data = handle.read(self._max_bytes + 1)
        except OSError as error:
            yield self._reject(
                Reject(
                    source_uri=uri,
                    stage="read",
                    reason="unreadable_file",
                    message=f"{uri}: cannot open ({error}); check that it exists and is readable",
                )
            )
            return
        if self._fingerprint and (part is None or part.last):
            yield Fingerprint(uri, size, sha256)
        self._bytes.update(len(data))
        records: list[RawDocument | Reject] = []
        failure = None
        first_line = part.first_line if part is not None else 1
        with timed(self._time):
            try:
                records.extend(parse_file(path, data, self._max_bytes, first_line))
            except Exception as error:  # parse_file never raises; if it ever does, keep the file
                failure = error
        for record in records:
            if isinstance(record, Reject):
                yield self._reject(record)
            else:
                self._documents.inc()
                yield record
        if failure is not None:
            yield self._reject(_reader_error(uri, len(records), failure, _excerpt(data)))

    def _read_archive(self, readable: fileio.ReadableFile, uri: str):
        """A WARC or ARC file (or an ArchivePart of one), streamed record by record (never whole
        in memory); its checksum is taken from the same pass."""
        part = readable.metadata if isinstance(readable.metadata, ArchivePart) else None
        streams: list[Any] = []

        def open_stream() -> Any:
            streams.append(readable.open() if part else HashingReader(readable.open()))
            return streams[-1]

        bounds = {"start": part.start, "stop": part.stop} if part else {}
        emitted = 0
        try:
            for record in warc_documents(uri, open_stream, self._max_bytes, **bounds):
                emitted += 1
                if isinstance(record, Reject):
                    yield self._reject(record)
                else:
                    self._documents.inc()
                    yield ArchiveRecord(record)
            if self._fingerprint and part is not None and part.last:
                yield Fingerprint(uri, part.size_in_bytes, part.sha256)
            elif self._fingerprint and part is None and streams:
                streams[-1].drain()
                yield Fingerprint(uri, streams[-1].size, streams[-1].sha256())
        except OSError as error:
            yield self._reject(
                Reject(
                    source_uri=uri,
                    stage="read",
                    reason="unreadable_file",
                    message=f"{uri}: cannot read ({error}) after {emitted} records; "
                    "check that it exists and is readable",
                )
            )
        except Exception as error:  # warc_documents never raises for bad content; keep the file
            yield self._reject(_reader_error(uri, emitted, error))
        finally:
            for stream in streams:
                stream.close()
        if streams and part is None:
            self._bytes.update(streams[-1].size)


def _spread_key(record: ArchiveRecord) -> tuple[int, RawDocument]:
    # An int key (string keys group wrongly on Dask's distributed scheduler: beam issue 29365).
    return zlib.crc32(record.document.source_uri.encode("utf-8")), record.document


def _unwrap(record: Any) -> Any:
    return record.document if isinstance(record, ArchiveRecord) else record


class ParseFiles(beam.PTransform):
    """ReadableFiles → their records (RawDocuments, Rejects and, with `fingerprint`,
    Fingerprints), the records of a multi-record archive (WARC) spread over the workers by a
    shuffle, so that one big archive is extracted by every worker, not only the one that read
    it. `spread=False` (a streaming run, whose windows carry their own triggers) leaves them."""

    def __init__(self, max_bytes: int, fingerprint: bool = False, spread: bool = True) -> None:
        super().__init__()
        self._max_bytes = max_bytes
        self._fingerprint = fingerprint
        self._spread = spread

    def expand(self, readables):
        parsed = readables | "ParseEachFile" >> beam.ParDo(
            ParseFileFn(self._max_bytes, self._fingerprint)
        )
        if not self._spread:
            return parsed | "UnwrapRecords" >> beam.Map(_unwrap)
        files, records = parsed | "SplitArchiveRecords" >> SplitOff(ArchiveRecord)
        documents = (
            records
            | "KeyRecords" >> beam.Map(_spread_key)
            | "ShuffleRecords" >> beam.GroupByKey()
            | "UnkeyRecords" >> beam.FlatMapTuple(lambda _key, documents: documents)
        )
        return (files, documents) | "CollectRecords" >> beam.Flatten()


class ReadDocuments(beam.PTransform):
    """Matched files (FileMetadata, or paths) → (RawDocuments, Rejects)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__()
        self._max_bytes = max_bytes

    def expand(self, paths: beam.PCollection[FileMetadata]):
        return (
            paths
            | "OpenFiles" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            | "ParseFiles" >> ParseFiles(self._max_bytes)
            | "SplitRejects" >> SplitOff(Reject)
        )


class ReadInputFiles(beam.PTransform):
    """Matched files → (RawDocuments, Rejects, Fingerprints): ReadDocuments, plus one
    Fingerprint per file read, which the ledger of inputs (`_inputs/`) records. A file that
    cannot be opened has no Fingerprint: it is a Reject and is tried again by the next run."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, spread: bool = True) -> None:
        super().__init__()
        self._max_bytes = max_bytes
        self._spread = spread

    def expand(self, paths: beam.PCollection[FileMetadata]):
        records, fingerprints = (
            paths
            | "OpenFiles" >> fileio.ReadMatches(compression=CompressionTypes.UNCOMPRESSED)
            | "ParseFiles" >> ParseFiles(self._max_bytes, fingerprint=True, spread=self._spread)
            | "SplitFingerprints" >> SplitOff(Fingerprint)
        )
        documents, rejects = records | "SplitRejects" >> SplitOff(Reject)
        return documents, rejects, fingerprints
