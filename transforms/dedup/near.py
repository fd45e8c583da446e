"""Near duplicates: candidate pairs by LSH band, verified, then each story placed greedily.

1. Each story goes to the bucket of each of its LSH band keys (`signature.band_keys`) and of each
   of its revision keys (`stories.revision_keys`: its path and URL).
2. Within a bucket every pair with at least one story of this run is verified: estimated Jaccard
   (the share of equal signature slots) >= threshold; a story of an earlier run and one of this
   run with a revision key in common are a revision pair whatever their similarity.
3. `place_stories`: an earlier run's story revised by a story of this run is superseded and no
   longer kept. Then, in keep order, each story of this run becomes a copy of the kept story it
   resembles most (at or above the threshold), or else is kept as a new story. A copy is
   therefore always at least `threshold` similar to the story it is said to copy, and a chain of
   rolling updates (each a little different from the one before) gives a new story whenever the
   drift from every kept story passes the threshold: no connected components, no transitive
   chains. The result depends only on the set of pairs, not on their order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from newsbeam.transforms.dedup.signature import band_keys, estimated_jaccard
from newsbeam.transforms.dedup.stories import Placement, Sketch

Edge = tuple[Sketch, Sketch, float]
Node = tuple[bool, str]


def bucket_keys(sketch: Sketch, bands: int, rows: int) -> list[str]:
    """The buckets a story goes to: its LSH band keys and its revision keys."""
    return [*band_keys(sketch.signature, bands, rows), *sorted(sketch.names)]


def comparable(bucket: Sequence[Sketch]) -> bool:
    """Whether a bucket has pairs to verify: two stories at least, one of this run."""
    return len(bucket) > 1 and not all(sketch.existing for sketch in bucket)


def lsh_buckets(sketches: Iterable[Sketch], bands: int, rows: int) -> list[list[Sketch]]:
    """The comparable buckets of `sketches` by `bucket_keys`, as GroupByBand forms them."""
    buckets: dict[str, list[Sketch]] = defaultdict(list)
    for sketch in sketches:
        for key in bucket_keys(sketch, bands, rows):
            buckets[key].append(sketch)
    return [bucket for bucket in buckets.values() if comparable(bucket)]


def revises(new: Sketch, old: Sketch) -> bool:
    """Whether a story of this run is a revision of one of an earlier run (a name in common)."""
    return old.existing and not new.existing and not old.names.isdisjoint(new.names)


def verified_pairs(bucket: Iterable[Sketch], threshold: float) -> list[Edge]:
    """The pairs of one bucket whose estimated Jaccard is >= threshold, and the revision pairs
    at any similarity, each as (first in keep order, second, similarity). Two stories of earlier
    runs are not compared."""
    unique: dict[Node, Sketch] = {}
    for sketch in sorted(bucket, key=Sketch.order):
        unique.setdefault(sketch.node, sketch)
    old = [sketch for sketch in unique.values() if sketch.existing]
    new = [sketch for sketch in unique.values() if not sketch.existing]
    # Stories in the output sort first, so each pair is already (first, second) in keep order.
    candidates = [(a, b) for a in old for b in new]
    candidates += [(a, b) for i, a in enumerate(new) for b in new[i + 1 :]]
    edges = []
    for first, second in candidates:
        similarity = estimated_jaccard(first.signature, second.signature)
        if similarity >= threshold or revises(second, first):
            edges.append((first, second, similarity))
    return edges


def _merged(a: Sketch, b: Sketch) -> Sketch:
    """One node seen twice (an earlier article's `articles/` row and its `_index/` row)."""
    return replace(
        a,
        signature=a.signature or b.signature,
        source_uri=a.source_uri or b.source_uri,
        names=a.names | b.names,
    )


def place_stories(edges: Iterable[Edge], threshold: float) -> list[tuple[str, Placement]]:
    """The verified pairs → (article_id, Placement) for every story of this run that copies a
    kept story or supersedes an earlier one, sorted by article_id (see the module docstring)."""
    sketches: dict[Node, Sketch] = {}
    similarity: dict[tuple[Node, Node], float] = {}
    for a, b, sim in edges:
        if a.node == b.node:
            continue
        for sketch in (a, b):
            seen = sketches.get(sketch.node)
            sketches[sketch.node] = sketch if seen is None else _merged(seen, sketch)
        pair = (a.node, b.node) if a.order() <= b.order() else (b.node, a.node)
        similarity[pair] = max(sim, similarity.get(pair, 0.0))
    earlier: dict[Node, list[tuple[Node, float]]] = defaultdict(list)
    for (first, second), sim in similarity.items():
        earlier[second].append((first, sim))
    supersedes: dict[Node, list[tuple[Sketch, float]]] = defaultdict(list)
    for (first, second), sim in similarity.items():
        old, new = sketches[first], sketches[second]
        if revises(new, old):
            # The two rows of the earlier article are merged now: its signature is known.
            sim = max(sim, estimated_jaccard(old.signature, new.signature))
            supersedes[second].append((old, sim))
    replaced = {old.node for pairs in supersedes.values() for old, _ in pairs}
    kept = {node for node, s in sketches.items() if s.existing and node not in replaced}
    placements = []
    for sketch in sorted(sketches.values(), key=Sketch.order):
        if sketch.existing:
            continue
        matches = [
            (sketches[node], sim)
            for node, sim in earlier[sketch.node]
            if node in kept and sim >= threshold
        ]
        revised = tuple(sorted(supersedes[sketch.node], key=lambda s: s[0].order()))
        if matches:
            best, sim = min(matches, key=lambda m: (-m[1], m[0].order()))
            placements.append((sketch.article_id, Placement(best, sim, revised)))
            continue
        kept.add(sketch.node)
        if revised:
            placements.append((sketch.article_id, Placement(None, 0.0, revised)))
    return sorted(placements, key=lambda p: p[0])
