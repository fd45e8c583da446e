"""Plain-text views of a run and of an output folder: the end-of-run summary and `inspect`.

Pure functions from manifests and `OutputStats` to strings; the CLI prints them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from newsbeam.pipeline.inspect.stats import OutputStats
from newsbeam.schemas.text import printable

MAX_CELL = 60
TABLE_LABELS = ("articles", "entities", "rejects", "duplicates")


def cell(value: Any, width: int = MAX_CELL) -> str:
    """A table cell: thousands separators for integers, two decimals for floats, `-` for none,
    text on one line, control characters escaped (`schemas.text.printable`), cut to
    `width` characters."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    text = printable(" ".join(str(value).split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _numbers(values: Iterable[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float) for v in present)


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    align: str = "",
    indent: str = "  ",
) -> str:
    """A plain-text table: a header line, a rule, one line per row. `align` holds `l` or `r`
    per column; by default columns of numbers align right and the others left."""
    cells = [[cell(value) for value in row] for row in rows]
    numeric = [
        align[i] == "r" if i < len(align) else _numbers(row[i] for row in rows)
        for i in range(len(headers))
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return (indent + "  ".join(padded)).rstrip()

    rule = indent + "  ".join("-" * width for width in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def size(count: int) -> str:
    """A byte count for people: `812 B`, `64.2 kB`, `3.1 MB`."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def ledger(counts: dict[str, Any]) -> str:
    return (
        f"{counts['read']:,} read · {counts['written']:,} written · "
        f"{counts['rejected']:,} rejected · {counts['duplicates']:,} duplicates"
    )


def run_summary(
    manifest: dict[str, Any], seconds: float, output: str, command: str = "newsbeam"
) -> str:
    """What a finished run says: the ledger, the time and rate, where each table is and how
    many rows this run added, the reasons of rejects and duplicates, and what to do next, as
    commands to paste (`command`: how this shell reaches newsbeam, `invoked_as()`)."""
    counts = manifest["counts"]
    rate = counts["read"] / seconds if seconds > 0 else 0.0
    lines = [
        f"newsbeam: {ledger(counts)} · {counts['entities']:,} entity rows "
        f"in {seconds:.1f} s ({rate:,.1f} docs/s)",
    ]
    rows = {
        "articles": counts["written"],
        "entities": counts["entities"],
        "rejects": counts["rejected"],
        "duplicates": counts["duplicates"],
    }
    for table in TABLE_LABELS:
        files = manifest["files"].get(table, [])
        if files:
            lines.append(
                f"  {table:<11} {_join(output, table)}  "
                f"({rows[table]:,} rows in {len(files)} new files)"
            )
    for reason, count in counts["rejected_by_reason"].items():
        lines.append(f"  rejected: {count} × {reason}")
    for reason, count in counts.get("duplicates_by_reason", {}).items():
        lines.append(f"  duplicate: {count} × {reason}")
    if counts.get("superseded"):
        lines.append(
            f"  superseded: {counts['superseded']} earlier articles replaced by a newer version "
            "(duplicates/, reason superseded)"
        )
    if counts.get("skipped"):
        lines.append(f"  skipped:   {counts['skipped']} input files already read (in _inputs/)")
    for name in manifest.get("quarantined", []):
        lines.append(f"  unreadable output file moved to _quarantine/: {printable(name)}")
    lines.append(f"  manifest    {_join(output, '_manifest.json')}")
    if not output.startswith(("gs://", "s3://")):
        lines.append(
            f"  look at it: {command} inspect {printable(shlex.quote(output))}  ·  "
            f"{command} report {printable(shlex.quote(output))} -o "
            f"{shlex.quote(_join(output, 'report.html'))}"
        )
    return "\n".join(lines)


def invoked_as(argv0: str | None = None, main_module: str | None = None) -> str:
    """How to run newsbeam again from this shell: `newsbeam` when that name on PATH is the
    command running, else its path (`.venv/bin/newsbeam` after `make run`), or
    `PYTHON -m PACKAGE` when started that way."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if main_module is None:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_module = spec.name if spec is not None else ""
    if main_module.endswith(".__main__"):
        python = _shortest(sys.executable)
        return f"{shlex.quote(python)} -m {main_module.removesuffix('.__main__')}"
    on_path = shutil.which(os.path.basename(argv0))
    if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
        return os.path.basename(argv0)
    return shlex.quote(_shortest(argv0))


def _shortest(path: str) -> str:
    """`path` relative to the working folder when inside it (with a folder, so that a shell
    does not look it up on PATH), else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    if relative.startswith(".."):
        return absolute
    return relative if os.sep in relative else os.path.join(".", relative)


def _join(folder: str, name: str) -> str:
    return printable(f"{folder.rstrip('/')}/{name}")


def _section(title: str, body: str) -> str:
    return f"{title}\n{body}"


def inspect_text(stats: OutputStats, top: int) -> str:
    """`newsbeam inspect`: every section as a plain-text table, empty sections said in words."""
    sections = [_header(stats)]
    sections.append(
        _section(
            "tables",
            text_table(
                ["table", "rows", "files", "size"],
                [(t.name, t.rows, t.files, size(t.bytes)) for t in stats.tables],
                align="lrrr",
            ),
        )
    )
    shown = stats.partitions[: top * 3]
    if any(p.source is not None for p in shown):
        partitions = text_table(
            ["published_date", "source", "articles", "files"],
            [(p.published_date, p.source, p.articles, p.files) for p in shown],
        )
    elif shown:
        partitions = text_table(
            ["published_date", "articles", "files"],
            [(p.published_date, p.articles, p.files) for p in shown],
        )
    else:
        partitions = "  no article partitions"
    if len(stats.partitions) > len(shown):
        partitions += f"\n  … {len(stats.partitions) - len(shown):,} more partitions"
    sections.append(_section(f"partitions of articles/ ({len(stats.partitions):,})", partitions))
    sections.append(
        _section(
            "top sources",
            text_table(
                ["source", "name", "articles", "words", "first date", "last date"],
                [
                    (s.source, s.name, s.articles, s.words, s.first_date, s.last_date)
                    for s in stats.sources[:top]
                ],
            )
            if stats.sources
            else "  no articles",
        )
    )
    sections.append(
        _section(
            "top entities (by articles naming them)",
            text_table(
                ["entity", "label", "articles", "mentions"],
                [(e.canonical, e.label, e.articles, e.mentions) for e in stats.entities[:top]],
            )
            if stats.entities
            else "  no entities",
        )
    )
    sections.append(
        _section(
            "boilerplate removed, by kind",
            text_table(
                ["kind", "segments", "articles", "characters"],
                [(b.kind, b.segments, b.articles, b.characters) for b in stats.boilerplate],
            )
            if stats.boilerplate
            else "  none",
        )
    )
    sections.append(
        _section(
            "rejects by reason",
            text_table(
                ["stage", "reason", "count", "example", "message"],
                [(r.stage, r.reason, r.count, r.example, r.message) for r in stats.rejects],
            )
            if stats.rejects
            else "  no rejects: every input became an article or a duplicate",
        )
    )
    duplicates = (
        text_table(
            ["reason", "copies", "mean similarity"],
            [(d.reason, d.count, d.mean_similarity) for d in stats.duplicates],
        )
        if stats.duplicates
        else "  no duplicates"
    )
    if stats.most_copied:
        duplicates += "\n\n" + text_table(
            ["most copied story", "title", "copies"],
            [(c.article_id, c.title, c.copies) for c in stats.most_copied[:top]],
        )
    sections.append(_section("duplicates", duplicates))
    return "\n\n".join(sections)


def _header(stats: OutputStats) -> str:
    lines = [f"newsbeam output {printable(stats.folder)}"]
    manifest = stats.manifest
    if manifest is None:
        lines.append("  no _manifest.json: the last run did not finish, or this folder is old")
        return "\n".join(lines)
    counts = manifest["counts"]
    finished = datetime.fromisoformat(manifest["finished_at"]).astimezone(UTC)
    lines.append(
        f"  last run {manifest['run_id']}, finished {finished:%Y-%m-%d %H:%M:%S} UTC: "
        f"{ledger(counts)}"
    )
    totals = {name: stats.rows(name) for name in TABLE_LABELS}
    lines.append(
        f"  in the folder (every run): {totals['articles']:,} articles · "
        f"{totals['entities']:,} entity rows · {totals['rejects']:,} rejects · "
        f"{totals['duplicates']:,} duplicates"
    )
    return "\n".join(lines)
