"""WARC end to end: the development pages written into a crawl-shaped WARC with warcio's writer
and read by the real CLI give the same articles and bodies as the same pages read as HTML files;
a rerun reads nothing new; the same pages as HTML files into the WARC's output are duplicates."""

from __future__ import annotations

import json
import re

import duckdb
import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from newsbeam.pipeline.bench.warc_bench import CRAWL_DATE, sample_pages, write_response
from tests.conftest import ROOT, SEEDS, read_manifest, run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ROOT.parent / "shared" / "benchmarks" / "aeb-dev").exists(),
        reason="needs ../shared/benchmarks/aeb-dev beside the repo",
    ),
]
HTML = ROOT.parent / "shared" / "benchmarks" / "aeb-dev" / "html"


def articles(output) -> list[dict]:
    return ds.dataset(output / "articles", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One WARC of the 60 pages (per-record gzip, with warcinfo, request, a 404 and an image
    response) read beside two seed .txt files, in parts of 25 records; the same pages read as
    .html.gz files in one chunk; the WARC run again; and five of the pages as HTML files into
    the WARC's output."""
    folder = tmp_path_factory.mktemp("warc-e2e")
    pages = sample_pages(HTML)
    crawl = folder / "in" / "crawl.warc.gz"
    crawl.parent.mkdir()
    with crawl.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(crawl.name, {"software": "tests"}))
        for number, (url, body) in enumerate(pages):
            write_response(writer, url, body)
            if number == 10:
                write_response(writer, url + "-gone", b"<html></html>", status="404 Not Found")
                write_response(writer, url + ".jpg", b"\xff\xd8\xff\xe0", "image/jpeg")
    for seed in SEEDS[:2]:
        (crawl.parent / seed.name).write_bytes(seed.read_bytes())
    warc_out, html_out = folder / "warc-out", folder / "html-out"
    # 25 records per chunk: the WARC is read in three parts, one chunk each.
    inputs = ["--input", str(crawl), "--input", str(crawl.parent / "*.txt"), "--chunk-files", "25"]
    first = run_cli("run", *inputs, "--output", str(warc_out))
    assert first.returncode == 0, first.stderr
    assert "chunk 4/4" in first.stderr  # the seeds, then the three parts of the WARC
    manifest = read_manifest(warc_out)
    warc_articles = articles(warc_out)
    html = run_cli("run", "--input", str(HTML / "*.html.gz"), "--output", str(html_out))
    assert html.returncode == 0, html.stderr
    again = run_cli("run", *inputs, "--output", str(warc_out))
    assert again.returncode == 0, again.stderr
    rerun = read_manifest(warc_out)
    written = {a["url"] for a in warc_articles}
    truth = json.loads((HTML.parent / "ground-truth.json").read_text())
    five = [key for key in sorted(truth) if truth[key]["url"] in written][:5]
    copies = folder / "copies"
    copies.mkdir()
    for key in five:
        (copies / f"{key}.html.gz").write_bytes((HTML / f"{key}.html.gz").read_bytes())
    dup = run_cli("run", "--input", str(copies / "*.html.gz"), "--output", str(warc_out))
    assert dup.returncode == 0, dup.stderr
    return {
        "crawl": crawl,
        "manifest": manifest,
        "warc": warc_articles,
        "html": articles(html_out),
        "html_manifest": read_manifest(html_out),
        "rerun": rerun,
        "copies": read_manifest(warc_out),
        "truth": truth,
        "warc_out": warc_out,
    }


def test_the_warc_gives_the_same_articles_and_bodies_as_the_html_files(runs):
    url_of = {key: record["url"] for key, record in runs["truth"].items()}
    from_html = {
        url_of[re.search(r"([0-9a-f]{64})\.html\.gz", a["source_uri"])[1]]: a for a in runs["html"]
    }
    from_warc = {a["url"]: a for a in runs["warc"] if "#offset=" in a["source_uri"]}
    assert len(from_warc) == len(from_html) >= 50
    assert from_warc.keys() == from_html.keys()
    for url, article in from_warc.items():
        assert article["body"] == from_html[url]["body"], url
        assert article["title"] == from_html[url]["title"], url
        assert article["published_at"] == from_html[url]["published_at"], url
    html_counts = runs["html_manifest"]["counts"]
    counts = runs["manifest"]["counts"]
    assert counts["rejected_by_stage"].get("extract") == html_counts["rejected_by_stage"].get(
        "extract"
    )
    assert counts["duplicates"] == html_counts["duplicates"]


def test_the_ledger_counts_response_records_and_the_seeds(runs):
    counts = runs["manifest"]["counts"]
    assert counts["read"] == 60 + 2 + 2  # 60 pages, a 404, an image; two seed .txt files
    assert counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
    assert counts["rejected_by_reason"]["http_status_404"] == 1
    assert counts["rejected_by_reason"]["not_html"] == 1
    assert sum(1 for a in runs["warc"] if "#offset=" not in a["source_uri"]) == 2


def test_each_article_keeps_its_crawl_time_and_can_be_found_again(runs):
    warc = [a for a in runs["warc"] if "#offset=" in a["source_uri"]]
    assert {a["crawled_at"] for a in warc} == {CRAWL_DATE}
    assert {a["crawled_at"] for a in runs["warc"] if a not in warc} == {None}
    with runs["crawl"].open("rb") as handle:
        for article in warc[:10]:
            handle.seek(int(article["source_uri"].rpartition("=")[2]))
            record = next(iter(ArchiveIterator(handle)))
            assert record.rec_type == "response"
            assert record.rec_headers.get_header("WARC-Target-URI") == article["url"]


def test_a_rerun_reads_nothing_new(runs):
    counts = runs["rerun"]["counts"]
    assert (counts["read"], counts["written"], counts["skipped"]) == (0, 0, 3)


def test_the_same_pages_as_html_files_are_duplicates_of_the_warc_articles(runs):
    counts = runs["copies"]["counts"]
    assert (counts["read"], counts["written"]) == (5, 0)
    assert counts["duplicates_by_reason"] == {"already_in_output": 5}


def test_the_readme_query_lists_articles_by_outlet_and_crawl_date(runs):
    rows = duckdb.sql(f"""
        select source, crawled_at::date as crawl_date, count(*) as articles
        from read_parquet('{runs["warc_out"]}/articles/**/*.parquet', hive_partitioning = true)
        where crawled_at is not null
        group by all order by articles desc, source""").fetchall()
    assert sum(n for _, _, n in rows) == len([a for a in runs["warc"] if a["crawled_at"]])
    assert {day for _, day, _ in rows} == {CRAWL_DATE.date()}
