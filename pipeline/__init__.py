"""newsbeam's pipeline: options, build_pipeline() and the `newsbeam` command."""
