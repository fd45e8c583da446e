"""The hostile-input catalogue (docs/hostile-input.md) as files, with what each must become.

`build(folder)` writes every case into `folder` and returns the expected outcome per record,
keyed by the record's `source_uri` relative to `folder` (`name`, or `name#N` for JSONL line N):
    ("written", check)              the article is in articles/; check(row) holds
    ("rejected", stage, reason)     a row in rejects/ with that stage and reason
    ("duplicate", reason)           a row in duplicates/
"""

from __future__ import annotations

import gzip
import json
import os
import random
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOWNS = [
    "Aldermoor",
    "Brackenford",
    "Caldwick",
    "Dunmere",
    "Elsworth",
    "Farrowby",
    "Glenhallow",
    "Harrowgate",
    "Ivydale",
    "Jessop",
    "Kestrel Bay",
    "Larkspur",
    "Millbrook",
    "Northcombe",
    "Oakhurst",
    "Pembridge",
    "Quarry Hill",
    "Redwater",
    "Stonebridge",
    "Thornbury",
    "Upton Vale",
    "Wexcombe",
    "Yarrow",
    "Zennor",
    "Ashgrove",
    "Bellmont",
    "Coldharbour",
    "Dovecote",
]
Outcome = tuple[Any, ...]


def _words(text: str) -> list[str]:
    return text.split()


VOCABULARY = _words(
    "river market school harbour bridge library station garden factory hospital museum "
    "theatre orchard quarry festival ferry tram canal mill chapel bakery clinic stadium "
    "airport depot warehouse farm vineyard forest meadow valley coast island village street "
    "square tower repaired opened closed delayed funded planned built painted measured "
    "counted visited sold quietly slowly early late twice rarely nearby abroad upstream "
    "downtown overnight weekly engineers teachers nurses farmers drivers students volunteers "
    "builders fishermen bakers old new wooden narrow busy empty costly modest crowded flooded "
    "sunny windy frozen green"
)


def _filler(n: int) -> str:
    """Two paragraphs of words drawn for `n` alone: no two stories are near duplicates."""
    rng = random.Random(n)
    sentences = [
        " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(10, 16))).capitalize() + "."
        for _ in range(10)
    ]
    return " ".join(sentences[:5]) + "\n\n" + " ".join(sentences[5:])


def story(n: int, town: str | None = None) -> str:
    """A distinct, plainly written four-paragraph article (about 200 words): a fixed frame that
    the cases edit, around paragraphs drawn for `n` that make it unlike any other story."""
    town = town or f"{TOWNS[n % len(TOWNS)]} {n}"
    return (
        f"The council of {town} approved a new transit budget on Monday after a debate that "
        f"ran late into the night and drew {100 + n} residents to the chamber.\n\n"
        f"The mayor said the plan would add {2 + n % 5} bus lines by next spring and extend "
        f"service hours on weekends, when ridership has grown fastest.\n\n"
        f"{_filler(n)}\n\n"
        f"Opponents argued that the fare increase would hurt riders in {town} the most, and "
        f"several members promised to revisit the decision before the summer recess.\n"
    )


def quoted(n: int) -> str:
    """A story with curly quotes, dashes and accents (all in windows-1252)."""
    return story(n).replace(
        "The mayor said", "“It’s a fair deal — for everyone,” the café owner said;"
    )


def body_has(*fragments: str) -> Callable[[dict], bool]:
    return lambda row: all(f in row["body"] for f in fragments)


def audited(rule_prefix: str, *fragments: str) -> Callable[[dict], bool]:
    def check(row: dict) -> bool:
        rules = [b["rule"] for b in row["boilerplate"] if b["kind"] == "encoding_repair"]
        return any(r.startswith(rule_prefix) for r in rules) and body_has(*fragments)(row)

    return check


def undated_with_audit(row: dict) -> bool:
    return row["published_at"] is None and any(
        b["kind"] == "date_rejected" for b in row["boilerplate"]
    )


def mojibake(text: str) -> str:
    """UTF-8 read as windows-1252 the way browsers do (undefined bytes become C1 controls)."""
    return "".join(
        bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8")
    )


def html_page(n: int, published: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in story(n).split("\n\n"))
    return (
        f'<html><head><title>Transit budget {n}</title><meta property="article:published_time" '
        f'content="{published}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>Transit budget {n}</h1>{paragraphs}</article></body></html>"
    )


