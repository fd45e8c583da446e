"""WARC files for tests and `make bench`: writing pages into a WARC, and timing how fast newsbeam
reads one back.

    python -m newsbeam.pipeline.bench.warc_bench [--mb 1000] \\
        [--benchmark ../shared/benchmarks/aeb-dev]

builds a crawl-shaped WARC (one gzip member per record: warcinfo, then a request and a response
per page) of about `--mb` MB from the development pages, each page repeated under its own URL,
then reads it in a fresh process per reader and prints MB/s (of the file as stored) and peak RSS:
- `newsbeam`: `transforms.warc.warc_documents`, what the pipeline's read step does per file
  (parse, decode, repair each response into a RawDocument);
- `warcio`, `fastwarc`: each library alone, reading every record's payload (FastWARC comes with
  resiliparse; it is skipped when not installed).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CRAWL_DATE = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)


def warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_response(
    writer: WARCWriter,
    url: str,
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    status: str = "200 OK",
    when: datetime = CRAWL_DATE,
    with_request: bool = True,
) -> None:
    """A response record (and the request before it, as crawlers write them)."""
    date = warc_date(when)
    if with_request:
        request = StatusAndHeaders(
            "GET / HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True
        )
        writer.write_record(
            writer.create_warc_record(
                url, "request", http_headers=request, warc_headers_dict={"WARC-Date": date}
            )
        )
    headers = [("Content-Length", str(len(body)))]
    if content_type is not None:
        headers.insert(0, ("Content-Type", content_type))
    writer.write_record(
        writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": date},
        )
    )


def write_warc(
    path: Path, pages: Iterable[tuple[str, bytes]], compress: bool = True, requests: bool = True
) -> int:
    """A WARC of `pages` ((url, HTML bytes) each): a warcinfo record, then a request and a
    response per page; one gzip member per record when `compress`. Returns the pages written."""
    count = 0
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=compress)
        writer.write_record(
            writer.create_warcinfo_record(path.name, {"software": "newsbeam tests"})
        )
        for url, body in pages:
            write_response(writer, url, body, with_request=requests)
            count += 1
    return count


def sample_pages(html_dir: Path) -> list[tuple[str, bytes]]:
    """(url, HTML bytes) of the development pages: the URL from ground-truth.json."""
    truth = json.loads((html_dir.parent / "ground-truth.json").read_text())
    pages = []
    for page in sorted(html_dir.glob("*.html.gz")):
        key = page.name.removesuffix(".html.gz")
        pages.append((truth[key]["url"], gzip.decompress(page.read_bytes())))
    return pages


def build_warc(path: Path, html_dir: Path, megabytes: int) -> dict:
    """A WARC of about `megabytes` MB (as stored): the sample pages over and over, each copy under
    its own URL, so that every response is a distinct record."""
    pages = sample_pages(html_dir)
    target = megabytes * 1_000_000
    started = time.perf_counter()
    count = 0
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "newsbeam"}))
        while handle.tell() < target:
            url, body = pages[count % len(pages)]
            write_response(writer, f"{url}#copy={count}", body)
            count += 1
    return {
        "bytes": path.stat().st_size,
        "responses": count,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def read_newsbeam(path: Path) -> int:
    from newsbeam.transforms.warc import warc_documents

    with ExitStack() as opened:
        records = warc_documents(
            str(path), lambda: opened.enter_context(path.open("rb")), 50_000_000
        )
        return sum(1 for _ in records)


def read_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    count = 0
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                record.content_stream().read()
                count += 1
    return count


def read_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    count = 0
    with path.open("rb") as handle:
        records = ArchiveIterator(handle, record_types=WarcRecordType.response, parse_http=True)
        for record in records:
            record.reader.read()
            count += 1
    return count


READERS = {"newsbeam": read_newsbeam, "warcio": read_warcio, "fastwarc": read_fastwarc}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_reader(reader: str, path: Path) -> dict:
    """One reader over the whole file: wall and CPU time (on a shared machine the CPU figure is
    the steadier one), MB/s of each, and the process's peak RSS."""
    started, cpu = time.perf_counter(), cpu_seconds()
    records = READERS[reader](path)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    size = path.stat().st_size
    return {
        "reader": reader,
        "records": records,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "mb_per_s": round(size / 1_000_000 / seconds, 1),
        "mb_per_cpu_s": round(size / 1_000_000 / cpu, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_reader(reader: str, path: Path) -> dict | None:
    """`measure_reader` in a fresh process, so that its peak RSS is its own; None when the reader
    is not installed."""
    done = subprocess.run(
        [sys.executable, "-m", "newsbeam.pipeline.bench.warc_bench", "measure", reader, str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if "ModuleNotFoundError" in done.stderr:
            return None
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_warc(html_dir: Path, megabytes: int, folder: Path) -> dict:
    """Build a WARC of about `megabytes` MB in `folder` and read it with every reader."""
    path = folder / f"bench-{megabytes}mb.warc.gz"
    built = build_warc(path, html_dir, megabytes)
    readers = [r for name in READERS if (r := run_reader(name, path)) is not None]
    return {"file": built, "readers": readers}


def warc_table(result: dict) -> str:
    built = result["file"]
    lines = [
        f"WARC read: {built['bytes'] / 1e6:,.0f} MB gzipped WARC, {built['responses']:,} "
        f"responses (built in {built['build_seconds']} s)",
        f"{'reader':<12}{'MB/s':>8}{'records/s':>11}{'seconds':>9}{'MB/CPU-s':>10}"
        f"{'peak RSS MiB':>14}",
    ]
    for run in result["readers"]:
        lines.append(
            f"{run['reader']:<12}{run['mb_per_s']:>8.1f}{run['records'] / run['seconds']:>11,.0f}"
            f"{run['seconds']:>9.1f}{run['mb_per_cpu_s']:>10.1f}{run['peak_rss_mb']:>14.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["measure"]:
        print(json.dumps(measure_reader(argv[1], Path(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m newsbeam.pipeline.bench.warc_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--mb", type=int, default=1000, help="size of the WARC to build, in MB")
    parser.add_argument(
        "--file", type=Path, help="read this WARC instead of building one (e.g. a real crawl)"
    )
    parser.add_argument(
        "--benchmark",
        type=Path,
        default=Path("../shared/benchmarks/aeb-dev"),
        help="development pages to fill the WARC with",
    )
    args = parser.parse_args(argv)
    if args.file:
        size = args.file.stat().st_size
        built = {"bytes": size, "responses": read_warcio(args.file), "build_seconds": 0}
        runs = [r for name in READERS if (r := run_reader(name, args.file)) is not None]
        result = {"file": built, "readers": runs}
    else:
        with tempfile.TemporaryDirectory(prefix="newsbeam-warc-") as folder:
            result = bench_warc(args.benchmark / "html", args.mb, Path(folder))
    print(warc_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
