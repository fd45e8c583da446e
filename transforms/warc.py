"""WARC and ARC files → RawDocuments: one per HTML `response` (or `resource`) record, streamed.

Pure functions, no Beam; `transforms.read` calls `warc_documents` for `.warc`, `.warc.gz`,
`.arc` and `.arc.gz` inputs. Records are parsed by warcio (one gzip member per record, as
crawlers write them; ARC records are converted to WARC by warcio), one at a time, so a file of
any size is read in the memory of its largest record (bodies over `max_bytes` are rejected
unread). A whole-file gzip stream, which warcio refuses (it cannot seek into it), is read again
through Python's gzip module; its offsets are then into the decompressed stream.

Which records are documents, and what becomes of them:
- `response` and `resource` records are documents: each is one RawDocument (kind html) or one
  Reject; the ledger counts them as read;
- `warcinfo`, `request`, `metadata`, `revisit`, `conversion`, `continuation` are not documents
  (a revisit holds no payload): skipped, not counted;
- rejected, with the reason and a message naming `FILE#offset=N`: HTTP status other than 2xx
  (`http_status_404`, "http status 404"), a body that is not HTML (`not_html`, "not html:
  image/jpeg"), an empty body (`empty_body`), a body over `max_bytes` (`too_large`), bytes that
  are not text (`binary_file`), a record shorter than its Content-Length or a broken gzip member
  (`truncated_record`: the records before it are kept), and a file that warcio cannot parse
  past some point (`corrupt_warc`, naming the offset: the records before it are kept).

Decoding an HTML body: the HTTP Content-Type charset, then the page's own `<meta charset>`, each
only if the bytes decode cleanly in it (UTF-8 wins over a declared single-byte Western charset
when the bytes are valid UTF-8: that label is the commonest wrong one), then
`transforms.encoding.decode_bytes` (detection), as for HTML files.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from schemas import RawDocument, Reject
from transforms.encoding import Decoded, DecodeError, decode_bytes, repair_text

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
    """One `response` or `resource` record → a RawDocument, or a Reject saying why not."""
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
    try:
        body, complete = _read_body(record, max_bytes)
    except _Truncated as error:
        return reject(
            "truncated_record",
            f"the record is cut short ({error}); the records before it were read; "
            "re-download the file",
        )
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


def _records(
    uri: str, stream: BinaryIO, max_bytes: int, skip: int, seen: list[int]
) -> Iterator[RawDocument | Reject]:
    """The documents of one pass over a stream; `seen[0]` counts the records passed (documents
    or not), and the first `skip` of them are passed over (they were read by an earlier pass)."""
    records = ArchiveIterator(stream, arc2warc=True)
    for record in records:
        seen[0] += 1
        if seen[0] <= skip or record.rec_type not in DOCUMENT_RECORDS:
            continue
        where = f"{uri}#offset={records.offset}"
        document = record_document(where, record, max_bytes)
        yield document
        if isinstance(document, Reject) and document.reason == "truncated_record":
            return  # what follows a cut-short record is not a record


def warc_documents(
    uri: str, open_stream: Callable[[], BinaryIO], max_bytes: int
) -> Iterator[RawDocument | Reject]:
    """Every document of a WARC or ARC file (see the module docstring). `open_stream` opens the
    file as stored; it is called once more for a whole-file gzip stream, and the caller closes
    what it opened. Never raises for bad content; an unreadable file raises OSError."""
    seen = [0]
    emitted = 0
    try:
        for document in _records(uri, open_stream(), max_bytes, 0, seen):
            emitted += 1
            yield document
    except ArchiveLoadFailed as error:
        if "non-chunked gzip" not in str(error):
            yield _corrupt(uri, seen[0], emitted, error)
            return
        try:
            stream = gzip.GzipFile(fileobj=open_stream())
            yield from _records(uri, stream, max_bytes, seen[0], [0])
        except (ArchiveLoadFailed, EOFError, zlib.error, gzip.BadGzipFile) as error:
            yield _corrupt(uri, seen[0], emitted, error)
        return
    if seen[0] == 0:
        yield Reject(
            source_uri=uri,
            stage="read",
            reason="empty_file",
            message=f"{uri}: no WARC records in the file (empty or white space); nothing to read",
        )


def _corrupt(uri: str, seen: int, emitted: int, error: Exception) -> Reject:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    if seen == 0:
        return Reject(
            source_uri=uri,
            stage="read",
            reason="not_warc",
            message=f"{uri}: not a WARC or ARC file ({detail}); remove it from the input pattern",
        )
    return Reject(
        source_uri=f"{uri}#record={seen + 1}",
        stage="read",
        reason="corrupt_warc",
        message=f"{uri}: cannot parse record {seen + 1} ({detail}); the {emitted} documents "
        "before it were read, the rest of the file is lost; re-download the file",
    )
