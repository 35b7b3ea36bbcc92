"""Collapse exact and near-duplicate articles into one kept copy that lists every outlet and file.

Exact copies (same words) are grouped by a hash of their normalised words. Near-duplicates (the same
page cleaned from HTML and from text, wire copy republished with light edits or cuts) are found with
MinHash LSH over word shingles (datasketch's permutations and its band layout for the threshold, the
banding done with numpy for the whole batch at once), never by comparing all pairs: articles are taken
most complete first, and each is checked only against earlier kept copies that share an LSH bucket.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from datasketch import MinHash
from scipy.integrate import quad

from digest.models import Article, Role

SHINGLE = 4  # words per shingle: long enough to be specific, short enough to survive light edits
NUM_PERM = 128
# a text copy can carry several times the words of the HTML page's article (comments, chrome), so the
# index must find pairs of low Jaccard similarity; the exact shingle overlap decides
LSH_THRESHOLD = 0.2
SKETCH_CHUNK = 48  # articles whose MinHash matrices are built at once: 128 x their shingles x 8 bytes
ARTICLE_CHUNK = 1000  # articles whose word and shingle arrays are built at once (bounds memory)
MAX_BUCKET_PEERS = 32  # earlier articles of one LSH bucket an article is checked against
MIN_SIZE_RATIO = 0.15  # a short piece inside a long one is a duplicate only if it is a real part of it
SAME_TITLE_FACTOR = 0.6  # an identical headline lowers the overlap needed (same page, two formats)
MIN_TITLE_CHARS = 20
_TITLE_SITE = re.compile(r"\s+[|–—-]\s+[^|–—-]{2,40}$")  # " | Site name" / " - Site name" suffix
SCHEME = "affine32"
_WORD = re.compile(r"\w+")
_MASK = np.uint64(0xFFFFFFFF)
_KIND_RANK = {"html": 0, "email": 1, "text": 2}  # HTML pages carry the richest metadata


@dataclass(frozen=True)
class DedupeResult:
    """Articles left after collapsing duplicates, and where each duplicate went."""

    kept: list[Article]  # each kept article has .copies = Sources of the duplicates collapsed into it
    duplicate_of: dict[str, str]  # duplicate article id -> kept article id


@dataclass(frozen=True)
class _Sketch:
    words: int
    shingles: np.ndarray  # sorted unique shingle hashes
    digest: str  # hash of the normalised word sequence (exact copies)
    title: str  # normalised headline without a site suffix, "" when too short to mean anything
    signature: np.ndarray | None  # MinHash values; None when the article is too short to shingle


def _title_key(title: str) -> str:
    """Normalise a headline: drop a trailing site name, case and punctuation."""
    key = " ".join(_WORD.findall(_TITLE_SITE.sub("", title.strip()).lower()))
    return key if len(key) >= MIN_TITLE_CHARS else ""


def _words(article: Article) -> list[str]:
    """Return the lower-cased words of an article's headings and body (never its title)."""
    return _WORD.findall(" ".join(p.text for p in article.paragraphs if p.role is not Role.TITLE).lower())


def _shingle_hashes(hashes: np.ndarray) -> np.ndarray:
    """Combine each run of SHINGLE word hashes into one mixed 32-bit shingle hash (one per start position)."""
    n = len(hashes) - SHINGLE + 1
    acc = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):
        # polynomial combination keeps word order; the mask keeps the values in 32 bits
        acc = ((acc * np.uint64(0x01000193)) ^ hashes[k : k + n]) & _MASK
    acc ^= acc >> np.uint64(16)
    acc = (acc * np.uint64(0x85EBCA6B)) & _MASK
    acc ^= acc >> np.uint64(13)
    return acc.astype(np.uint32)


def _sketches(articles: Sequence[Article], perms: np.ndarray) -> list[_Sketch]:
    """Sketch every article: word count, exact digest, unique shingles and MinHash.

    A sketch depends on its article alone, so articles are sketched ARTICLE_CHUNK at a time: the
    whole-batch word arrays would otherwise hold some 90 bytes per word of the inbox at once.
    """
    vocab: dict[str, int] = {}  # word -> crc32, shared: a cache, the same whatever the chunk
    out: list[_Sketch] = []
    for start in range(0, len(articles), ARTICLE_CHUNK):
        out += _sketch_chunk(articles[start : start + ARTICLE_CHUNK], perms, vocab)
    return out


