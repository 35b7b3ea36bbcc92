"""Group articles that report the same event into stories, with ids that stay stable across runs.

Each article is read once into weighted terms: content words, names and numbers, its title and lead
weighing more. Whether a word is a name is decided over the whole batch (capitalised inside
sentences more often than not), so every article keys it the same way; names are keyed by a consonant
skeleton so transliterations (Kolesnikova/Kalesnikava, Babaryka/Babariko) meet. Names and specific
numbers are the evidence that two outlets report one event, so they weigh more than topic words.

Vectors are sparse TF-IDF rows (idf from the batch plus background pseudo-documents, so a small batch
still tells shared names from shared topic words). Pair similarities come from one sparse product
restricted to terms rare enough to name an event (no all-pairs loop), are damped by the gap between
publication dates and by a shared outlet, and stories are formed by average-linkage merging over
that sparse graph. Stories matching a remembered story keep its id and are flagged as updates.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from types import MappingProxyType
from urllib.parse import urlsplit

import numpy as np
from scipy import sparse
from sumy.utils import get_stop_words
from wordfreq import get_frequency_dict

from digest.models import Article, Role, Story

Vector = dict[str, float]

LANGUAGES = ("english", "german", "french", "spanish", "italian", "portuguese", "swedish", "polish", "czech",
             "slovak", "ukrainian", "greek")
ENGLISH_EXTRA = frozenset(
    # reporting verbs and calendar words every news article has
    "said says told according reported monday tuesday wednesday thursday friday saturday sunday "
    "today yesterday week year years month months time people new also would could".split()
)
STOP_LISTS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {lang: frozenset(get_stop_words(lang)) | (ENGLISH_EXTRA if lang == "english" else frozenset()) for lang in LANGUAGES}
)
# word -> the languages whose stop list has it, to guess an article's language in one pass
_STOP_LANGS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {w: tuple(lang for lang in LANGUAGES if w in STOP_LISTS[lang]) for words in STOP_LISTS.values() for w in words}
)
# wordfreq's code for each stop-list language (its small lists: ~30,000 words each, read once per batch)
WORDFREQ_CODES = MappingProxyType({"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
                                   "portuguese": "pt", "swedish": "sv", "polish": "pl", "czech": "cs", "slovak": "sk",
                                   "ukrainian": "uk", "greek": "el"})
LANGUAGE_SAMPLE = 200  # tokens looked at to guess the language
_TOKEN = re.compile(r"[^\W\d_](?:[\w’'-]*\w)?|\d[\d,.]*\d|\d")
_SENTENCE_END = frozenset(".!?:;\"“”‘’'([—–-•|*#>")  # a capital after these says nothing about a name
_VOWELS = str.maketrans("", "", "aeiouyhwjv")  # letters transliterations disagree on
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
TITLE_WEIGHT = 3
LEAD_WEIGHT = 2
LEAD_PARAGRAPHS = 3
NAME_BOOST = 1.5  # a shared name (person, place, organisation) is evidence of one event
# background weight of a word from its Zipf frequency in general text: (COMMON_ZIPF - zipf) / ZIPF_SCALE,
# clipped; a word never seen in general text ("Harbourfield", "duvet") weighs most, "power" or "China" least
COMMON_ZIPF = 7.0
ZIPF_SCALE = 3.0
MIN_BACKGROUND, MAX_BACKGROUND = 0.3, 2.0
NUMBER_BOOST = 3.0  # so is a shared specific number (9,870 megawatts; 43.1 degrees)
TERMS_PER_ARTICLE = 40  # vector length kept per article
SIGNATURE_TERMS = 60
QUERY_TERMS = 24  # salient terms a story is looked up by in memory
BACKGROUND_DOCS = 100  # pseudo-documents without any term: a small batch still has a meaningful idf
MIN_SHARED_TERMS = 4  # a pair sharing fewer terms than this has its similarity scaled down in proportion
MIN_SHARED_TITLE_TERMS = 3  # two headlines sharing fewer terms ("Marlow Bay") are no evidence at all
NAMED_EVIDENCE = 0.05  # shared name/number mass (of a unit cosine) below which similarity is scaled down
MAX_EVENT_DF = 256  # a term in more articles than this names a topic, not an event: no candidate pairs
# thresholds are on a calibrated scale: score = cosine / CALIBRATION, so the default 0.3 sits at the
# best same-event/different-event split on the dev pages
CALIBRATION = 0.52
SAME_OUTLET = 0.6  # one outlet rarely runs two articles on one event; shared site vocabulary is not an event
MAX_DAYS_APART = 3.0  # beyond this, similarity decays with the gap in publication dates


@dataclass(frozen=True)
class StoryMemory:
    """What the state store keeps of a story between runs (JSON-able fields only)."""

    id: str
    signature: dict[str, float]  # salient term weights
    last_seen: str  # ISO date

    def to_json(self) -> str:
        """Serialise to a JSON object string."""
        return json.dumps({"id": self.id, "signature": self.signature, "last_seen": self.last_seen}, sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> StoryMemory:
        """Read a StoryMemory written by `to_json`."""
        data = json.loads(s)
        return cls(id=str(data["id"]), signature={str(k): float(v) for k, v in data["signature"].items()},
                   last_seen=str(data["last_seen"]))


@dataclass
class _Evidence:
    """Batch-wide counts of how each word is written: capitalised inside a sentence, or lower case."""

    capitalised: Counter[str]
    lower: Counter[str]

    def is_name(self, word: str) -> bool:
        """Tell whether the batch writes this word as a name."""
        return self.capitalised[word] > self.lower[word]


def _language(tokens: Iterable[str]) -> str:
    """Guess the language from stop-word hits among the first tokens."""
    hits: Counter[str] = Counter()
    for token in tokens:
        hits.update(_STOP_LANGS.get(token.lower(), ()))
    return max(LANGUAGES, key=lambda lang: (hits[lang], lang == "english"))


def _stop_words(language: str) -> frozenset[str]:
    """Return the stop list of a language (English words too: quotes and names cross languages)."""
    return STOP_LISTS[language] if language == "english" else STOP_LISTS[language] | STOP_LISTS["english"]


@dataclass(frozen=True)
class _Background:
    """How common words are in general text, per language (wordfreq's lists, which ship in the package)."""

    frequencies: dict[str, dict[str, float]]

    @classmethod
    def load(cls, languages: Iterable[str]) -> _Background:
        """Read the frequency lists of the given languages."""
        return cls({lang: get_frequency_dict(WORDFREQ_CODES[lang], wordlist="small") for lang in set(languages)})

    def weight(self, word: str, language: str) -> float:
        """Weigh a word by how rare it is in general text; a compound is as common as its commonest part."""
        table = self.frequencies[language]
        parts = [p for p in re.split(r"[-']", word) if p]
        freq = max((table.get(p, 0.0) for p in parts), default=0.0) if len(parts) > 1 else table.get(word, 0.0)
        zipf = math.log10(freq * 1e9) if freq > 0 else 0.0
        return min(MAX_BACKGROUND, max(MIN_BACKGROUND, (COMMON_ZIPF - zipf) / ZIPF_SCALE))


def _texts(article: Article) -> list[tuple[int, str]]:
    """Return (weight, text) for the title, headings and body: title x3, lead paragraphs x2, the rest x1."""
    out: list[tuple[int, str]] = []
    body_seen = 0
    paragraphs = list(article.paragraphs)
    if article.title and not any(p.role is Role.TITLE for p in paragraphs):
        out.append((TITLE_WEIGHT, article.title))
    for p in paragraphs:
        if p.role is Role.TITLE:
            out.append((TITLE_WEIGHT, p.text))
        elif p.role is Role.BODY:
            out.append((LEAD_WEIGHT if body_seen < LEAD_PARAGRAPHS else 1, p.text))
            body_seen += 1
        else:
            out.append((1, p.text))
    return out


def _read(article: Article, evidence: _Evidence) -> tuple[Counter[str], Counter[str], str]:
    """Count an article's words (lower case, weighted by where they stand); note how names are written."""
    texts = _texts(article)
    found = [(weight, list(_TOKEN.finditer(text)), text) for weight, text in texts]
    language = _language(islice((m.group(0) for m in chain.from_iterable(f for _, f, _ in found)), LANGUAGE_SAMPLE))
    stop = _stop_words(language)
    counts: Counter[str] = Counter()
    title: Counter[str] = Counter()
    for weight, matches, text in found:
        # a headline capitalises every word: it is no evidence of names
        headline = weight == TITLE_WEIGHT
        for m in matches:
            token = m.group(0)
            word = token.lower().replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            if word in stop or (len(word) < 3 and not word[0].isdigit()):
                continue
            counts[word] += weight
            if headline:
                title[word] += 1
                continue
            if token[0].isdigit():
                continue
            if token[0].isupper():
                before = text[: m.start()].rstrip()
                if before and before[-1] not in _SENTENCE_END:
                    evidence.capitalised[word] += 1
            else:
                evidence.lower[word] += 1
    return counts, title, language


def _key(word: str, name: bool, background: float) -> tuple[str, float]:
    """Map a word to its clustering term and weight: names by consonant skeleton, numbers by value."""
    if word[0].isdigit():
        digits = word.replace(",", "").rstrip(".")
        # years and small counts recur in unrelated news; long or decimal numbers are specific
        specific = not _YEAR.match(digits) and (len(digits) >= 3 or "." in digits)
        return "#" + digits, NUMBER_BOOST if specific else 1.0
    if name:
        if len(word) >= 5:
            skeleton = word[0] + re.sub(r"(.)\1+", r"\1", word[1:].translate(_VOWELS))
            if len(skeleton) >= 3:
                return "~" + skeleton, NAME_BOOST * background
        return "~" + word, NAME_BOOST * background
    # light stemming: plural and verb endings, so "collapsed"/"collapses" meet
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)], background
    return word, background


