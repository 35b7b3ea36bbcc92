"""Group articles that report the same event into stories, with ids that stay stable across runs.

Each article becomes a sparse vector of salient terms (names, numbers, content words; its title and
lead weigh more) weighted by TF-IDF over the batch. Names are keyed by a consonant skeleton so that
transliterations (Kolesnikova/Kalesnikava, Babaryka/Babariko) meet. Articles are clustered in one
deterministic pass against story centroids found through an inverted index on salient terms (no
all-pairs comparison), close stories are then merged, and stories matching a remembered story keep
its id and are flagged as updates.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from datetime import date, datetime

from types import MappingProxyType
from urllib.parse import urlsplit

from sumy.utils import get_stop_words

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
LANGUAGE_SAMPLE = 200  # tokens looked at to guess the language
_TOKEN = re.compile(r"[^\W\d_](?:[\w’'-]*\w)?|\d[\d,.]*\d|\d")
_VOWELS = str.maketrans("", "", "aeiouyhwjv")  # letters transliterations disagree on
TERMS_PER_ARTICLE = 25  # vector length kept per article
QUERY_TERMS = 12  # salient terms an article is looked up by
SIGNATURE_TERMS = 60
LEAD_PARAGRAPHS = 3
# thresholds are on a calibrated scale: score = cosine / CALIBRATION, so the default 0.3 means a cosine
# of 0.255 between salient-term vectors (the best same-event/different-event split on the dev pages)
CALIBRATION = 0.85
BACKGROUND_DOCS = 100
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


def _stop_words(tokens: list[str]) -> frozenset[str]:
    """Guess the language from stop-word hits among the first tokens; return its stop list."""
    hits: Counter[str] = Counter()
    for token in tokens:
        hits.update(_STOP_LANGS.get(token.lower(), ()))
    best = max(LANGUAGES, key=lambda lang: (hits[lang], lang == "english"))
    return STOP_LISTS[best] if best == "english" else STOP_LISTS[best] | STOP_LISTS["english"]


def _term(token: str, stop: frozenset[str]) -> str | None:
    """Normalise a token to a clustering term, or None for stop words and noise."""
    if token[0].isdigit():
        digits = token.replace(",", "").rstrip(".")
        return "#" + digits
    lower = token.lower().replace("’", "'")
    if lower in stop or len(lower) < 3:
        return None
    if token[0].isupper() and len(lower) >= 5:
        # a name: keep its consonant skeleton so spellings from different transliterations meet
        skeleton = lower[0] + re.sub(r"(.)\1+", r"\1", lower[1:].translate(_VOWELS))
        if len(skeleton) >= 3:
            return "~" + skeleton.split("'")[0]
    # light stemming: plural and verb endings, so "collapsed"/"collapses" meet
    for suffix in ("ing", "ed", "es", "s"):
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 4:
            return lower[: -len(suffix)]
    return lower


def terms(article: Article) -> Counter[str]:
    """Count an article's terms: title x3, lead paragraphs x2, the rest x1, headings x1."""
    counts: Counter[str] = Counter()
    body_seen = 0
    texts = [(p.role, p.text) for p in article.paragraphs]
    if not any(role is Role.TITLE for role, _ in texts) and article.title:
        texts.insert(0, (Role.TITLE, article.title))
    tokens = [_TOKEN.findall(text) for _, text in texts]
    stop = _stop_words(list(islice(chain.from_iterable(tokens), LANGUAGE_SAMPLE)))
    for (role, _), found in zip(texts, tokens):
        if role is Role.TITLE:
            weight = 3
        elif role is Role.BODY:
            weight = 2 if body_seen < LEAD_PARAGRAPHS else 1
            body_seen += 1
        else:
            weight = 1
        for token in found:
            term = _term(token, stop)
            if term is not None:
                counts[term] += weight
    return counts


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


def _score(a: Vector, b: Vector) -> float:
    """Similarity on the scale `threshold` is given in (calibrated cosine)."""
    return _cosine(a, b) / CALIBRATION


def _day(article: Article) -> float | None:
    """Return the article's date as a day number, if it has one."""
    return article.date.timestamp() / 86400.0 if article.date else None


def _outlets(article: Article) -> set[str]:
    """Return comparable names (lower case, no www.) of the outlets and sites of every copy of an article."""
    names = {s.outlet.strip().lower() for s in article.sources if s.outlet and s.outlet.strip()}
    names |= {urlsplit(s.url).netloc.lower() for s in article.sources if s.url}
    return {n.removeprefix("www.") for n in names if n}


@dataclass
class _Cluster:
    members: list[int]
    total: Vector  # sum of member vectors
    centroid: Vector
    days: list[float] = field(default_factory=list)
    outlets: set[str] = field(default_factory=set)

    def add(self, vector: Vector, day: float | None, outlets: set[str]) -> None:
        """Add a member's vector, date and outlets, and refresh the centroid."""
        self.outlets |= outlets
        for t, w in vector.items():
            self.total[t] = self.total.get(t, 0.0) + w
        self.centroid = _normalise(self.total, TERMS_PER_ARTICLE * 2)
        if day is not None:
            self.days.append(day)


