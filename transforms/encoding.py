"""Bytes → clean Unicode text: decoding, control characters, surrogates, mojibake.

Pure functions, no Beam. Read calls `decode_bytes` on a file's bytes and `repair_text` on every
text it hands on (a whole file, or a JSONL field). Every change to the text is returned as a
Boilerplate record of kind `encoding_repair`, which Extract adds to the article's audit.

Decoding, in order (the first that applies wins):
1. a byte-order mark (UTF-8, UTF-16, UTF-32);
2. UTF-16 without a mark, when every other byte is NUL;
3. strict UTF-8 that reads as text;
4. UTF-16 without a mark in any script: one byte of each pair varies far less than the other,
   and the bytes decode strictly to letters, marks, numbers, punctuation and spaces (Cyrillic
   or Arabic UTF-16 is valid UTF-8 made of control bytes, so it is tried after UTF-8 as text);
5. mostly UTF-8 with some lines that are not: each line on its own (UTF-8, or the legacy
   encoding guessed from the lines that are not UTF-8);
6. a legacy encoding: charset-normalizer's guess among the encodings news pages use, except
   that windows-1252 wins over another Latin code page when it reads the bytes as cleanly
   (latin-1 and windows-1252 files are the commonest legacy input; charset-normalizer often
   calls short French or German text windows-1250).
Bytes whose text is more than 2 % control characters are not text (`DecodeError`).

Mojibake (UTF-8 read as windows-1252 or latin-1: `cafÃ©`, `â€™`) is repaired with ftfy, line by
line, only when the repair is certain: the whole line re-encodes consistently, or ftfy's
`decode_inconsistent_utf8` rewrites only the broken sequences and keeps every space. Correct text,
including `SÃO PAULO`, is never changed.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import charset_normalizer
from charset_normalizer.md import mess_ratio
from ftfy import TextFixerConfig, fix_encoding_and_explain

from newsbeam.schemas import Boilerplate, valid_unicode

ENCODING_REPAIR = "encoding_repair"
MAX_CONTROL_SHARE = 0.02
MAX_UTF16_MESS = 0.05
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Encodings that news pages are actually served in; DOS and Mac code pages are left out because
# charset-normalizer picks them for short Western text (cp437 for "€5 …").
LEGACY_ENCODINGS = [
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "latin_1",
    "iso8859_2",
    "iso8859_5",
    "iso8859_7",
    "iso8859_8",
    "iso8859_9",
    "iso8859_15",
    "koi8_r",
    "koi8_u",
    "cp874",
    "gb18030",
    "big5",
    "cp932",
    "euc_jp",
    "cp949",
    "euc_kr",
]
# Latin code pages that windows-1252 may stand in for when it reads the bytes as cleanly.
# windows-1254 (Turkish) is not one: it differs from windows-1252 only in Turkish letters.
_WESTERN_RIVALS = {"cp1250", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_15"}
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# Counted as a sign of binary: C0 controls but white space and NUL (NUL is removed, not counted:
# files get NUL-padded).
_BINARY_CONTROL = re.compile("[\x01-\x08\x0e-\x1f]")
_MOJIBAKE_CONFIG = TextFixerConfig(restore_byte_a0=False, replace_lossy_sequences=False)
_CERTAIN_STEPS = frozenset({"encode", "decode"})
AUDIT_CHARS = 300


class DecodeError(ValueError):
    """Bytes that are not text in any encoding we can detect."""


@dataclass(frozen=True)
class Decoded:
    """A file's text, the encoding it was read with, and what decoding had to change."""

    text: str
    encoding: str
    repairs: list[Boilerplate] = field(default_factory=list)


def _audit(text: str, rule: str) -> Boilerplate:
    text = text.strip()
    if len(text) > AUDIT_CHARS:
        text = text[:AUDIT_CHARS] + "…"
    return Boilerplate(kind=ENCODING_REPAIR, text=text, rule=rule)


def control_share(text: str) -> float:
    """Share of control characters (other than white space and NUL) in the first 20,000."""
    sample = text[:20_000]
    if not sample:
        return 0.0
    return len(_BINARY_CONTROL.findall(sample)) / len(sample)


def _utf16_without_bom(data: bytes) -> str | None:
    """`utf-16-le`/`-be` when every other byte is NUL (ASCII-range text in UTF-16), else None."""
    sample = data[:100_000]
    if len(sample) < 8:
        return None
    half = len(sample) / 2
    even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd > 0.3 and even < 0.02:
        return "utf-16-le"
    if even > 0.3 and odd < 0.02:
        return "utf-16-be"
    return None


# What UTF-16 text is made of: letters, marks, numbers, punctuation, symbols and separators;
# never unassigned code points, private use or lone surrogates, which bytes that are not UTF-16
# give as soon as they are read two by two.
_TEXT_CATEGORIES = frozenset("LMNPSZ")


