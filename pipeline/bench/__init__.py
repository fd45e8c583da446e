"""Measuring: `make bench` (speed and memory), `make eval` (extraction quality), `make dedup-eval`
(near-duplicate precision and recall) and the WARC reading benchmark."""
