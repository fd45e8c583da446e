"""Combining extractors: the base chosen by agreement, lines kept by support, parsers failing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.schemas import RawDocument
from newsbeam.transforms import candidates
from newsbeam.transforms.candidates import (
    DEFAULT,
    PRECISION,
    READABILITY,
    RESILIPARSE,
    combine,
    run_candidates,
)
from newsbeam.transforms.extract import ExtractionError, extract_article, html_candidates

STORY = [
    "The council voted on Tuesday to approve the new transit budget after a long debate.",
    "Supporters said the plan would add bus routes to the eastern districts by next spring.",
    "Opponents argued that the fare increase would fall hardest on low-income riders.",
]
SIDEBAR = "Subscribe to our newsletter for the latest headlines every morning"


def test_a_line_stays_when_a_majority_of_the_other_extractors_hold_it():
    texts = {
        PRECISION: "\n".join([*STORY, SIDEBAR]),
        DEFAULT: "\n".join([*STORY, SIDEBAR]),
        READABILITY: "\n".join(STORY),
        RESILIPARSE: " ".join(STORY),  # other line breaks: held all the same
    }
    combined = combine(texts)
    assert combined.text.split("\n") == STORY
    assert combined.dropped == (SIDEBAR,)


def test_a_short_line_is_held_only_as_a_whole():
    texts = {
        PRECISION: "\n".join(["Tour dates", *STORY]),
        DEFAULT: "\n".join(STORY),
        READABILITY: "\n".join(["Tour dates", *STORY]),
        RESILIPARSE: "\n".join(["Tour", *STORY]),
    }
    assert combine(texts, min_support=2).dropped == ("Tour dates",)
    assert combine(texts, min_support=1).dropped == ()


def test_the_base_is_the_trafilatura_mode_the_independent_extractors_agree_with():
    lead_only = STORY[0]
    whole = "\n".join(STORY)
    agree_with_default = {
        PRECISION: lead_only,
        DEFAULT: whole,
        READABILITY: whole,
        RESILIPARSE: whole,
    }
    assert combine(agree_with_default).base == DEFAULT
    assert combine(agree_with_default).text == whole
    tie = {PRECISION: whole, DEFAULT: whole, READABILITY: "", RESILIPARSE: ""}
    assert combine(tie).base == PRECISION
    assert combine({PRECISION: whole, DEFAULT: "", READABILITY: whole}).base == PRECISION
    assert combine({PRECISION: "", DEFAULT: whole, READABILITY: whole}).base == DEFAULT


def test_without_trafilatura_text_the_longest_other_candidate_is_the_base():
    texts = {PRECISION: "", DEFAULT: "", READABILITY: "\n".join(STORY), RESILIPARSE: STORY[0]}
    combined = combine(texts)
    assert combined.base == READABILITY
    assert combined.text.split("\n") == [STORY[0]]  # the one witness left must hold a line
    assert combine({PRECISION: "", DEFAULT: "", READABILITY: " \n"}).base is None


def test_an_extractor_that_fails_is_empty_and_the_others_still_run(monkeypatch):
    def broken(html: str) -> str:
        raise ValueError("cannot parse")

    monkeypatch.setitem(candidates.EXTRACTORS, READABILITY, broken)
    html = (
        "<html><body><article>" + "".join(f"<p>{s}</p>" for s in STORY) + "</article></body></html>"
    )
    texts = run_candidates(html)
    assert texts[READABILITY] == ""
    assert STORY[1] in texts[RESILIPARSE]
    assert STORY[1] in texts[DEFAULT]


PARAGRAPHS = "".join(f"<p>{' '.join(STORY)} {n}</p>" for n in range(4))


@pytest.mark.parametrize(
    "html",
    [
        # an internal DTD subset: trafilatura's parser gives up on the page
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html [<!ENTITY x "y">]>'
        f"<html><body><article>{PARAGRAPHS}</article></body></html>",
        f"<html><body><article>{PARAGRAPHS}</article></body></html>",
    ],
    ids=["trafilatura-cannot-parse", "plain"],
)
def test_a_page_one_parser_cannot_read_goes_to_the_next(html):
    doc = RawDocument(source_uri="page.html", kind="html", content=html, encoding="utf-8")
    texts, _ = html_candidates(doc)
    assert bool(texts[PRECISION]) == ("ENTITY" not in html)
    fields = extract_article(doc)
    assert STORY[2] in fields["body"]
    assert "ENTITY" not in fields["body"]


def test_a_page_no_extractor_finds_text_in_is_an_extraction_error():
    doc = RawDocument(
        source_uri="empty.html", kind="html", content="<html><body></body></html>", encoding="utf-8"
    )
    with pytest.raises(ExtractionError, match="no extractor"):
        extract_article(doc)


LINES = [*STORY, SIDEBAR, "Tour dates", "Related: Ten Things to Know", "Share this", ""]


def lazy_combine(texts: dict[str, str]) -> tuple[candidates.Combined, bool]:
    """combine() with readability given as a candidate not yet run; and whether it ran."""
    ran = []
    given = {name: text for name, text in texts.items() if name != READABILITY}

    def readability() -> str:
        ran.append(True)
        return texts[READABILITY]

    return combine(given, later={READABILITY: readability}), bool(ran)


def test_readability_runs_only_when_the_others_leave_the_text_undecided():
    agreed = "\n".join(STORY)
    settled = {PRECISION: agreed, DEFAULT: agreed, READABILITY: agreed, RESILIPARSE: agreed}
    assert lazy_combine(settled) == (combine(settled), False)
    split = {**settled, DEFAULT: "\n".join([*STORY, SIDEBAR]), RESILIPARSE: SIDEBAR}
    result, ran = lazy_combine(split)
    assert ran and result == combine(split)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(LINES), max_size=7).map("\n".join), min_size=4, max_size=4)
)
def test_lazy_readability_gives_the_same_text_as_running_every_candidate(four):
    texts = dict(zip((PRECISION, DEFAULT, READABILITY, RESILIPARSE), four, strict=True))
    assert lazy_combine(texts)[0] == combine(texts)


def test_trafilatura_parses_the_page_once_for_both_of_its_runs(monkeypatch):
    """The two trafilatura runs share one parse (the real parser, counted): same texts as each
    run on the markup."""
    import trafilatura.core
    import trafilatura.utils

    real = trafilatura.utils.load_html
    parses = []

    def counted(page, *args, **kwargs):
        if isinstance(page, str | bytes):
            parses.append(True)
        return real(page, *args, **kwargs)

    monkeypatch.setattr(trafilatura.utils, "load_html", counted)
    monkeypatch.setattr(trafilatura.core, "load_html", counted)
    html = f"<html><body><article>{PARAGRAPHS}</article><footer>{SIDEBAR}</footer></body></html>"
    doc = RawDocument(source_uri="page.html", kind="html", content=html, encoding="utf-8")
    texts, _ = html_candidates(doc, lazy=True)
    assert len(parses) == 1
    monkeypatch.undo()
    assert texts[DEFAULT] == candidates.EXTRACTORS[DEFAULT](html)
    assert texts[PRECISION] == candidates._trafilatura(html, favor_precision=True)
