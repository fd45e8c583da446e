"""The text cleaner on synthetic pages: each kind of boilerplate, and the article kept whole."""

from __future__ import annotations

import re
import time

import pytest

from newsbeam.transforms.cleaner import clean_text, is_call_to_action, repair, split_blocks

ARTICLE = [
    "The city council approved the new transit budget on Monday after a long debate.",
    "Mayor Ana Ruiz said the plan would add three bus lines by next spring.",
    "Opponents argued that the fare increase would hurt low-income riders the most.",
]


def page(*blocks: str) -> str:
    return "\n\n".join(blocks)


def kinds(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for b in result.boilerplate:
        out.setdefault(b.kind, []).append(b.text)
    return out


def test_plain_article_passes_untouched():
    result = clean_text(page(*ARTICLE))
    assert result.paragraphs == ARTICLE
    assert result.boilerplate == []


def test_banner_and_headline_above_the_body():
    result = clean_text(page("Share this story", "Council Backs Transit Budget", *ARTICLE))
    assert result.title == "Council Backs Transit Budget"
    assert result.paragraphs == ARTICLE
    assert kinds(result) == {
        "navigation": ["Share this story"],
        "title": ["Council Backs Transit Budget"],
    }


def test_related_block_with_read_more_links_is_removed():
    text = "\n".join(
        [
            *ARTICLE,
            "Related Stories",
            "Bus drivers vote to strike over pay, citing years of stalled talks with the city.",
            "Read more »",
            "Subway line to close for repairs all summer as the city upgrades its signals.",
            "Continue reading",
        ]
    )
    result = clean_text(text)
    assert result.paragraphs == ARTICLE
    assert [b.rule for b in result.boilerplate] == [
        "related_header",
        "teaser_before_read_more",
        "read_more_link",
        "teaser_before_read_more",
        "read_more_link",
    ]


def test_captions_and_repeated_headline_inside_the_body():
    result = clean_text(
        page(
            "Council Backs Transit Budget",
            ARTICLE[0],
            "Council Backs Transit Budget",
            "Commuters wait at a stop on Main Street on May 2 © CITY PRESS – Jo Park",
            ARTICLE[1],
            "Riders board a bus downtown. (Photo by Sam Lee/Getty Images)",
            ARTICLE[2],
        )
    )
    assert result.paragraphs == ARTICLE
    assert set(kinds(result)) == {"title", "repeated_headline", "caption"}


def test_footer_copyright_byline_and_bio():
    result = clean_text(
        page(
            *ARTICLE,
            "© 2024 Metro Daily News. All rights reserved.",
            "By Jordan Avery",
            "Jordan Avery covers city hall. Reach her at javery@example.com or 555-123-4567.",
        )
    )
    assert result.paragraphs == ARTICLE
    assert result.authors == ["Jordan Avery"]
    assert result.source_name == "Metro Daily News"
    assert set(kinds(result)) == {"copyright", "byline", "author_bio"}


def test_header_metadata_lines_become_fields():
    result = clean_text(
        page("Updated March 2, 2023 at 4:05 pm ET", "chicago", "NPR", "—", *ARTICLE)
    )
    assert result.paragraphs == ARTICLE
    assert result.published_at.isoformat() == "2023-03-02T21:05:00+00:00"
    assert (result.dateline, result.source_name) == ("Chicago", "NPR")


def test_a_call_to_action_inside_the_article_must_be_strong_and_unquoted():
    quote = "“You can update your browser settings on the website page,” the regulator said."
    result = clean_text(page(ARTICLE[0], quote, ARTICLE[1]))
    assert quote in result.paragraphs
    assert is_call_to_action("Sign up for our newsletter and get the app to read every story.")


def test_short_last_sentences_and_subheads_stay():
    text = page(
        "Council Backs Transit Budget", ARTICLE[0], "– A long road –", ARTICLE[1], "He left."
    )
    assert clean_text(text).paragraphs == [ARTICLE[0], "– A long road –", ARTICLE[1], "He left."]


def test_repairs_are_audited():
    text, audit = repair("It\\u0027s done.</p> < p>Next &amp; last /p>")
    assert " ".join(text.split()) == "It's done. Next & last"
    assert [(a.kind, a.rule) for a in audit] == [
        ("escape", "literal_unicode_escape"),
        ("html_remnant", "html_tag"),
        ("html_remnant", "html_tag"),
        ("html_remnant", "broken_html_tag"),
        ("html_remnant", "html_entity"),
    ]


def test_hard_wrapped_paragraphs_are_joined():
    blocks = split_blocks(
        "The council approved the budget\nafter a long debate on Monday.\nNext line."
    )
    assert [b.text for b in blocks] == [
        "The council approved the budget after a long debate on Monday.",
        "Next line.",
    ]


def test_a_title_given_by_the_caller_is_not_guessed_again():
    result = clean_text(page("Transit Budget Passes", *ARTICLE), title="Transit Budget Passes")
    assert result.title == "Transit Budget Passes"
    assert result.paragraphs == ARTICLE
    assert kinds(result) == {"repeated_headline": ["Transit Budget Passes"]}


def test_no_text_is_lost_without_a_record():
    text = page("Spread the word", "Council Backs Transit Budget", *ARTICLE, "Back to top button")
    result = clean_text(text)
    accounted = result.paragraphs + [b.text for b in result.boilerplate]
    for line in text.split("\n\n"):
        assert line in accounted


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,
        "Read more " * 20_000,
        "(" * 200_000 + "word" + "]" * 200_000,
        ("x@" * 100_000),
        "< p" * 100_000,
        ("By " + "Name " * 50_000),
        ("\\u00" * 100_000),
    ],
    ids=[
        "long-run",
        "read-more-x20000",
        "brackets",
        "at-signs",
        "tag-openers",
        "long-byline",
        "half-escapes",
    ],
)
def test_pathological_input_finishes_in_linear_time(text):
    started = time.process_time()
    result = clean_text(text)
    elapsed = time.process_time() - started
    assert elapsed < 10, f"{elapsed:.1f} s of CPU for {len(text):,} characters"
    kept = sum(len(p) for p in result.paragraphs) + sum(len(b.text) for b in result.boilerplate)
    assert kept >= len(re.sub(r"\s", "", text)) * 0.5


