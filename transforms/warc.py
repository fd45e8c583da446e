"""WARC and ARC files → RawDocuments: one per HTML `response` (or `resource`) record, streamed.

Pure functions, no Beam; `transforms.read` calls `warc_documents` for `.warc`, `.warc.gz`,
`.arc` and `.arc.gz` inputs. Records are parsed by warcio (one gzip member per record, as
crawlers write them; ARC records are converted to WARC by warcio), one at a time, so a file of
any size is read in the memory of its largest record (bodies over `max_bytes` are rejected
unread). A whole-file gzip stream, which warcio refuses (it cannot seek into it), is read again
through a streaming gunzip (`_Gunzip`); its offsets are then into the decompressed stream.
`split_points` finds where a large file can be cut into parts that are read on their own.

Which records are documents, and what becomes of them:
- `response` and `resource` records are documents: each is one RawDocument (kind html) or one
  Reject; the ledger counts them as read;
- `warcinfo`, `request`, `metadata`, `revisit`, `conversion`, `continuation` are not documents
  (a revisit holds no payload): skipped, not counted;
- rejected, with the reason and a message naming `FILE#offset=N`: HTTP status other than 2xx
  (`http_status_404`, "http status 404"), a body that is not HTML (`not_html`, "not html:
  image/jpeg"), an empty body (`empty_body`), a body over `max_bytes` (`too_large`), bytes that
  are not text (`binary_file`);
- a record cut short (fewer bytes than its Content-Length, headers that end with the file, a
  broken gzip member, anything warcio cannot parse) is one `truncated_record` Reject at its
  offset, and ends the file: the records before it are kept;
- a file that is not a WARC or ARC file at all is one `not_warc` Reject, an empty one
  `empty_file`.

Decoding an HTML body: the HTTP Content-Type charset, then the page's own `<meta charset>`, each
only if the bytes decode cleanly in it (UTF-8 wins over a declared single-byte Western charset
when the bytes are valid UTF-8: that label is the commonest wrong one), then
`transforms.encoding.decode_bytes` (detection), as for HTML files.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed

from newsbeam.schemas import RawDocument, Reject
from newsbeam.transforms.encoding import Decoded, DecodeError, decode_bytes, repair_text

DOCUMENT_RECORDS = frozenset({"response", "resource"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Labels that servers put on pages which are really UTF-8 (their defaults, not a choice).
_WESTERN_LABELS = frozenset({"ascii", "cp1252", "iso8859-15"})
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_CHUNK = 1 << 20


class HashingReader:
    """A binary stream that counts and hashes the bytes read through it (the file as stored), so
    a file streamed once still gets its size and checksum for the ledger of inputs."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        self.size += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self._digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever is left."""
        while self.read(_CHUNK):
            pass

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self._stream.close()


def codec_name(label: str | None) -> str | None:
    """Python's name for a charset label (`ISO-8859-1` → `latin_1`), None when unknown. Latin-1
    is read as windows-1252, as browsers do: the two differ only where latin-1 has controls."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return "cp1252" if name == "iso8859-1" else name


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in its first 4 kB (`<meta charset>` or `http-equiv`)."""
    found = _META_CHARSET.search(body[:4096])
    return found.group(1).decode("ascii") if found else None


def decode_html(body: bytes, http_charset: str | None) -> Decoded:
    """An HTML body's text: the HTTP charset, then the page's meta charset, each when the bytes
    decode in it without error, then detection (`decode_bytes`). See the module docstring."""
    for label in (http_charset, meta_charset(body)):
        name = codec_name(label)
        if name is None or name.startswith(("utf-16", "utf-32")):
            continue  # UTF-16/32 labels on byte streams are wrong more often than not
        if name in _WESTERN_LABELS and not body.isascii():
            try:
                return Decoded(body.decode("utf-8"), "utf-8")
            except UnicodeDecodeError:
                pass
        try:
            return Decoded(body.decode(name), name)
        except (UnicodeDecodeError, LookupError):
            continue
    return decode_bytes(body)


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type in lower case, charset) of a Content-Type header value."""
    if not value:
        return None, None
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, param_value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


def looks_like_html(body: bytes) -> bool:
    """True when a body without a usable content type starts as an HTML document does."""
    return bool(_HTML_START.match(body[:1024]))


def crawl_time(value: str | None) -> datetime | None:
    """WARC-Date (ISO 8601, UTC) as a datetime; None when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Truncated(Exception):
    """A record shorter than its Content-Length: the file ends (or its gzip member breaks)."""


