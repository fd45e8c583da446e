"""Whole-page text (menus, link lists, related teasers, a comment thread and a footer around the
story) cleaned to the story; clean text left alone; the block model's weights and training.

tests/whole_pages/ holds pages written for these tests (CC0): a news page and two 2012-style
blog pages (a Blogger-like one whose comments are signed `NAME said...`, a WordPress-like one
whose comments carry a name and a time stamp on one line). Their stories are the paragraphs
the assertions list; nothing else on them is article."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from newsbeam.pipeline.bench.train_cleaner import block_labels
from newsbeam.transforms.block_model import FEATURES, BlockModel, features, fit, shipped_model
from newsbeam.transforms.cleaner import (
    classified_blocks,
    clean_text,
    densest_run,
    is_comment_stamp,
    rule_scores,
    whole_page,
)

PAGES = Path(__file__).parent / "whole_pages"


def _page(name: str) -> str:
    return (PAGES / name).read_text()


def _story(text: str, first: str, last: str) -> list[str]:
    """The lines of the page from the one starting `first` to the one starting `last`."""
    lines = [line for line in text.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next(i for i, line in enumerate(lines) if line.startswith(last))
    return lines[start : end + 1]


NEWS_STORY = ("The blue ferry that links", "The board says it will publish")
BLOG_STORY = ("For twenty years I turned", "Still, I have not dug a bed since.")
LIBRARY_STORY = ("The council's draft budget", "The public consultation is open")


@pytest.mark.parametrize(
    ("name", "story", "furniture"),
    [
        (
            "harbour_ferry.txt",
            NEWS_STORY,
            ("Councillors voted", "Pupils built", "Facebook", "About time too", "Tide tables"),
        ),
        (
            "garden_blog.txt",
            BLOG_STORY,
            ("Posted by Helen", "Labels:", "the slugs loved", "Blog Archive", "Muddy Boots"),
        ),
        (
            "library_blog.txt",
            LIBRARY_STORY,
            ("Margaret Hollis", "devil's advocate", "The choir I sing", "Leave a", "Roadworks"),
        ),
    ],
)
def test_a_whole_page_is_cleaned_to_its_story(name, story, furniture):
    text = _page(name)
    expected = _story(text, *story)
    result = clean_text(text)
    assert result.paragraphs == expected
    for line in furniture:
        assert not any(line in p for p in result.paragraphs), line


def test_the_story_alone_is_left_as_it_is():
    text = _page("harbour_ferry.txt")
    story = _story(text, *NEWS_STORY)
    blocks, _ = classified_blocks("\n".join(story))
    assert not whole_page(blocks)
    assert clean_text("\n\n".join(story)).paragraphs == story


def test_the_shipped_weights_match_the_features():
    model = shipped_model()
    assert len(model.weights) == len(model.mean) == len(model.scale) == len(FEATURES)
    blocks, _ = classified_blocks(_page("harbour_ferry.txt"))
    rows = features(blocks, densest_run(rule_scores(blocks)))
    assert rows.shape == (len(blocks), len(FEATURES))
    probabilities = model.probabilities(rows)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_weights_that_name_other_features_are_refused():
    data = shipped_model().to_json()
    data["features"] = [*data["features"][:-1], "something_else"]
    with pytest.raises(ValueError, match="retrain"):
        BlockModel.from_json(data)


def test_the_fit_is_deterministic_and_separates_a_separable_feature():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, len(FEATURES)))
    labels = (rows[:, 0] > 0).astype(float)
    weights = np.ones(200)
    first, second = fit(rows, labels, weights), fit(rows, labels, weights)
    assert first.to_json() == second.to_json()
    predicted = first.probabilities(rows) > 0.5
    assert (predicted == labels.astype(bool)).mean() > 0.95


def test_blocks_are_labelled_by_the_shingles_they_share_with_the_truth():
    """A shingle across a block's edge counts for both blocks: the sentence keeps most of its
    shingles (labelled article at 0.5), the menu lines have none."""
    blocks, _ = classified_blocks(
        "Home\nNews\nThe council met on Tuesday and agreed the budget for next year.\nShare"
    )
    labels = block_labels(blocks, "The council met on Tuesday and agreed the budget for next year.")
    assert labels[2] >= 0.5
    assert labels[0] == labels[1] == 0.0


@pytest.mark.parametrize(
    ("line", "signature"),
    [
        ("Robert said...", True),
        ("Old Harbour Resident says:", True),
        ("Anonymous said…", True),
        ("The minister said:", False),
        ("He says:", False),
        ("Speaking to reporters on Tuesday, the minister said:", False),
    ],
)
def test_a_comment_signature_is_told_from_a_quote_introduction(line, signature):
    (block,) = classified_blocks(line)[0]
    assert (block.rule == "comment_signature") is signature


@pytest.mark.parametrize(
    ("line", "stamp"),
    [
        ("March 14, 2012 at 8:02 am", True),
        ("Dev Patel | March 14, 2012 at 9:15 am", True),
        ("Posted by: Ann | 05 March 2012 at 15:45", True),
        ("14/03/2012 20:02:11", True),
        ("Ann Kowalski · 3 hours ago", True),
        ("a year ago", True),
        ("March 14, 2012", False),
        ("Kick-off 3:00", False),
        ("The meeting starts at 7:30 pm on Wednesday, March 14, 2012, in the hall.", False),
    ],
)
def test_a_comment_stamp_is_a_short_line_with_a_year_and_a_clock_time(line, stamp):
    (block,) = classified_blocks(line)[0]
    assert is_comment_stamp(block) is stamp


def test_the_posts_own_time_stamp_under_a_comment_count_is_not_a_comment_thread():
    """A count of comments with one stamp after it is the post's header, not its comments."""
    story = [
        "The council's draft budget closes the Northgate library on Sundays from June, saving a "
        "little under nine thousand pounds a year, the smallest line in a long document.",
        "3 comments",
        "March 14, 2012 at 7:30 am",
        "Sunday is the only day many families in this part of town can visit together.",
        "The building is heated on Sundays anyway, because the community room upstairs is let.",
        "The public consultation is open until the end of the month.",
    ]
    blocks, _ = classified_blocks("\n".join(story))
    assert not any(b.rule in ("comments_section", "comment_stamp") for b in blocks)
    paragraphs = clean_text("\n".join(story)).paragraphs
    assert story[3] in paragraphs and story[5] in paragraphs


STORY = [
    "The council's draft budget closes the Northgate library on Sundays from June, saving a "
    "little under nine thousand pounds a year, the smallest line in a long document.",
    "Sunday is the only day many families in this part of town can visit together, and on a wet "
    "afternoon last month forty people were in the reading room.",
]
THREAD = [
    "I could not agree more, and if the council wants to save money it should look at the "
    "consultants it hired last year to tell it what every resident could have told it for free.",
    "Playing devil's advocate here: Sunday visits fell by a fifth over three years, and the same "
    "money would keep the mobile library running for the villages on the ring road, where there "
    "is no branch at all.",
]


@pytest.mark.parametrize(
    "header", ["Leave a Reply", "Post a Comment", "4 Responses to “Sunday opening”"]
)
def test_a_header_that_only_follows_an_article_ends_it_without_signatures(header):
    paragraphs = clean_text("\n".join([*STORY, header, *THREAD])).paragraphs
    assert paragraphs == STORY


def test_a_comment_link_under_the_headline_does_not_end_the_story():
    """Only menu lines above it: no prose has come yet, so nothing has ended."""
    text = "\n".join(["Home", "News", "Sunday opening", "Leave a comment", *STORY])
    assert clean_text(text).paragraphs == STORY
