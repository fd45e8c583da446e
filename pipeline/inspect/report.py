"""`newsbeam report`: one self-contained HTML page about an output folder.

The page needs no network: styles are inline and every chart is an inline SVG drawn here (bars
carry `<title>` tooltips). Charts: articles over time (a column per day, month or year from the
first date to the last, empty ones included) and source, languages, body lengths, boilerplate
removed by kind, top entities, rejects by reason; then every source and the rejects as tables.
One small inline script sorts the sources table by a click on a column; without it (a mail
client strips scripts) the table reads sorted by articles. Every function returns markup as a
string; every text from the data is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from newsbeam.pipeline.inspect.stats import UNKNOWN_DATE, OutputStats
from newsbeam.pipeline.inspect.summary import cell, size

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
)
OTHER_COLOUR = "#bab0ac"
MAX_SERIES = len(PALETTE)
WIDTH = 880
CHAR_WIDTH = 7.0
ROW_HEIGHT = 24
BAR_HEIGHT = 16


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart: its label, length, colour and tooltip."""

    label: str
    value: float
    colour: str = PALETTE[0]
    tooltip: str = ""
    note: str = ""


def axis_step(largest: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 × 10^k, at least 1: counts are whole) such that `ticks` steps
    reach `largest`."""
    if largest <= ticks:
        return 1.0
    raw = largest / ticks
    exponent = math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        step = factor * 10**exponent
        if step >= raw:
            return float(step)
    raise AssertionError("unreachable")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _cut(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: max(characters - 1, 1)] + "…"


def bar_chart(name: str, title: str, bars: Sequence[Bar], unit: str) -> str:
    """Horizontal bars, one per item, longest scale at the largest value."""
    if not bars:
        return ""
    label_chars = min(max(len(b.label) for b in bars), 34)
    left = int(label_chars * CHAR_WIDTH) + 16
    right = int(max(len(_number(b.value) + b.note) for b in bars) * CHAR_WIDTH) + 16
    plot = WIDTH - left - right
    top = max(b.value for b in bars) or 1
    height = len(bars) * ROW_HEIGHT + 8
    parts = [
        f'<svg class="chart" data-chart="{esc(name)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{esc(title)}">'
    ]
    for index, bar in enumerate(bars):
        y = index * ROW_HEIGHT + 4
        length = max(plot * bar.value / top, 1.5) if bar.value > 0 else 0
        tooltip = bar.tooltip or f"{bar.label}: {_number(bar.value)} {unit}"
        parts.append(
            f'<text class="label" x="{left - 8}" y="{y + BAR_HEIGHT - 4}" text-anchor="end">'
            f"{esc(_cut(bar.label, label_chars))}<title>{esc(bar.label)}</title></text>"
            f'<rect class="bar" x="{left}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{esc(bar.colour)}"><title>{esc(tooltip)}</title></rect>'
            f'<text class="value" x="{left + length + 6:.1f}" y="{y + BAR_HEIGHT - 4}">'
            f"{esc(_number(bar.value))}{esc(bar.note)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_columns(
    name: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, str, list[int]]]
) -> str:
    """Vertical stacked columns: one per category, one segment per (name, colour, values)."""
    if not categories:
        return ""
    height, top_pad, bottom, left, right = 300, 12, 64, 48, 12
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    totals = [sum(values[i] for _, _, values in series) for i in range(len(categories))]
    step = axis_step(max(totals))
    ticks = max(math.ceil(max(totals) / step), 1)
    ceiling = step * ticks
    slot = plot_w / len(categories)
    column = max(min(slot * 0.7, 60), 1.0)
    every = max(1, math.ceil(len(categories) / 24))
    parts = [
        f'<svg class="chart" data-chart="{esc(name)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{esc(title)}">'
    ]
    for tick in range(ticks + 1):
        value = step * tick
        y = top_pad + plot_h - plot_h * tick / ticks
        parts.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(_number(value))}</text>"
        )
    for index, category in enumerate(categories):
        x = left + slot * index + (slot - column) / 2
        base = top_pad + plot_h
        for series_name, colour, values in series:
            value = values[index]
            if not value:
                continue
            segment = plot_h * value / ceiling
            base -= segment
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{column:.1f}" '
                f'height="{segment:.1f}" fill="{esc(colour)}"><title>'
                f"{esc(category)} · {esc(series_name)}: {value:,}</title></rect>"
            )
        if index % every == 0:
            cx = x + column / 2
            y = top_pad + plot_h + 14
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{y}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {y})">{esc(category)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(items: Sequence[tuple[str, str]]) -> str:
    """Colour keys: (name, colour) pairs."""
    keys = "".join(
        f'<span class="key"><span class="swatch" style="background:{esc(colour)}"></span>'
        f"{esc(label)}</span>"
        for label, colour in items
    )
    return f'<div class="legend">{keys}</div>'


def per_day_series(
    per_day: dict[str, dict[str, int]],
) -> tuple[list[str], list[tuple[str, str, list[int]]]]:
    """Categories (days in order, as given) and one series per top source; the sources past
    the palette are summed into `other`."""
    days = list(per_day)
    totals: dict[str, int] = {}
    for counts in per_day.values():
        for source, count in counts.items():
            totals[source] = totals.get(source, 0) + count
    ranked = sorted(totals, key=lambda s: (-totals[s], s))
    shown = ranked if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    series = [
        (source, PALETTE[i], [per_day[day].get(source, 0) for day in days])
        for i, source in enumerate(shown)
    ]
    rest = [s for s in ranked if s not in shown]
    if rest:
        series.append(
            (
                f"other ({len(rest)} sources)",
                OTHER_COLOUR,
                [sum(per_day[day].get(s, 0) for s in rest) for day in days],
            )
        )
    return days, series


MAX_DAY_COLUMNS = 62
UNDATED = "undated"


def time_bins(per_day: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Articles per source in columns on a time axis: every day from the first date to the last
    (months, or years, when there would be more than MAX_DAY_COLUMNS), empty ones too, so that
    the gaps show; undated articles in a last column."""
    dated = sorted(d for d in per_day if d != UNKNOWN_DATE)
    bins: dict[str, dict[str, int]] = {}
    if dated:
        first, last = date.fromisoformat(dated[0]), date.fromisoformat(dated[-1])
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        if (last - first).days < MAX_DAY_COLUMNS:
            unit = "day"
        elif months <= MAX_DAY_COLUMNS:
            unit = "month"
        else:
            unit = "year"
        for label in _calendar(first, last, unit):
            bins[label] = {}
        for day in dated:
            label = {"day": day, "month": day[:7], "year": day[:4]}[unit]
            for source, count in per_day[day].items():
                bins[label][source] = bins[label].get(source, 0) + count
    if UNKNOWN_DATE in per_day:
        bins[UNDATED] = dict(per_day[UNKNOWN_DATE])
    return bins


