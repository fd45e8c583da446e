"""Streaming: windows, and the three sources of a streaming run.

Event time is arrival time: when the watcher first saw a file, or the message's Pub/Sub publish
time. Records are cut into fixed windows of `--window-seconds`; each window is deduplicated,
enriched and written on its own, and keeps its own ledger (`transforms.ledger`).

Lateness: nothing is dropped. A record whose window the watermark has already passed (a Pub/Sub
backlog, a clock behind) is still processed within `--allowed-lateness-seconds` (default a year):
the trigger fires once when the watermark passes the end of the window and then once per late
arrival; data panes are DISCARDING, so a late pane writes only the late rows (in files named with
the pane, `-p1`, `-p2`, …) and never a row twice, while the ledger accumulates (see
`WriteWindowLedger`). A late article lands in the partition of its own `published_date`, like
any other. Records later than the allowed lateness would be dropped by the runner; a year is
far beyond any backlog Pub/Sub keeps (seven days at most).

Sources (`build_streaming_pipeline` chooses):
- `ArrivedFiles`: files a local watcher saw, with the time it saw them (`pipeline.run.streaming`
  polls the patterns and runs one bounded pipeline per closed window, see there why);
- `WatchInputs`: `fileio.MatchContinuously` over the `--input` patterns, on a streaming runner;
- `ReadMessages`: a Pub/Sub subscription (Dataflow); a message carries one JSON record (the
  fields of a JSONL line) or a `gs://` path of a file to read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics
from apache_beam.transforms import trigger
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp

from newsbeam.schemas import RawDocument, Reject
from newsbeam.transforms.read import Fingerprint, parse_record
from newsbeam.transforms.routing import SplitOff


def stream_windows(
    window_seconds: int, allowed_lateness_seconds: int, accumulate: bool = False
) -> beam.WindowInto:
    """Fixed windows of `window_seconds` on event time, firing when the watermark passes the end
    of the window and again for every late arrival within the allowed lateness. Panes discard
    what they fired (data) or accumulate it (`accumulate`: the ledger)."""
    mode = (
        trigger.AccumulationMode.ACCUMULATING if accumulate else trigger.AccumulationMode.DISCARDING
    )
    return beam.WindowInto(
        FixedWindows(window_seconds),
        trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
        accumulation_mode=mode,
        allowed_lateness=Duration(seconds=allowed_lateness_seconds),
    )


class ArrivedFiles(beam.PTransform):
    """(path, seen_at seconds) pairs → the paths, timestamped with when they were seen."""

    def __init__(self, arrivals: Iterable[tuple[str, float]]) -> None:
        super().__init__()
        self._arrivals = sorted(arrivals)

    def expand(self, pbegin):
        return (
            pbegin
            | "ListArrivals" >> beam.Create(self._arrivals)
            | "StampArrivals"
            >> beam.MapTuple(lambda path, seen_at: TimestampedValue(path, Timestamp.of(seen_at)))
        )


class WatchInputs(beam.PTransform):
    """File patterns → paths of the files as they appear (each path once per pattern), stamped
    with the poll that saw them: `fileio.MatchContinuously`, for a streaming runner."""

    def __init__(self, patterns: Iterable[str], poll_seconds: float) -> None:
        super().__init__()
        self._patterns = list(patterns)
        self._poll_seconds = poll_seconds

    def expand(self, pbegin):
        watched = [
            pbegin
            | f"WatchPattern{number}"
            >> fileio.MatchContinuously(
                pattern, interval=self._poll_seconds, start_timestamp=Timestamp.now()
            )
            for number, pattern in enumerate(self._patterns)
        ]
        return (
            watched
            | "CollectMatches" >> beam.Flatten()
            | "TakePaths" >> beam.Map(lambda metadata: metadata.path)
        )


def message_uri(subscription: str, message_id: str | None, data: bytes) -> str:
    """`source_uri` of a Pub/Sub record: the subscription and the message id (the data's hash
    when the message has none, e.g. in tests)."""
    ident = message_id or hashlib.sha256(data).hexdigest()[:16]
    return f"pubsub://{subscription}#{ident}"


def parse_message(
    data: bytes, subscription: str, message_id: str | None = None
) -> list[RawDocument | Reject | Fingerprint | str]:
    """One Pub/Sub message → what it carries, and its Fingerprint for the ledger:
    a `gs://…` path (one line) → that path, to be read like a watched file (its Fingerprint comes
    from the read); a JSON object with `text` or `html` (and optional `url`, `title`,
    `published_at`, `source`, as in a JSONL line) → a RawDocument; anything else → a Reject.

    >>> parse_message(b"gs://bucket/raw/a.txt", "projects/p/subscriptions/s")
    ['gs://bucket/raw/a.txt']
    """
    stripped = data.strip()
    if stripped.startswith(b"gs://") and not any(c in stripped for c in b" \n\t{"):
        return [stripped.decode("utf-8", errors="replace")]
    uri = message_uri(subscription, message_id, data)
    fingerprint = Fingerprint(uri, len(data), hashlib.sha256(data).hexdigest())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return [
            fingerprint,
            Reject(
                source_uri=uri,
                stage="read",
                reason="invalid_message",
                message=f"{uri}: not UTF-8 ({error}); publish a JSON record or a gs:// path",
                excerpt=data[:300].decode("utf-8", errors="replace"),
            ),
        ]
    return [fingerprint, parse_record(uri, f"message {uri}", text, "utf-8")]


class ParseMessageFn(beam.DoFn):
    """A Pub/Sub message (PubsubMessage, or bytes) → RawDocuments, Rejects, Fingerprints and
    paths to read (`parse_message`).

    Example input: PubsubMessage(b'{"text": "BEIJING — …", "source": "Xinhua"}', {}, "1234").
    """

    def __init__(self, subscription: str) -> None:
        self._subscription = subscription
        self._messages = Metrics.counter("pubsub", "messages")
        self._paths = Metrics.counter("pubsub", "paths")

    def process(self, message: Any):
        data = message if isinstance(message, bytes) else message.data
        message_id = None if isinstance(message, bytes) else getattr(message, "message_id", None)
        self._messages.inc()
        for record in parse_message(data, self._subscription, message_id):
            if isinstance(record, str):
                self._paths.inc()
            yield record


def read_pubsub(subscription: str) -> beam.PTransform:
    """Beam's ReadFromPubSub (with attributes, so messages carry their id), imported only here:
    it needs apache-beam[gcp] and runs on Dataflow."""
    from apache_beam.io.gcp.pubsub import ReadFromPubSub

    return ReadFromPubSub(subscription=subscription, with_attributes=True)


class ReadMessages(beam.PTransform):
    """A Pub/Sub subscription → (RawDocuments, Rejects, Fingerprints, paths to read).

    `source`: the transform that yields the messages; by default `read_pubsub(subscription)`.
    Tests pass a TestStream of PubsubMessages instead (no Google client library here).
    """

    def __init__(self, subscription: str, source: beam.PTransform | None = None) -> None:
        super().__init__()
        self._subscription = subscription
        self._source = source

    def expand(self, pbegin):
        source = self._source or read_pubsub(self._subscription)
        records = (
            pbegin
            | "ReadPubSub" >> source
            | "ParseMessages" >> beam.ParDo(ParseMessageFn(self._subscription))
        )
        records, paths = records | "SplitPaths" >> SplitOff(str)
        records, fingerprints = records | "SplitFingerprints" >> SplitOff(Fingerprint)
        documents, rejects = records | "SplitRejects" >> SplitOff(Reject)
        return documents, rejects, fingerprints, paths