def _terms(counts: Counter[str], language: str, evidence: _Evidence, background: _Background,
           keys: dict[tuple[str, str], tuple[str, float]]) -> dict[str, tuple[float, float]]:
    """Turn word counts into term -> (count, weight), memoising each word's key in `keys`."""
    out: dict[str, tuple[float, float]] = {}
    for word, n in counts.items():
        found = keys.get((word, language))
        if found is None:
            weight = background.weight(word, language)
            found = keys[word, language] = _key(word, evidence.is_name(word), weight)
        term, boost = found
        old = out.get(term)
        out[term] = (n + (old[0] if old else 0.0), max(boost, old[1] if old else boost))
    return out


def terms(article: Article) -> Counter[str]:
    """Count an article's clustering terms (names judged from the article alone), weighted by position."""
    evidence = _Evidence(Counter(), Counter())
    counts, _, language = _read(article, evidence)
    found = _terms(counts, language, evidence, _Background.load([language]), {})
    return Counter({t: n for t, (n, _) in found.items()})


def _normalise(vector: Vector, limit: int) -> Vector:
    """Keep the `limit` heaviest terms (ties by name, for determinism) and scale to unit length."""
    top = sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def _cosine(a: Vector, b: Vector) -> float:
    """Dot product of two unit vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


@dataclass(frozen=True)
class _Batch:
    """The batch as sparse unit rows over a shared vocabulary, and how many articles hold each term."""

    rows: sparse.csr_matrix
    titles: sparse.csr_matrix  # the headline's terms alone, with the same weights
    vocabulary: dict[str, int]
    df: np.ndarray
    named: np.ndarray  # per term: a name or a specific number, the evidence of one event

    def vector(self, members: Iterable[int], limit: int) -> Vector:
        """Return the normalised sum of some rows as a term -> weight dict."""
        total = np.asarray(self.rows[sorted(members)].sum(axis=0)).ravel()
        names = {i: t for t, i in self.vocabulary.items()}
        return _normalise({names[int(i)]: float(total[i]) for i in np.flatnonzero(total)}, limit)


def _rows(per_article: list[dict[str, tuple[float, float]]], vocabulary: dict[str, int], idf: np.ndarray,
          limit: int) -> sparse.csr_matrix:
    """Build unit TF-IDF rows (log tf x idf x weight), each truncated to its `limit` heaviest terms."""
    indptr, indices, data = [0], [], []
    for found in per_article:
        cols = np.fromiter((vocabulary[t] for t in found), dtype=np.int64, count=len(found))
        values = np.fromiter(((1.0 + math.log(c)) * b for c, b in found.values()), dtype=float, count=len(found))
        weights = values * idf[cols]
        # keep the heaviest terms; ties broken by column (first seen), which is deterministic per batch
        top = np.lexsort((cols, -weights))[:limit]
        norm = float(np.sqrt((weights[top] ** 2).sum())) or 1.0
        order = np.argsort(cols[top])
        indices.extend(cols[top][order].tolist())
        data.extend((weights[top][order] / norm).tolist())
        indptr.append(len(indices))
    shape = (len(per_article), len(vocabulary))
    return sparse.csr_matrix((np.array(data), np.array(indices, dtype=np.int64), np.array(indptr)), shape=shape)


def _batch(articles: Sequence[Article]) -> _Batch:
    """Read every article once and build its body and headline rows over one vocabulary and idf."""
    evidence = _Evidence(Counter(), Counter())
    read = [_read(a, evidence) for a in articles]
    background = _Background.load(language for _, _, language in read)
    keys: dict[tuple[str, str], tuple[str, float]] = {}
    per_article = [_terms(c, language, evidence, background, keys) for c, _, language in read]
    per_title = [_terms(t, language, evidence, background, keys) for _, t, language in read]
    vocabulary: dict[str, int] = {}
    for found in per_article:
        for t in found:
            vocabulary.setdefault(t, len(vocabulary))
    df = np.zeros(len(vocabulary), dtype=np.int64)
    for found in per_article:
        df[[vocabulary[t] for t in found]] += 1
    # pseudo-documents without the term: in a small batch (one story's articles) the terms they all
    # share must still count, not sink to the idf of "the"
    idf = np.log((len(articles) + 1 + BACKGROUND_DOCS) / (df + 1.0)) + 1.0
    named = np.zeros(len(vocabulary), dtype=bool)
    for term, weight in keys.values():
        if term in vocabulary and (term[0] == "~" or (term[0] == "#" and weight >= NUMBER_BOOST)):
            named[vocabulary[term]] = True
    rows = _rows(per_article, vocabulary, idf, TERMS_PER_ARTICLE)
    return _Batch(rows, _rows(per_title, vocabulary, idf, TERMS_PER_ARTICLE), vocabulary, df, named)


def _outlet_codes(articles: Sequence[Article]) -> list[frozenset[int]]:
    """Give each article the set of codes of its outlets and sites (every copy), for the same-outlet damping."""
    codes: dict[str, int] = {}
    out = []
    for article in articles:
        names = {s.outlet.strip().lower() for s in article.sources if s.outlet and s.outlet.strip()}
        names |= {urlsplit(s.url).netloc.lower() for s in article.sources if s.url}
        out.append(frozenset(codes.setdefault(n.removeprefix("www."), len(codes)) for n in names if n))
    return out


def _evidence_scaled(rows: sparse.csr_matrix, named: np.ndarray, min_shared: int, partial: bool = True) -> sparse.csr_matrix:
    """Return pair similarities (upper triangle), scaled down where the shared evidence is thin.

    A pair sharing fewer than `min_shared` terms keeps that share of its similarity, or none unless `partial`.
    """
    rows = rows.tocsr()
    rows.eliminate_zeros()
    pairs = sparse.triu(rows @ rows.T, k=1).tocsr()
    present = rows.copy()
    present.data[:] = 1.0
    shared = sparse.triu(present @ present.T, k=1).tocsr()
    # one shared name ("Marlow Bay") is a place, not an event: evidence must come from several terms
    share = shared.minimum(min_shared) / min_shared
    # squared: two shared terms are often one two-word name ("Marlow Bay"), worth a quarter, not a half
    pairs = pairs.multiply(share.power(2) if partial else share.floor())
    # and some of it must be names or specific numbers: two reports of one event name the same people,
    # places and figures; shared topic words alone ("hibernation", "astronauts") make a related story
    names = (rows @ sparse.diags(named.astype(float))).tocsr()
    evidence = sparse.triu(names @ names.T, k=1).tocsr()
    return pairs.multiply(evidence.minimum(NAMED_EVIDENCE) / NAMED_EVIDENCE).tocsr()


def _edges(batch: _Batch, articles: Sequence[Article], threshold: float) -> sparse.coo_matrix:
    """Score candidate pairs through their shared event-naming terms; keep those above `threshold`."""
    rare = sparse.diags((batch.df <= MAX_EVENT_DF).astype(float))
    body = _evidence_scaled(batch.rows @ rare, batch.named, MIN_SHARED_TERMS)
    # two headlines that name the same people and places are strong evidence even when the bodies
    # go different ways (a reaction piece, a local angle)
    pairs = body.maximum(_evidence_scaled(batch.titles @ rare, batch.named, MIN_SHARED_TITLE_TERMS, partial=False)).tocoo()
    keep = pairs.data / CALIBRATION >= threshold
    i, j, score = pairs.row[keep], pairs.col[keep], pairs.data[keep] / CALIBRATION
    days = np.array([a.date.timestamp() / 86400.0 if a.date else np.nan for a in articles])
    gap = np.abs(days[i] - days[j])
    score = np.where(np.isnan(gap) | (gap <= MAX_DAYS_APART), score, score * MAX_DAYS_APART / np.maximum(gap, 1e-9))
    outlets = _outlet_codes(articles)
    same = np.fromiter((bool(outlets[a] & outlets[b]) for a, b in zip(i.tolist(), j.tolist())), dtype=bool, count=len(i))
    score = np.where(same, score * SAME_OUTLET, score)
    keep = score >= threshold
    return sparse.coo_matrix((score[keep], (i[keep], j[keep])), shape=pairs.shape)


def _average_linkage(edges: sparse.coo_matrix, n: int, threshold: float) -> list[list[int]]:
    """Merge clusters best pair first while the mean similarity over all their member pairs stays >= threshold."""
    links: list[dict[int, float]] = [{} for _ in range(n)]  # cluster -> neighbour cluster -> summed similarity
    for a, b, s in zip(edges.row.tolist(), edges.col.tolist(), edges.data.tolist()):
        links[a][b] = links[a].get(b, 0.0) + s
        links[b][a] = links[b].get(a, 0.0) + s
    members: list[list[int] | None] = [[i] for i in range(n)]
    heap = [(-s, a, b) for a in range(n) for b, s in links[a].items() if a < b]
    heapq.heapify(heap)
    while heap:
        neg, a, b = heapq.heappop(heap)
        ma, mb = members[a], members[b]
        if ma is None or mb is None:
            continue
        mean = links[a].get(b, 0.0) / (len(ma) * len(mb))
        if abs(mean + neg) > 1e-12:
            continue  # stale entry: a neighbour merged since it was pushed
        if mean < threshold:
            break
        # merge the smaller cluster into the larger (ties: lower index survives), so work stays n log n
        keep, gone = (a, b) if (len(ma), -a) >= (len(mb), -b) else (b, a)
        kept_members, gone_members = members[keep], members[gone]
        assert kept_members is not None and gone_members is not None
        kept_members.extend(gone_members)
        members[gone] = None
        for other, s in links[gone].items():
            if other == keep:
                continue
            links[other].pop(gone, None)
            total = links[keep].get(other, 0.0) + s
            links[keep][other] = total
            links[other][keep] = total
        links[gone] = {}
        links[keep].pop(gone, None)
        size = len(kept_members)
        for other, total in links[keep].items():
            other_members = members[other]
            assert other_members is not None
            heapq.heappush(heap, (-total / (size * len(other_members)), min(keep, other), max(keep, other)))
    return [m for m in members if m is not None]


def _order_key(article: Article) -> tuple[bool, str, str]:
    """Sort articles oldest first (undated last), then by id: the same inbox gives the same order."""
    return (article.date is None, article.date.isoformat() if article.date else "", article.id)


def _story_id(articles: Iterable[Article]) -> str:
    """Derive a new story's id from its earliest article."""
    first = min(articles, key=_order_key)
    return "s-" + hashlib.sha1(f"story:{first.id}".encode()).hexdigest()[:12]