def test_whole_page_text_keeps_only_the_densest_run_of_prose():
    menu = ["* Home", "* News", "+ Politics", "+ Business", "* Sports", "Skip to content", "Log In"]
    footer = [
        "Most Popular",
        "Why Late Fall Is the Best Time to Visit Wine Country",
        "Ten Things to Know Before You Buy a Heat Pump",
        "* About Us",
        "* Careers",
        "© 2024 Metro Daily News",
    ]
    result = clean_text("\n".join([*menu, "Council Backs Transit Budget", *ARTICLE, *footer]))
    assert result.paragraphs == ARTICLE
    assert result.title == "Council Backs Transit Budget"


def test_comments_after_the_article_are_removed():
    comments = [
        "12 Comments",
        "1. busrider says:",
        "About time they did something for riders.",
        "2. Jo Park on May 2, 2024 at 6:34 am said:",
        "I have waited for the number nine bus for forty minutes every morning this month "
        "and I still think the fare increase is unfair to people like me who have no car.",
    ]
    result = clean_text("\n".join([*ARTICLE, *comments]))
    assert result.paragraphs == ARTICLE
    assert {b.kind for b in result.boilerplate} == {"comments"}


def test_a_comment_count_under_the_headline_is_only_a_link():
    result = clean_text("\n".join(["New, 15 comments", *ARTICLE]))
    assert result.paragraphs == ARTICLE


@pytest.mark.parametrize(
    ("line", "kind", "rule"),
    [
        ("Related: Ten Things to Know Before You Buy a Heat Pump", "related", "related_link"),
        ("Image 3 of 5", "caption", "gallery_label"),
        (
            "Mayor Ana Ruiz, left, and Jo Park tour the depot on Monday, May 6, 2024.",
            "caption",
            "position_in_photo",
        ),
        ("This slideshow requires JavaScript.", "banner", "browser_notice"),
        (
            "Have a tip? Jo Park may be reached at jpark@example.com. Follow her on Twitter.",
            "author_bio",
            "contact_line",
        ),
        ("GET METRO DAILY ON THE GO BY CLICKING HERE", "related", "all_caps_promo"),
    ],
)
def test_inline_boilerplate_inside_the_article(line, kind, rule):
    result = clean_text(page(ARTICLE[0], line, ARTICLE[1], ARTICLE[2]))
    assert result.paragraphs == ARTICLE
    assert [(b.kind, b.rule) for b in result.boilerplate] == [(kind, rule)]


def test_repeated_list_items_stay_but_a_repeated_paragraph_goes():
    step = "Eat every 2–3 hours"
    long_caption = (
        "Commuters wait for the number nine bus at the Main Street stop during the "
        "morning rush on Monday."
    )
    result = clean_text(
        page(ARTICLE[0], step, long_caption, ARTICLE[1], step, long_caption, ARTICLE[2])
    )
    assert result.paragraphs == [ARTICLE[0], step, long_caption, ARTICLE[1], step, ARTICLE[2]]


def test_a_results_table_that_ends_a_story_stays_until_the_page_furniture():
    results = ["Arsenal 2 Chelsea 1 (Saka 12, 77; Palmer 40)", "Spurs 0 Everton 0 | 41,200 | 3 pts"]
    footer = ["Most Popular", "* About Us", "© 2024 Metro Daily News"]
    result = clean_text(page(*ARTICLE, *results, *footer))
    assert result.paragraphs == [*ARTICLE, *results]
    assert kinds(result)["navigation"] == footer[:2]


def test_text_an_extractor_cut_loses_lines_only_by_their_content():
    closing_list = ["Invited players:", "Maria Lopez", "Anna Berg", "Kim Soo-jin"]
    text = page(*ARTICLE, *closing_list, "Sign up for our newsletter in your inbox")
    kept = clean_text(text, title="Council Backs Transit Budget", by_position=False)
    assert kept.paragraphs == [*ARTICLE, *closing_list]
    assert [b.kind for b in kept.boilerplate] == ["banner"]
    cut = clean_text(text, title="Council Backs Transit Budget")
    assert "Anna Berg" not in cut.body
