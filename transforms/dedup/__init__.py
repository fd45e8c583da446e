"""Deduplicate: one article per story, within the run and against earlier output.

Every copy that is not written goes to `duplicates/`, pointing at the article kept:
- "exact": the same clean body (`content_sha256` ignores case, spacing and punctuation, and is
  computed after boilerplate removal, so copies with other banners match); similarity 1.0.
- "near": a MinHash near-duplicate of a story kept by this run, at or above the threshold;
  similarity is the estimated Jaccard similarity of the two bodies' word shingles.
- "already_in_output": the story is in the output of an earlier run (the output folder's own
  history, plus `--dedup-against DIR`'s); similarity 1.0 when exact.
- "superseded": an article an earlier run wrote, replaced by a newer version of the same
  document (same path or URL, other content) that this run wrote; `duplicate_of` is the newer.

The stages, each in its module:
- `signature`: shingles, MinHash signatures, LSH bands.
- `stories`: exact copies, keep order, the kept copy and the Duplicate rows.
- `near`: candidate pairs by bucket, verified, and each story placed greedily on a kept story.
- `earlier`: the output's history (`articles/` and `_index/`), and the `_index/` row of a
  written article (`index_entry`).
- `strategies`: ShuffleDedup, LookupDedup and WindowedDedup, one PTransform per kind of run,
  and `choose_strategy`.
"""

from newsbeam.transforms.dedup.earlier import (
    OutputLookup,
    ReadExistingAsOfWindow,
    ReadExistingFn,
    ReadExistingOutput,
    existing_patterns,
    existing_sketch,
    index_entry,
    lookup_keys,
    may_match,
)
from newsbeam.transforms.dedup.near import (
    bucket_keys,
    comparable,
    lsh_buckets,
    place_stories,
    verified_pairs,
)
from newsbeam.transforms.dedup.signature import (
    NUM_PERM,
    SHINGLE_WORDS,
    SKETCH,
    Signature,
    article_signature,
    band_keys,
    body_signature,
    estimated_jaccard,
    jaccard,
    lsh_bands,
    minhash_signature,
    near_duplicate,
    word_shingles,
)
from newsbeam.transforms.dedup.stories import (
    Placement,
    Sketch,
    choose_original,
    order_copies,
    resolve_story,
    revision_keys,
    story_sketch,
)
from newsbeam.transforms.dedup.strategies import (
    LookupDedup,
    ShuffleDedup,
    WindowedDedup,
    choose_strategy,
)
from newsbeam.transforms.defaults import DEFAULT_NEAR_DUPLICATE_THRESHOLD

__all__ = [
    "DEFAULT_NEAR_DUPLICATE_THRESHOLD",
    "NUM_PERM",
    "SHINGLE_WORDS",
    "SKETCH",
    "LookupDedup",
    "OutputLookup",
    "Placement",
    "ReadExistingAsOfWindow",
    "ReadExistingFn",
    "ReadExistingOutput",
    "ShuffleDedup",
    "Signature",
    "Sketch",
    "WindowedDedup",
    "article_signature",
    "band_keys",
    "body_signature",
    "bucket_keys",
    "choose_original",
    "choose_strategy",
    "comparable",
    "estimated_jaccard",
    "existing_patterns",
    "existing_sketch",
    "index_entry",
    "jaccard",
    "lookup_keys",
    "lsh_bands",
    "lsh_buckets",
    "may_match",
    "minhash_signature",
    "near_duplicate",
    "order_copies",
    "place_stories",
    "resolve_story",
    "revision_keys",
    "story_sketch",
    "verified_pairs",
    "word_shingles",
]
