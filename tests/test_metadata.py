"""Header and footer lines that are metadata, and look-alike lines that are article text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsbeam.transforms import metadata as meta


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("date 2023-03-02", "2023-03-02T00:00"),
        (" date 2023-03-02 ", "2023-03-02T00:00"),
        ("Published March 2, 2023 at 4:05 pm ET", "2023-03-02T21:05"),
        ("Updated 10:42 AM EST, Thu March 2, 2023", "2023-03-02T15:42"),
        ("Posted on 2 March 2023", "2023-03-02T00:00"),
        ("Last updated: Thursday, 2 March 2023, 16:05 CET", "2023-03-02T15:05"),
        ("March 2, 2023", "2023-03-02T00:00"),
        ("2023-03-02T16:05:00+01:00", "2023-03-02T15:05"),
        ("Mar. 2, 2023 5:00 p.m. EDT", "2023-03-02T21:00"),
        ("Thu 2 Mar 2023 14.05 GMT", "2023-03-02T14:05"),
        ("2 hours ago", None),
        ("March 2023", None),
        ("The talks began on March 2, 2023 and ended a week later without an agreement.", None),
        ("Published by the ministry", None),
    ],
)
def test_date_lines(line, expected):
    parsed = meta.parse_date_line(line)
    assert (parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if parsed else None) == expected


def test_dates_before_1990_or_in_the_future_are_not_believed():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert meta.date_in_range(datetime(2023, 3, 2, tzinfo=UTC), now)
    assert not meta.date_in_range(datetime(1989, 12, 31, tzinfo=UTC), now)
    assert not meta.date_in_range(datetime(2024, 6, 1, tzinfo=UTC), now)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("By Teilor Stone", ["Teilor Stone"]),
        ("by Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("By Jane Doe, John Roe and Ann Lee", ["Jane Doe", "John Roe", "Ann Lee"]),
        ("By Maria de la Cruz, Reuters", ["Maria de la Cruz"]),
        ("Written by Ahmed bin Salem", ["Ahmed bin Salem"]),
        ("By the time the vote came, most had left.", None),
        ("By contrast, exports fell sharply in March.", None),
        ("Bystanders said the crowd dispersed.", None),
    ],
)
def test_bylines(line, expected):
    assert meta.parse_byline(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "David Pierson, valerie hopkins and Michael D. Shear contributed reporting.",
            ["David Pierson", "Valerie Hopkins", "Michael D. Shear"],
        ),
        ("Jane Doe contributed reporting from Paris.", None),
        ("Anna Lee contributed to this report", ["Anna Lee"]),
        ("The ministry said the fund contributed reporting tools to schools.", None),
    ],
)
def test_contributor_lines(line, expected):
    assert meta.parse_contributors(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("CNN", "CNN"),
        ("ABC News", "ABC News"),
        ("The Washington Post", "The Washington Post"),
        ("Agence France-Presse", "Agence France-Presse"),
        ("BBC", "BBC"),
        ("PARIS", None),
        ("South Africa Latest News, South Africa Headlines", None),
        ("It was big news.", None),
        ("Breaking news from the capital", None),
    ],
)
def test_outlet_lines(line, expected):
    assert meta.parse_outlet_line(line) == expected


@pytest.mark.parametrize(
    ("line", "is_notice", "holder"),
    [
        (
            "All rights reproduction and representation reserved. © (2023) Agence France-Presse",
            True,
            "Agence France-Presse",
        ),
        ("© 2024 The Example Times. All rights reserved.", True, "The Example Times"),
        ("Copyright (c) 2021-2023 Acme Media", True, "Acme Media"),
        ("Russian President Vladimir Putin toasts in Moscow © SPUTNIK – Pavel Byrkin", False, None),
        ("The copyright dispute went to court in 2019.", False, None),
    ],
)
def test_copyright_notices(line, is_notice, holder):
    assert meta.is_copyright(line) is is_notice
    assert (meta.copyright_holder(line) if is_notice else None) == holder


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hong kong", "Hong Kong"),
        ("BEIJING", "BEIJING"),
        ("New York", "New York"),
        ("Spread the love", None),
        ("He left.", None),
        ("In 2023", None),
    ],
)
def test_place_lines(line, expected):
    assert meta.parse_place_line(line) == expected


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("BEIJING — Chinese leader Xi Jinping met …", "BEIJING"),
        ("WASHINGTON (AP) — The Senate voted …", "WASHINGTON"),
        ("KYIV, Ukraine — Air raid sirens …", "KYIV"),
        ("NEW DELHI -- Officials said …", "NEW DELHI"),
        ("NATO members met on Tuesday — and agreed …", None),
        ("Beijing — which rarely comments — said …", None),
    ],
)
def test_leading_datelines(paragraph, expected):
    assert meta.leading_dateline(paragraph) == expected


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Agence France-Presse", "agence-france-presse"),
        ("../../etc", "etc"),
        ("a/b\\c\x00d", "a-b-c-d"),
        ("Le Monde diplomatique", "le-monde-diplomatique"),
        ("Ça m’intéresse", "ca-minteresse"),
        ("", "unknown"),
        (None, "unknown"),
        ("---", "unknown"),
        ("x" * 200, "x" * 64),
        ("Лента.ру", "lenta-ru"),
        ("新华社", "xin-hua-she"),
        ("Ελληνική", "ellenike"),
        ("Straße", "strasse"),
        ("😀 ✓", "unknown"),
    ],
)
def test_slugs_are_partition_safe(name, slug):
    assert meta.slugify(name) == slug


def test_a_name_in_letters_without_a_transliteration_keeps_a_slug_of_its_own():
    first, second = meta.slugify("ꦗꦮ"), meta.slugify("ꦧꦭꦶ")
    assert first.startswith("x-") and second.startswith("x-") and first != second


def test_source_from_url():
    assert meta.source_from_url("https://www.nytimes.com/2019/11/19/x.html") == "nytimes.com"
    assert meta.source_from_url("not a url") is None
    assert meta.source_from_url(None) is None
