"""The text cleaner: split article text into blocks, classify each, keep the article.

The method, in order (docs/how-it-works.md, "Boilerplate removal"):
1. Repair what scrapers leave inside sentences: literal `\\uXXXX` escapes, HTML tags and their
   broken halves (`< p>`, `/p>`), HTML entities. Each repair is recorded.
2. Split into blocks (a line, or lines hard-wrapped inside one paragraph joined back).
3. Classify each block on its own: separators, read-more links, related-news headers, copyright
   notices, bylines, contributor credits, photo captions, date lines, calls to action, ….
4. Classify in context: the teaser before a read-more link, repeats of the headline, a comments
   section, the lines of the source's template (recurring across its documents).
5. Find the main region: the contiguous run of blocks with the largest sum of scores (prose
   counts for, short non-sentences and classified blocks against), never crossing a copyright
   notice, a byline or a comments header. Above it: title, metadata lines, banners. Below it:
   outlet lines, author names and bios, navigation. Inside it, only blocks with positive
   evidence of boilerplate are removed: the article keeps every sentence. In text that looks
   like a whole page (menus, link lists and furniture around the article), the blocks are
   scored by a small learned model instead (`transforms/block_model.py`).

Every removed or rewritten segment is returned as a Boilerplate record with its kind and rule.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newsbeam.schemas import Boilerplate
from newsbeam.schemas.text import WORD as _WORD
from newsbeam.transforms import metadata as meta
from newsbeam.transforms.block_model import BARRIERS, BlockModel, shipped_model
from newsbeam.transforms.block_model import features as model_features

_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})"
)
_HTML_TAG_NAMES = (
    r"(?:p|br|div|span|em|strong|b|i|u|a|li|ul|ol|h[1-6]|blockquote|figure|figcaption|img"
    r"|section|article|header|footer|nav|aside|small|sup|sub|hr)"
)
_HTML_TAG = re.compile(
    r"<[ \t]{0,3}/?[ \t]{0,3}" + _HTML_TAG_NAMES + r"\b[^<>\n]{0,300}?/?[ \t]{0,3}>", re.IGNORECASE
)
_HTML_HALF_TAG = re.compile(r"(?<![\w<])/" + _HTML_TAG_NAMES + r"[ \t]{0,3}>", re.IGNORECASE)
_HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
_TERMINAL = re.compile(r"[.!?…][\"'”’»)\]]*$|[\"”»]$")
_READ_MORE = re.compile(
    r"^(?:read more|read the full (?:story|article)|continue reading|full story|see more|"
    r"more from [\w ]{1,30}|keep reading|read on)\s*[»›>→…:.]*$",
    re.IGNORECASE,
)
_INLINE_READ_MORE = re.compile(r"(?:read more|continue reading)\s*[»›>→…]+\s*$", re.IGNORECASE)
_RELATED_HEADER = re.compile(
    r"\b(?:similar|related|more|recommended|latest|trending|popular|top|other)\s+"
    r"(?:news|stories|articles|posts|reads|coverage|headlines|videos|links)\b"
    r"|\byou (?:may|might) (?:also )?(?:like|be interested)|\b(?:also read|read also|see also)\b",
    re.IGNORECASE,
)
_CAPTION = re.compile(
    r"©|\b(?:photo|photograph|image|picture|illustration)s?\s*(?:by\b|:|credit)|\bcredit\s*:"
    r"|\b(?:getty images|shutterstock|ap photo|afp photo|reuters photo)\b"
    r"|/(?:afp|ap|reuters|getty)\b",
    re.IGNORECASE,
)
_CONTACT = re.compile(
    # bounded repeats keep this linear on long lines without an @
    r"[\w.+-]{1,64}@[\w-]{1,63}\.[\w.]{2,63}"
    r"|\b\d{1,2}-\d{3}-\d{3}-\d{4}\b|\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b"
)
_QUOTE_OR_SPEECH = re.compile(r"[\"“”]|\b(?:said|says|told|according)\b", re.IGNORECASE)


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_READER = _vocabulary("you your you're you’re you'll you’ll yours")
_ACTION_VERBS = _vocabulary(
    "click tap subscribe sign log register follow share download go visit contact join enable "
    "disable allow accept update validate watch listen like comment support donate upgrade "
    "install check read get signup login"
)
_SITE_WORDS = _vocabulary(
    "theme license licence cookie cookies browser javascript newsletter newsletters subscription "
    "subscribe subscriber subscribers account website site page app domain notification "
    "notifications adblock adblocker login password email inbox podcast premium paywall menu "
    "button comments privacy policy terms plugin settings options forums forum alerts "
    "facebook twitter instagram youtube linkedin whatsapp telegram tiktok pinterest reddit "
    "consent tracking browsing survey feedback"
)
_UI_WORDS = _vocabulary(
    "top button menu share tweet print email comments comment login search home skip "
    "navigation next previous prev back advertisement advert ad sponsored"
)
_NUMBER = re.compile(r"\d+")
_MINOR = _vocabulary("a an and as at but by for from in nor of on or so the to up via vs with")
_LIST_MARKER = re.compile(r"^(?:[*+•·▪◦>»o-]|\d{1,2}[.)])\s")
_CLOSING = re.compile(
    r"^(?:leave|post|add|write|submit) a (?:comment|reply|response)\b"
    r"|^\d[\d,]*\s+(?:responses?|replies|comments?) to\b|^comments (?:are|have been) closed\b"
    r"|^join the (?:discussion|conversation)\b",
    re.IGNORECASE,
)
"""A comments header worded as an invitation or a thread's title: after some prose, the story
is over."""
_COMMENTS_HEADER = re.compile(
    r"^(?:comments?|responses?|replies|reactions|discussion)\b.{0,20}$"
    r"|\b\d[\d,]*\s+(?:comments?|responses?|replies)\b"
    r"|^(?:show|view|load|see) (?:all )?\d*\s*comments?\b"
    r"|^(?:one|two|three|four|five|no) (?:comments?|responses?|replies)\b"
    rf"|{_CLOSING.pattern}",
    re.IGNORECASE,
)
"""Any comments header: a count or a label (also links under a headline), or a closing one."""
_SIGNED = re.compile(
    r"^(?!(?:he|she|they|it|one|this|that|we|i|you)\s)[A-Z0-9@][^.!?:]{0,60}?\s"
    r"(?:says\s*:|(?:said|wrote|says)\s*(?:\.{2,}|…))\s*$",
    re.IGNORECASE,
)
"""A comment's signature line: `Robert said...`, `Old Harbour Resident says:`. Not `The
minister said:`, which introduces a quote in a story (past tense and a colon)."""
_RELATED_PREFIX = re.compile(
    r"^\[?(?:related|see also|also read|read also|read more|more|recommended|watch|listen|"
    r"related (?:article|story|content|coverage|link)s?)\s*:",
    re.IGNORECASE,
)
_BROWSER_NOTICE = re.compile(
    r"\b(?:requires?|enable|enabled|turn on)\b.{0,40}\bjavascript\b"
    r"|\bjavascript\b.{0,40}\b(?:disabled|required|enabled|turned off)\b"
    r"|\b(?:browser|adblock\w*|ad blocker)\b.{0,40}\b(?:not supported|outdated|disable|whitelist)",
    re.IGNORECASE,
)
_GALLERY = re.compile(
    r"^(?:image|photo|picture|slide|video)\s+\d+\s+(?:of|/)\s+\d+$"
    r"|^(?:image|photo|video|media)\s+(?:caption|copyright|source)\b",
    re.IGNORECASE,
)
_POSITION_IN_PHOTO = re.compile(
    r",\s(?:left|right|center|centre|second from (?:left|right)|top|bottom),\s"
    r"|\((?:left|right|center|centre|L|R|pictured|top|bottom)\)"
)
_CONTACT_WORDS = re.compile(
    r"\b(?:follow|contact|reach|reached|tips?|email|e-mail|twitter)\b", re.I
)
_COMMENT_SIGNATURE = re.compile(
    r"\b(?:says|said|wrote|writes|replied|commented)\s*(?::|\.{2,}|…)\s*$"
    r"|^reply$|^(?:like|report|flag)$",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"(?<![\d:])\d{1,2}:[0-5]\d(?::[0-5]\d)?(?!\d)")
"""A clock time: `3:45`, `15:45:02` (`am`/`pm` may follow)."""
_AGO = re.compile(r"\b(?:an?|\d+)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b", re.I)
"""A relative time, as comment widgets stamp comments: `3 hours ago`, `a year ago`."""
_POST_LINE = re.compile(
    r"^(?:posted|published|written|filed|submitted)\s+(?:by|in|on|at|under)\b", re.IGNORECASE
)
"""A blog post's signature line: `Posted by Helen at 8:15 PM`, `Filed under News`."""
_TAGS_LINE = re.compile(
    r"^(?:labels|tags|tagged(?: with| as)?|categories|category|topics|filed under|posted in)"
    r"\s*:",
    re.IGNORECASE,
)
"""A post's labels: `Labels: compost, no dig, soil`, `Tags: politics, budget`."""
_BIO = re.compile(
    r"^[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}\s+(?:is|was|has been|joined)\b[^.]{0,80}?\b"
    r"(?:editor|reporter|writer|correspondent|journalist|columnist|contributor|producer|"
    r"author|critic|analyst|blogger|freelancer)\b"
)


@dataclass
class Block:
    text: str
    words: int
    kind: str | None = None
    rule: str | None = None
    names: tuple[str, ...] = ()  # the people a byline names

    @property
    def sentence_like(self) -> bool:
        """Ends like a sentence, or like a long clause introducing what follows (`…:`)."""
        if self.words >= 8 and self.text.endswith(":"):
            return True
        return self.words >= 2 and bool(_TERMINAL.search(self.text))

    @property
    def list_item(self) -> bool:
        return bool(_LIST_MARKER.match(self.text))

    @property
    def headline_case(self) -> bool:
        """Most words capitalised, as in a headline or a menu: `Why Late Fall Is the Best Time`."""
        words = [w for w in self.text.split() if w[:1].isalpha() and w.casefold() not in _MINOR]
        return len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) >= 0.8

    @property
    def title_like(self) -> bool:
        return (
            2 <= self.words <= 25
            and len(self.text) <= 200
            and not self.text.endswith((".", ",", ";", ":"))
            and (self.text[0].isupper() or self.text[0].isdigit() or self.text[0] in "\"“‘'")
        )


@dataclass
class CleanResult:
    """The article a text cleans to: paragraphs, metadata found in the removed lines, the audit."""

    paragraphs: list[str]
    boilerplate: list[Boilerplate] = field(default_factory=list)
    title: str | None = None
    published_at: datetime | None = None
    date_text: str | None = None
    source_name: str | None = None
    authors: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    dateline: str | None = None
    origins: dict[str, str] = field(default_factory=dict)
    """Which kind of line each field came from: {"source": "copyright_line", …}."""

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


# --- 1. repairs ------------------------------------------------------------------------------


def _audited_sub(
    pattern: re.Pattern[str], text: str, kind: str, rule: str, replace, audit: list[Boilerplate]
) -> str:
    def replace_and_record(match: re.Match[str]) -> str:
        audit.append(Boilerplate(kind=kind, text=match.group(0), rule=rule))
        return replace(match)

    return pattern.sub(replace_and_record, text)


def _unescape(match: re.Match[str]) -> str:
    """A literal `\\uXXXX` escape as its character; an escaped surrogate pair as one character,
    a lone escaped surrogate as U+FFFD (it is not text)."""
    if match.group(1):
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    code = int(match.group(3), 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def repair(text: str) -> tuple[str, list[Boilerplate]]:
    """Undo scraper damage that sits inside sentences; every repair is audited."""
    audit: list[Boilerplate] = []
    text = _audited_sub(_ESCAPE, text, "escape", "literal_unicode_escape", _unescape, audit)
    text = _audited_sub(_HTML_TAG, text, "html_remnant", "html_tag", lambda m: " ", audit)
    text = _audited_sub(
        _HTML_HALF_TAG, text, "html_remnant", "broken_html_tag", lambda m: " ", audit
    )
    text = _audited_sub(
        _HTML_ENTITY,
        text,
        "html_remnant",
        "html_entity",
        lambda m: html.unescape(m.group(0)),
        audit,
    )
    return text, audit


# --- 2. blocks -------------------------------------------------------------------------------


def split_blocks(text: str) -> list[Block]:
    """Lines as blocks; a hard-wrapped paragraph (line without an ending, next line lowercase)
    is joined back into one block."""
    blocks: list[Block] = []
    pending: list[str] = []  # the lines of the paragraph being joined; each is checked alone

    def flush() -> None:
        if pending:
            joined = " ".join(pending)
            blocks.append(Block(joined, len(_words(joined))))
            pending.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = " ".join(raw.split())
        if not line:
            flush()
            continue
        if pending and not _TERMINAL.search(pending[-1]) and line[0].islower():
            pending.append(line)
            continue
        flush()
        pending.append(line)
    flush()
    return blocks


# --- 3. classify each block on its own -------------------------------------------------------


def is_ui_chrome(text: str) -> bool:
    """A short control label of the page, not a sentence: `Back to top button`, `Share this`."""
    words = [w.casefold() for w in _words(text)]
    if not words or len(words) > 6 or _TERMINAL.search(text):
        return False
    ui = sum(w in _UI_WORDS or w in _SITE_WORDS for w in words)
    return ui >= 2 or (ui >= 1 and words[0] in _ACTION_VERBS)


def is_call_to_action(text: str, inside_article: bool = False) -> bool:
    """Text addressed to the site's reader about the site: `Sign up for our newsletter`,
    `Jannah Theme License is not validated, Go to the theme options page …`."""
    words = [w.casefold() for w in _words(text)]
    if not words:
        return False
    site = sum(w in _SITE_WORDS for w in words)
    clause_starts = {words[0]} | {
        _words(part)[0].casefold() for part in re.split(r"[,;:.!?]\s+", text) if _words(part)
    }
    addressed = any(w in _READER for w in words)
    imperative = bool(clause_starts & _ACTION_VERBS)
    if _QUOTE_OR_SPEECH.search(text):
        return False
    if inside_article:
        return addressed and imperative and site >= 3
    return (addressed or imperative) and site >= 2 and site / len(words) >= 0.12


def is_post_line(block: Block) -> bool:
    """A blog post's signature line, `Posted by Helen at 8:15 PM`. Removed from the body, but
    only once the region is found: as evidence it would also cut the region at a short post's
    head, where such a line often stands (on aeb-dev it cost one page its story)."""
    return block.words <= 15 and not block.sentence_like and bool(_POST_LINE.match(block.text))


def _is_data(text: str) -> bool:
    """A table row or list of figures: several numbers, or cells separated by bars."""
    return len(_NUMBER.findall(text)) >= 3 or text.count("|") >= 2


def classify_alone(block: Block) -> tuple[str, str] | None:
    """(kind, rule) for a block that is boilerplate or metadata whatever surrounds it."""
    text = block.text
    if not _WORD.search(text):
        return "separator", "no_words"
    if _READ_MORE.match(text):
        return "related", "read_more_link"
    if block.words <= 30 and _RELATED_HEADER.search(text) and not block.sentence_like:
        return "related", "related_header"
    if block.words <= 30 and _RELATED_HEADER.search(text) and re.search(r"\byou\b", text, re.I):
        return "related", "related_header"
    if block.words <= 12 and _COMMENTS_HEADER.search(text):
        return "comments", "comments_header"
    if block.words <= 6 and _SIGNED.match(text):
        return "comments", "comment_signature"
    if meta.is_copyright(text):
        return "copyright", "copyright_notice"
    if meta.parse_contributors(text):
        return "contributors", "contributed_reporting"
    names = meta.parse_byline(text)
    if names:
        block.names = tuple(names)
        return "byline", "by_line"
    if block.words <= 60 and _CAPTION.search(text):
        return "caption", "photo_credit"
    if block.words <= 12 and _GALLERY.match(text):
        return "caption", "gallery_label"
    if block.words <= 60 and _POSITION_IN_PHOTO.search(text) and not _QUOTE_OR_SPEECH.search(text):
        return "caption", "position_in_photo"
    if block.words <= 25 and _RELATED_PREFIX.match(text):
        return "related", "related_link"
    if block.words <= 30 and _TAGS_LINE.match(text):
        return "related", "tags_line"
    if block.words <= 40 and _BROWSER_NOTICE.search(text):
        return "banner", "browser_notice"
    if block.words <= 60 and _CONTACT.search(text) and _CONTACT_WORDS.search(text):
        return "author_bio", "contact_line"
    if block.words >= 6 and text.isupper() and not block.sentence_like and not _is_data(text):
        return "related", "all_caps_promo"
    if block.words <= 12 and meta.parse_date_line(text):
        return "date_line", "date_line"
    if is_ui_chrome(text):
        return "navigation", "page_control"
    if is_call_to_action(text):
        return "banner", "call_to_action"
    return None


# --- 4 and 5. context and regions ------------------------------------------------------------


MAX_TEMPLATE_WORDS = 40
MAX_TEMPLATE_SHARE = 0.5


def line_keys(text: str) -> set[str]:
    """The normalised short lines of a text: what per-source template counting compares."""
    return {
        _norm(b.text) for b in split_blocks(repair(text)[0]) if 0 < b.words <= MAX_TEMPLATE_WORDS
    }


def _mark_template(blocks: list[Block], template: frozenset[str]) -> None:
    """Lines of the source's template (recurring across its documents) are boilerplate, unless
    they would make up most of the text: then the document is a copy of another, a matter for
    deduplication, not a page made of template."""
    hits = [
        b
        for b in blocks
        if b.kind is None and b.words <= MAX_TEMPLATE_WORDS and _norm(b.text) in template
    ]
    total = sum(b.words for b in blocks) or 1
    if sum(b.words for b in hits) > MAX_TEMPLATE_SHARE * total:
        return
    for block in hits:
        block.kind, block.rule = "template", "recurs_in_source"


def clean_text(
    text: str,
    title: str | None = None,
    template: frozenset[str] = frozenset(),
    by_position: bool = True,
    model: BlockModel | None = None,
) -> CleanResult:
    """Clean one article's text. `title`, when the caller already knows it (HTML metadata, a
    JSONL field), is used to spot repeats and stops the cleaner from taking another line as title.
    `template` holds the normalised lines of this text's source template (see `line_keys`).

    `by_position=False` removes only what its content marks as boilerplate: no line goes for
    standing above the headline or after the article, and no paragraph for being printed twice.
    That is the mode for text an HTML extractor already cut to the article: what it kept around
    the story is mostly the story's own lists and short lines (`make eval`).

    `model` scores the blocks of whole-page text (`transforms.block_model`); None is the model
    that ships with the package. Text that does not look like a whole page never uses it.
    """
    blocks, audit = classified_blocks(text, template)
    result = CleanResult(paragraphs=[])

    start, end = _main_region(blocks, model if model is not None else shipped_model())
    given_title = title
    result.title = title if title is not None else _take_title(blocks[:start])
    _mark_repeats(blocks, result.title, long_lines=by_position)
    _classify_header(blocks[:start], keep_unknown=given_title is not None or not by_position)
    _classify_footer(blocks[end + 1 :] if end >= 0 else [], blocks, by_position)

    for index, block in enumerate(blocks):
        inside = start <= index <= end
        if inside and block.kind is None and is_call_to_action(block.text, inside_article=True):
            block.kind, block.rule = "banner", "call_to_action"
        if block.kind is None and is_post_line(block):
            block.kind, block.rule = "post_meta", "posted_line"
        if block.kind is None:
            result.paragraphs.append(block.text)
        else:
            audit.append(
                Boilerplate(kind=block.kind, text=block.text, rule=block.rule or block.kind)
            )

    _collect_metadata(blocks, result)
    result.boilerplate = audit
    if result.paragraphs:
        place, credit = meta.parse_leading_dateline(result.paragraphs[0])
        if result.dateline is None and place:
            result.dateline = place
            result.origins["dateline"] = "opening_dateline"
        if result.source_name is None and credit:
            result.source_name = credit
            result.origins["source"] = "wire_credit"
    if result.title is not None and given_title is None:
        result.origins["title"] = "headline_line"
    return result


def classified_blocks(
    text: str, template: frozenset[str] = frozenset()
) -> tuple[list[Block], list[Boilerplate]]:
    """The repaired text's blocks, each classified alone and in context (steps 1 to 4), and the
    audit of the repairs."""
    repaired, audit = repair(text)
    blocks = split_blocks(repaired)
    for block in blocks:
        found = classify_alone(block)
        if found:
            block.kind, block.rule = found
    if template:
        _mark_template(blocks, template)
    _mark_teasers(blocks)
    _mark_comments(blocks)
    return blocks, audit


def is_comment_stamp(block: Block) -> bool:
    """A short line with a year and a clock time, or a relative time: `March 5, 2012 at 3:45 pm`,
    `Posted by: Ann | 05 March 2012 at 15:45`, `Ann · 3 hours ago`. One stands under many posts'
    headlines too; a thread has one per comment."""
    if block.words > 20 or block.sentence_like:
        return False
    text = block.text
    return bool(_CLOCK.search(text) and meta.YEAR.search(text)) or bool(_AGO.search(text))


def _mark_comments(blocks: list[Block], prose_before: int = 30, lookahead: int = 8) -> None:
    """Readers' comments follow the article: everything after a comments header that comes after
    some prose, and either only ever follows an article (`Leave a reply`, `4 Responses to …`,
    `Comments are closed`) or is followed by a comment signature (`NAME says:`) or by two comment
    time stamps, is the comments section. (A bare count such as `New, 15 comments` under a
    headline is only a link; one date and time under it is the post's own.)"""
    stamps = [b for b in blocks if is_comment_stamp(b)]
    if len(stamps) >= 3:
        for stamp in stamps[1:]:
            if stamp.kind in (None, "date_line"):
                stamp.kind, stamp.rule = "comments", "comment_stamp"
    prose = 0
    for index, block in enumerate(blocks):
        following = blocks[index + 1 : index + 1 + lookahead]
        if (
            block.kind == "comments"
            and prose >= prose_before
            and (
                _CLOSING.search(block.text)
                or any(b.words <= 15 and _COMMENT_SIGNATURE.search(b.text) for b in following)
                or sum(1 for b in following if is_comment_stamp(b)) >= 2
            )
        ):
            for later in blocks[index + 1 :]:
                if later.kind is None:
                    later.kind, later.rule = "comments", "comments_section"
            return
        if block.kind is None and block.sentence_like:
            prose += block.words


def _mark_teasers(blocks: list[Block]) -> None:
    for index, block in enumerate(blocks):
        if block.kind is None and _INLINE_READ_MORE.search(block.text):
            block.kind, block.rule = "related", "teaser_with_read_more"
        nxt = blocks[index + 1] if index + 1 < len(blocks) else None
        if block.kind is None and nxt is not None and nxt.rule == "read_more_link":
            block.kind, block.rule = "related", "teaser_before_read_more"


def block_score(block: Block, short_penalty: float = 2.0) -> float:
    """How much a block argues for being inside the article: prose counts its words; lines that
    are boilerplate by themselves, and short lines that are not sentences, count against.
    `short_penalty` is the cost of a short line (higher where short lines are common)."""
    if block.kind is not None:
        return -2.0 * short_penalty
    if block.sentence_like:
        return float(block.words) if block.words >= 6 else 0.5 * block.words
    if block.list_item or block.headline_case:
        return -short_penalty
    if block.words >= 15:
        return 0.5 * block.words
    if _is_data(block.text):
        return 0.0
    return -short_penalty if block.words <= 4 else -short_penalty / 2


def densest_run(scores: list[float]) -> tuple[int, int]:
    """(first, last) of the contiguous run with the largest sum (Kadane); (0, -1) if none > 0."""
    best, best_span = 0.0, (0, -1)
    total, start = 0.0, 0
    for index, value in enumerate(scores):
        if total <= 0:
            total, start = 0.0, index
        total += value
        if total > best:
            best, best_span = total, (start, index)
    return best_span


WHOLE_PAGE_MIN_BLOCKS = 30
WHOLE_PAGE_SHORT_SHARE = 0.3
WHOLE_PAGE_OUTSIDE_SHARE = 0.2
"""Text looks like a whole page when it has at least `WHOLE_PAGE_MIN_BLOCKS` blocks, at least
`WHOLE_PAGE_SHORT_SHARE` of them short unclassified lines that are not sentences (menus, link
lists), and at least `WHOLE_PAGE_OUTSIDE_SHARE` of them outside the rules' densest run of prose
(the page's furniture around its article). On aeb-dev's whole-page texts the short share is 0.42
to 0.94 (median 0.75) and the share outside 0.35 or more; on its extracted articles the short
share's median is 0.00 to 0.06, and the few made of lists, with up to 0.88 short lines, have
0.04 or less outside: the share outside is what tells them apart."""
MODEL_THRESHOLD = 0.4
"""A block's probability of being article text above which it argues for the region."""
MIN_MODEL_SHARE = 0.3
"""The share of the words of the rules' run below which the learned run is not trusted."""


def short_share(blocks: Sequence[Block]) -> float:
    """The share of blocks that are short lines, not sentences, and not classified."""
    short = sum(1 for b in blocks if b.kind is None and not b.sentence_like and b.words < 15)
    return short / max(1, len(blocks))


def whole_page(blocks: Sequence[Block], span: tuple[int, int] | None = None) -> bool:
    """Whether the blocks look like a whole page's text rather than an article. `span`: the
    rules' run, when the caller has it."""
    if len(blocks) < WHOLE_PAGE_MIN_BLOCKS or short_share(blocks) < WHOLE_PAGE_SHORT_SHARE:
        return False
    first, last = span if span is not None else _best_span(blocks, rule_scores(blocks))
    return 1 - (last - first + 1) / len(blocks) >= WHOLE_PAGE_OUTSIDE_SHARE


def rule_scores(blocks: Sequence[Block]) -> list[float]:
    """Each block's `block_score`, the cost of a short line set by how common they are."""
    short_penalty = 0.5 + 2.0 * short_share(blocks)
    return [block_score(b, short_penalty) for b in blocks]


def model_scores(
    blocks: Sequence[Block], model: BlockModel, scores: list[float] | None = None
) -> list[float]:
    """Each block's region score from the learned model: its words (at least one) times how far
    its probability of being article text is above or below `MODEL_THRESHOLD`. `scores`: the
    blocks' `rule_scores`, when the caller has them."""
    dense = densest_run(scores if scores is not None else rule_scores(blocks))
    probabilities = model.probabilities(model_features(blocks, dense))
    return [
        max(1, b.words) * (float(p) - MODEL_THRESHOLD)
        for b, p in zip(blocks, probabilities, strict=True)
    ]


def _main_region(blocks: list[Block], model: BlockModel | None = None) -> tuple[int, int]:
    """(first, last) index of the article: the densest run of prose, never crossing a copyright
    notice or a byline; (0, -1) when nothing looks like text. In whole-page text the learned
    model's run is taken instead, unless it keeps under `MIN_MODEL_SHARE` of the words of the
    rules' run: a story told in tables or lists looks like a menu line by line, and the model
    then lands on a lone paragraph beside it (on aeb-dev, a standings table and a meal plan)."""
    scores = rule_scores(blocks)
    span = _best_span(blocks, scores)
    if model is not None and whole_page(blocks, span):
        learned = _best_span(blocks, model_scores(blocks, model, scores))
        if _words_in(blocks, learned) >= MIN_MODEL_SHARE * _words_in(blocks, span):
            span = learned
    if span[1] < 0:
        unclassified = [i for i, b in enumerate(blocks) if b.kind is None]
        return (unclassified[0], unclassified[-1]) if unclassified else (0, -1)
    return span


def _words_in(blocks: Sequence[Block], span: tuple[int, int]) -> int:
    return sum(b.words for b in blocks[span[0] : span[1] + 1])


def _best_span(blocks: Sequence[Block], scores: list[float]) -> tuple[int, int]:
    """The run with the largest sum of scores that crosses no barrier; (0, -1) if none > 0."""
    best, best_span = 0.0, (0, -1)
    segment_start = 0
    for index in [*(i for i, b in enumerate(blocks) if b.kind in BARRIERS), len(blocks)]:
        first, last = densest_run(scores[segment_start:index])
        total = sum(scores[segment_start + first : segment_start + last + 1])
        if last >= first and total > best:
            best, best_span = total, (segment_start + first, segment_start + last)
        segment_start = index + 1
    return best_span


def _take_title(header: list[Block]) -> str | None:
    """The headline: the last title-like header line that is not metadata."""
    for block in reversed(header):
        if (
            block.kind is None
            and block.title_like
            and not meta.parse_outlet_line(block.text)
            and not meta.parse_place_line(block.text)
        ):
            block.kind, block.rule = "title", "headline_above_body"
            return block.text
    return None


def _mark_repeats(blocks: list[Block], title: str | None, long_lines: bool = True) -> None:
    seen: set[str] = set()
    title_key = _norm(title) if title else None
    for block in blocks:
        key = _norm(block.text)
        if block.kind == "title":
            seen.add(key)
            continue
        if block.kind is None and block.words >= 3 and key and key == title_key:
            block.kind, block.rule = "repeated_headline", "repeated_in_document"
        elif (
            long_lines
            and block.kind is None
            and block.words >= 15
            and block.sentence_like
            and key in seen
        ):
            # Long paragraphs do not repeat in an article; a second copy is a caption or pull
            # quote printed twice. Short lines (list items, recipe steps) may repeat for real.
            block.kind, block.rule = "repeated_line", "repeated_in_document"
        seen.add(key)


def _classify_header(header: list[Block], keep_unknown: bool) -> None:
    for block in header:
        if block.kind is not None:
            continue
        outlet = meta.parse_outlet_line(block.text)
        place = meta.parse_place_line(block.text)
        if outlet:
            block.kind, block.rule = "source_line", "outlet_line"
        elif place:
            block.kind, block.rule = "dateline", "place_line"
        elif not keep_unknown:
            block.kind, block.rule = "banner", "above_headline"


def _starts_with_a_name(text: str, names: set[str]) -> bool:
    """Whether the text opens with one of the names (of two to five words): a set lookup per
    opening, so many names and many lines stay linear."""
    words = text.split(maxsplit=5)
    return any(" ".join(words[:count]) in names for count in range(2, min(5, len(words)) + 1))


_FIGURE_ROW = re.compile(r"^\d[\d,:-]*\s+\w|\s\d[\d,.:-]*(?:\s+\w+)?$")
"""A row of a results table: a figure opening the line before a name (`66 Marcus Lindholm`), or
closing it, perhaps with its unit (`India 14`, `Max Keller 364 points`, `Boston Celtics 31-9`)."""


def _has_figure(block: Block) -> bool:
    """A row of figures: not a bulleted link, not cells of a menu bar."""
    text = block.text
    return (
        block.kind is None
        and "|" not in text
        and not text.startswith(("•", "*", "·", "»", "-"))
        and bool(_FIGURE_ROW.search(text))
    )


def _closes_story(footer: list[Block], index: int) -> bool:
    """A footer line that belongs to the story it follows: a row of figures (a table row, or a
    line with a number next to another: results, standings, a list of scores), a label that
    introduces such rows (`Standings:`), or an editorial note in parentheses (`(Reporting by
    …)`). Menus and link lists have no such shape."""
    block = footer[index]
    before = footer[index - 1] if index > 0 else None
    after = footer[index + 1] if index + 1 < len(footer) else None
    text = block.text
    if _is_data(text) or (text.startswith("(") and text.endswith(")")):
        return True
    if text.endswith(":") and after is not None and (_is_data(after.text) or _has_figure(after)):
        return True
    return _has_figure(block) and any(n is not None and _has_figure(n) for n in (before, after))


def _classify_footer(footer: list[Block], blocks: list[Block], by_position: bool = True) -> None:
    """Below the article: outlet lines, author names and bios, related headers, by their content.

    With `by_position` (scraped text, which runs on into the page), the other lines too once the
    footer shows the page's furniture (a line marked by its content anywhere in it), except the
    story's own closing lines before the first such mark (`_closes_story`): a results table, a
    list of dates or a reporting credit that ends a story is not navigation. A footer with no
    such mark is the article's own closing lines."""
    authors = {n for b in blocks if b.kind == "byline" for n in b.names}
    for block in footer:
        if block.kind is not None:
            continue
        if meta.parse_outlet_line(block.text):
            block.kind, block.rule = "source_line", "outlet_line"
        elif block.text.strip(" .") in authors:
            block.kind, block.rule = "byline", "author_name"
        elif _starts_with_a_name(block.text, authors) or _CONTACT.search(block.text):
            block.kind, block.rule = "author_bio", "about_the_author"
        elif _RELATED_HEADER.search(block.text):
            block.kind, block.rule = "related", "related_header"
    marked = [index for index, block in enumerate(footer) if block.kind is not None]
    if not by_position or not marked:
        return
    story = True  # the story runs on through its tables, and the prose right after them
    for index, block in enumerate(footer):
        story = story and index < marked[0]
        if block.kind is None and story and _closes_story(footer, index):
            continue
        if block.kind is None and story and index > 0 and block.sentence_like:
            continue
        story = False
        if block.kind is not None:
            continue
        if block.words <= 8 and not block.sentence_like:
            block.kind, block.rule = "navigation", "short_line_after_article"
        else:
            block.kind, block.rule = "navigation", "after_article"


def _collect_metadata(blocks: list[Block], result: CleanResult) -> None:
    origins = result.origins
    authors: dict[str, None] = {}  # ordered sets: many bylines must stay linear
    contributors: dict[str, None] = {}
    for block in blocks:
        if block.kind == "date_line" and result.published_at is None:
            result.published_at = meta.parse_date_line(block.text)
            result.date_text = block.text
            origins["published_at"] = "date_line"
        elif block.kind == "source_line" and result.source_name is None:
            result.source_name = meta.parse_outlet_line(block.text)
            origins["source"] = "outlet_line"
        elif block.kind == "dateline" and result.dateline is None:
            result.dateline = meta.parse_place_line(block.text)
            origins["dateline"] = "place_line"
        elif block.kind == "byline":
            origins["authors"] = "byline"
            authors.update(dict.fromkeys(block.names))
        elif block.kind == "contributors":
            contributors.update(dict.fromkeys(meta.parse_contributors(block.text) or []))
    result.authors = list(authors)
    result.contributors = list(contributors)
    if result.source_name is None:
        for block in blocks:
            if block.kind == "copyright":
                result.source_name = meta.copyright_holder(block.text)
                if result.source_name:
                    origins["source"] = "copyright_line"
                    break
