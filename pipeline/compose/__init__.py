"""Composing the pipeline: the command line's arguments and their checks, `NewsbeamOptions`, and
`build_pipeline()` / `build_streaming_pipeline()`, which wire the stages and return without
running."""
