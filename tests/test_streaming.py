"""Streaming on the real DirectRunner: TestStream windows, late data and the per-window ledger,
Pub/Sub messages from a fake source, and the pure helpers.

The TestStream tests run the whole streaming graph (`apply_streaming`) on real seed files: the
BundleBasedDirectRunner in streaming mode, event time driven by the TestStream.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing import test_stream
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to_per_window
from apache_beam.transforms.window import GlobalWindow, IntervalWindow, TimestampedValue

from newsbeam.pipeline.compose.build import apply_streaming, build_streaming_pipeline
from newsbeam.pipeline.compose.options import NewsbeamOptions
from newsbeam.pipeline.run.streaming import StopFlag, Watcher, due, window_end, window_tag_of
from newsbeam.schemas import UNDATED, Reject
from newsbeam.schemas.layout import file_stem
from newsbeam.transforms.ledger import is_recorded
from newsbeam.transforms.stream import message_uri, parse_message
from newsbeam.transforms.write import window_tag
from tests.conftest import SEEDS

RUN = "test-run"
A = IntervalWindow(0, 60)
B = IntervalWindow(60, 120)
TAG_A = "19700101T000000Z-19700101T000100Z"
TAG_B = "19700101T000100Z-19700101T000200Z"


def streaming_options(output: Path, *extra: str) -> PipelineOptions:
    return PipelineOptions(
        ["--streaming", "--output", str(output), "--window-seconds", "60", *extra]
    )


def copy_seeds(folder: Path) -> dict[str, str]:
    """The five seeds, and a renamed copy of seed 000, in `folder`; name → path."""
    folder.mkdir()
    paths = {}
    for number, seed in enumerate(SEEDS):
        paths[f"seed{number}"] = str(shutil.copy(seed, folder / seed.name))
    paths["copy0"] = str(shutil.copy(SEEDS[0], folder / "copy-of-000.txt"))
    return paths


def arrivals(paths: dict[str, str]) -> test_stream.TestStream:
    """Window A [0, 60): seeds 0 and 2 on time; seeds 1 and 3 late, after the watermark passed
    120. Window B [60, 120): seed 4 and a copy of seed 0 (already written by window A)."""
    return (
        test_stream.TestStream()
        .advance_watermark_to(0)
        .add_elements([TimestampedValue(paths["seed0"], 10), TimestampedValue(paths["seed2"], 20)])
        .advance_watermark_to(70)
        .add_elements([TimestampedValue(paths["seed4"], 75), TimestampedValue(paths["copy0"], 80)])
        .advance_watermark_to(130)
        .add_elements([TimestampedValue(paths["seed1"], 40), TimestampedValue(paths["seed3"], 30)])
        .advance_watermark_to_infinity()
    )


def file_key(output: Path, table: str, path: str, rows: int) -> tuple[str, str, str, int]:
    """(table, partition folder, the name after the run id, rows) of a written file."""
    relative = Path(path).relative_to(output / table)
    return table, str(relative.parent), relative.name.removeprefix(f"part-{RUN}-"), rows


def window_manifests(output: Path) -> dict[str, dict]:
    return {
        path.name.removesuffix(f"-{RUN}.json"): json.loads(path.read_text())
        for path in sorted((output / "_manifests").glob("*.json"))
    }


@pytest.fixture(scope="module")
def streamed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The TestStream above run once through the whole streaming graph."""
    root = tmp_path_factory.mktemp("streamed")
    paths = copy_seeds(root / "in")
    output = root / "out"
    options = streaming_options(output)
    with TestPipeline(options=options) as p:
        outputs = apply_streaming(p, options.view_as(NewsbeamOptions), RUN, files=arrivals(paths))
        articles = (
            outputs.files
            | beam.Filter(lambda f: f[0] == "articles")
            | beam.MapTuple(lambda table, path, rows: file_key(output, table, path, rows))
        )
        assert_that(
            articles,
            equal_to_per_window(
                {
                    A: [
                        (
                            "articles",
                            f"published_date={UNDATED}",
                            f"{TAG_A}-p0-00000.parquet",
                            2,
                        ),
                        # late: a second pane of the same partition, and a date of its own
                        (
                            "articles",
                            f"published_date={UNDATED}",
                            f"{TAG_A}-p1-00000.parquet",
                            1,
                        ),
                        (
                            "articles",
                            "published_date=2023-03-02",
                            f"{TAG_A}-p0-00000.parquet",
                            1,
                        ),
                    ],
                    B: [
                        (
                            "articles",
                            f"published_date={UNDATED}",
                            f"{TAG_B}-p0-00000.parquet",
                            1,
                        ),
                    ],
                }
            ),
            label="ArticleFilesPerWindow",
        )
        duplicates = (
            outputs.files
            | "Duplicates" >> beam.Filter(lambda f: f[0] == "duplicates")
            | "DuplicateRows" >> beam.MapTuple(lambda _table, _path, rows: rows)
        )
        assert_that(
            duplicates, equal_to_per_window({A: [], B: [1]}), label="DuplicateFilesPerWindow"
        )
    return output, paths