def _reads_as_utf16(data: bytes, encoding: str) -> bool:
    try:
        text = data[: len(data) - len(data) % 2].decode(encoding)
    except UnicodeDecodeError:
        return False
    sample = text[:10_000]
    unlike = sum(
        unicodedata.category(c)[0] not in _TEXT_CATEGORIES and c not in "\n\r\t" for c in sample
    )
    # charset-normalizer's measure of mess tells ideographs from 8-bit CJK encodings (Shift
    # JIS, GB18030) read two by two, which decode to valid but random ideographs and symbols.
    return unlike <= len(sample) * MAX_CONTROL_SHARE and mess_ratio(sample) <= MAX_UTF16_MESS


def _utf16_any_script(data: bytes) -> str | None:
    """`utf-16-le`/`-be` for UTF-16 text without a mark in any script, else None. Of each pair
    of bytes, the high one varies little in an alphabet (Cyrillic: 0x04, Arabic: 0x06) and the
    low one is often 0x80 or more in ideographs (Chinese, Japanese, Korean); bytes of 8-bit text
    read two by two show neither (both are mostly ASCII letters), and the text must decode
    strictly to letters, marks, numbers, punctuation, symbols and spaces."""
    sample = data[:20_000]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 8:
        return None
    orders = {"utf-16-le": (sample[0::2], sample[1::2]), "utf-16-be": (sample[1::2], sample[0::2])}
    for encoding, (low, high) in sorted(orders.items(), key=lambda item: len(set(item[1][1]))):
        narrow = 2 * len(set(high)) <= len(set(low))
        wide = sum(byte >= 0x80 for byte in low) >= 0.2 * len(low)
        if (narrow or wide) and _reads_as_utf16(data, encoding):
            return encoding
    return None


