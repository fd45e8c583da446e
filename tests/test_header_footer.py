"""Header and footer lines around a real article body: metadata becomes fields and leaves the
body; look-alike lines that are article text stay. Each row puts one line above or below the
same three paragraphs and runs the whole cleaner."""

from __future__ import annotations

import pytest

from newsbeam.transforms.cleaner import clean_text

BODY = [
    "The city council approved the new transit budget on Monday after a long debate.",
    "Mayor Ana Ruiz said the plan would add three bus lines by next spring.",
    "Opponents argued that the fare increase would hurt low-income riders the most.",
]
STAYS = None

# (where, line, field, expected value); field None: the line must stay in the body.
CASES = [
    # dates
    ("top", "date 2023-03-02", "published_at", "2023-03-02T00:00:00+00:00"),
    ("top", "Published March 2, 2023 at 4:05 pm ET", "published_at", "2023-03-02T21:05:00+00:00"),
    ("top", "Updated 10:42 AM EST, Thu March 2, 2023", "published_at", "2023-03-02T15:42:00+00:00"),
    ("top", "Posted on 2 March 2023", "published_at", "2023-03-02T00:00:00+00:00"),
    ("top", "March 2, 2023", "published_at", "2023-03-02T00:00:00+00:00"),
    (
        "top",
        "Last updated: Thursday, 2 March 2023, 16:05 CET",
        "published_at",
        "2023-03-02T15:05:00+00:00",
    ),
    ("top", "2023-03-02T16:05:00+01:00", "published_at", "2023-03-02T15:05:00+00:00"),
    ("top", "Thu 2 Mar 2023 14.05 GMT", "published_at", "2023-03-02T14:05:00+00:00"),
    ("bottom", "First published on March 2, 2023", "published_at", "2023-03-02T00:00:00+00:00"),
    (
        "middle",
        "The vote was held on March 2, 2023, after months of delay and debate.",
        STAYS,
        None,
    ),
    ("middle", "Published figures for 2023 show ridership fell by a tenth.", STAYS, None),
    # bylines and credits
    ("top", "By Teilor Stone", "authors", ["Teilor Stone"]),
    ("top", "By Jane Doe and John Roe", "authors", ["Jane Doe", "John Roe"]),
    ("top", "By Maria de la Cruz, Reuters", "authors", ["Maria de la Cruz"]),
    ("bottom", "Written by Ahmed bin Salem", "authors", ["Ahmed bin Salem"]),
    ("bottom", "By Jane Doe, John Roe and Ann Lee", "authors", ["Jane Doe", "John Roe", "Ann Lee"]),
    (
        "bottom",
        "David Pierson, valerie hopkins and Michael D. Shear contributed reporting.",
        "contributors",
        ["David Pierson", "Valerie Hopkins", "Michael D. Shear"],
    ),
    ("bottom", "Anna Lee contributed to this report", "contributors", ["Anna Lee"]),
    (
        "middle",
        "By the time the vote came, most members of the public had left the chamber.",
        STAYS,
        None,
    ),
    ("middle", "By contrast, bus fares in the neighbouring county fell last year.", STAYS, None),
    (
        "middle",
        "The transit fund contributed reporting tools to the county's schools.",
        STAYS,
        None,
    ),
    # outlets and copyright
    ("top", "CNN", "source_name", "CNN"),
    ("bottom", "ABC News", "source_name", "ABC News"),
    ("top", "The Washington Post", "source_name", "The Washington Post"),
    ("bottom", "Agence France-Presse", "source_name", "Agence France-Presse"),
    ("bottom", "© (2023) Agence France-Presse", "source_name", "Agence France-Presse"),
    (
        "bottom",
        "All rights reproduction and representation reserved. © (2023) Agence France-Presse",
        "source_name",
        "Agence France-Presse",
    ),
    (
        "bottom",
        "© 2024 The Example Times. All rights reserved.",
        "source_name",
        "The Example Times",
    ),
    ("bottom", "Copyright (c) 2021-2023 Acme Media", "source_name", "Acme Media"),
    ("bottom", "Copyright 2023 Metro Daily News", "source_name", "Metro Daily News"),
    ("middle", "It was big news for the neighbourhood, which had waited a decade.", STAYS, None),
    ("middle", "The copyright dispute over the route maps went to court in 2019.", STAYS, None),
    (
        "middle",
        "CNN and ABC News both reported the vote within minutes of the result.",
        STAYS,
        None,
    ),
    # datelines and places
    ("top", "hong kong", "dateline", "Hong Kong"),
    ("top", "BEIJING", "dateline", "BEIJING"),
    ("top", "New York", "dateline", "New York"),
    ("first", "BEIJING — ", "dateline", "BEIJING"),
    ("first", "WASHINGTON (AP) — ", "dateline", "WASHINGTON"),
    ("first", "WASHINGTON (AP) — ", "source_name", "AP"),
    ("first", "KYIV, Ukraine — ", "dateline", "KYIV"),
    ("first", "(Reuters) - ", "source_name", "Reuters"),
    (
        "middle",
        "NATO members met on Tuesday — and agreed on nothing new about the budget.",
        STAYS,
        None,
    ),
    (
        "middle",
        "Beijing — which rarely comments on city transit — said nothing at all.",
        STAYS,
        None,
    ),
    # titles
    ("top", "Council Backs Transit Budget", "title", "Council Backs Transit Budget"),
    (
        "top",
        "Putin in China to meet his ally Xi Jinping",
        "title",
        "Putin in China to meet his ally Xi Jinping",
    ),
]


def run(where: str, line: str):
    if where == "top":
        text = [line, *BODY]
    elif where == "bottom":
        text = [*BODY, line]
    elif where == "first":
        text = [line + BODY[0], *BODY[1:]]
    else:
        text = [BODY[0], line, *BODY[1:]]
    return clean_text("\n\n".join(text))


def test_the_table_has_at_least_forty_rows():
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("where", "line", "field", "expected"), CASES, ids=[f"{c[0]}:{c[1][:30]}" for c in CASES]
)
def test_header_and_footer_lines(where, line, field, expected):
    result = run(where, line)
    if field is None:
        assert line in result.paragraphs
        assert result.paragraphs == [BODY[0], line, *BODY[1:]]
        return
    value = getattr(result, field)
    if field == "published_at":
        value = value.isoformat() if value else None
    assert value == expected
    if where == "first":
        assert result.paragraphs[0].startswith(line.strip())
    else:
        assert line not in result.paragraphs and result.paragraphs == BODY