def test_each_window_is_written_in_its_own_files_and_late_data_in_a_later_pane(streamed):
    output, _paths = streamed
    articles = ds.dataset(output / "articles", partitioning="hive").to_table().to_pylist()
    assert len(articles) == 5
    assert len({a["article_id"] for a in articles}) == 5  # no row written twice
    by_file = {Path(a["source_uri"]).name: a for a in articles}
    assert by_file[SEEDS[3].name]["published_date"] == "2023-03-02"  # late, in its own date
    assert not list(output.rglob(".*inprogress"))


def test_every_window_keeps_a_balanced_ledger_of_its_inputs(streamed):
    output, paths = streamed
    manifests = window_manifests(output)
    assert sorted(manifests) == [TAG_A, TAG_B]
    counts = {tag: m["counts"] for tag, m in manifests.items()}
    assert (counts[TAG_A]["read"], counts[TAG_A]["written"], counts[TAG_A]["duplicates"]) == (
        4,
        4,
        0,
    )
    assert (counts[TAG_B]["read"], counts[TAG_B]["written"], counts[TAG_B]["duplicates"]) == (
        2,
        1,
        1,
    )
    assert counts[TAG_B]["duplicates_by_reason"] == {"already_in_output": 1}
    for c in counts.values():
        assert c["read"] == c["written"] + c["rejected"] + c["duplicates"]
    assert manifests[TAG_A]["window_start"] == "1970-01-01T00:00:00Z"
    assert sorted(manifests[TAG_A]["inputs"]) == sorted(
        paths[name] for name in ("seed0", "seed1", "seed2", "seed3")
    )
    recorded = pq.read_table(output / "_inputs" / f"part-{RUN}-{TAG_B}.parquet").to_pylist()
    assert sorted(r["path"] for r in recorded) == sorted([paths["seed4"], paths["copy0"]])
    assert all(len(r["sha256"]) == 64 and r["size"] > 0 for r in recorded)


def test_a_restarted_stream_skips_the_files_its_ledger_records(streamed, tmp_path):
    output, paths = streamed
    again = tmp_path / "out"
    shutil.copytree(output, again)
    options = streaming_options(again)
    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue(path, 200) for path in sorted(paths.values())])
        .advance_watermark_to_infinity()
    )
    with TestPipeline(options=options) as p:
        outputs = apply_streaming(p, options.view_as(NewsbeamOptions), "rerun", files=stream)
        assert_that(
            outputs.manifests | beam.Map(lambda m: (m.counts.read, m.counts.skipped)),
            equal_to_per_window({IntervalWindow(180, 240): [(0, 6)]}),
            label="AllSkipped",
        )
    assert ds.dataset(again / "articles", partitioning="hive").count_rows() == 5


def pubsub_message(data: bytes, message_id: str) -> PubsubMessage:
    return PubsubMessage(data, {}, message_id=message_id)


