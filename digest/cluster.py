"""Group articles that report the same event into stories, with ids that stay stable across runs.

Each article is tokenised once into weighted words (title x3, lead paragraphs x2). Whether a word is a
name is decided over the whole batch (capitalised inside sentences more often than written in lower
case), so every article keys it the same way; names are keyed by a consonant skeleton so that
transliterations (Kolesnikova/Kalesnikava, Babaryka/Babariko) meet. A word weighs by its idf in the
batch (plus background pseudo-documents), by its rarity in general text (wordfreq's frequency lists),
and more if it is a name or a specific number: those are the evidence that two outlets report one
event, where shared topic words only make a related story.

Candidate pairs come from an inverted index on each article's heaviest names and numbers (one sparse
product, no all-pairs loop). A pair's score is the cosine of its term vectors, scaled down when it
shares few terms or little name/number mass, or the cosine of its headlines when they share several
terms including a name; then damped by the gap between publication dates and by a shared outlet.
Stories are formed by average-linkage merging over that sparse graph. Stories matching a remembered
story keep its id and are flagged as updates.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from array import array
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
# what is dropped from an article in each language: its stop list and English's (quotes and names cross languages)
DROPPED: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {lang: STOP_LISTS[lang] | STOP_LISTS["english"] for lang in LANGUAGES}
)
# wordfreq's code for each stop-list language (its small lists: ~30,000 words each, read once per batch)
WORDFREQ_CODES = MappingProxyType({"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it",
                                   "portuguese": "pt", "swedish": "sv", "polish": "pl", "czech": "cs", "slovak": "sk",
                                   "ukrainian": "uk", "greek": "el"})
LANGUAGE_SAMPLE = 200  # tokens looked at to guess the language
_TOKEN = re.compile(r"[^\W\d_](?:[\w’'-]*\w)?|\d[\d,.]*\d|\d")
# a capital at the start or after these says nothing about a name
_INITIAL = re.compile(r"(?:^|[.!?:;\"“”‘’'(\[—–•|*#>-])\s*([^\W\d_](?:[\w’'-]*\w)?)")
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
QUERY_TERMS = 12  # salient terms an article (or a story, in memory) is looked up by
PAIR_CHUNK = 500_000  # candidate pairs scored at once (bounds memory)
BACKGROUND_DOCS = 100  # pseudo-documents without any term: a small batch still has a meaningful idf
MIN_SHARED_TERMS = 4  # a pair sharing fewer terms than this has its similarity scaled down in proportion
MIN_SHARED_TITLE_TERMS = 3  # two headlines sharing fewer terms ("Marlow Bay") are no evidence at all
NAMED_EVIDENCE = 0.05  # shared name/number mass (of a unit cosine) below which similarity is scaled down
MAX_EVENT_DF = 256  # a term in more articles than this names a topic, not an event: no candidate pairs
# thresholds are on a calibrated scale: score = cosine / CALIBRATION, so the default 0.3 sits in the
# middle of the range (0.25-0.35) where the dev pages split into their events without a wrong merge
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


def _language(tokens: Sequence[str]) -> str:
    """Guess the language from stop-word hits among some tokens (English unless another has more)."""
    sample = Counter(map(str.lower, tokens))
    english = sum(n for w, n in sample.items() if w in STOP_LISTS["english"])
    if english * 4 >= len(tokens):
        return "english"  # no other language's text is a quarter English function words
    hits = {lang: sum(n for w, n in sample.items() if w in STOP_LISTS[lang]) for lang in LANGUAGES}
    return max(LANGUAGES, key=lambda lang: (hits[lang], lang == "english"))


@dataclass(frozen=True)
class _Background:
    """How common words are in general text, per language (wordfreq's lists, which ship in the package)."""

    frequencies: dict[str, dict[str, float]]

    @classmethod
    def load(cls, languages: Iterable[str]) -> _Background:
        """Read the frequency lists of the given languages."""
        return cls({lang: get_frequency_dict(WORDFREQ_CODES[lang], wordlist="small") for lang in set(languages)})

    def weights(self, words: Sequence[str], language: str) -> np.ndarray:
        """Weigh words by how rare they are in general text; a compound is as common as its commonest part."""
        table = self.frequencies[language]
        freq = np.array([table.get(w, 0.0) for w in words])
        for i in np.flatnonzero(freq == 0).tolist():
            if "-" in words[i] or "'" in words[i]:
                freq[i] = max((table.get(p, 0.0) for p in re.split(r"[-']", words[i]) if p), default=0.0)
        zipf = np.log10(np.maximum(freq, 1e-9) * 1e9)  # unseen words: zipf 0
        return np.clip((COMMON_ZIPF - zipf) / ZIPF_SCALE, MIN_BACKGROUND, MAX_BACKGROUND)


def _texts(article: Article) -> dict[int, str]:
    """Join the title, the lead paragraphs and the rest (headings, later body) into one text per weight."""
    parts: dict[int, list[str]] = {TITLE_WEIGHT: [], LEAD_WEIGHT: [], 1: []}
    body_seen = 0
    paragraphs = list(article.paragraphs)
    if article.title and not any(p.role is Role.TITLE for p in paragraphs):
        parts[TITLE_WEIGHT].append(article.title)
    for p in paragraphs:
        if p.role is Role.TITLE:
            parts[TITLE_WEIGHT].append(p.text)
        elif p.role is Role.BODY:
            parts[LEAD_WEIGHT if body_seen < LEAD_PARAGRAPHS else 1].append(p.text)
            body_seen += 1
        else:
            parts[1].append(p.text)
    # a full stop between paragraphs: the first word of each is sentence-initial, as it is on the page
    return {weight: "\n.\n".join(texts) for weight, texts in parts.items() if texts}


@dataclass
class _Postings:
    """Flat (article, token, count, weight) postings of a batch: every article tokenised once."""

    tokens: dict[str, int]  # distinct spelling -> id
    # machine-integer arrays, not lists: 100,000 articles make tens of millions of postings
    article: array[int]
    token: array[int]
    count: array[int]
    weight: array[int]  # TITLE_WEIGHT, LEAD_WEIGHT or 1: where in the article the token stands
    initial: Counter[str]  # capitalised spellings counted at the start of a sentence (no evidence of a name)
    languages: list[str]

    def add(self, a: int, weight: int, found: Counter[str]) -> None:
        """Record one part of article `a`: its distinct tokens and their counts."""
        tokens = self.tokens
        self.token.extend([tokens.setdefault(t, len(tokens)) for t in found])
        self.count.extend(found.values())
        self.article.extend(array("i", [a]) * len(found))
        self.weight.extend(array("b", [weight]) * len(found))


def _scan(articles: Sequence[Article]) -> _Postings:
    """Tokenise every article once: distinct tokens per part counted in C, then only ids kept."""
    postings = _Postings({}, array("i"), array("i"), array("i"), array("b"), Counter(), [])
    for a, article in enumerate(articles):
        texts = _texts(article)
        found = {weight: _TOKEN.findall(text) for weight, text in texts.items()}
        postings.languages.append(_language(list(islice(chain.from_iterable(found.values()), LANGUAGE_SAMPLE))))
        for weight, tokens in found.items():
            postings.add(a, weight, Counter(tokens))
            if weight != TITLE_WEIGHT:
                # a headline capitalises every word; elsewhere a capital after a full stop says nothing
                postings.initial.update(_INITIAL.findall(texts[weight]))
    return postings


def _word(token: str) -> str:
    """Normalise a token to a word: lower case, straight apostrophe, no possessive 's."""
    word = token.lower().replace("’", "'")
    return word[:-2] if word.endswith("'s") else word


@dataclass(frozen=True)
class _Vocabulary:
    """Terms of a batch and, per language present, each word's drop flag and weight."""

    terms: dict[str, int]
    term_of_word: np.ndarray  # word id -> term id
    dropped: np.ndarray  # language x word: stop word or noise
    boost: np.ndarray  # language x term: name/number boost x background rarity (max over its words)
    named: np.ndarray  # term: a name or a specific number


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


def _vocabulary(words: list[str], is_name: np.ndarray, languages: list[str]) -> _Vocabulary:
    """Key every word of the batch (names by skeleton, numbers by value) and weigh it per language."""
    background = _Background.load(languages)
    # the key does not depend on the language; the boost scales with the word's rarity in it
    keys = [_key(word, bool(name), 1.0) for word, name in zip(words, is_name.tolist())]
    terms: dict[str, int] = {}
    term_of_word = np.array([terms.setdefault(term, len(terms)) for term, _ in keys], dtype=np.int64)
    base = np.array([b for _, b in keys])
    number = np.array([w[0].isdigit() for w in words], dtype=bool)
    noise = np.array([len(w) < 3 for w in words], dtype=bool) & ~number
    dropped = np.zeros((len(languages), len(words)), dtype=bool)
    boost = np.zeros((len(languages), len(terms)))
    for lang_i, lang in enumerate(languages):
        stop = DROPPED[lang]
        dropped[lang_i] = noise | np.array([w in stop for w in words], dtype=bool)
        word_boost = np.where(number | noise, base, base * background.weights(words, lang))
        np.maximum.at(boost[lang_i], term_of_word, word_boost)
    named = np.zeros(len(terms), dtype=bool)
    named[[t for (term, b), t in zip(keys, term_of_word.tolist()) if term[0] == "~" or (term[0] == "#" and b >= NUMBER_BOOST)]] = True
    return _Vocabulary(terms, term_of_word, dropped, boost, named)


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


def _heaviest(row: np.ndarray, col: np.ndarray, weight: np.ndarray, indptr: np.ndarray, limit: int) -> np.ndarray:
    """Return the positions of each row's `limit` heaviest entries (CSR order in, ties by column)."""
    # ties by column (first seen) keep this deterministic for a set of articles
    order = np.lexsort((col, -weight, row))
    rank = np.arange(len(order)) - indptr[row[order]]
    return order[rank < limit]


def _rows(counts: sparse.csr_matrix, idf: np.ndarray, boost: np.ndarray, language: np.ndarray, limit: int) -> sparse.csr_matrix:
    """Turn a count matrix into unit TF-IDF rows (log tf x idf x boost), each cut to its `limit` heaviest terms.

    `boost` is language x term; `language` gives each row's language.
    """
    counts = counts.tocsr()
    counts.sum_duplicates()
    n = counts.shape[0]
    row = np.repeat(np.arange(n), np.diff(counts.indptr))
    col = counts.indices.astype(np.int64)
    weight = (1.0 + np.log(counts.data)) * idf[col] * boost[language[row], col]
    keep = _heaviest(row, col, weight, counts.indptr, limit)
    row, col, weight = row[keep], col[keep], weight[keep]
    norm = np.sqrt(np.bincount(row, weights=weight**2, minlength=n))
    norm[norm == 0] = 1.0
    return sparse.csr_matrix((weight / norm[row], (row, col)), shape=counts.shape)


def _batch(articles: Sequence[Article]) -> _Batch:
    """Read every article once and build its body and headline rows over one vocabulary and idf."""
    postings = _scan(articles)
    spellings = list(postings.tokens)
    word_ids: dict[str, int] = {}
    word_of_token = np.array([word_ids.setdefault(_word(t), len(word_ids)) for t in spellings], dtype=np.int64)
    words = list(word_ids)
    upper = np.array([t[0].isupper() for t in spellings], dtype=bool)
    digit = np.array([t[0].isdigit() for t in spellings], dtype=bool)

    token = np.frombuffer(postings.token, dtype=np.int32)
    count = np.frombuffer(postings.count, dtype=np.int32)
    weight = np.frombuffer(postings.weight, dtype=np.int8)
    article = np.frombuffer(postings.article, dtype=np.int32)
    # a word is a name if the batch capitalises it inside sentences more often than it writes it in lower case
    body = weight != TITLE_WEIGHT
    capitalised = np.bincount(word_of_token[token], weights=count * (body & upper[token]), minlength=len(words))
    initial = np.zeros(len(words))
    for spelling, n in postings.initial.items():
        t = postings.tokens.get(spelling)
        if t is not None and upper[t]:
            initial[word_of_token[t]] += n
    lower = np.bincount(word_of_token[token], weights=count * (body & ~upper[token] & ~digit[token]), minlength=len(words))
    languages = sorted(set(postings.languages))
    lang_of_article = np.array([languages.index(lang) for lang in postings.languages], dtype=np.int64)
    vocab = _vocabulary(words, np.maximum(capitalised - initial, 0) > lower, languages)

    word = word_of_token[token]
    keep = ~vocab.dropped[lang_of_article[article], word]
    article, term, count, weight = article[keep], vocab.term_of_word[word[keep]], count[keep], weight[keep]
    shape = (len(articles), len(vocab.terms))
    counts = sparse.csr_matrix((count * weight, (article, term)), shape=shape, dtype=float)
    is_title = weight == TITLE_WEIGHT
    title_counts = sparse.csr_matrix((count[is_title], (article[is_title], term[is_title])), shape=shape, dtype=float)
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=shape[1])
    # pseudo-documents without the term: in a small batch (one story's articles) the terms they all
    # share must still count, not sink to the idf of "the"
    idf = np.log((len(articles) + 1 + BACKGROUND_DOCS) / (df + 1.0)) + 1.0
    rows = _rows(counts, idf, vocab.boost, lang_of_article, TERMS_PER_ARTICLE)
    titles = _rows(title_counts, idf, vocab.boost, lang_of_article, TERMS_PER_ARTICLE)
    return _Batch(rows, titles, vocab.terms, df, vocab.named)