def build(folder: Path, twenty_mb: bool = True) -> dict[str, Outcome]:
    """Write the catalogue into `folder`; the expected outcome of every record."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Outcome] = {}

    def put(name: str | bytes, data: bytes, outcome: Outcome | None = None) -> None:
        path = folder / (name if isinstance(name, str) else os.fsdecode(name))
        path.write_bytes(data)
        if outcome is not None:
            key = name if isinstance(name, str) else name.decode("utf-8", "backslashreplace")
            expected[key] = outcome

    written = ("written", lambda row: True)
    # Empty, white space, binary, NUL
    put("empty.txt", b"", ("rejected", "read", "empty_file"))
    put("blank.txt", b" \n\t\r\n  ", ("rejected", "read", "empty_file"))
    put("bom-only.txt", "\ufeff".encode(), ("rejected", "read", "empty_file"))
    put("nul-only.txt", b"\x00" * 4096, ("rejected", "read", "empty_file"))
    put("binary.txt", random.Random(7).randbytes(50_000), ("rejected", "read", "binary_file"))
    put(
        "image.html",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100,
        ("rejected", "read", "binary_file"),
    )
    nul = story(1).encode()
    put(
        "nul-inside.txt",
        nul[:40] + b"\x00" + nul[40:] + b"\x00" * 2048,
        ("written", audited("control_characters_removed", "The council of")),
    )
    # Encodings
    put(
        "cp1252.txt",
        quoted(2).encode("cp1252"),
        ("written", body_has("“It’s a fair deal — for everyone,”")),
    )
    latin = story(3, "Città di Sète").replace("The mayor said", "Le maire a déclaré")
    put("latin-1.txt", latin.encode("latin-1"), ("written", body_has("Città di Sète", "déclaré")))
    put("utf16-bom.txt", quoted(4).encode("utf-16"), ("written", body_has("“It’s a fair deal")))
    put("utf16be-no-bom.txt", quoted(5).encode("utf-16-be"), ("written", body_has("café owner")))
    put("utf8-bom.txt", quoted(6).encode("utf-8-sig"), ("written", body_has("“It’s a fair deal")))
    put(
        "mojibake.txt",
        mojibake(quoted(7)).encode(),
        ("written", audited("mojibake:", "“It’s a fair deal — for everyone,” the café")),
    )
    mixed = quoted(8).replace("council", "council’s").split("\n\n")
    put(
        "mixed-encoding.txt",
        f"{mixed[0]}\n\n".encode() + mixed[1].encode("cp1252") + f"\n\n{mixed[2]}".encode(),
        ("written", audited("lines_decoded_as:", "council’s", "the café owner said")),
    )
    put(
        "escaped-emoji.txt",
        story(9).replace("Monday", "Monday \\ud83d\\ude00").encode(),
        ("written", body_has("Monday 😀")),
    )
    put(b"caf\xe9-name.txt", story(10).encode(), written)
    # Compression
    text_gz = gzip.compress(story(11).encode() * 3)
    put("truncated.txt.gz", text_gz[: len(text_gz) // 2], ("rejected", "read", "corrupt_gzip"))
    put("not-gzip.txt.gz", story(12).encode(), written)
    put("secretly-gzip.txt", gzip.compress(story(13).encode()), written)
    put(
        "two-members.txt.gz",
        gzip.compress(story(14).encode()) + gzip.compress(b"The end.\n"),
        written,
    )
    put("bomb.txt.gz", gzip.compress(b" " * 51_000_000), ("rejected", "read", "too_large"))
    lines = [json.dumps({"text": story(100 + i)}) for i in range(30)]
    packed = gzip.compress("\n".join(lines).encode() + b"\n")
    cut = packed[: len(packed) * 2 // 3]
    put("truncated.jsonl.gz", cut)
    prefix = zlib.decompressobj(wbits=31).decompress(cut)
    survivors = prefix.count(b"\n")  # the complete lines before the cut are read
    for number in range(1, survivors + 1):
        expected[f"truncated.jsonl.gz#{number}"] = written
    expected[f"truncated.jsonl.gz#{survivors + 1}"] = ("rejected", "read", "corrupt_gzip")
    # Size and nesting
    if twenty_mb:
        paragraphs = [f"{story(n)}Paragraph {n} of a document far too long." for n in range(25_000)]
        put(
            "twenty-mb.txt",
            "\n\n".join(paragraphs).encode()[:20_000_000],
            ("rejected", "validate", "body:string_too_long"),
        )
    put(
        "nested.html",
        b"<html><body>" + b"<div>" * 100_000 + story(15).encode() + b"</div>" * 100_000,
        ("rejected", "extract", "no_article_found"),
    )
    # Regular-expression bait around a real article
    put(
        "bait-read-more.txt",
        (story(16) + "\n" + "Read more " * 20_000 + "\n" + "Read more \n" * 20_000).encode(),
        ("written", body_has("The council of")),
    )
    put(
        "bait-brackets.txt",
        (story(17) + "\n" + "(" * 200_000 + "\n" + "[" * 200_000 + "\n" + "a" * 500_000).encode(),
        written,
    )
    put(
        "bait-tags.txt",
        (story(18) + "\n" + "<p" * 100_000 + "\n" + "&" * 200_000 + "\n" + "." * 200_000).encode(),
        written,
    )
    # Dates far away
    undated = ("written", lambda row: row["published_at"] is None)  # htmldate drops them itself
    put("future-date.html", html_page(19, "2999-01-01T00:00:00Z").encode(), undated)
    put("ancient-date.html", html_page(20, "0001-01-01").encode(), undated)
    # JSONL: good lines among broken ones, hostile sources and dates
    feed = [
        ({"text": story(30), "source": "../../etc"}, ("written", lambda r: r["source"] == "etc")),
        ("{broken json", ("rejected", "read", "invalid_json")),
        ({"text": story(31), "source": "a/b/c"}, ("written", lambda r: r["source"] == "a-b-c")),
        ({"text": 42}, ("rejected", "read", "invalid_record")),
        ({"title": "no text at all"}, ("rejected", "read", "invalid_record")),
        (
            {"text": story(32), "source": "\u0000\u001b[31mred\u0007"},
            ("written", lambda r: r["source"] == "31mred"),
        ),
        ("[" * 50_000 + "]" * 50_000, ("rejected", "read", "invalid_json")),
        ('{"text": ' + "9" * 5_000 + "}", ("rejected", "read", "invalid_json")),
        (
            {"text": story(33), "published_at": "0001-01-01T00:00:00Z"},
            ("written", undated_with_audit),
        ),
        (
            {"text": story(34), "published_at": "9999-12-31T23:59:59-12:00"},
            ("written", undated_with_audit),
        ),
        (
            {"text": story(35).replace("Monday", "Monday\u2028and Tuesday")},
            ("written", body_has("Tuesday")),
        ),
        (
            json.dumps({"text": story(36)}).replace("Monday", "Monday \\ud800"),
            ("written", audited("surrogates_repaired", "Monday \ufffd")),
        ),
        (
            {"text": story(37), "title": ["not", "a", "string"]},
            ("rejected", "read", "invalid_record"),
        ),
        (
            {"text": story(38), "published_at": "", "url": "", "source": "/"},
            ("written", lambda r: r["source"] == "unknown"),
        ),
        ("null", ("rejected", "read", "invalid_record")),
    ]
    rows = [line if isinstance(line, str) else json.dumps(line) for line, _ in feed]
    put("feed.jsonl", ("\n".join(rows) + "\n").encode())
    for number, (_, outcome) in enumerate(feed, start=1):
        expected[f"feed.jsonl#{number}"] = outcome
    put("blank-lines.jsonl", b"\n\n \n", ("rejected", "read", "empty_file"))
    garbage = bytes(b for b in random.Random(8).randbytes(20_000) if b != 0x0A)
    put(
        "binary-line.jsonl",
        b"\n".join(
            [
                json.dumps({"text": story(40)}).encode(),
                garbage,
                json.dumps({"text": story(41)}, ensure_ascii=False)
                .replace("council", "café")
                .encode("cp1252"),
            ]
        ),
    )
    expected["binary-line.jsonl#1"] = written
    expected["binary-line.jsonl#2"] = ("rejected", "read", "invalid_json")
    expected["binary-line.jsonl#3"] = ("written", body_has("The café of"))
    # Unsupported, duplicates, the same file twice
    put("notes.pdf", b"%PDF-1.4 not an article", ("rejected", "read", "unsupported_kind"))
    put("plain.txt", story(50).encode(), written)
    copies = [{"text": story(51), "published_at": f"2024-01-0{day}T00:00:00Z"} for day in (2, 1)]
    put("copies.jsonl", "\n".join(json.dumps(c) for c in copies).encode())
    expected["copies.jsonl#1"] = ("duplicate", "exact")  # the later copy of the same story
    expected["copies.jsonl#2"] = written
    # Entries that are not regular files: read, they would block or never end; listed by
    # Beam or not, each is one reject
    os.mkfifo(folder / "fifo.txt")
    expected["fifo.txt"] = ("rejected", "read", "not_a_regular_file")
    (folder / "zero.txt").symlink_to("/dev/zero")
    expected["zero.txt"] = ("rejected", "read", "not_a_regular_file")
    (folder / "dangling.txt").symlink_to(folder / "deleted.txt")
    expected["dangling.txt"] = ("rejected", "read", "dangling_symlink")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    expected["loop.txt"] = ("rejected", "read", "symlink_loop")
    return expected


def patterns(folder: Path) -> list[str]:
    """The --input patterns: plain.txt is matched three times, under three spellings."""
    return [
        f"{folder}/*.txt",
        f"{folder}/*.gz",
        f"{folder}/*.html",
        f"{folder}/*.jsonl",
        f"{folder}/*.pdf",
        f"{folder}/plain.txt",
        f"{folder}/./plain.txt",
    ]
