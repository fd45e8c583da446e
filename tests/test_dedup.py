"""Deduplicate: exact and near copies within a run, and stories already in the output."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.schemas import ARTICLE_SCHEMA, INDEX_SCHEMA, Article, to_row
from newsbeam.transforms.dedup import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    NUM_PERM,
    SKETCH,
    OutputLookup,
    Placement,
    Sketch,
    article_signature,
    band_keys,
    body_signature,
    choose_original,
    choose_strategy,
    estimated_jaccard,
    existing_sketch,
    index_entry,
    jaccard,
    lookup_keys,
    lsh_bands,
    lsh_buckets,
    may_match,
    near_duplicate,
    place_stories,
    resolve_story,
    revision_keys,
    verified_pairs,
    word_shingles,
)
from newsbeam.transforms.extract import content_sha256, extract_article
from newsbeam.transforms.validate import validate_article
from tests.conftest import SEEDS
from tests.test_extract import PARAGRAPHS, doc

BODY = "\n\n".join(PARAGRAPHS)
THRESHOLD = DEFAULT_NEAR_DUPLICATE_THRESHOLD
BANNER_A = ("Spread the love\n\n", "\n\nBack to top button\n")
BANNER_B = (
    "Jannah Theme License is not validated, Go to the theme options page to validate the "
    "license, You need a single license for each domain name.\n\n",
    "\n\nSimilar News\n\nXi says China is ready to work with Russia Read more »\n",
)


def article(uri: str, content: str = BODY, published_at: datetime | None = None) -> Article:
    return validate_article(
        extract_article(doc(source_uri=uri, content=content, published_at=published_at))
    )


def seed_text(number: int) -> str:
    return SEEDS[number].read_text(encoding="utf-8")


def wrap(text: str, banner: tuple[str, str]) -> str:
    return banner[0] + text + banner[1]


def edit(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# A few words edited, added and cut in seed 000 (1,100 words).
EDITS_000 = {
    "hardened on Friday": "hardened sharply on Friday",
    "face-to-face": "in person",
    "personal diplomacy mission": "diplomatic mission",
    "Western officials": "officials in the West",
}


# ---- exact copies


def test_copies_with_different_banners_and_related_blocks_are_exact_duplicates():
    a = article("in/a.txt", wrap(BODY, BANNER_A))
    b = article("in/b.txt", wrap(BODY, BANNER_B))
    assert a.content_sha256 == b.content_sha256
    assert a.article_id != b.article_id
    kept, (duplicate,) = choose_original([b, a])
    assert kept == min(a, b, key=lambda x: x.article_id)
    assert (duplicate.reason, duplicate.similarity) == ("exact", 1.0)


def test_a_seed_with_other_banners_is_an_exact_duplicate_of_it():
    original = article(SEEDS[1].name, seed_text(1))
    copy = article("in/copy.txt", wrap(seed_text(1), BANNER_B))
    assert original.content_sha256 == copy.content_sha256


def test_the_earliest_published_copy_is_kept_then_the_smallest_id():
    early = article("in/a.txt", published_at=datetime(2024, 1, 1, tzinfo=UTC))
    late = article("in/b.txt", published_at=datetime(2024, 2, 1, tzinfo=UTC))
    undated_1, undated_2 = article("in/c.txt"), article("in/d.txt")
    kept, duplicates = choose_original([undated_1, late, early, undated_2])
    assert kept == early
    assert {d.duplicate_of for d in duplicates} == {early.article_id}
    assert {d.source_uri for d in duplicates} == {"in/b.txt", "in/c.txt", "in/d.txt"}
    kept, _ = choose_original([undated_1, undated_2])
    assert kept.article_id == min(undated_1.article_id, undated_2.article_id)


def test_a_story_already_in_the_output_is_not_written_again():
    new = article("in/a.txt")
    older = Sketch("0123456789abcdef", datetime(2020, 1, 1, tzinfo=UTC), existing=True)
    newer = Sketch("0000000000000000", datetime(2021, 1, 1, tzinfo=UTC), existing=True)
    kept, (duplicate,) = choose_original([new], existing=[newer, older])
    assert kept is None
    assert (duplicate.duplicate_of, duplicate.reason, duplicate.similarity) == (
        "0123456789abcdef",
        "already_in_output",
        1.0,
    )


# ---- signatures


def test_shingles_are_five_word_windows_of_casefolded_words():
    assert word_shingles("One, two THREE four five six!") == {
        "one two three four five",
        "two three four five six",
    }
    assert word_shingles("Too short.") == {"too short"}
    assert word_shingles(" — ") == set()
    assert body_signature(" — ") == ()


def test_the_signature_is_fixed_across_processes_and_versions():
    # A signature stored in _index/ must mean the same in every later run: the seed, scheme and
    # hash are pinned (SKETCH), and this value guards against a silent change of any of them.
    signature = body_signature("The quick brown fox jumps over the lazy dog again")
    assert len(signature) == NUM_PERM
    assert signature[:4] == (525945524, 412836237, 741861544, 729940982)
    assert SKETCH == "minhash-affine32-sha1-seed1-perm128-words5"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["Alpha", "beta", "GAMMA", "delta", "Mr.", "x"]), max_size=30))
def test_bodies_with_the_same_content_hash_have_the_same_signature(words):
    plain = " ".join(words)
    noisy = "  ".join(f"{w.upper()}," for w in words)
    assert content_sha256(plain) == content_sha256(noisy)
    assert body_signature(plain) == body_signature(noisy)


def test_the_estimate_follows_the_exact_jaccard():
    original = article("a", seed_text(0)).body
    rng = random.Random(1)
    words = original.split()
    for rate in (0.02, 0.05, 0.1):
        edited = [w for w in words if rng.random() > rate]
        copy = " ".join(edited)
        exact = jaccard(word_shingles(original), word_shingles(copy))
        estimate = estimated_jaccard(body_signature(original), body_signature(copy))
        assert abs(exact - estimate) < 0.12, (rate, exact, estimate)


def test_band_keys_match_exactly_when_a_band_is_equal():
    bands, rows = lsh_bands(THRESHOLD)
    assert bands * rows <= NUM_PERM
    signature = body_signature(BODY)
    keys = band_keys(signature, bands, rows)
    assert len(keys) == len(set(keys)) == bands
    changed = (signature[0] + 1, *signature[1:])
    assert set(band_keys(changed, bands, rows)) == set(keys[1:]) | {
        band_keys(changed, bands, rows)[0]
    }
    assert band_keys((), bands, rows) == []


@pytest.mark.parametrize("threshold", [0.0, 1.0, 1.5, -0.1])
def test_a_threshold_outside_zero_and_one_is_refused(threshold):
    with pytest.raises(ValueError, match="between 0 and 1"):
        lsh_bands(threshold)
    with pytest.raises(ValueError, match="between 0 and 1"):
        choose_strategy(None, threshold)


# ---- near copies


def test_the_same_article_with_a_few_edited_words_is_a_near_duplicate():
    original = article(SEEDS[0].name, seed_text(0))
    edited = article("in/edited.txt", wrap(edit(seed_text(0), EDITS_000), BANNER_A))
    assert original.content_sha256 != edited.content_sha256
    a, b = body_signature(original.body), body_signature(edited.body)
    assert estimated_jaccard(a, b) > 0.9
    assert near_duplicate(a, b, THRESHOLD)


def test_different_articles_about_the_same_event_are_not_near_duplicates():
    # Seeds 000 and 001 both report Xi's visit to Moscow; every seed is about Xi and Russia.
    signatures = [body_signature(article(seed.name, seed.read_text()).body) for seed in SEEDS]
    for a, b in itertools.combinations(signatures, 2):
        assert estimated_jaccard(a, b) < 0.05
        assert not near_duplicate(a, b, THRESHOLD)


def sketch(name: str, signature: tuple[int, ...], day: int | None = None, existing=False):
    date = datetime(2024, 1, day, tzinfo=UTC) if day else None
    return Sketch(name * 16, date, signature, existing)


def signature_sharing(base: tuple[int, ...], slots: int, salt: int) -> tuple[int, ...]:
    """A signature equal to `base` in its first `slots` slots."""
    return base[:slots] + tuple(salt * 1_000_003 + i for i in range(len(base) - slots))


BASE = tuple(range(NUM_PERM))


def test_verified_pairs_keep_only_pairs_at_the_threshold_and_skip_two_old_stories():
    a = sketch("a", BASE, day=2)
    b = sketch("b", signature_sharing(BASE, 64, 1), day=1)
    c = sketch("c", signature_sharing(BASE, 10, 2))
    old_1, old_2 = sketch("d", BASE, existing=True), sketch("e", BASE, existing=True)
    edges = verified_pairs([a, b, c, a], 0.5)
    assert edges == [(b, a, 0.5)]
    pairs = {
        (x.article_id[0], y.article_id[0]) for x, y, _ in verified_pairs([old_1, old_2, a], 0.5)
    }
    assert pairs == {("d", "a"), ("e", "a")}


def test_lsh_buckets_keep_buckets_with_two_stories_one_of_them_new():
    bands, rows = lsh_bands(THRESHOLD)
    a, b = sketch("a", BASE), sketch("b", signature_sharing(BASE, rows, 1))  # share band 0
    old_1 = sketch("c", (7,) * NUM_PERM, existing=True)
    old_2 = sketch("d", (7,) * NUM_PERM, existing=True)
    lone = sketch("e", tuple(10**7 + i for i in range(NUM_PERM)))
    buckets = lsh_buckets([a, b, old_1, old_2, lone], bands, rows)
    # a and b share exactly their first band; two old stories are never compared.
    assert [[s.article_id[0] for s in bucket] for bucket in buckets] == [["a", "b"]]


def test_a_copy_is_placed_only_on_a_kept_story_it_resembles_never_through_a_chain():
    # a ~ b ~ c, but a and c are too far apart to be a pair: c is a story of its own.
    a = sketch("a", BASE, day=1)
    b = sketch("b", signature_sharing(BASE, 80, 1), day=2)  # 80 of 128 slots equal to a
    c = sketch("c", tuple(10**7 + i for i in range(40)) + b.signature[40:])  # 88 equal to b
    lone_1, lone_2 = sketch("d", (7,) * NUM_PERM), sketch("e", (7,) * NUM_PERM)
    edges = verified_pairs([a, b, c], 0.5) + verified_pairs([lone_2, lone_1], 0.5)
    assert [(x.article_id[0], y.article_id[0]) for x, y, _ in edges] == [
        ("a", "b"),
        ("b", "c"),
        ("d", "e"),
    ]
    placements = place_stories(edges, 0.5)
    assert [(story[0], p.kept.article_id[0], p.similarity) for story, p in placements] == [
        ("b", "a", 80 / 128),
        ("e", "d", 1.0),
    ]


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(6)), st.booleans())
def test_placements_do_not_depend_on_the_order_of_the_pairs(order, reverse):
    s = [
        sketch(name, BASE, day=day) for name, day in zip("abcdef", (4, 2, 6, 1, 3, 5), strict=True)
    ]
    old = sketch("f", BASE, existing=True)
    edges = [(s[0], s[1], 0.9), (s[1], s[2], 0.9), (s[3], s[4], 0.9), (s[4], old, 0.9)]
    edges += [(s[2], s[0], 0.9), (s[5], s[5], 1.0)]
    shuffled = [edges[i] for i in order]
    if reverse:
        shuffled = [(y, x, sim) for x, y, sim in shuffled]
    result = place_stories(shuffled, 0.5)
    assert result == place_stories(edges, 0.5)
    # Keep order: old f, d, b, e, a, c. d and b are kept; e resembles both d and the story in
    # the output and goes to the one first in keep order; c resembles a (a copy) and b (kept).
    assert {m: p.kept.article_id for m, p in result} == {
        "a" * 16: "b" * 16,
        "c" * 16: "b" * 16,
        "e" * 16: "f" * 16,
    }


def test_a_story_that_lost_its_cluster_points_all_its_copies_at_the_kept_one():
    copies = [article("in/a.txt"), article("in/b.txt")]
    kept, duplicates = resolve_story(copies, Placement(sketch("f", BASE), 0.75))
    assert kept is None
    assert {(d.duplicate_of, d.similarity, d.reason) for d in duplicates} == {
        ("f" * 16, 0.75, "near")
    }
    _, duplicates = resolve_story(copies, Placement(sketch("f", BASE, existing=True), 0.75))
    assert {d.reason for d in duplicates} == {"already_in_output"}


def test_index_rows_round_trip_and_only_the_same_sketch_is_compared():
    entry = index_entry(article("in/a.txt", published_at=datetime(2024, 1, 1, tzinfo=UTC)))
    (row,) = pa.Table.from_pylist([to_row(entry)], schema=INDEX_SCHEMA).to_pylist()
    sha, read = existing_sketch(row)
    assert (sha, read.article_id, read.published_at, read.existing) == (
        entry.content_sha256,
        entry.article_id,
        entry.published_at,
        True,
    )
    assert read.signature == body_signature(BODY)
    _, other = existing_sketch(row | {"sketch": "minhash-something-else"})
    assert other.signature == ()
    _, from_articles = existing_sketch({k: row[k] for k in ("content_sha256", "article_id")})
    assert from_articles.signature == ()


# ---- the composite


def write_existing(
    folder: Path, articles: list[Article], index: list[Article], name: str = "part-0.parquet"
) -> None:
    partition = folder / "articles" / "published_date=__HIVE_DEFAULT_PARTITION__"
    partition.mkdir(parents=True, exist_ok=True)
    rows = [to_row(a) for a in articles]
    pq.write_table(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), partition / name)
    (folder / "_index").mkdir(exist_ok=True)
    entries = [to_row(index_entry(a)) for a in index]
    pq.write_table(pa.Table.from_pylist(entries, schema=INDEX_SCHEMA), folder / "_index" / name)


@pytest.mark.parametrize("lookup", [False, True], ids=["shuffle", "lookup"])
def test_deduplicate_composite_exact_near_and_already_in_output(tmp_path, lookup):
    old_exact = article("old/exact.txt", seed_text(3))
    old_near = article("old/near.txt", seed_text(4))
    write_existing(tmp_path, [old_exact, old_near], [old_exact, old_near])

    seed_0 = article(SEEDS[0].name, seed_text(0), datetime(2023, 3, 17, tzinfo=UTC))
    new = [
        seed_0,
        article("in/0-banner.txt", wrap(seed_text(0), BANNER_B)),  # exact copy of seed 0
        article("in/0-edited.txt", wrap(edit(seed_text(0), EDITS_000), BANNER_A)),  # near
        article("in/0-edited-copy.txt", edit(seed_text(0), EDITS_000)),  # exact copy of the near
        article(SEEDS[1].name, seed_text(1)),  # same event, another article
        article("in/3-copy.txt", wrap(seed_text(3), BANNER_A)),  # in the output, exact
        article("in/4-edited.txt", seed_text(4).replace("mutual support", "shared support")),
    ]
    # What this very run has written already (a runner computing the step twice, as Dask
    # does for side inputs) is not earlier output: the kept articles stay kept.
    write_existing(tmp_path, [seed_0, new[4]], [seed_0, new[4]], "part-now-00000.parquet")
    ids = {a.source_uri: a.article_id for a in new}
    with TestPipeline() as p:
        kept, duplicates = (
            p
            | beam.Create(new)
            | choose_strategy(str(tmp_path), THRESHOLD, lookup=lookup, run_id="now")
        )
        assert_that(
            kept | beam.Map(lambda a: a.source_uri),
            equal_to([SEEDS[0].name, SEEDS[1].name]),
            label="kept",
        )
        assert_that(
            duplicates | beam.Map(lambda d: (d.source_uri, d.duplicate_of, d.reason)),
            equal_to(
                [
                    ("in/0-banner.txt", ids[SEEDS[0].name], "exact"),
                    ("in/0-edited.txt", ids[SEEDS[0].name], "near"),
                    ("in/0-edited-copy.txt", ids[SEEDS[0].name], "near"),
                    ("in/3-copy.txt", old_exact.article_id, "already_in_output"),
                    ("in/4-edited.txt", old_near.article_id, "already_in_output"),
                ]
            ),
            label="duplicates",
        )
        assert_that(
            duplicates
            | beam.Map(lambda d: (d.source_uri, d.similarity == 1.0, d.similarity >= THRESHOLD)),
            equal_to(
                [
                    ("in/0-banner.txt", True, True),
                    ("in/0-edited.txt", False, True),
                    ("in/0-edited-copy.txt", False, True),
                    ("in/3-copy.txt", True, True),
                    ("in/4-edited.txt", False, True),
                ]
            ),
            label="similarities",
        )


def test_a_lookup_reads_only_the_rows_of_the_output_that_may_match():
    bands, rows = lsh_bands(THRESHOLD)
    new = article("in/0.txt", seed_text(0))
    wanted = frozenset(lookup_keys(new, bands, rows))
    exact_row = to_row(index_entry(article("old/0.txt", wrap(seed_text(0), BANNER_A))))
    near_row = to_row(index_entry(article("old/0-edited.txt", edit(seed_text(0), EDITS_000))))
    other_row = to_row(index_entry(article("old/1.txt", seed_text(1))))
    unsigned = {k: other_row[k] for k in ("content_sha256", "article_id")}

    def matches(row):
        return may_match(*existing_sketch(row), wanted, bands, rows)

    assert matches(exact_row) and matches(near_row)
    assert not matches(other_row) and not matches(unsigned)


def test_a_whole_table_is_looked_up_as_each_row_would_be():
    bands, rows = lsh_bands(THRESHOLD)
    new = [article("in/0.txt", seed_text(0)), article("in/2.txt", seed_text(2))]
    wanted = frozenset(key for a in new for key in lookup_keys(a, bands, rows))
    index_rows = [
        to_row(index_entry(article("old/0.txt", wrap(seed_text(0), BANNER_A)))),  # same body
        to_row(index_entry(article("old/0-edited.txt", edit(seed_text(0), EDITS_000)))),  # a band
        to_row(index_entry(article("old/1.txt", seed_text(1)))),
        to_row(index_entry(article("old/3.txt", seed_text(3)))),
    ]
    # Another sketch's signature is not compared, even where its bands would match.
    other_sketch = {**index_rows[1], "content_sha256": "0" * 64, "sketch": "minhash-v0"}
    index_rows.append(other_sketch)
    lookup = OutputLookup(wanted, bands, rows)

    def each_row(rows_):
        return [may_match(*existing_sketch(row), wanted, bands, rows) for row in rows_]

    table = pa.Table.from_pylist(index_rows, schema=INDEX_SCHEMA)
    assert lookup.rows(table).tolist() == each_row(index_rows) == [True, True, False, False, False]
    article_rows = [{k: row[k] for k in ("content_sha256", "article_id")} for row in index_rows]
    table = pa.Table.from_pylist(article_rows)  # an articles/ file: no signatures
    assert lookup.rows(table).tolist() == each_row(article_rows) == [True] + [False] * 4


def test_deduplicate_without_an_earlier_output_keeps_one_per_story():
    copies = [article("in/a.txt"), article("in/b.txt"), article("in/c.txt", seed_text(2))]
    with TestPipeline() as p:
        kept, duplicates = p | beam.Create(copies) | choose_strategy(None)
        assert_that(
            kept | beam.Map(lambda a: a.article_id),
            equal_to([min(copies[0].article_id, copies[1].article_id), copies[2].article_id]),
            label="kept",
        )
        assert_that(duplicates | beam.Map(lambda d: d.reason), equal_to(["exact"]), label="dups")


def test_an_article_is_signed_once_per_content_hash():
    body = seed_text(0)
    first = article("in/a.txt", body)
    copy = article("in/b.txt", wrap(body, BANNER_A))  # the same clean body
    assert first.content_sha256 == copy.content_sha256
    assert article_signature(first) == article_signature(copy) == body_signature(body)


# ---- rolling updates and revisions, on every strategy


def rolling_updates(count: int = 12, size: int = 8) -> list[Article]:
    """`count` updates of one story an hour apart, each dropping its first sentence and adding
    one (sentences of seed 000)."""
    body = seed_text(0).split("\n\n", 1)[1]
    lines = [s for s in re.split(r"(?<=[.!?])\s+", body) if len(s.split()) >= 8]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    return [
        article(f"feed.jsonl#{i + 1}", " ".join(lines[i : i + size]), start + timedelta(hours=i))
        for i in range(count)
    ]


def placed_on_kept_stories(kept_ids: list[str], copies: list[tuple[str, str, float]]) -> bool:
    """Every copy points at a story written, at the threshold or above."""
    return all(of in kept_ids and similarity >= THRESHOLD for _, of, similarity in copies)


@pytest.mark.parametrize("lookup", [False, True], ids=["shuffle", "lookup"])
def test_rolling_updates_copy_only_kept_stories_they_resemble_on_every_strategy(lookup):
    updates = rolling_updates()
    with TestPipeline() as p:
        kept, duplicates = p | beam.Create(updates) | choose_strategy(None, lookup=lookup)
        ids = kept | beam.Map(lambda a: a.article_id) | "KeptIds" >> beam.combiners.ToList()
        copies = (
            duplicates
            | beam.Map(lambda d: (d.article_id, d.duplicate_of, d.similarity))
            | "Copies" >> beam.combiners.ToList()
        )
        checked = ids | beam.Map(
            lambda kept_ids, found: (
                len(kept_ids),
                len(found),
                placed_on_kept_stories(kept_ids, found),
            ),
            found=beam.pvalue.AsSingleton(copies),
        )
        # The first is kept, and so is each update that has drifted below the threshold from all.
        assert_that(
            checked | beam.MapTuple(lambda n, m, ok: (n >= 2, n + m, ok)),
            equal_to([(True, len(updates), True)]),
        )


@pytest.mark.parametrize("lookup", [False, True], ids=["shuffle", "lookup"])
def test_a_changed_file_supersedes_its_earlier_version_on_every_strategy(tmp_path, lookup):
    whole = seed_text(0)
    paragraphs = whole.split("\n\n")
    half = article("in/story.txt", "\n\n".join(paragraphs[: len(paragraphs) // 2]))
    other = article("in/other.txt", seed_text(3))
    write_existing(tmp_path, [half, other], [half, other])
    newer = article("in/story.txt", whole)
    copy_of_half = article("in/copy.txt", wrap(edit(seed_text(0), EDITS_000), BANNER_A))
    with TestPipeline() as p:
        kept, duplicates = (
            p | beam.Create([newer, copy_of_half]) | choose_strategy(str(tmp_path), lookup=lookup)
        )
        assert_that(kept | beam.Map(lambda a: a.article_id), equal_to([newer.article_id]))
        assert_that(
            duplicates | beam.Map(lambda d: (d.article_id, d.duplicate_of, d.reason)),
            equal_to(
                [
                    (half.article_id, newer.article_id, "superseded"),
                    # The half is superseded: a later copy of the story goes to the newer one.
                    (copy_of_half.article_id, newer.article_id, "near"),
                ]
            ),
            label="duplicates",
        )


def test_a_revision_is_found_by_path_or_url_never_by_a_record_number():
    assert revision_keys("in/a.txt", None) == {"uri:in/a.txt"}
    assert revision_keys("in/feed.jsonl#3", "https://x.test/a") == {"url:https://x.test/a"}
    assert revision_keys("in/feed.jsonl#3", None) == frozenset()
    old = Sketch("a" * 16, None, BASE, True, "in/a.txt", revision_keys("in/a.txt", None))
    new = Sketch("b" * 16, None, (), False, "in/a.txt", revision_keys("in/a.txt", None))
    # A revision pair is kept at any similarity; the revised story is no longer kept.
    edges = verified_pairs([old, new], 0.5)
    assert edges == [(old, new, 0.0)]
    ((story, placement),) = place_stories(edges, 0.5)
    assert (story, placement.kept, placement.supersedes) == (new.article_id, None, ((old, 0.0),))
