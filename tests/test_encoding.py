"""Encoding: legacy encodings decoded right, control characters and surrogates removed, mojibake
repaired only when certain, and correct text never touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbeam.transforms.encoding import (
    ENCODING_REPAIR,
    DecodeError,
    decode_bytes,
    remove_controls,
    repair_mojibake,
    repair_surrogates,
    repair_text,
)

QUOTES = "The minister’s “final” offer — rejected by the café owners’ union… for €5."


def _fits(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


WESTERN = [
    QUOTES,
    "Le café de la gare a fermé ses portes après trente années de service.",
    "Größe, Straße und Übung: „Die Bürger“ haben gewählt.",
    "Niño, señor, ¿qué pasó? «Nada», dijo él.",
    "São Paulo: a eleição não terminou, disse o ministro à imprensa.",
    "It costs €5 … or so",
]


@pytest.mark.parametrize(
    ("text", "codec"),
    [(t, c) for t in WESTERN for c in ("cp1252", "latin-1") if t.isascii() or _fits(t, c)],
)
def test_windows_1252_and_latin_1_decode_exactly(text, codec):
    decoded = decode_bytes(text.encode(codec))
    assert decoded.text == text
    assert decoded.encoding == "cp1252"
    assert decoded.repairs == []


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Zażółć gęślą jaźń, powiedział minister w czwartek wieczorem.", "cp1250"),
        ("Привет мир, сказал министр в четверг вечером.", "cp1251"),
        ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία.", "cp1253"),
        ("日本政府は水曜日、新たな経済対策を発表した。", "shift_jis"),
        ("中国外交部发言人周三表示，双方将继续沟通。", "gbk"),
    ],
)
def test_other_legacy_encodings_are_not_taken_for_windows_1252(text, codec):
    assert decode_bytes(text.encode(codec)).text == text


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32"])
def test_utf16_with_or_without_a_byte_order_mark(codec):
    decoded = decode_bytes(QUOTES.encode(codec))
    assert decoded.text.removeprefix("\ufeff") == QUOTES


SCRIPTS = {
    "cyrillic": "Городской совет Вологды в понедельник утвердил бюджет на 2024 год.\n"
    "Мэр сказал: «Это справедливая сделка для всех».",
    "arabic": "وافق مجلس المدينة يوم الاثنين على ميزانية عام 2024.\n"
    "وقال العمدة إن الاتفاق عادل للجميع.",
    "chinese": "市议会周一批准了2024年的预算。\n市长说，这项协议对所有人都公平。",
    "japanese": "市議会は月曜日に予算を承認した。",
    "korean": "시의회는 월요일에 예산을 승인했다.",
    "greek": "Το δημοτικό συμβούλιο ενέκρινε τον προϋπολογισμό.",
    "hindi": "नगर परिषद ने सोमवार को बजट को मंजूरी दी।",
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_decoded_in_any_script(script, codec):
    decoded = decode_bytes(SCRIPTS[script].encode(codec))
    assert (decoded.text, decoded.encoding) == (SCRIPTS[script], codec)


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Le maire a déclaré que le théâtre près de la rivière était prêt. " * 20, "cp1252"),
        ("Grüße aus München, schön öffentlich und ländlich. " * 10, "latin-1"),
        (SCRIPTS["cyrillic"], "cp1251"),
        (SCRIPTS["chinese"], "gb18030"),
        (SCRIPTS["arabic"], "cp1256"),
    ],
)
def test_legacy_8_bit_text_is_not_taken_for_utf16(text, codec):
    assert decode_bytes(text.encode(codec)).text == text


def test_a_mostly_utf8_file_with_legacy_lines_is_decoded_line_by_line():
    data = (QUOTES + "\n").encode() + "Le café de la gare.\n".encode("cp1252") + QUOTES.encode()
    decoded = decode_bytes(data)
    assert decoded.text == f"{QUOTES}\nLe café de la gare.\n{QUOTES}"
    assert decoded.encoding == "utf-8+cp1252"
    ((repair),) = decoded.repairs
    assert (repair.kind, repair.rule) == (ENCODING_REPAIR, "lines_decoded_as:cp1252")


def test_undecodable_bytes_are_replaced_and_audited():
    decoded = decode_bytes(codecs_bom_utf16() + b"\x00\xd8")  # a lone surrogate in UTF-16
    assert "\ufffd" in decoded.text
    assert [r.rule for r in decoded.repairs] == ["undecodable_bytes_replaced:utf-16"]


def codecs_bom_utf16() -> bytes:
    return "Officials met on Tuesday.".encode("utf-16")


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 40,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(1, 32)) * 50,
        b"\x7fELF\x02\x01\x01" + bytes(range(0, 32)) * 100,
        b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(0, 32)) * 100,
    ],
    ids=["all-bytes", "png", "elf", "zip"],
)
def test_binary_is_refused(data):
    with pytest.raises(DecodeError):
        decode_bytes(data)


def test_nul_and_control_characters_are_removed_and_audited():
    text, audit = remove_controls("Officials\x00 met\x1b on\x00 Tuesday.\tYes.\n")
    assert text == "Officials met on Tuesday.\tYes.\n"
    ((entry),) = audit
    assert (entry.kind, entry.rule, entry.text) == (
        ENCODING_REPAIR,
        "control_characters_removed",
        "2 × U+0000, 1 × U+001B",
    )


def test_surrogates_are_joined_or_replaced():
    text, audit = repair_surrogates("emoji \ud83d\ude00, lone \ud800.")
    assert text == "emoji 😀, lone \ufffd."
    assert audit[0].text == "1 surrogate pairs joined, 1 lone surrogates replaced by U+FFFD"
    assert repair_surrogates("plain") == ("plain", [])


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("cafÃ©", "café"),
        ("The ministerâ€™s offer", "The minister’s offer"),
        ("â€œFinalâ€\x9d offer", "“Final” offer"),
        ("Ã¢â‚¬â„¢ twice broken", "’ twice broken"),
        ("Her offer at the cafÃ© — “rejected”", "Her offer at the café — “rejected”"),
        ("Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "привет"),
    ],
)
def test_mojibake_is_repaired_and_audited(broken, fixed):
    text, audit = repair_mojibake(f"Line one is fine.\n{broken}\nLast line.")
    assert text == f"Line one is fine.\n{fixed}\nLast line."
    ((entry),) = audit
    assert entry.kind == ENCODING_REPAIR and entry.text == broken.strip()
    assert entry.rule.startswith("mojibake:")


@pytest.mark.parametrize(
    "text",
    [
        "SÃO PAULO — Brazil’s largest city",
        "naïve café “quoted” — ok…",
        "José Martí and Antonín Dvořák",
        "© 2023 Acme · 2×3 ± 1 µm",
        "Â",
        "The ministerâ€™s â€œfinalâ€ offer",  # lossy: the closing quote lost a byte; not certain
    ],
)
def test_text_that_is_not_certainly_mojibake_is_left_alone(text):
    assert repair_mojibake(text) == (text, [])


correct_text = st.text(
    st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?-()\n")
        + list("éèêàâçôûîïüöäßñÉÀÇÖÜ’‘“”—–…€£©°«»")
        + list("привет мир Ελλάδα 日本語 中文 한국어 עברית العربية")
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(correct_text)
def test_repair_never_changes_correct_text(text):
    assert repair_text(text) == (text, [])


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(correct_text)
def test_a_mojibake_repair_is_never_wrong(text):
    """UTF-8 read as windows-1252 is either repaired back to the original or left as it is
    (ftfy does not call a short fragment like `æ–‡` certain); never turned into a third text."""
    try:
        broken = text.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:
        return  # a byte windows-1252 does not define: a different kind of damage
    assert repair_mojibake(broken)[0] in (text, broken)


def sloppy_windows_1252(data: bytes) -> str:
    """Bytes read as browsers read windows-1252: the five undefined bytes become C1 controls."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in data)


western_words = st.lists(
    st.sampled_from(
        ["the", "minister", "said", "café", "été", "Größe", "señor", "“final”", "it’s", "—", "…"]
    ),
    min_size=3,
    max_size=30,
).map(" ".join)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(western_words.filter(lambda t: not t.isascii()))
def test_western_text_read_as_windows_1252_is_always_repaired(text):
    broken = sloppy_windows_1252(text.encode("utf-8"))
    repaired, audit = repair_mojibake(broken)
    assert repaired == text
    assert len(audit) == 1