class _Tail:
    """A binary stream that counts the bytes read through it and keeps the last few, so that
    what is left after warcio's last record can be told apart from end-of-file padding."""

    KEEP = 4096

    def __init__(self, stream: BinaryIO, start: int = 0) -> None:
        self._stream = stream
        self._start = start
        self.size = 0
        self.tail = b""

    def tell(self) -> int:
        """The position in the file: warcio's offsets are taken from it."""
        return self._start + self.size

    @property
    def cut_short(self) -> bool:
        """The stream below ended early (a whole-file gzip stream that is truncated)."""
        return bool(getattr(self._stream, "cut_short", False))

    def _seen(self, data: bytes) -> bytes:
        self.size += len(data)
        self.tail = (self.tail + data)[-self.KEEP :]
        return data

    def read(self, size: int = -1) -> bytes:
        return self._seen(self._stream.read(size))

    def rest_after(self, offset: int) -> bytes | None:
        """The bytes from `offset` to the end of the stream (read to the end first); None when
        they are more than KEEP bytes."""
        while self.read(_CHUNK):
            pass
        left = self.tell() - offset
        if left <= 0:
            return b""
        return self.tail[-left:] if left <= len(self.tail) else None


def _read_body(record: Any, max_bytes: int) -> tuple[bytes, bool]:
    """(the record's payload, up to max_bytes + 1 bytes, whether it is complete). warcio undoes
    chunked transfer encoding and gzip/deflate content encoding. A record whose stored block ends
    before its Content-Length raises _Truncated."""
    body = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        return body, False
    raw = record.raw_stream
    while raw.read(_CHUNK):  # what the decoders left (chunk trailers): Content-Length counts it
        pass
    if getattr(raw, "limit", 0) > 0:
        raise _Truncated(f"{raw.limit:,} bytes short of its Content-Length")
    return body, True


def record_document(where: str, record: Any, max_bytes: int) -> RawDocument | Reject:
    """One `response` or `resource` record → a RawDocument, or a Reject saying why not. Raises
    _Truncated for a record shorter than its Content-Length."""
    headers = record.rec_headers
    http = record.http_headers

    def reject(reason: str, message: str, excerpt: str = "") -> Reject:
        return Reject(
            source_uri=where,
            stage="read",
            reason=reason,
            message=f"{where}: {message}",
            excerpt=excerpt[:300],
        )

    status = http.get_statuscode() if http is not None and record.rec_type == "response" else None
    if status is not None and not str(status).startswith("2"):
        return reject(
            f"http_status_{status}" if str(status).isdigit() else "http_status",
            f"http status {status}: the crawler got no page; not an article",
        )
    content_type = (http or headers).get_header("Content-Type")
    media, charset = parse_content_type(content_type)
    body, complete = _read_body(record, max_bytes)
    if not complete:
        return reject(
            "too_large", f"the body is over {max_bytes:,} bytes; raise --max-bytes to read it"
        )
    if not body.strip():
        return reject("empty_body", "empty body; not an article")
    if media not in HTML_TYPES and not (media is None and looks_like_html(body)):
        return reject(
            "not_html",
            f"not html: {media or 'no content type'}; only HTML pages are articles",
            body[:300].decode("utf-8", errors="replace"),
        )
    try:
        decoded = decode_html(body, charset)
    except DecodeError as error:
        return reject(
            "binary_file",
            f"the body is not text ({error}); not an article",
            body[:300].decode("utf-8", errors="replace"),
        )
    text, repairs = repair_text(decoded.text)
    if not text.strip():
        return reject("empty_body", "the body holds only white space or control characters")
    return RawDocument(
        source_uri=where,
        kind="html",
        content=text,
        encoding=decoded.encoding,
        url=headers.get_header("WARC-Target-URI") or None,
        crawled_at=crawl_time(headers.get_header("WARC-Date")),
        repairs=[*decoded.repairs, *repairs],
    )