def _salient(vector: Vector, limit: int) -> list[str]:
    """Return the heaviest terms of a vector."""
    return [t for t, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _match_memory(centroids: list[Vector], memory: Sequence[StoryMemory], threshold: float) -> dict[int, StoryMemory]:
    """Pair stories with remembered ones (best pairs first, each used once) via a term index."""
    index: dict[str, list[int]] = {}
    signatures = [_normalise(m.signature, SIGNATURE_TERMS) for m in memory]
    for m, signature in enumerate(signatures):
        for t in _salient(signature, QUERY_TERMS * 2):
            index.setdefault(t, []).append(m)
    pairs: list[tuple[float, int, int]] = []
    for s, centroid in enumerate(centroids):
        for m in sorted({m for t in _salient(centroid, QUERY_TERMS) for m in index.get(t, ())}):
            score = _cosine(centroid, signatures[m]) / CALIBRATION
            if score >= threshold:
                pairs.append((-score, s, m))
    matched: dict[int, StoryMemory] = {}
    used: set[int] = set()
    for _, s, m in sorted(pairs):
        if s not in matched and m not in used:
            matched[s] = memory[m]
            used.add(m)
    return matched


def cluster(articles: Sequence[Article], threshold: float = 0.3, memory: Sequence[StoryMemory] = ()) -> list[Story]:
    """Group articles into stories of the same event; deterministic for the same set of articles.

    `threshold` is the calibrated similarity (cosine of salient-term vectors / CALIBRATION) that the
    members of a story must reach on average. A story that matches one in `memory` takes its id and
    has `is_update` set. Stories come largest first, then by id.
    """
    ordered = sorted({a.id: a for a in articles}.values(), key=_order_key)
    if not ordered:
        return []
    batch = _batch(ordered)
    groups = _average_linkage(_edges(batch, ordered, threshold), len(ordered), threshold)
    remembered: dict[int, StoryMemory] = {}
    if memory:
        centroids = [batch.vector(members, SIGNATURE_TERMS) for members in groups]
        remembered = _match_memory(centroids, memory, threshold)

    stories = []
    for g, members in enumerate(groups):
        members_articles = tuple(sorted((ordered[i] for i in members), key=_order_key))
        if g in remembered:
            stories.append(Story(remembered[g].id, members_articles, is_update=True))
        else:
            stories.append(Story(_story_id(members_articles), members_articles))
    return sorted(stories, key=lambda s: (-len(s.articles), s.id))


def remember(story: Story, when: date) -> StoryMemory:
    """Summarise a story for the state store: its salient term weights and the day it was last seen."""
    batch = _batch(story.articles)
    signature = batch.vector(range(len(story.articles)), SIGNATURE_TERMS)
    day = when.date() if isinstance(when, datetime) else when
    return StoryMemory(story.id, {t: round(w, 6) for t, w in signature.items()}, day.isoformat())