def test_pubsub_messages_from_a_fake_source_are_windowed_and_written(tmp_path):
    """The Pub/Sub client is not installed here: a TestStream of PubsubMessages stands in for
    ReadFromPubSub (the `messages` source), the rest of the graph is the real one."""
    subscription = "projects/newsbeam-demo/subscriptions/news"
    record = json.dumps({"text": SEEDS[3].read_text(), "source": "CNN"}).encode()
    stream = (
        test_stream.TestStream()
        .add_elements(
            [
                TimestampedValue(pubsub_message(record, "m1"), 5),
                TimestampedValue(pubsub_message(b"{not json", "m2"), 6),
            ]
        )
        .advance_watermark_to_infinity()
    )
    output = tmp_path / "out"
    options = streaming_options(output, "--pubsub-subscription", subscription)
    with TestPipeline(options=options) as p:
        outputs = apply_streaming(p, options.view_as(NewsbeamOptions), RUN, messages=stream)
        assert_that(
            outputs.manifests
            | beam.Map(lambda m: (m.counts.read, m.counts.written, m.counts.rejected, m.inputs)),
            equal_to_per_window(
                {
                    A: [
                        (
                            2,
                            1,
                            1,
                            [f"pubsub://{subscription}#m1", f"pubsub://{subscription}#m2"],
                        )
                    ]
                }
            ),
            label="MessagesLedger",
        )
    rejects = ds.dataset(output / "rejects").to_table().to_pylist()
    assert [(r["source_uri"], r["reason"]) for r in rejects] == [
        (f"pubsub://{subscription}#m2", "invalid_json")
    ]
    written = ds.dataset(output / "articles", partitioning="hive").to_table().to_pylist()
    assert [(a["source"], a["source_uri"]) for a in written] == [
        ("cnn", f"pubsub://{subscription}#m1")
    ]


def test_the_dataflow_graph_reads_pubsub_through_beams_transform(tmp_path):
    """Built, not run: ReadFromPubSub is imported lazily and applied as the source."""
    from apache_beam.io.gcp.pubsub import ReadFromPubSub

    subscription = "projects/newsbeam-demo/subscriptions/news"
    options = streaming_options(tmp_path, "--pubsub-subscription", subscription)
    pipeline = build_streaming_pipeline(options)
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if isinstance(node.transform, ReadFromPubSub):
                found.append(node.full_label)

    pipeline.visit(Visitor())
    assert found == ["ReadMessages/ReadPubSub"]
    assert options.view_as(StandardOptions).streaming


# ---- pure helpers


def test_parse_message_carries_a_record_a_path_or_a_reject():
    subscription = "projects/p/subscriptions/s"
    assert parse_message(b" gs://bucket/raw/a.txt\n", subscription) == ["gs://bucket/raw/a.txt"]
    fingerprint, document = parse_message(
        json.dumps({"text": "Body", "url": "https://x.org/a"}).encode(), subscription, "42"
    )
    assert fingerprint.path == document.source_uri == message_uri(subscription, "42", b"")
    assert (document.content, document.url) == ("Body", "https://x.org/a")
    _, reject = parse_message(b"\xff\xfe\x00", subscription, "43")
    assert isinstance(reject, Reject) and reject.reason == "invalid_message"
    _, reject = parse_message(b'{"title": "no body"}', subscription, "44")
    assert reject.reason == "invalid_record"


def test_window_names_and_file_stems():
    assert window_tag(A) == TAG_A
    assert window_tag(GlobalWindow()) is None
    assert file_stem("r1", window_tag(GlobalWindow())) == "part-r1"
    assert file_stem("r1", window_tag(B), 2) == f"part-r1-{TAG_B}-p2"
    assert window_tag_of(59.9, 60) == TAG_A and window_end(60.0, 60) == 120


def test_a_window_is_due_once_the_clock_passes_its_end():
    pending = [("a", 10.0), ("b", 61.0)]
    assert due(pending, 59.0, 60, flush=False) == []
    assert due(pending, 60.0, 60, flush=False) == [("a", 10.0)]
    assert due(pending, 61.0, 60, flush=True) == pending


def test_is_recorded_compares_size_then_checksum():
    calls = []

    def checksum() -> str:
        calls.append(1)
        return "ab" * 32

    assert not is_recorded(10, [(11, "ab" * 32)], checksum) and not calls
    assert is_recorded(10, [(10, "ab" * 32)], checksum)
    assert not is_recorded(10, [(10, "cd" * 32)], checksum)


def test_the_watcher_reports_each_path_once(tmp_path):
    clock = iter([1.0, 2.0, 3.0]).__next__
    watcher = Watcher([str(tmp_path / "*.txt"), str(tmp_path / "missing" / "*.txt")], clock)
    (tmp_path / "a.txt").write_text("a")
    assert watcher.poll() == [(str(tmp_path / "a.txt"), 1.0)]
    (tmp_path / "b.txt").write_text("b")
    assert watcher.poll() == [(str(tmp_path / "b.txt"), 2.0)]
    assert watcher.poll() == []


def test_a_first_signal_asks_to_stop_and_a_second_interrupts():
    stop = StopFlag()
    stop.handle(signal.SIGTERM, None)
    assert stop.event.is_set()
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGINT, None)
