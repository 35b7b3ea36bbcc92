"""Collapse exact and near-duplicate articles into one kept copy that lists every outlet and file.

Exact copies (same words) are grouped by a hash of their normalised words. Near-duplicates (the same
page cleaned from HTML and from text, wire copy republished with light edits or cuts) are found with
MinHash LSH from datasketch over word shingles, never by comparing all pairs: articles are indexed
most complete first, and each later article is checked only against the kept copies its LSH buckets
return.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from datasketch import MinHash, MinHashLSH

from digest.models import Article, Role

SHINGLE = 4  # words per shingle: long enough to be specific, short enough to survive light edits
NUM_PERM = 128
# a text copy can carry several times the words of the HTML page's article (comments, chrome), so the
# index must find pairs of low Jaccard similarity; the exact shingle overlap decides
LSH_THRESHOLD = 0.2
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
    minhash: MinHash | None  # None when the article is too short to shingle


def _title_key(title: str) -> str:
    """Normalise a headline: drop a trailing site name, case and punctuation."""
    key = " ".join(_WORD.findall(_TITLE_SITE.sub("", title.strip()).lower()))
    return key if len(key) >= MIN_TITLE_CHARS else ""


def _words(article: Article) -> list[str]:
    """Return the lower-cased words of an article's headings and body (never its title)."""
    return _WORD.findall(" ".join(p.text for p in article.paragraphs if p.role is not Role.TITLE).lower())


def _word_hashes(words: list[str], vocab: dict[str, int]) -> np.ndarray:
    """Map words to stable 32-bit hashes, memoised in the caller's vocab."""
    out = np.empty(len(words), dtype=np.uint64)
    for i, word in enumerate(words):
        h = vocab.get(word)
        if h is None:
            h = vocab[word] = zlib.crc32(word.encode())
        out[i] = h
    return out


def _shingle_hashes(hashes: np.ndarray) -> np.ndarray:
    """Combine each run of SHINGLE word hashes into one mixed 32-bit shingle hash (unique values)."""
    n = len(hashes) - SHINGLE + 1
    acc = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):
        # polynomial combination keeps word order; the mask keeps the values in 32 bits
        acc = ((acc * np.uint64(0x01000193)) ^ hashes[k : k + n]) & _MASK
    acc ^= acc >> np.uint64(16)
    acc = (acc * np.uint64(0x85EBCA6B)) & _MASK
    acc ^= acc >> np.uint64(13)
    return np.unique(acc.astype(np.uint32))


def _sketch(article: Article, vocab: dict[str, int], perms: np.ndarray) -> _Sketch:
    """Sketch one article: word count, exact digest and MinHash of its shingles."""
    words = _words(article)
    digest = hashlib.blake2b(" ".join(words).encode(), digest_size=16).hexdigest()
    title = _title_key(article.title)
    if len(words) < SHINGLE:
        return _Sketch(len(words), np.zeros(0, dtype=np.uint32), digest, title, None)
    shingles = _shingle_hashes(_word_hashes(words, vocab))
    a, b = perms
    # the affine32 permutations of datasketch, applied to all shingles at once (uint32 wrap-around)
    values = (shingles[:, None] * a[None, :] + b[None, :]).min(axis=0)
    minhash = MinHash(NUM_PERM, seed=1, hashvalues=values, permutations=perms, scheme=SCHEME)
    return _Sketch(len(words), shingles, digest, title, minhash)


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


def deduplicate(articles: Sequence[Article], threshold: float = 0.8) -> DedupeResult:
    """Collapse duplicates; keep the most complete copy of each, listing the others in `.copies`.

    `threshold` is the share of the shorter copy's word shingles that must also be in the kept copy.
    Deterministic: the result does not depend on the order of `articles`.
    """
    vocab: dict[str, int] = {}
    perms = MinHash(NUM_PERM, seed=1, scheme=SCHEME).permutations
    sketches = {a.id: _sketch(a, vocab, perms) for a in articles}
    unique = {a.id: a for a in articles}  # the same article passed twice counts once
    order = sorted(unique.values(), key=lambda a: _completeness(a, sketches[a.id]))

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    by_digest: dict[str, str] = {}
    by_title: dict[str, list[str]] = {}
    groups: dict[str, list[Article]] = {}
    duplicate_of: dict[str, str] = {}
    for article in order:
        sketch = sketches[article.id]
        keeper = by_digest.get(sketch.digest) if sketch.words else None
        if keeper is None and sketch.minhash is not None:
            found = set(lsh.query(sketch.minhash)) | set(by_title.get(sketch.title, ()) if sketch.title else ())
            # candidates come back in storage order; sort them so ties resolve the same way every run
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
        if sketch.minhash is not None:
            lsh.insert(article.id, sketch.minhash, check_duplication=False)
            if sketch.title:
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
    fill: dict[str, object] = {}
    for name in ("url", "date", "description"):
        if getattr(head, name) is None:
            fill[name] = next((getattr(o, name) for o in rest if getattr(o, name) is not None), None)
    return replace(head, copies=tuple(copies), **fill)