class _Gunzip:
    """A whole-file gzip stream, decompressed as it is read. Unlike `gzip.GzipFile`, which raises
    EOFError (and loses the block it was decompressing) when the file ends early, it ends the
    stream there and says so (`cut_short`), so that the records before the cut are read."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._buffer = b""
        self._position = 0
        self._done = False
        self.cut_short = False

    def _fill(self) -> bool:
        """Decompress the next piece into the buffer; False at the end of the stream."""
        while not self._done:
            data = self._pending or self._stream.read(1 << 16)
            if not data:
                self._done = True
                self.cut_short = not self._inflate.eof  # the file ends inside a member
                return False
            if self._inflate.eof:  # another member follows
                self._inflate = zlib.decompressobj(wbits=31)
            try:
                self._buffer, self._position = self._inflate.decompress(data), 0
            except zlib.error:
                self._done = self.cut_short = True
                return False
            self._pending = self._inflate.unused_data
            if self._buffer:
                return True
        return False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self._position >= len(self._buffer) and not self._fill():
                break
            end = len(self._buffer) if size < 0 else self._position + size - len(out)
            piece = self._buffer[self._position : end]
            out += piece
            self._position += len(piece)
        return bytes(out)


class _StrictReader(DecompressingBufferedReader):
    """warcio's decompressing reader, except that a gzip member that breaks part-way is
    remembered (`broken`): warcio prints the zlib error and carries on with no data, which
    would leave the damaged record looking complete or empty."""

    broken: str | None = None
    gzipped = False  # a member decompressed: from then on a failure is damage, not plain text

    def _decompress(self, data: bytes) -> bytes:
        if self.decompressor and data and (self.num_block_read or self.gzipped):
            try:
                out = self.decompressor.decompress(data)
            except zlib.error as error:
                self.broken = str(error)
                return b""
            self.gzipped = True
            return out
        out = super()._decompress(data)
        self.gzipped = self.gzipped or self.decompressor is not None
        return out


def _archive_iterator(stream: _Tail) -> tuple[ArchiveIterator, _StrictReader]:
    records = ArchiveIterator(stream, arc2warc=True)
    # Set before the first record is read (the iterator is lazy); the attribute is warcio's,
    # and warcio drops it when the file ends, so the reader is returned too.
    reader = records.reader = _StrictReader(records.fh, block_size=records.reader.block_size)
    return records, reader


class _Pass:
    """How far one pass over a file got: records passed, documents emitted, and the offset of
    the record being read."""

    def __init__(self) -> None:
        self.seen = 0
        self.emitted = 0
        self.offset = 0
        self.records: ArchiveIterator | None = None

    @property
    def failed_at(self) -> int:
        """Where reading stopped: the start of the record warcio was in (its `offset` is the
        start of the current record, or the end of the last one between records)."""
        return self.records.offset if self.records is not None else self.offset


def _records(
    uri: str,
    stream: _Tail,
    max_bytes: int,
    skip: int,
    state: _Pass,
    stop: int | None = None,
) -> Iterator[RawDocument | Reject]:
    """The documents of one pass over a stream, the first `skip` records passed over (an earlier
    pass read them), up to the record that starts at `stop`. A record cut short ends the pass
    with a `truncated_record` Reject; any other failure of warcio's propagates (the caller
    rejects the rest of the file)."""
    records, reader = _archive_iterator(stream)
    state.records = records
    for record in records:
        if reader.broken:  # in the record before, which was no document
            yield _truncated(f"{uri}#offset={state.offset}", state, reader.broken)
            return
        if stop is not None and records.offset >= stop:
            return  # the next part's first record
        state.offset = records.offset
        where = f"{uri}#offset={records.offset}"
        if record.rec_type is None:  # warcio's record for headers that end with the file
            yield _truncated(where, state, "the file ends inside the record's headers")
            return
        state.seen += 1
        if state.seen <= skip or record.rec_type not in DOCUMENT_RECORDS:
            continue
        try:
            document = record_document(where, record, max_bytes)
            if reader.broken:
                raise _Truncated(f"broken gzip member: {reader.broken}")
        except _Truncated as error:
            yield _truncated(where, state, str(error))
            return  # what follows a cut-short record is not a record
        state.emitted += 1
        yield document
    state.offset = records.offset
    rest = stream.rest_after(records.offset)
    if rest is None or rest.strip(b"\r\n \t\x00") or stream.cut_short or reader.broken:
        yield _truncated(f"{uri}#offset={records.offset}", state, "the file ends inside a record")


def _truncated(where: str, state: _Pass, detail: str) -> Reject:
    uri = where.partition("#offset=")[0]
    return Reject(
        source_uri=where,
        stage="read",
        reason="truncated_record",
        message=f"{where}: the record is cut short ({detail}); the {state.emitted} documents "
        f"before it were read; re-download {uri} to read the rest",
    )


def archive_format(head: bytes) -> str | None:
    """ "warc" or "arc" from a file's first bytes (gzip members are looked into), None when it
    is neither: warcio would read any text as an ARC record."""
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error:
            return None
    head = head.lstrip(b"\r\n \t")
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"filedesc://"):
        return "arc"
    return None


def warc_documents(
    uri: str,
    open_stream: Callable[[], BinaryIO],
    max_bytes: int,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[RawDocument | Reject]:
    """Every document of a WARC or ARC file (see the module docstring), or with `start` and
    `stop` (offsets from `split_points`) of the records that start in between. `open_stream`
    opens the file as stored; it is called again for the pass over the records and for a
    whole-file gzip stream, and the caller closes what it opened. Never raises for bad content;
    an unreadable file raises OSError."""
    if start or stop is not None:
        state = _Pass()
        try:
            stream = open_stream()
            stream.seek(start)
            yield from _records(uri, _Tail(stream, start), max_bytes, 0, state, stop)
        except Exception as error:  # warcio fails in many ways on damaged bytes
            yield _broken(uri, state, error)
        return
    head = open_stream().read(1 << 16)
    if archive_format(head) is None:
        empty = not head.strip(b"\r\n \t\x00")
        yield Reject(
            source_uri=uri,
            stage="read",
            reason="empty_file" if empty else "not_warc",
            message=f"{uri}: "
            + (
                "the file is empty; nothing to read"
                if empty
                else "not a WARC or ARC file (it starts with neither `WARC/` nor `filedesc://`); "
                "remove it from the input pattern"
            ),
            excerpt=head[:300].decode("utf-8", errors="replace"),
        )
        return
    state = _Pass()
    try:
        yield from _records(uri, _Tail(open_stream()), max_bytes, 0, state)
        return
    except ArchiveLoadFailed as error:
        if "non-chunked gzip" not in str(error):
            yield _broken(uri, state, error)
            return
    except Exception as error:  # warcio fails in many ways on damaged bytes
        yield _broken(uri, state, error)
        return
    skip, state = state.seen, _Pass()
    try:
        stream = _Tail(_Gunzip(open_stream()))  # type: ignore[arg-type]
        yield from _records(uri, stream, max_bytes, skip, state)
    except Exception as error:
        yield _broken(uri, state, error)


def split_points(stream: BinaryIO, documents: int) -> list[int]:
    """Offsets at which a WARC file can be cut into parts of `documents` document records each
    (the first part starts at 0): the start of every `documents`-th document record after the
    first. Only record headers are parsed (warcio skips the bodies). `[0]` (one part) for a
    whole-file gzip stream, which cannot be entered in the middle; damage ends the list early
    (the part that holds it rejects it when read)."""
    points, count = [0], 0
    records = ArchiveIterator(stream, arc2warc=True)
    try:
        for record in records:
            if record.rec_type not in DOCUMENT_RECORDS:
                continue
            if count == documents:
                points.append(records.offset)
                count = 0
            count += 1
    except ArchiveLoadFailed as error:
        if "non-chunked gzip" in str(error):
            return [0]
    except Exception:  # damage: the parts found so far are sound
        pass
    return points


def _broken(uri: str, state: _Pass, error: Exception) -> Reject:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    return _truncated(f"{uri}#offset={state.failed_at}", state, f"warcio: {detail}")
