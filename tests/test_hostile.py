"""Hostile input past Read: huge and deeply nested documents, lines built to make regular
expressions backtrack, dates out of range, sources built to escape the output folder.

Each case runs the pure function in a forked child under a CPU-time bound (tests/bounded.py).
Inputs that were once super-linear in the cleaner are kept as regression cases.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.schemas import MAX_BODY_CHARS, UNDATED, RawDocument, Reject
from newsbeam.schemas.layout import partition_dir
from newsbeam.transforms import metadata as meta
from newsbeam.transforms.cleaner import clean_text
from newsbeam.transforms.extract import ExtractTextFn, extract_article
from newsbeam.transforms.validate import validate_article
from tests.bounded import CPU_BOUND_SMALL, run_bounded

NOW = datetime(2024, 6, 1, tzinfo=UTC)
PARAGRAPH = (
    "Officials met on Tuesday to discuss the budget for the coming year, and one of them said "
    "the talks had been productive. "
)
ARTICLE = "\n\n".join(PARAGRAPH + f"It was meeting number {i}." for i in range(4))


def doc(content: str, kind: str = "text", **fields) -> RawDocument:
    return RawDocument(source_uri="in/x", kind=kind, content=content, encoding="utf-8", **fields)


# --- size and nesting ----------------------------------------------------------------------


def test_an_article_longer_than_the_body_limit_is_rejected_with_a_reason():
    """Chosen: reject, not split or truncate. A body over 1,000,000 characters is not one news
    story, and entities must cover the whole body (NER reads MAX_NER_CHARS = 1,000,000)."""
    paragraphs = [f"{PARAGRAPH}Meeting {i} ended late." for i in range(MAX_BODY_CHARS // 100)]
    fields = extract_article(doc("\n\n".join(paragraphs)), NOW)
    assert len(fields["body"]) > MAX_BODY_CHARS
    reject = validate_article(fields)
    assert isinstance(reject, Reject)
    assert (reject.stage, reject.reason) == ("validate", "body:string_too_long")
    assert "at most 1000000 characters" in reject.message


def _extract_or_reject(html: str) -> list:
    return [type(r).__name__ for r in ExtractTextFn().process(doc(html, kind="html"))]


@pytest.mark.parametrize("tag", ["div", "span", "table"])
def test_html_nested_100000_deep_is_rejected_in_bounded_time(tag):
    """libxml2 stops at depth 256, so the page has no main text: `no_article_found`."""
    html = f"<html><body>{f'<{tag}>' * 100_000}<p>{PARAGRAPH}</p>{f'</{tag}>' * 100_000}"
    outcome, _cpu = run_bounded(
        lambda: [r.reason for r in ExtractTextFn().process(doc(html, kind="html"))],
        cpu_seconds=CPU_BOUND_SMALL,
    )
    assert outcome == ["no_article_found"]


def test_an_article_after_300_unclosed_inline_tags_is_extracted():
    """libxml2 (trafilatura, readability) stops at depth 256; resiliparse reads on."""
    html = "<html><body>" + "<b>" * 300 + "".join(f"<p>{p}</p>" for p in ARTICLE.split("\n\n"))
    assert "meeting number 3" in extract_article(doc(html, kind="html"), NOW)["body"]


# --- lines built to make regular expressions backtrack -------------------------------------

BACKTRACKING = {
    "a-run": "a" * 1_000_000,
    "space-run": " " * 1_000_000 + "x",
    "dot-run": "." * 1_000_000,
    "quote-run": "." + '"' * 1_000_000 + "x",
    "dash-run": "-" * 1_000_000,
    "read-more-one-line": "Read more " * 20_000,
    "read-more-lines": "Read more \n" * 20_000,
    "read-more-arrows": ("Read more " + " " * 50 + "»" + " " * 50 + "x ") * 5_000,
    "open-parens": "(" * 500_000 + "[" * 500_000,
    "close-brackets": "]" * 500_000 + ")" * 500_000,
    "lt-run": "<" * 1_000_000,
    "p-tag-opens": "<p" * 300_000,
    "p-tags-spaced": ("<p" + " " * 50) * 20_000,
    "half-tags": "/p" * 500_000,
    "entities": "&" * 500_000 + "&#" * 200_000,
    "escapes": "\\u" * 500_000,
    "bylines": "\n".join(f"By Alice Smith{i}, Reuters" for i in range(2_000)),
    "copyright": "© " * 300_000,
    "dates": "\n".join(f"Published March {1 + i % 28}, 2023 at 4:05 pm ET" for i in range(5_000)),
    "email-like": "a" * 200_000 + "@" + "b" * 200_000,
    "capitals": "BEIJING " * 100_000 + "— x",
    "wrapped-short": "Officials met.\nthe talks went on\n" * 20_000,
}


@pytest.mark.parametrize("name", sorted(BACKTRACKING))
def test_backtracking_bait_is_cleaned_in_bounded_time(name):
    text = BACKTRACKING[name]
    result, cpu = run_bounded(lambda: clean_text(text), cpu_seconds=CPU_BOUND_SMALL)
    assert cpu < CPU_BOUND_SMALL
    assert sum(len(p) for p in result.paragraphs) <= len(text)


# Each of these took minutes before the cleaner was made linear (quadratic backtracking after
# '<', re-scanning a growing hard-wrapped paragraph, list membership over many bylines). The
# linear cleaner needs up to 2.4 s of CPU on a slow 2-core machine (many-bylines: 40,000 lines
# classified and audited, about 50 µs each; 2.1 s at 40,000 lines, 0.9 s at 20,000), so the child
# is stopped at CASE_BOUND: four times that, far below minutes.
CASE_BOUND = 10
ONCE_SUPER_LINEAR = {
    "lt-then-white-space": "<" + " " * 100_000,
    "hard-wrapped-lines": "word\n" * 100_000,
    "many-bylines": "\n".join(
        f"By Alice Smith{i} and Bob Jones{i}, Reuters" for i in range(40_000)
    ),
}


@pytest.mark.parametrize("name", list(ONCE_SUPER_LINEAR))
def test_once_super_linear_inputs_are_cleaned_in_bounded_time(name):
    text = ONCE_SUPER_LINEAR[name]
    run_bounded(lambda: clean_text(text), cpu_seconds=CASE_BOUND)


def test_the_cleaner_outputs_valid_unicode_for_escaped_surrogate_pairs():
    result = clean_text(f"He wrote \\ud83d\\ude00 on Tuesday. {PARAGRAPH}")
    result.body.encode("utf-8")


def test_escaped_surrogate_pairs_still_reach_the_article_as_one_character():
    article = validate_article(extract_article(doc(f"He wrote \\ud83d\\ude00. {ARTICLE}"), NOW))
    assert "He wrote 😀." in article.body
    article.body.encode("utf-8")


# --- dates ---------------------------------------------------------------------------------

FAR_DATES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, tzinfo=UTC),
    datetime(2999, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("when", FAR_DATES, ids=lambda d: d.isoformat())
def test_a_given_date_far_in_the_past_or_future_is_dropped_and_audited(when):
    article = validate_article(extract_article(doc(ARTICLE, published_at=when), NOW))
    assert article.published_at is None and article.published_date == UNDATED
    assert [(b.kind, b.rule) for b in article.boilerplate if b.kind == "date_rejected"] == [
        ("date_rejected", "date_out_of_range:given")
    ]


@pytest.mark.parametrize(
    "meta_date", ["0001-01-01", "9999-12-31T23:59:59-12:00", "0000-00-00", "1899-12-31"]
)
def test_an_html_date_far_off_or_impossible_leaves_the_article_undated(meta_date):
    html = (
        f'<html><head><meta property="article:published_time" content="{meta_date}"></head>'
        f"<body><article>{''.join(f'<p>{p}</p>' for p in ARTICLE.split(chr(10) * 2))}</article>"
    )
    article = validate_article(extract_article(doc(html, kind="html"), NOW))
    assert article.published_at is None
    assert "meeting number 3" in article.body


@pytest.mark.parametrize(
    "line", ["Published March 2, 2099", "date 1901-01-01", "Updated January 1, 1950 at 4:05 pm"]
)
def test_a_date_line_far_off_is_removed_and_audited(line):
    article = validate_article(extract_article(doc(f"{line}\n\n{ARTICLE}"), NOW))
    assert article.published_at is None
    assert line not in article.body
    assert any(b.kind == "date_rejected" for b in article.boilerplate)


# --- sources that try to leave the output folder -------------------------------------------

HOSTILE_SOURCES = [
    "../../etc",
    "..",
    ".",
    "/",
    "a/b/c",
    "/etc/passwd",
    "C:\\Windows\\System32",
    "..\\..\\boot.ini",
    "%2e%2e%2f%2e%2e%2f",
    "source=x/../../y",
    "\x00\x1b[31mred\x07",
    "\u202etxt.exe",
    "‥/‥/",
    "ﾟ.ﾟ",
    "   ",
    "-",
    "a" * 500,
]


def _inside(output: str, path: str) -> bool:
    root = os.path.realpath(output)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_a_hostile_source_becomes_a_safe_partition_value(source, tmp_path):
    article = validate_article(extract_article(doc(ARTICLE, source=source), NOW))
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", article.source)
    directory = partition_dir(
        str(tmp_path),
        "articles",
        [("published_date", article.published_date), ("source", article.source)],
    )
    assert _inside(str(tmp_path), directory)
    assert directory.count("/") == str(tmp_path).count("/") + 3


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(st.text(max_size=80))
def test_any_source_name_slugs_to_one_safe_path_segment(name):
    slug = meta.slugify(name)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", slug)