def _outlet_codes(articles: Sequence[Article]) -> list[frozenset[int]]:
    """Give each article the set of codes of its outlets and sites (every copy), for the same-outlet damping."""
    codes: dict[str, int] = {}
    out = []
    for article in articles:
        names = {s.outlet.strip().lower() for s in article.sources if s.outlet and s.outlet.strip()}
        names |= {urlsplit(s.url).netloc.lower() for s in article.sources if s.url}
        out.append(frozenset(codes.setdefault(n.removeprefix("www."), len(codes)) for n in names if n))
    return out


def _candidates(rows: sparse.csr_matrix, named: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairs (i < j) sharing one of their QUERY_TERMS heaviest names or numbers: an inverted index, in C.

    Only names and specific numbers are looked up: a pair without one in common cannot score anyway.
    """
    rows = (rows @ sparse.diags(named.astype(float))).tocsr()
    rows.eliminate_zeros()
    row = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    keep = _heaviest(row, rows.indices, rows.data, rows.indptr, QUERY_TERMS)
    query = sparse.csr_matrix((np.ones(len(keep)), (row[keep], rows.indices[keep])), shape=rows.shape)
    pairs = (query @ query.T).tocoo()
    upper = pairs.row < pairs.col
    return pairs.row[upper].astype(np.int64), pairs.col[upper].astype(np.int64)


def _evidence_scaled(rows: sparse.csr_matrix, named: np.ndarray, i: np.ndarray, j: np.ndarray, min_shared: int,
                     partial: bool = True) -> np.ndarray:
    """Return the similarity of each pair (i, j), scaled down where the shared evidence is thin.

    A pair sharing fewer than `min_shared` terms keeps that share of its similarity, or none unless `partial`.
    """
    score = np.zeros(len(i))
    for start in range(0, len(i), PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        both = rows[i[part]].multiply(rows[j[part]]).tocsr()
        both.eliminate_zeros()
        similarity = np.asarray(both.sum(axis=1)).ravel()
        share = np.minimum(np.diff(both.indptr), min_shared) / min_shared
        # one shared name ("Marlow Bay") is a place, not an event: evidence must come from several terms;
        # squared, as two shared terms are often one two-word name, worth a quarter, not a half
        similarity *= share**2 if partial else np.floor(share)
        # and some of it must be names or specific numbers: two reports of one event name the same people,
        # places and figures; shared topic words alone ("hibernation", "astronauts") make a related story
        names = both @ named.astype(float)
        score[part] = similarity * np.minimum(names, NAMED_EVIDENCE) / NAMED_EVIDENCE
    return score


def _edges(batch: _Batch, articles: Sequence[Article], threshold: float) -> sparse.coo_matrix:
    """Score candidate pairs through their shared event-naming terms; keep those above `threshold`."""
    rare = sparse.diags((batch.df <= MAX_EVENT_DF).astype(float))
    rows, titles = (batch.rows @ rare).tocsr(), (batch.titles @ rare).tocsr()
    rows.eliminate_zeros()
    i, j = _candidates(rows, batch.named)
    # two headlines that name the same people and places are strong evidence even when the bodies
    # go different ways (a reaction piece, a local angle)
    score = np.maximum(_evidence_scaled(rows, batch.named, i, j, MIN_SHARED_TERMS),
                       _evidence_scaled(titles, batch.named, i, j, MIN_SHARED_TITLE_TERMS, partial=False)) / CALIBRATION
    keep = score >= threshold
    i, j, score = i[keep], j[keep], score[keep]
    days = np.array([a.date.timestamp() / 86400.0 if a.date else np.nan for a in articles])
    gap = np.abs(days[i] - days[j])
    score = np.where(np.isnan(gap) | (gap <= MAX_DAYS_APART), score, score * MAX_DAYS_APART / np.maximum(gap, 1e-9))
    outlets = _outlet_codes(articles)
    same = np.fromiter((bool(outlets[a] & outlets[b]) for a, b in zip(i.tolist(), j.tolist())), dtype=bool, count=len(i))
    score = np.where(same, score * SAME_OUTLET, score)
    keep = score >= threshold
    return sparse.coo_matrix((score[keep], (i[keep], j[keep])), shape=(len(articles), len(articles)))


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