def _utf8_text(data: bytes) -> str | None:
    """`data` as UTF-8 when it is UTF-8 and reads as text (not control bytes), else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if control_share(text) <= MAX_CONTROL_SHARE else None


def detect_legacy_encoding(data: bytes) -> str:
    """The legacy (non-UTF) encoding of `data`; windows-1252 when it reads as cleanly as the
    best guess among the Latin code pages. Raises DecodeError when nothing fits."""
    results = charset_normalizer.from_bytes(data[:2_000_000], cp_isolation=LEGACY_ENCODINGS)
    best = results.best()
    if best is None:
        raise DecodeError("no text encoding fits these bytes")
    if best.encoding == "cp1252":
        return "cp1252"
    tied = {r.encoding for r in results if (r.chaos, r.coherence) == (best.chaos, best.coherence)}
    if "cp1252" in tied:
        return "cp1252"
    if best.encoding in _WESTERN_RIVALS:
        try:
            western = data[:200_000].decode("cp1252")
        except UnicodeDecodeError:
            return best.encoding
        if mess_ratio(western, 1.0) <= best.chaos + 0.01:
            return "cp1252"
    return best.encoding


def _decode_replacing(data: bytes, encoding: str) -> tuple[str, int]:
    """Decoded text and the number of bytes that had to be replaced with U+FFFD."""
    try:
        return data.decode(encoding), 0
    except UnicodeDecodeError:
        replaced = data.decode(encoding, errors="replace")
        return replaced, len(replaced) - len(data.decode(encoding, errors="ignore"))


def _mixed_utf8(data: bytes) -> Decoded | None:
    """Line-by-line decoding for a file that is mostly UTF-8 with some lines in another encoding
    (feeds concatenated from several sources). None when UTF-8 is not the majority."""
    lines = data.split(b"\n")
    utf8 = legacy = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            legacy += 1
    if utf8 == 0 or legacy > utf8:
        return None
    bad = [line for line in lines if not line.isascii() and not _is_utf8(line)]
    encoding = detect_legacy_encoding(b"\n".join(bad))
    texts = [
        line.decode("utf-8") if _is_utf8(line) else _decode_replacing(line, encoding)[0]
        for line in lines
    ]
    first = _decode_replacing(bad[0], encoding)[0]
    audit = _audit(f"{len(bad)} lines, the first: {first}", f"lines_decoded_as:{encoding}")
    return Decoded("\n".join(texts), f"utf-8+{encoding}", [audit])


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_bytes(data: bytes) -> Decoded:
    """Decode a file's bytes (see the module docstring for the order). Raises DecodeError for
    bytes that are not text. NUL and other control characters are left for `repair_text`."""
    decoded = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text, replaced = _decode_replacing(data, encoding)
            decoded = Decoded(text, encoding)
            break
    else:
        utf8 = None if _utf16_without_bom(data) else _utf8_text(data)
        utf16 = None if utf8 is not None else _utf16_without_bom(data) or _utf16_any_script(data)
        if utf16 is not None:
            text, replaced = _decode_replacing(data, utf16)
            decoded = Decoded(text, utf16)
        elif utf8 is not None:
            decoded, replaced = Decoded(utf8, "utf-8"), 0
        else:
            try:
                decoded, replaced = Decoded(data.decode("utf-8"), "utf-8"), 0
            except UnicodeDecodeError:
                decoded, replaced = _mixed_utf8(data), 0
            if decoded is None:
                encoding = detect_legacy_encoding(data)
                text, replaced = _decode_replacing(data, encoding)
                decoded = Decoded(text, encoding)
    share = control_share(decoded.text)
    if share > MAX_CONTROL_SHARE:
        raise DecodeError(f"{share:.0%} of the characters are control bytes")
    if replaced:
        decoded.repairs.append(
            _audit(f"{replaced} × U+FFFD", f"undecodable_bytes_replaced:{decoded.encoding}")
        )
    return decoded


def decode_lines(data: bytes) -> Decoded:
    """Decode a line-oriented file (JSONL), where each line is a record of its own: as
    `decode_bytes` when that works; otherwise line by line (UTF-8 where a line is UTF-8, else the
    legacy encoding guessed from the other lines, or latin-1), so that binary or oddly encoded
    lines cost only themselves (the JSON parser rejects them). DecodeError only when most lines
    are not text."""
    try:
        return decode_bytes(data)
    except DecodeError:
        pass
    lines = data.split(b"\n")
    bad = [line for line in lines if not _is_utf8(line)]
    try:
        encoding = detect_legacy_encoding(b"\n".join(bad)) if bad else "utf-8"
    except DecodeError:
        encoding = "latin-1"
    texts = [
        line.decode("utf-8") if _is_utf8(line) else _decode_replacing(line, encoding)[0]
        for line in lines
    ]
    records = [text for text in texts if text.strip()]
    binary = sum(control_share(text) > MAX_CONTROL_SHARE for text in records)
    if not records or 2 * binary > len(records):
        raise DecodeError(f"{binary} of {len(records)} lines are control bytes, not text")
    repairs = []
    if bad:
        first = _decode_replacing(bad[0], encoding)[0]
        repairs.append(
            _audit(f"{len(bad)} lines, the first: {first}", f"lines_decoded_as:{encoding}")
        )
    return Decoded("\n".join(texts), f"utf-8+{encoding}" if bad else "utf-8", repairs)


def remove_controls(text: str) -> tuple[str, list[Boilerplate]]:
    """Remove NUL and the other control characters that are not white space; audited."""
    found = Counter(_CONTROL.findall(text))
    if not found:
        return text, []
    summary = ", ".join(f"{n} × U+{ord(c):04X}" for c, n in sorted(found.items()))
    return _CONTROL.sub("", text), [_audit(summary, "control_characters_removed")]


def repair_surrogates(text: str) -> tuple[str, list[Boilerplate]]:
    """Join surrogate pairs, replace lone surrogates with U+FFFD (JSON `"\\ud800"`); audited."""
    repaired = valid_unicode(text)
    if repaired is text:
        return text, []
    lone = repaired.count("\ufffd") - text.count("\ufffd")
    pairs = len(text) - len(repaired)  # a joined pair is one character shorter
    summary = f"{pairs} surrogate pairs joined, {lone} lone surrogates replaced by U+FFFD"
    return repaired, [_audit(summary, "surrogates_repaired")]


def _certain(original: str, fixed: str, plan: list[tuple[str, str]]) -> bool:
    if not plan or fixed == original:
        return False
    if all(step in _CERTAIN_STEPS for step, _ in plan):
        return True
    spaces = sum(c.isspace() for c in original) == sum(c.isspace() for c in fixed)
    return plan == [("apply", "decode_inconsistent_utf8")] and spaces


def repair_mojibake(text: str) -> tuple[str, list[Boilerplate]]:
    """Undo UTF-8 read as a single-byte encoding (`Ã©` → `é`, `â€™` → `’`), line by line, when
    certain (see the module docstring). Each repaired line is audited with the original text."""
    lines = text.split("\n")
    audit: list[Boilerplate] = []
    for index, line in enumerate(lines):
        if line.isascii():
            continue
        fixed, plan = fix_encoding_and_explain(line, config=_MOJIBAKE_CONFIG)
        if _certain(line, fixed, plan or []):
            steps = ",".join(f"{step}:{arg}" for step, arg in plan)
            audit.append(_audit(line, f"mojibake:{steps}"))
            lines[index] = fixed
    return ("\n".join(lines), audit) if audit else (text, [])


def repair_text(text: str) -> tuple[str, list[Boilerplate]]:
    """Every text-level repair, in order: surrogates, control characters, mojibake."""
    audit: list[Boilerplate] = []
    for step in (repair_surrogates, remove_controls, repair_mojibake):
        text, found = step(text)
        audit.extend(found)
    return text, audit
