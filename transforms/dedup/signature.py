"""A body's MinHash signature and its LSH band keys: what near-duplicate search compares.

A signature has NUM_PERM slots: datasketch's "affine32" scheme with a fixed seed over the SHA-1
of each SHINGLE_WORDS-word shingle of the case-folded words (`schemas.text.words`: `\\w+` runs, a
CJK character each). Equal `\\w+` runs, which `content_sha256` hashes, give equal words, so exact
copies always have equal signatures. The signature is cut into b bands of r slots (datasketch's
optimum for the threshold, weighted towards recall: a candidate costs one comparison, a missed
pair is a duplicate row). Every step is deterministic, so every runner and every rerun agree.
"""

from __future__ import annotations

import functools
import struct
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from newsbeam.schemas import Article
from newsbeam.schemas.text import WORDS

SHINGLE_WORDS = 5
NUM_PERM = 128
MINHASH_SEED = 1
LSH_WEIGHTS = (0.2, 0.8)  # (false positive, false negative) weights of the band/row optimum
SKETCH = f"minhash-affine32-sha1-seed{MINHASH_SEED}-perm{NUM_PERM}-words{SHINGLE_WORDS}"

Signature = tuple[int, ...]

_WORD = WORDS  # `\w+` runs and each CJK character (`schemas.text.words`)


def word_shingles(body: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of `size`-word shingles of the case-folded words of `body` (`schemas.text.words`).

    A body of `size` words or fewer is one shingle; a body without a word has none.
    """
    tokens = _WORD.findall(body.casefold())
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@functools.cache
def _permutations() -> Any:
    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32").permutations


def minhash_signature(shingles: Iterable[str]) -> Signature:
    """The MinHash of a set of shingles (NUM_PERM slots, fixed seed); () for an empty set.

    The same shingles give the same signature in every process and on every machine.
    """
    encoded = [shingle.encode("utf-8") for shingle in shingles]
    if not encoded:
        return ()
    minhash = MinHash(
        num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32", permutations=_permutations()
    )
    minhash.update_batch(encoded)
    return tuple(int(value) for value in minhash.hashvalues)


def body_signature(body: str) -> Signature:
    """`minhash_signature(word_shingles(body))`."""
    return minhash_signature(word_shingles(body))


# A worker signs an article up to three times (lookup keys, story sketch, index entry); it
# remembers the signatures of the last RECENT_SIGNATURES content hashes, packed as 32-bit
# values (512 bytes each; a tuple of 128 Python ints takes about 5 KB).
RECENT_SIGNATURES = 4096
_recent_signatures: dict[str, array] = {}


def article_signature(article: Article) -> Signature:
    """`body_signature(article.body)`, computed once per content hash in a worker: the
    signature depends only on the tokens `content_sha256` hashes."""
    packed = _recent_signatures.get(article.content_sha256)
    if packed is not None:
        return tuple(packed)
    signature = body_signature(article.body)
    if len(_recent_signatures) >= RECENT_SIGNATURES:
        _recent_signatures.pop(next(iter(_recent_signatures), ""), None)
    _recent_signatures[article.content_sha256] = array("I", signature)
    return signature


def estimated_jaccard(a: Signature, b: Signature) -> float:
    """The share of slots where two signatures agree: MinHash's estimate of the Jaccard
    similarity of the two shingle sets (datasketch's `MinHash.jaccard`). 0.0 if either is empty."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two sets (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@functools.cache
def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH chooses for `threshold` with
    LSH_WEIGHTS. Raises ValueError unless 0 < threshold < 1."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the near-duplicate threshold must be between 0 and 1, not {threshold}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    return lsh.b, lsh.r


def band_keys(signature: Signature, bands: int, rows: int) -> list[str]:
    """One key per band: "BBB-" and the band's slots in hex (4 bytes each, little-endian). Two
    signatures share a key exactly when one of their bands is equal. [] if empty."""
    if not signature:
        return []
    keys = []
    for band in range(bands):
        values = signature[band * rows : (band + 1) * rows]
        keys.append(f"{band:03d}-{struct.pack(f'<{rows}I', *values).hex()}")
    return keys


# Fixed odd multipliers of a 64-bit hash of a band (its slots and its number), for comparing the
# bands of many rows at once; any collision is caught by the exact check that follows.
_BAND_MIX = np.random.default_rng(20240501).integers(
    1, 2**63, size=NUM_PERM + 1, dtype=np.uint64
) | np.uint64(1)


def band_hashes(band: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of (band number, the band's `rows` slots): equal bands give equal
    hashes. `band`: shape (n,); `slots`: shape (n, rows); arithmetic wraps modulo 2^64."""
    rows = slots.shape[1]
    mixed = (slots.astype(np.uint64) * _BAND_MIX[:rows]).sum(axis=1, dtype=np.uint64)
    return mixed + band.astype(np.uint64) * _BAND_MIX[NUM_PERM]


def near_duplicate(a: Signature, b: Signature, threshold: float) -> bool:
    """What the pipeline decides for one pair: the signatures share an LSH band key (so the pair
    is compared at all) and their estimated Jaccard is >= threshold."""
    bands, rows = lsh_bands(threshold)
    if estimated_jaccard(a, b) < threshold:
        return False
    return not set(band_keys(a, bands, rows)).isdisjoint(band_keys(b, bands, rows))