def _time_factor(days: Sequence[float], day: float | None) -> float:
    """Down-weight similarity between articles published far apart."""
    if day is None or not days:
        return 1.0
    gap = min(abs(d - day) for d in days)
    return 1.0 if gap <= MAX_DAYS_APART else MAX_DAYS_APART / gap


def _vectors(articles: Sequence[Article]) -> list[Vector]:
    """TF-IDF vectors (log tf, smoothed idf over the batch), truncated and normalised."""
    counts = [terms(a) for a in articles]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    n = len(articles)
    # pseudo-documents without the term: in a small batch (one story's articles) the terms they all
    # share must still count, not sink to the idf of "the"
    idf = {t: math.log((n + 1 + BACKGROUND_DOCS) / (d + 1)) + 1.0 for t, d in df.items()}
    return [_normalise({t: (1.0 + math.log(tf)) * idf[t] for t, tf in c.items()}, TERMS_PER_ARTICLE) for c in counts]


def _salient(vector: Vector, limit: int) -> list[str]:
    """Return the heaviest terms of a vector."""
    return [t for t, _ in sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _assign(vectors: list[Vector], articles: list[Article], threshold: float) -> list[_Cluster]:
    """Cluster in one pass: each article joins the closest story centroid found via the term index."""
    clusters: list[_Cluster] = []
    index: dict[str, list[int]] = defaultdict(list)
    for i, (vector, article) in enumerate(zip(vectors, articles)):
        day, outlets = _day(article), _outlets(article)
        query = _salient(vector, QUERY_TERMS)
        candidates = sorted({c for t in query for c in index.get(t, ())})
        best, best_score = -1, threshold
        for c in candidates:
            found = clusters[c]
            score = _score(vector, found.centroid) * _time_factor(found.days, day)
            if outlets & found.outlets:
                score *= SAME_OUTLET
            if score >= best_score:
                best, best_score = c, score
        if best < 0:
            best = len(clusters)
            clusters.append(_Cluster([], {}, {}))
        clusters[best].members.append(i)
        clusters[best].add(vector, day, outlets)
        for t in query:
            postings = index[t]
            if not postings or postings[-1] != best:
                postings.append(best)
    return clusters


def _merge(clusters: list[_Cluster], threshold: float) -> list[list[int]]:
    """Merge stories whose centroids are close (an event split by the order articles came in)."""
    parent = list(range(len(clusters)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    index: dict[str, list[int]] = defaultdict(list)
    for c, cluster in enumerate(clusters):
        query = _salient(cluster.centroid, QUERY_TERMS)
        for other in sorted({o for t in query for o in index.get(t, ())}):
            score = _score(cluster.centroid, clusters[other].centroid)
            if cluster.outlets & clusters[other].outlets:
                score *= SAME_OUTLET
            if score >= threshold and find(other) != find(c):
                parent[find(c)] = find(other)
        for t in query:
            index[t].append(c)
    groups: dict[int, list[int]] = defaultdict(list)
    for c, cluster in enumerate(clusters):
        groups[find(c)].extend(cluster.members)
    return list(groups.values())


def _order_key(article: Article) -> tuple[bool, str, str]:
    """Sort articles oldest first (undated last), then by id: the same inbox gives the same order."""
    return (article.date is None, article.date.isoformat() if article.date else "", article.id)


def _story_id(articles: Iterable[Article]) -> str:
    """Derive a new story's id from its earliest article."""
    first = min(articles, key=_order_key)
    return "s-" + hashlib.sha1(f"story:{first.id}".encode()).hexdigest()[:12]


def _match_memory(centroids: list[Vector], memory: Sequence[StoryMemory], threshold: float) -> dict[int, StoryMemory]:
    """Pair stories with remembered ones (best pairs first, each used once) via a term index."""
    index: dict[str, list[int]] = defaultdict(list)
    signatures = [_normalise(m.signature, SIGNATURE_TERMS) for m in memory]
    for m, signature in enumerate(signatures):
        for t in _salient(signature, QUERY_TERMS * 2):
            index[t].append(m)
    pairs: list[tuple[float, int, int]] = []
    for s, centroid in enumerate(centroids):
        for m in sorted({m for t in _salient(centroid, QUERY_TERMS) for m in index.get(t, ())}):
            score = _score(centroid, signatures[m])
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

    `threshold` is the cosine similarity (of salient-term vectors) an article needs to join a story.
    A story that matches one in `memory` takes its id and has `is_update` set.
    Stories come largest first, then by id.
    """
    ordered = sorted({a.id: a for a in articles}.values(), key=_order_key)
    if not ordered:
        return []
    vectors = _vectors(ordered)
    groups = _merge(_assign(vectors, ordered, threshold), threshold)

    centroids: list[Vector] = []
    for members in groups:
        total: Vector = {}
        for i in members:
            for t, w in vectors[i].items():
                total[t] = total.get(t, 0.0) + w
        centroids.append(_normalise(total, SIGNATURE_TERMS))
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
    total: Counter[str] = Counter()
    for article in story.articles:
        # log-scaled counts, so no single long article dominates the signature
        for t, tf in terms(article).items():
            total[t] += 1.0 + math.log(tf)
    signature = _normalise(dict(total), SIGNATURE_TERMS)
    day = when.date() if isinstance(when, datetime) else when
    return StoryMemory(story.id, {t: round(w, 6) for t, w in signature.items()}, day.isoformat())
