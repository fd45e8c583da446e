"""Words for counting and shingling: `\\w+` runs, a CJK character each."""

from __future__ import annotations

from newsbeam.schemas.text import words
from newsbeam.transforms.dedup import body_signature, estimated_jaccard, word_shingles

CHINESE = (
    "新华社北京三月二日电国家主席习近平今天在人民大会堂会见了来访的外国领导人"
    "双方就两国关系交换了意见"
)


def test_latin_text_counts_runs_as_before():
    assert words("Xi met Putin in Moscow, on 2 March.") == [
        "Xi",
        "met",
        "Putin",
        "in",
        "Moscow",
        "on",
        "2",
        "March",
    ]


def test_each_chinese_character_and_kana_is_a_word():
    assert len(words(CHINESE)) == len(CHINESE)
    assert words("東京でニュース") == ["東", "京", "で", "ニ", "ュ", "ー", "ス"]
    assert words("新华社 Xinhua 报道") == ["新", "华", "社", "Xinhua", "报", "道"]


def test_chinese_stories_get_shingles_that_tell_near_copies_from_other_text():
    edited = CHINESE.replace("今天", "昨天")
    other = "上海证券交易所今天公布的数据显示本月新股发行数量比去年同期明显增加市场交易活跃"
    assert len(word_shingles(CHINESE)) > 40
    near = estimated_jaccard(body_signature(CHINESE), body_signature(edited))
    far = estimated_jaccard(body_signature(CHINESE), body_signature(other))
    assert near > 0.6 > 0.1 > far