def _sketch_chunk(articles: Sequence[Article], perms: np.ndarray, vocab: dict[str, int]) -> list[_Sketch]:
    """Sketch a chunk of articles, its word and shingle arrays built at once."""
    per_article: list[np.ndarray] = []
    digests: list[str] = []
    for article in articles:
        # keep 4 bytes per word, not the word: 100,000 articles hold tens of millions of words
        words = _words(article)
        for word in set(words).difference(vocab):
            vocab[word] = zlib.crc32(word.encode())
        per_article.append(np.fromiter(map(vocab.__getitem__, words), dtype=np.uint32, count=len(words)))
        digests.append(hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest())
    lengths = np.array([len(h) for h in per_article], dtype=np.int64)
    hashes = np.concatenate(per_article).astype(np.uint64) if per_article else np.zeros(0, dtype=np.uint64)
    starts = np.cumsum(lengths) - lengths
    shingles = _shingle_hashes(hashes) if len(hashes) >= SHINGLE else np.zeros(0, dtype=np.uint32)
    # a shingle belongs to an article when all its words do
    owner = np.repeat(np.arange(len(articles)), lengths)[: len(shingles)]
    valid = np.arange(len(shingles)) - starts[owner] <= lengths[owner] - SHINGLE
    keys = np.sort((owner[valid].astype(np.uint64) << np.uint64(32)) | shingles[valid].astype(np.uint64))
    keys = keys[np.r_[True, keys[1:] != keys[:-1]][: len(keys)]]  # unique (article, shingle) pairs, sorted
    owner, shingles = (keys >> np.uint64(32)).astype(np.int64), (keys & _MASK).astype(np.uint32)
    bounds = np.searchsorted(owner, np.arange(len(articles) + 1))
    a, b = perms
    signatures: dict[int, np.ndarray] = {}
    has = np.flatnonzero(np.diff(bounds) > 0)
    for chunk in range(0, len(has), SKETCH_CHUNK):
        members = has[chunk : chunk + SKETCH_CHUNK]
        lo, hi = bounds[members[0]], bounds[members[-1] + 1]
        # the affine32 permutations of datasketch, applied to all shingles at once (uint32 wrap-around)
        values = a[:, None] * shingles[None, lo:hi] + b[:, None]  # permutation x shingle: rows reduce fast
        for k, row in zip(members.tolist(), np.minimum.reduceat(values, bounds[members] - lo, axis=1).T):
            signatures[k] = row
    out = []
    for k, (article, length, digest) in enumerate(zip(articles, lengths.tolist(), digests)):
        own = shingles[bounds[k] : bounds[k + 1]] if length >= SHINGLE else np.zeros(0, dtype=np.uint32)
        out.append(_Sketch(length, own, digest, _title_key(article.title), signatures.get(k) if len(own) else None))
    return out


def _completeness(article: Article, sketch: _Sketch) -> tuple[int, int, int, str]:
    """Sort key putting the most complete copy first: most words, then metadata, then HTML."""
    meta = sum(x is not None for x in (article.url, article.date, article.description))
    return (-sketch.words, -meta, _KIND_RANK.get(article.kind, 3), article.id)


def _is_near_duplicate(a: _Sketch, b: _Sketch, threshold: float) -> bool:
    """Tell whether b is a near copy of a: most of the shorter one's shingles are in the other."""
    smaller, larger = sorted((len(a.shingles), len(b.shingles)))
    same_title = bool(a.title) and a.title == b.title
    if not smaller or (smaller < MIN_SIZE_RATIO * larger and not same_title):
        return False
    overlap = len(np.intersect1d(a.shingles, b.shingles, assume_unique=True)) / smaller
    return overlap >= (threshold * SAME_TITLE_FACTOR if same_title else threshold)


@cache
def lsh_layout(threshold: float, num_perm: int) -> tuple[int, int]:
    """Return the (bands, rows per band) of `num_perm` hashes that best separate pairs above and below `threshold`.

    The layout minimises the false-positive and false-negative areas under the LSH S-curve, equally
    weighted: the rule datasketch's MinHashLSH applies (its helper for it is private, so it is here).
    """
    best, layout = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            def found(s: float, b: int = bands, r: int = rows) -> float:
                return float(1 - (1 - s**r) ** b)

            false_positive = quad(found, 0.0, threshold)[0]
            false_negative = quad(lambda s: 1 - found(s), threshold, 1.0)[0]
            error = 0.5 * false_positive + 0.5 * false_negative
            if error < best:
                best, layout = error, (bands, rows)
    return layout


