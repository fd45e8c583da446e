"""`newsbeam report`: one self-contained HTML page whose charts a real browser draws.

The browser test renders the report of a real run in headless Chromium (Debian's `chromium`,
installed by the session fixture when it is missing and we are root), measures every bar the
browser laid out, and looks for the bars' colours in a screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from newsbeam.pipeline.inspect.report import (
    OTHER_COLOUR,
    PALETTE,
    Bar,
    axis_step,
    bar_chart,
    per_day_series,
    render_report,
    time_bins,
)
from newsbeam.pipeline.inspect.stats import read_output
from newsbeam.pipeline.run.cli import main
from tests.outputs import write_output

CHROMIUM = Path("/usr/bin/chromium")
CHARTS = ("per-day", "languages", "body-words", "boilerplate", "entities", "rejects")
MEASURE = """<script>
window.addEventListener("load", () => {
  const charts = {};
  for (const svg of document.querySelectorAll("svg.chart")) {
    charts[svg.dataset.chart] = [...svg.querySelectorAll("rect.bar")].map((bar) => {
      const box = bar.getBoundingClientRect();
      return [box.width, box.height];
    });
  }
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(charts);
  document.body.appendChild(out);
});
</script>"""


def test_axis_steps_are_round_whole_numbers():
    assert [axis_step(n) for n in (0, 3, 4, 5, 9, 40, 41, 180, 2_000)] == [
        1,
        1,
        1,
        2,
        5,
        10,
        20,
        50,
        500,
    ]


def test_sources_past_the_palette_are_summed_as_other():
    per_day = {"2023-03-01": {f"s{i}": i + 1 for i in range(12)}, "unknown": {"s0": 5}}
    days, series = per_day_series(per_day)
    assert days == ["2023-03-01", "unknown"]
    assert len(series) == len(PALETTE)
    assert series[0][0] == "s11" and series[-1][1] == OTHER_COLOUR
    assert series[-1][0] == "other (4 sources)"
    assert sum(sum(values) for _, _, values in series) == sum(range(1, 13)) + 5


def test_days_are_columns_on_a_time_axis_with_the_gaps_and_undated_last():
    per_day = {"2023-03-01": {"a": 1}, "2023-03-04": {"a": 2, "b": 1}, "unknown": {"b": 3}}
    bins = time_bins(per_day)
    assert list(bins) == ["2023-03-01", "2023-03-02", "2023-03-03", "2023-03-04", "undated"]
    assert bins["2023-03-02"] == {} and bins["2023-03-04"] == {"a": 2, "b": 1}
    long = time_bins({"2015-06-30": {"a": 1}, "2015-09-02": {"a": 1}, "2015-09-30": {"b": 1}})
    assert list(long) == ["2015-06", "2015-07", "2015-08", "2015-09"]
    assert long["2015-09"] == {"a": 1, "b": 1}
    years = time_bins({"2010-01-01": {"a": 1}, "2019-12-31": {"a": 1}})
    assert list(years) == [str(year) for year in range(2010, 2020)]


def test_languages_and_body_lengths_are_counted(tmp_path):
    stats = read_output(str(write_output(tmp_path)))
    assert stats.languages == [("und", 3)]
    assert dict(stats.body_words)["<50"] == 3 and sum(n for _, n in stats.body_words) == 3
    page = render_report(stats)
    assert '<table class="sortable">' in page and 'data-value="30"' in page


def test_bars_are_as_long_as_their_values():
    svg = bar_chart("x", "X", [Bar("a", 10), Bar("b", 5), Bar("c", 0)], "items")
    widths = [float(w) for w in re.findall(r'class="bar"[^>]* width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0


def test_the_page_is_self_contained_and_escapes_the_data(tmp_path):
    page = render_report(read_output(str(write_output(tmp_path))))
    assert page.startswith("<!DOCTYPE html>")
    # One inline script (sorting the sources table), nothing loaded from anywhere.
    assert page.count("<script") == 1 and "<script>" in page
    assert not re.search(r"<link|\bsrc=|\bhref=|@import|url\(|fetch\(|XMLHttpRequest", page)
    assert "http://" not in page and "https://" not in page
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in page
    assert "<Moscow>" not in page
    assert "word_count:value_error" in page


def test_report_writes_the_file_it_names(tmp_path, capsys):
    target = tmp_path / "r.html"
    assert main(["report", str(write_output(tmp_path / "out")), "-o", str(target)]) == 0
    assert f"newsbeam: wrote {target}" in capsys.readouterr().out
    assert target.read_text().count('class="bar"') >= 8


def test_report_names_the_mistakes(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.html")]) == 2
    assert "does not exist. Give the --output folder of a newsbeam run." in capsys.readouterr().err
    folder = str(write_output(tmp_path / "out"))
    assert main(["report", folder, "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert "cannot write the report to" in capsys.readouterr().err


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when it is missing and we are root."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip("chromium is not installed and cannot be (needs root and apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            result = subprocess.run(install, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"apt-get install chromium failed: {result.stderr[-500:]}")
    return CHROMIUM


def headless(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.slow
def test_chromium_draws_every_chart_of_a_real_run(mixed_output, chromium, tmp_path):
    report = tmp_path / "report.html"
    assert main(["report", str(mixed_output), "-o", str(report)]) == 0
    page = report.read_text()

    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"))
    result = headless(
        chromium,
        tmp_path / "profile",
        "--virtual-time-budget=5000",
        "--dump-dom",
        measured.as_uri(),
    )
    found = re.search(r'<pre id="measured">(.*?)</pre>', result.stdout, flags=re.S)
    assert found, result.stderr[-2000:]
    charts = json.loads(found.group(1))
    assert set(charts) == set(CHARTS)
    for chart, boxes in charts.items():
        assert boxes, f"{chart}: no bars"
        assert all(width > 0 and height > 0 for width, height in boxes), (chart, boxes)
    assert len(charts["rejects"]) == 3

    screenshot = tmp_path / "report.png"
    result = headless(
        chromium,
        tmp_path / "profile",
        "--window-size=1000,3000",
        f"--screenshot={screenshot}",
        report.as_uri(),
    )
    assert screenshot.exists(), result.stderr[-2000:]
    colours = colour_counts(screenshot)
    for colour in (PALETTE[0], PALETTE[3]):
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert colours.get(rgb, 0) > 500, f"{colour} is barely on the screen"


def colour_counts(path: Path) -> dict[tuple[int, int, int], int]:
    with Image.open(path) as image:
        return {rgb: n for n, rgb in image.convert("RGB").getcolors(maxcolors=1 << 24)}
