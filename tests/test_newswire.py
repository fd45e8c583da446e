"""Wire stories given as plain text (tests/newswire/, written for these tests): the cleaner keeps
their results tables, standings and lists of scores, and the pipeline finds at least the entities
its spaCy model finds on the raw text."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from newsbeam.schemas.text import tokens
from newsbeam.transforms import metadata as meta
from newsbeam.transforms.enrich import (
    DEFAULT_MODEL,
    EnrichEntities,
    entities_from_spans,
    load_ner,
)
from newsbeam.transforms.extract import extract_article
from newsbeam.transforms.read import parse_file
from newsbeam.transforms.validate import validate_article

STORIES = sorted((Path(__file__).parent / "newswire").glob("*.txt"))


def article(path: Path) -> dict:
    (doc,) = parse_file(f"newswire/{path.name}", path.read_bytes())
    return extract_article(doc)


def story_lines(path: Path) -> list[str]:
    """The story's lines: every line but its copyright notice (boilerplate by its content)."""
    return [
        line
        for line in path.read_text().splitlines()
        if tokens(line) and not meta.is_copyright(line)
    ]


def test_the_set_holds_fifteen_stories():
    assert len(STORIES) == 15


@pytest.mark.parametrize("path", STORIES, ids=lambda p: p.stem)
def test_the_cleaner_keeps_every_line_of_a_wire_story(path):
    body = f" {' '.join(tokens(article(path)['body']))} "
    lost = [line for line in story_lines(path) if f" {' '.join(tokens(line))} " not in body]
    assert lost == []


def raw_entities(path: Path) -> set[tuple[str, str]]:
    """(text, label) of what the model finds on the raw story, outside its copyright notice."""
    raw = path.read_text()
    nlp = load_ner(DEFAULT_MODEL)
    spans = [(e.text, e.label_, e.start_char, e.end_char) for e in nlp(raw).ents]
    kept = " ".join(story_lines(path))
    return {(e.text, e.label) for e in entities_from_spans(spans) if e.text in kept}


def test_pipeline_entities_include_the_models_entities_on_the_raw_text():
    articles = [validate_article(article(path)) for path in STORIES]
    expected = {f"newswire/{path.name}": raw_entities(path) for path in STORIES}

    def check(enriched):
        found = {a.source_uri: {(e.text, e.label) for e in a.entities} for a in enriched}
        assert set(found) == set(expected)
        assert all(a.body[e.start : e.end] == e.text for a in enriched for e in a.entities)
        missing = {
            uri: expected[uri] - found[uri] for uri in expected if expected[uri] - found[uri]
        }
        assert missing == {}

    with TestPipeline() as p:
        enriched, _rejects = p | beam.Create(articles) | EnrichEntities(batch_size=8)
        assert_that(enriched, check)