def _calendar(first: date, last: date, unit: str) -> list[str]:
    """Every day (`2023-03-02`), month (`2023-03`) or year (`2023`) from `first` to `last`."""
    if unit == "year":
        return [str(year) for year in range(first.year, last.year + 1)]
    if unit == "month":
        start, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1)]
    return [date.fromordinal(d).isoformat() for d in range(first.toordinal(), last.toordinal() + 1)]


def _label_colours(labels: Sequence[str]) -> dict[str, str]:
    ordered = sorted(set(labels))
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(ordered)}


def _figure(title: str, caption: str, body: str, empty: str) -> str:
    content = body if body else f'<p class="empty">{esc(empty)}</p>'
    return (
        f'<section class="card"><h2>{esc(title)}</h2>'
        f'<p class="caption">{esc(caption)}</p>{content}</section>'
    )


def _html_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], sortable: bool = False
) -> str:
    """A table; `sortable`: the page's script sorts it by a click on a column header (numbers
    by their `data-value`)."""
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) for row in rows)
        for i in range(len(headers))
    ]
    classes = ["num" if n else "text" for n in numeric]
    head = "".join(f'<th class="{c}">{esc(h)}</th>' for h, c in zip(headers, classes, strict=True))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{c}" data-value="{esc(v)}">{esc(cell(v, 120))}</td>'
            if c == "num"
            else f'<td class="{c}">{esc(cell(v, 120))}</td>'
            for v, c in zip(row, classes, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


SORT_SCRIPT = """
for (const table of document.querySelectorAll("table.sortable")) {
  const headers = [...table.tHead.rows[0].cells];
  headers.forEach((th, column) => {
    th.title = "sort by " + th.textContent;
    th.addEventListener("click", () => {
      const numeric = th.classList.contains("num");
      const key = (row) => numeric ? Number(row.cells[column].dataset.value)
                                   : row.cells[column].textContent.toLowerCase();
      const sign = th.dataset.order === "desc" ? 1 : -1;
      const rows = [...table.tBodies[0].rows];
      rows.sort((a, b) => sign * (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      headers.forEach((h) => delete h.dataset.order);
      th.dataset.order = sign < 0 ? "desc" : "asc";
      table.tBodies[0].append(...rows);
    });
  });
}
"""


STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; background: #f4f5f7; color: #1f2328; }
main { max-width: 940px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 2px; }
.meta, .caption { color: #59636e; margin: 0 0 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr));
  gap: 10px; margin: 16px 0; }
.tile { background: #fff; border-radius: 8px; padding: 10px 12px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.tile b { display: block; font-size: 22px; }
.tile span { color: #59636e; }
.card { background: #fff; border-radius: 8px; padding: 16px; margin: 16px 0;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  fill: #1f2328; }
svg text.axis { fill: #59636e; font-size: 11px; }
svg line.grid { stroke: #e3e6ea; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 8px; color: #3d444d; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.empty { color: #59636e; font-style: italic; }
table { border-collapse: collapse; width: 100%; margin-bottom: 12px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e6ea;
  vertical-align: top; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .bad { color: #cf222e; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-order="asc"]::after { content: " ▲"; }
table.sortable th[data-order="desc"]::after { content: " ▼"; }
"""


def _tiles(stats: OutputStats) -> str:
    counts = (stats.manifest or {}).get("counts", {})
    tiles = [
        (stats.rows("articles"), "articles"),
        (stats.rows("entities"), "entity rows"),
        (stats.rows("rejects"), "rejects"),
        (stats.rows("duplicates"), "duplicates"),
        (len(stats.sources), "sources"),
        (len([d for d in stats.per_day if d != "unknown"]), "days with a date"),
    ]
    body = "".join(
        f"<div class='tile'><b>{n:,}</b><span>{esc(label)}</span></div>" for n, label in tiles
    )
    ledger = ""
    if counts:
        balanced = counts["read"] == counts["written"] + counts["rejected"] + counts["duplicates"]
        mark = (
            '<span class="ok">adds up</span>'
            if balanced
            else '<span class="bad">does not add up</span>'
        )
        ledger = (
            f'<p class="meta">Last run {esc(stats.manifest["run_id"])}: {counts["read"]:,} read = '
            f"{counts['written']:,} written + {counts['rejected']:,} rejected + "
            f"{counts['duplicates']:,} duplicates ({mark}).</p>"
        )
    return f'<div class="tiles">{body}</div>{ledger}'


def render_report(stats: OutputStats, generated_at: datetime | None = None) -> str:
    """The whole report page for `stats`."""
    generated_at = generated_at or datetime.now(UTC)
    days, series = per_day_series(time_bins(stats.per_day))
    per_day = stacked_columns("per-day", "Articles over time and source", days, series) + (
        legend([(name, colour) for name, colour, _ in series]) if series else ""
    )
    languages = bar_chart(
        "languages",
        "Articles by language",
        [Bar(language, count, PALETTE[4]) for language, count in stats.languages],
        "articles",
    )
    lengths = (
        stacked_columns(
            "body-words",
            "Body length in words",
            [label for label, _ in stats.body_words],
            [("articles", PALETTE[2], [count for _, count in stats.body_words])],
        )
        if any(count for _, count in stats.body_words)
        else ""
    )
    boilerplate = bar_chart(
        "boilerplate",
        "Boilerplate removed by kind",
        [
            Bar(
                b.kind,
                b.segments,
                PALETTE[0],
                f"{b.kind}: {b.segments:,} segments in {b.articles:,} articles, "
                f"{b.characters:,} characters",
                f" · {b.characters:,} chars",
            )
            for b in stats.boilerplate
        ],
        "segments",
    )
    colours = _label_colours([e.label for e in stats.entities])
    entities = bar_chart(
        "entities",
        "Top entities",
        [
            Bar(
                e.canonical,
                e.articles,
                colours[e.label],
                f"{e.canonical} ({e.label}): {e.articles:,} articles, {e.mentions:,} mentions",
            )
            for e in stats.entities
        ],
        "articles",
    ) + (legend(sorted(colours.items())) if colours else "")
    rejects = bar_chart(
        "rejects",
        "Rejects by reason",
        [
            Bar(f"{r.stage} · {r.reason}", r.count, PALETTE[3], f"{r.reason}: {r.message}")
            for r in stats.rejects
        ],
        "inputs",
    )
    sources_table = _html_table(
        ["source", "name", "articles", "words", "first date", "last date"],
        [(s.source, s.name, s.articles, s.words, s.first_date, s.last_date) for s in stats.sources],
        sortable=True,
    )
    reject_rows = _html_table(
        ["stage", "reason", "count", "example", "message"],
        [(r.stage, r.reason, r.count, r.example, r.message) for r in stats.rejects],
    )
    duplicate_rows = _html_table(
        ["reason", "copies", "mean similarity"],
        [(d.reason, d.count, d.mean_similarity) for d in stats.duplicates],
    ) + _html_table(
        ["most copied story", "title", "copies"],
        [(c.article_id, c.title, c.copies) for c in stats.most_copied],
    )
    table_sizes = ", ".join(f"{t.name} {size(t.bytes)}" for t in stats.tables if t.files)
    sections = [
        _figure(
            "Articles over time and source",
            "Stories written, by published_date on a time axis (a column per day, or per month "
            "or year over long spans; empty ones included) and outlet; undated stories last.",
            per_day,
            "No articles in this output.",
        ),
        _figure(
            "Languages",
            "Stories written, by the language detected in their body (und: not told). Entities "
            "come only from a model of the story's language.",
            languages,
            "No articles.",
        ),
        _figure(
            "Body length",
            "Stories written, by the words in their clean body.",
            lengths,
            "No articles.",
        ),
        _figure(
            "Boilerplate removed by kind",
            "Segments the cleaner removed from article bodies (see the boilerplate column).",
            boilerplate,
            "No boilerplate was removed.",
        ),
        _figure(
            "Top entities",
            "People, places and organisations by the number of articles naming them.",
            entities,
            "No entities.",
        ),
        _figure(
            "Rejects by reason",
            "Inputs that did not become an article, by stage and reason (rejects/).",
            rejects,
            "No rejects: every input became an article or a duplicate.",
        ),
        _figure(
            "Sources",
            f"All {len(stats.sources):,} outlets by articles written; click a column to sort.",
            sources_table if stats.sources else "",
            "No articles.",
        ),
        _figure(
            "Duplicates",
            "Copies not written, by reason, and the stories copied most (duplicates/).",
            duplicate_rows if stats.duplicates else "",
            "No duplicates.",
        ),
    ]
    if stats.rejects:
        sections.insert(
            -1,
            _figure(
                "Rejects",
                "One example of each reason; every reject is a row of rejects/ with its message.",
                reject_rows,
                "",
            ),
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>newsbeam report: {esc(stats.folder)}</title>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<h1>newsbeam report</h1>"
        f'<p class="meta">{esc(stats.folder)} · generated {generated_at:%Y-%m-%d %H:%M} UTC'
        f"{' · ' + esc(table_sizes) if table_sizes else ''}</p>"
        f"{_tiles(stats)}{''.join(sections)}</main><script>{SORT_SCRIPT}</script></body></html>\n"
    )