def _bucket_pairs(signatures: np.ndarray) -> np.ndarray:
    """Return (later, earlier) row pairs that share an LSH band bucket, each once; rows are in processing order.

    A bucket shared by many articles (common wording) pairs each member with its first MAX_BUCKET_PEERS only.
    """
    bands, rows = lsh_layout(LSH_THRESHOLD, NUM_PERM)
    n = len(signatures)
    found = []
    position = np.arange(n)
    for band in range(bands):
        chunk = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        for k in range(rows):
            key = key * np.uint64(0x100000001B3) ^ chunk[:, k]
        order = np.lexsort((position, key))
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        peers = np.minimum(rank, MAX_BUCKET_PEERS)
        later = np.repeat(order, peers)
        offsets = np.arange(peers.sum()) - np.repeat(np.cumsum(peers) - peers, peers)
        earlier = order[np.repeat(np.arange(n) - rank, peers) + offsets]
        found.append(later * n + earlier)
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(found))
    return np.stack([unique // n, unique % n], axis=1)


def deduplicate(articles: Sequence[Article], threshold: float = 0.8) -> DedupeResult:
    """Collapse duplicates; keep the most complete copy of each, listing the others in `.copies`.

    `threshold` is the share of the shorter copy's word shingles that must also be in the kept copy.
    Deterministic: the result does not depend on the order of `articles`.
    """
    perms = MinHash(NUM_PERM, seed=1, scheme=SCHEME).permutations
    unique = {a.id: a for a in articles}  # the same article passed twice counts once
    sketches = dict(zip(unique, _sketches(list(unique.values()), perms)))
    order = sorted(unique.values(), key=lambda a: _completeness(a, sketches[a.id]))

    # LSH candidates for every article at once: earlier (more complete) articles sharing a bucket
    shingled = [a.id for a in order if sketches[a.id].signature is not None]
    candidates: dict[str, list[str]] = {}
    if shingled:
        signatures = np.stack([sig for i in shingled if (sig := sketches[i].signature) is not None])
        for later, earlier in _bucket_pairs(signatures).tolist():
            candidates.setdefault(shingled[later], []).append(shingled[earlier])

    by_digest: dict[str, str] = {}
    by_title: dict[str, list[str]] = {}
    groups: dict[str, list[Article]] = {}
    duplicate_of: dict[str, str] = {}
    for article in order:
        sketch = sketches[article.id]
        keeper = by_digest.get(sketch.digest) if sketch.words else None
        if keeper is None and sketch.signature is not None:
            found = {c for c in candidates.get(article.id, ()) if c in groups}
            found |= set(by_title.get(sketch.title, ()) if sketch.title else ())
            # ties resolve the same way every run
            for candidate in sorted(found):
                if _is_near_duplicate(sketches[candidate], sketch, threshold):
                    keeper = candidate
                    break
        if keeper is not None:
            duplicate_of[article.id] = keeper
            groups[keeper].append(article)
            continue
        groups[article.id] = [article]
        if sketch.words:
            by_digest[sketch.digest] = article.id
        if sketch.signature is not None and sketch.title:
            by_title.setdefault(sketch.title, []).append(article.id)

    kept = [_collapse(members) for members in groups.values()]
    return DedupeResult(kept=kept, duplicate_of=duplicate_of)


def _collapse(members: list[Article]) -> Article:
    """Return the first (most complete) member with every other member's sources as copies."""
    head, rest = members[0], members[1:]
    if not rest:
        return head
    seen = {s.article_id for s in head.sources}
    copies = list(head.copies)
    for other in rest:
        for source in other.sources:
            if source.article_id not in seen:
                seen.add(source.article_id)
                copies.append(source)
    # a text copy can be the most complete yet lack the HTML page's metadata: borrow it
    fill: dict[str, Any] = {}
    for name in ("url", "date", "description"):
        if getattr(head, name) is None:
            fill[name] = next((getattr(o, name) for o in rest if getattr(o, name) is not None), None)
    return replace(head, copies=tuple(copies), **fill)

