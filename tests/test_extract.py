"""Extract: text and HTML documents to article fields; documents without an article rejected."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import RawDocument
from newsbeam.transforms.cleaner import line_keys
from newsbeam.transforms.extract import (
    ExtractArticles,
    content_sha256,
    extract_article,
    find_templates,
    templates_from_tallies,
)

PARAGRAPHS = [
    "The city council approved the new transit budget on Monday after a debate that ran "
    "late into the night and drew hundreds of residents to the chamber.",
    "Mayor Ana Ruiz said the plan would add three bus lines by next spring and extend "
    "service hours on weekends, when ridership has grown fastest.",
    "Opponents argued that the fare increase would hurt low-income riders the most, and "
    "several members promised to revisit the decision before the summer recess.",
]
HTML = f"""<!doctype html><html><head>
<title>Council backs transit budget | Metro Daily</title>
<meta property="og:site_name" content="Metro Daily">
<meta name="author" content="Jordan Avery">
<meta property="article:published_time" content="2024-05-06T09:30:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/city">City</a> <a href="/sports">Sports</a></nav>
<article><h1>Council backs transit budget</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article>
<aside><h3>Related stories</h3><ul><li><a href="/a">Bus drivers vote to strike</a></li></ul></aside>
<footer>© 2024 Metro Daily. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>"""
NOW = datetime(2024, 6, 1, tzinfo=UTC)
WORDS = len(re.findall(r"\w+", " ".join(PARAGRAPHS)))


def doc(**fields) -> RawDocument:
    return RawDocument(**{"source_uri": "in/a.txt", "kind": "text", "encoding": "utf-8", **fields})


def test_html_page_gives_body_and_page_metadata():
    article = extract_article(
        doc(
            source_uri="in/page.html",
            kind="html",
            content=HTML,
            url="https://www.metrodaily.example/city/transit",
        ),
        NOW,
    )
    assert article["body"].split("\n\n") == PARAGRAPHS
    assert article["title"] == "Council backs transit budget"
    assert article["source_name"] == "Metro Daily" and article["source"] == "metro-daily"
    assert article["authors"] == ["Jordan Avery"]
    assert (article["published_at"].date().isoformat(), article["date_source"]) == (
        "2024-05-06",
        "html_metadata",
    )
    assert article["language"] == "en"


def test_given_fields_win_over_extracted_ones():
    text = "date 2023-03-02\n\nCNN\n\n" + "\n\n".join(PARAGRAPHS)
    article = extract_article(
        doc(
            content=text,
            source="Wire Service",
            title="Given title",
            published_at=datetime(2024, 1, 2, tzinfo=UTC),
        ),
        NOW,
    )
    assert (article["source_name"], article["title"]) == ("Wire Service", "Given title")
    assert (article["published_at"].date().isoformat(), article["date_source"]) == (
        "2024-01-02",
        "given",
    )


def test_a_date_out_of_range_is_dropped_as_a_field_and_audited():
    text = "date 1970-01-01\n\n" + "\n\n".join(PARAGRAPHS)
    article = extract_article(doc(content=text), NOW)
    assert article["published_at"] is None
    assert ("date_rejected", "date_out_of_range:date_line") in [
        (b.kind, b.rule) for b in article["boilerplate"]
    ]


def test_ids_are_stable_and_content_hash_ignores_spacing_and_case():
    first = extract_article(doc(content="\n\n".join(PARAGRAPHS)), NOW)
    again = extract_article(doc(content="\n\n".join(PARAGRAPHS)), NOW)
    assert first["article_id"] == again["article_id"]
    assert content_sha256("Hello,   World!") == content_sha256("hello world")


def test_extract_articles_composite_rejects_a_page_without_text():
    good = doc(content="\n\n".join(PARAGRAPHS))
    empty_page = doc(source_uri="in/empty.html", kind="html", content="<html><body></body></html>")
    with TestPipeline() as p:
        articles, rejects = p | beam.Create([good, empty_page]) | ExtractArticles()
        assert_that(
            articles | beam.Map(lambda a: (a["source_uri"], a["word_count"])),
            equal_to([("in/a.txt", WORDS)]),
            label="articles",
        )
        assert_that(
            rejects | beam.Map(lambda r: (r.source_uri, r.stage, r.reason)),
            equal_to([("in/empty.html", "extract", "no_article_found")]),
            label="rejects",
        )


STORIES = [
    "Rail workers walked out on Friday after talks over pay collapsed late on Thursday night, "
    "leaving thousands of commuters to find other ways into the city.",
    "The regional water board said reservoir levels had fallen to their lowest point in a decade "
    "and asked households to cut their use by a fifth over the summer.",
    "A new library opened in the old tram depot on Saturday, with a reading room, a workshop for "
    "children and a café run by volunteers from the neighbourhood.",
    "Police closed the coastal road for six hours on Sunday after a landslide buried both lanes "
    "under mud and rock, and engineers said repairs could take weeks.",
]
TEMPLATE_LINE = "Get the Morning Brief delivered to you every day"
MISSION_LINE = "Metro Daily is an independent newsroom serving the valley since 1921."


def site_doc(number: int, story: str) -> RawDocument:
    text = f"{story}\n\n{STORIES[(number + 1) % 4]}\n\n{TEMPLATE_LINE}\n\n{MISSION_LINE}"
    return doc(
        source_uri=f"feed.jsonl#{number}",
        content=text,
        url=f"https://www.metrodaily.example/news/{number}",
    )


def test_find_templates_needs_enough_documents_and_a_share_of_the_source():
    counts = [(("metro", "line a"), 3), (("metro", "line b"), 2), (("big", "line c"), 3)]
    templates = find_templates(counts, {"metro": 4, "big": 100}, min_documents=3, min_share=0.2)
    assert templates == {"metro": frozenset({"line a"})}


def test_templates_from_tallies_read_each_sources_documents_from_its_own_tally():
    counts = [
        (("metro", None), 4),
        (("metro", "line a"), 3),
        (("metro", "line b"), 2),
        (("big", None), 100),
        (("big", "line c"), 3),
    ]
    templates = templates_from_tallies(counts, min_documents=3, min_share=0.2)
    assert templates == {"metro": frozenset({"line a"})}


def test_a_copy_of_another_story_is_not_emptied_by_the_template():
    text = "\n\n".join(PARAGRAPHS)
    result = extract_article(doc(content=text), NOW, template=frozenset(line_keys(text)))
    assert result["body"].split("\n\n") == PARAGRAPHS


def test_extract_articles_learns_each_sources_template():
    documents = [site_doc(n, story) for n, story in enumerate(STORIES)]
    with TestPipeline() as p:
        articles, rejects = p | beam.Create(documents) | ExtractArticles(min_template_documents=3)
        removed = articles | beam.FlatMap(
            lambda a: sorted({(b.kind, b.text) for b in a["boilerplate"] if b.kind == "template"})
        )
        assert_that(
            removed | beam.combiners.Count.PerElement(),
            equal_to([(("template", TEMPLATE_LINE), 4), (("template", MISSION_LINE), 4)]),
            label="template",
        )
        assert_that(rejects, equal_to([]), label="rejects")


def test_words_of_unspaced_scripts_are_counted_one_character_each():
    story = "新华社北京电 国务院总理今天在北京主持召开常务会议，部署进一步稳定经济运行的措施。"
    fields = extract_article(doc(content=story), NOW)
    assert fields["word_count"] == sum(ch.isalpha() for ch in fields["body"])
    assert extract_article(doc(content=" ".join(["word"] * 30)), NOW)["word_count"] == 30
