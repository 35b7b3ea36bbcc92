"""Group articles that report the same event into stories, with ids that stay stable across runs.

Each article is tokenised once into weighted words (title x3, lead paragraphs x2). Whether a word is a
name is decided over the whole batch (capitalised inside sentences more often than written in lower
case), so every article keys it the same way; names are keyed by a consonant skeleton so that
transliterations (Kolesnikova/Kalesnikava, Babaryka/Babariko) meet. A word weighs by its idf in the
batch (plus background pseudo-documents), by its rarity in general text (wordfreq's frequency lists),
and more if it is a name or a specific number: those are the evidence that two outlets report one
event, where shared topic words only make a related story.

Candidate pairs come from an inverted index on each article's heaviest names and numbers (one sparse
product, no all-pairs loop). Each candidate pair is described by a few features (cosine of the weighted
bodies, of the headlines, of the leads, of plain TF-IDF rows; shared name and number mass; shared terms;
same outlet; length ratio; the share of each article's top names and numbers the other lacks: two events
on one topic name other people and figures) and scored by a small logistic model learned on labelled
story pairs batched by topic, so that it has seen other events on the same subject (`story_model.json`,
fitted by `bench/train_story_model.py`), then decayed by the gap between publication dates. Stories are formed by average-linkage merging over that sparse graph of probabilities, so one
article that resembles two stories cannot bridge them. Stories matching a remembered story keep its id
and are flagged as updates.
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
from datetime import UTC, date, datetime
from functools import lru_cache
from importlib import resources
from itertools import chain, islice
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

import numpy as np
from scipy import sparse
from sumy.utils import get_stop_words
from wordfreq import get_frequency_dict

from digest.errors import ConfigError
from digest.models import Article, Role, Story

Vector = dict[str, float]

LANGUAGES = ("english", "german", "french", "spanish", "italian", "portuguese", "swedish", "polish", "czech",
             "slovak", "ukrainian", "greek")
ENGLISH_EXTRA = frozenset(
    # reporting verbs and calendar words every news article has
    ["said", "says", "told", "according", "reported", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "yesterday", "week", "year", "years", "month", "months", "time", "people", "new", "also", "would", "could"]
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
WIDE_TERMS = 150  # vector length of the plain TF-IDF rows (every kept word, no name/rarity boost)
SIGNATURE_TERMS = 60
QUERY_TERMS = 12  # salient terms an article (or a story, in memory) is looked up by
PAIR_CHUNK = 20_000  # candidate pairs scored at once: their sparse rows are gathered per chunk (bounds memory)
ROW_CHUNK = 4_096  # articles whose TF-IDF rows are built at once (bounds memory)
BACKGROUND_DOCS = 100  # pseudo-documents without any term: a small batch still has a meaningful idf
MIN_SHARED_TERMS = 4  # a pair sharing fewer terms than this has its similarity scaled down in proportion
MIN_SHARED_TITLE_TERMS = 3  # two headlines sharing fewer terms ("Marlow Bay") are no evidence at all
NAMED_EVIDENCE = 0.05  # shared name/number mass (of a unit cosine) below which similarity is scaled down
MAX_EVENT_DF = 256  # a term in more articles than this names a topic, not an event: no candidate pairs
NEIGHBOURS = 5  # besides the name index, each article's nearest neighbours over its rarest terms are candidates
NEIGHBOUR_CHUNK = 2_000  # articles whose neighbours are looked up at once (bounds memory)
# a remembered story continues when its signature's cosine with today's story, / CALIBRATION, reaches this
CALIBRATION = 0.52
MEMORY_THRESHOLD = 0.3
# what the pair model reads of a candidate pair (bench/train_story_model.py fits it; story_model.json ships it)
FEATURES = ("body", "shared_terms", "names", "numbers", "title", "lead", "same_outlet", "log_length_ratio", "plain",
            "top_names_missed")
# an article's TOP_TERMS heaviest terms are what it is about: the names and numbers among them are its actors,
# places and figures; two reports of one event carry each other's, two events on one topic name different ones
TOP_TERMS = 10
MODEL_FILE = "story_model.json"
EDGE_FLOOR = 0.05  # pairs less likely than this are not linked at all
# the training stories carry no publication dates, so the date gap is a prior, not a learned weight: two
# reports more than MAX_DAYS_APART days apart keep MAX_DAYS_APART / gap of their probability
MAX_DAYS_APART = 3.0
MIN_YEAR, MAX_YEAR = 1900, 2200  # dates outside these years are placeholders ("0001-01-01"), not dates
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    return word.removesuffix("'s")


@dataclass(frozen=True)
class _Vocabulary:
    """Terms of a batch and, per language present, each word's drop flag and weight."""

    terms: dict[str, int]
    term_of_word: np.ndarray  # word id -> term id
    dropped: np.ndarray  # language x word: stop word or noise
    boost: np.ndarray  # language x term: name/number boost x background rarity (max over its words)
    named: np.ndarray  # term: a name or a specific number
    number: np.ndarray  # term: a specific number


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
    name_term = np.zeros(len(terms), dtype=bool)
    number_term = np.zeros(len(terms), dtype=bool)
    name_term[[t for (term, _), t in zip(keys, term_of_word.tolist()) if term[0] == "~"]] = True
    number_term[[t for (term, b), t in zip(keys, term_of_word.tolist()) if term[0] == "#" and b >= NUMBER_BOOST]] = True
    return _Vocabulary(terms, term_of_word, dropped, boost, name_term | number_term, number_term)


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
    leads: sparse.csr_matrix  # the lead paragraphs' terms alone
    wide: sparse.csr_matrix  # plain TF-IDF rows: more terms, no boosts
    vocabulary: dict[str, int]
    df: np.ndarray
    named: np.ndarray  # per term: a name or a specific number, the evidence of one event
    number: np.ndarray  # per term: a specific number
    lengths: np.ndarray  # per article: kept tokens
    top_named: sparse.csr_matrix  # per article: its TOP_TERMS heaviest terms that are names or numbers (1 each)

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

    `boost` is language x term; `language` gives each row's language. Every row is its own work, so
    rows are done ROW_CHUNK at a time (bounds the temporary arrays; the same rows either way).
    """
    counts = counts.tocsr()
    counts.sum_duplicates()
    n = counts.shape[0]
    if n <= ROW_CHUNK:
        return _rows_of(counts, idf, boost, language, limit)
    chunks = range(0, n, ROW_CHUNK)
    parts = [_rows_of(counts[s : s + ROW_CHUNK], idf, boost, language[s : s + ROW_CHUNK], limit) for s in chunks]
    return sparse.vstack(parts, format="csr")


def _rows_of(counts: sparse.csr_matrix, idf: np.ndarray, boost: np.ndarray, language: np.ndarray, limit: int) -> sparse.csr_matrix:
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
    is_lead = weight == LEAD_WEIGHT
    lead_counts = sparse.csr_matrix((count[is_lead], (article[is_lead], term[is_lead])), shape=shape, dtype=float)
    lengths = np.bincount(article, weights=count, minlength=len(articles))
    # the per-posting arrays are done with: free them before the TF-IDF rows are built (a 20,000-file
    # inbox makes some 8 million postings, a few hundred MB in these arrays)
    del postings, spellings, word_of_token, token, count, weight, article, word, keep, term, is_title, is_lead
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=shape[1])
    # pseudo-documents without the term: in a small batch (one story's articles) the terms they all
    # share must still count, not sink to the idf of "the"
    idf = np.log((len(articles) + 1 + BACKGROUND_DOCS) / (df + 1.0)) + 1.0
    rows = _rows(counts, idf, vocab.boost, lang_of_article, TERMS_PER_ARTICLE)
    titles = _rows(title_counts, idf, vocab.boost, lang_of_article, TERMS_PER_ARTICLE)
    leads = _rows(lead_counts, idf, vocab.boost, lang_of_article, TERMS_PER_ARTICLE)
    wide = _rows(counts, idf, np.ones_like(vocab.boost), lang_of_article, WIDE_TERMS)
    return _Batch(rows, titles, leads, wide, vocab.terms, df, vocab.named, vocab.number, lengths, _top_named(rows, vocab.named))


def _top_named(rows: sparse.csr_matrix, named: np.ndarray) -> sparse.csr_matrix:
    """Mark each row's TOP_TERMS heaviest terms that are names or numbers (1 each)."""
    row = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    keep = _heaviest(row, rows.indices, rows.data, rows.indptr, TOP_TERMS)
    keep = keep[named[rows.indices[keep]]]
    return sparse.csr_matrix((np.ones(len(keep)), (row[keep], rows.indices[keep])), shape=rows.shape)


def _outlet_codes(articles: Sequence[Article]) -> np.ndarray:
    """Give each article a code for its outlet (or, without one, its site); -1 when neither is known."""
    codes: dict[str, int] = {}
    out = np.full(len(articles), -1, dtype=np.int64)
    for k, article in enumerate(articles):
        name = (article.outlet or "").strip().lower()
        if not name and article.url:
            name = urlsplit(article.url).netloc.lower().removeprefix("www.")
        if name:
            out[k] = codes.setdefault(name, len(codes))
    return out


def _day(when: datetime | None) -> float:
    """Return a publication date as days since 1970, or NaN when there is none or it is not a real date."""
    if when is None or not MIN_YEAR <= when.year <= MAX_YEAR:
        return math.nan  # "0001-01-01" and other placeholders are no date
    try:
        aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return (aware - EPOCH).total_seconds() / 86400.0
    except (ValueError, OverflowError):
        return math.nan


def _candidates(rows: sparse.csr_matrix, named: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairs (i < j) sharing one of their QUERY_TERMS heaviest names or numbers: an inverted index, in C.

    Only names and specific numbers are looked up: two reports of one event name the same people, places and
    figures; a pair without one in common is never a candidate.
    """
    rows = (rows @ sparse.diags(named.astype(float))).tocsr()
    rows.eliminate_zeros()
    row = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    keep = _heaviest(row, rows.indices, rows.data, rows.indptr, QUERY_TERMS)
    query = sparse.csr_matrix((np.ones(len(keep)), (row[keep], rows.indices[keep])), shape=rows.shape)
    pairs = sparse.triu(query @ query.T, k=1).tocoo()
    return pairs.row.astype(np.int64), pairs.col.astype(np.int64)


def _neighbours(rows: sparse.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return pairs (i < j) where j is one of i's k best matches on i's QUERY_TERMS heaviest terms (or i of j's).

    `rows` holds only terms rare enough to index, so each lookup touches at most MAX_EVENT_DF articles per
    query term: the cost grows with the number of articles, not its square. This finds reports that share
    rare words but no name (a gorilla's death, a hibernation study).
    """
    n = rows.shape[0]
    row = np.repeat(np.arange(n), np.diff(rows.indptr))
    keep = _heaviest(row, rows.indices, rows.data, rows.indptr, QUERY_TERMS)
    query = sparse.csr_matrix((rows.data[keep], (row[keep], rows.indices[keep])), shape=rows.shape)
    targets = rows.T.tocsr()
    found_i, found_j = [], []
    for start in range(0, n, NEIGHBOUR_CHUNK):
        scores = (query[start : start + NEIGHBOUR_CHUNK] @ targets).tocsr()
        scores.sum_duplicates()
        own = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
        scores.data[scores.indices == own + start] = 0.0  # an article is not its own neighbour
        scores.eliminate_zeros()
        own = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
        best = _heaviest(own, scores.indices, scores.data, scores.indptr, k)
        found_i.append(own[best] + start)
        found_j.append(scores.indices[best].astype(np.int64))
    if not found_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    return np.minimum(i, j), np.maximum(i, j)


def _union(n: int, *pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Merge lists of pairs (i < j) into one sorted list without repeats."""
    keys = np.unique(np.concatenate([i.astype(np.int64) * n + j for i, j in pairs]))
    return keys // n, keys % n


def _dot(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """Return the row-wise dot products of two equally shaped sparse matrices."""
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def _met(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """Count, row by row, the terms two equally shaped sparse matrices both hold."""
    both = a.multiply(b).tocsr()
    both.eliminate_zeros()
    return np.diff(both.indptr).astype(float)


def _features(batch: _Batch, outlets: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Describe each candidate pair (i, j) by the FEATURES the pair model reads, one row per pair."""
    out = np.zeros((len(i), len(FEATURES)))
    both = batch.rows[i].multiply(batch.rows[j]).tocsr()
    both.eliminate_zeros()
    out[:, 0] = np.asarray(both.sum(axis=1)).ravel()
    out[:, 1] = np.log1p(np.diff(both.indptr))
    out[:, 2] = both @ (batch.named & ~batch.number).astype(float)
    out[:, 3] = both @ batch.number.astype(float)
    del both
    out[:, 4] = _dot(batch.titles[i], batch.titles[j])
    out[:, 5] = _dot(batch.leads[i], batch.leads[j])
    out[:, 6] = (outlets[i] == outlets[j]) & (outlets[i] >= 0)
    short, long = np.minimum(batch.lengths[i], batch.lengths[j]), np.maximum(batch.lengths[i], batch.lengths[j])
    out[:, 7] = np.log((short + 1.0) / (long + 1.0))
    out[:, 8] = _dot(batch.wide[i], batch.wide[j])
    # the share of the two articles' top names and numbers that the other does not carry at all (a share, not
    # a count: a short article names fewer people, and that is no evidence of one event)
    own_i, own_j = batch.top_named[i], batch.top_named[j]
    met = _met(own_i, batch.rows[j]) + _met(own_j, batch.rows[i])
    count = np.diff(own_i.indptr) + np.diff(own_j.indptr)
    out[:, 9] = 1.0 - met / np.maximum(count, 1)
    return out


@dataclass(frozen=True)
class PairModel:
    """A logistic model of P(two articles report one event) from pair FEATURES, and the linkage it was tuned with.

    Trained on labelled story pairs by `bench/train_story_model.py` (seeded); ships as `story_model.json`.
    """

    mean: tuple[float, ...]  # feature standardisation
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # mean pair probability over two stories' members needed to merge them (chosen by CV)
    floor: float = EDGE_FLOOR  # pairs less likely than this are no edge (count as 0 in the means)

    @classmethod
    def load(cls, path: Path | None = None) -> PairModel:
        """Read a model file (the shipped one by default)."""
        if path is None:
            text = resources.files("digest").joinpath(MODEL_FILE).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        if tuple(data["features"]) != FEATURES:
            raise ConfigError(f"story model {path or MODEL_FILE} was trained on features {data['features']}, "
                                     f"this version computes {list(FEATURES)}: retrain it with bench/train_story_model.py")
        return cls(tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]),
                   float(data["threshold"]), float(data.get("floor", EDGE_FLOOR)))

    def to_json(self, **about: object) -> str:
        """Serialise the model, with notes (`about`) on how it was trained."""
        return json.dumps({"features": list(FEATURES), "mean": self.mean, "scale": self.scale, "coef": self.coef,
                           "intercept": self.intercept, "threshold": self.threshold, "floor": self.floor, **about},
                          indent=1)

    def probability(self, features: np.ndarray) -> np.ndarray:
        """Return P(same event) for rows of pair features."""
        z = ((features - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@lru_cache(maxsize=1)
def shipped_model() -> PairModel:
    """Return the pair model that ships with the package (read once)."""
    return PairModel.load()


@dataclass(frozen=True)
class Pairs:
    """A batch of articles in canonical order, its candidate pairs and their features."""

    articles: tuple[Article, ...]
    i: np.ndarray
    j: np.ndarray
    features: np.ndarray
    days_apart: np.ndarray  # NaN where either article has no (real) date
    batch: _Batch | None = None  # the batch's term rows (for remembering stories)

    def probability(self, model: PairModel) -> np.ndarray:
        """Return P(same event) of every pair: the model's, decayed beyond MAX_DAYS_APART days apart."""
        gap = np.nan_to_num(self.days_apart, nan=0.0)
        return model.probability(self.features) * np.minimum(1.0, MAX_DAYS_APART / np.maximum(gap, 1e-9))


def candidate_pairs(articles: Sequence[Article], model: PairModel | None = None) -> Pairs:
    """Order the articles, find candidate pairs through the rare-name index and describe each pair.

    With a `model`, pairs it finds less likely than its floor are dropped as they are scored (chunk by
    chunk, so 100,000 articles never hold every candidate's features at once).
    """
    ordered = tuple(sorted({a.id: a for a in articles}.values(), key=_order_key))
    if not ordered:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(ordered, empty, empty, np.zeros((0, len(FEATURES))), np.zeros(0))
    batch = _batch(ordered)
    rare = sparse.diags((batch.df <= MAX_EVENT_DF).astype(float))
    indexed = (batch.rows @ rare).tocsr()
    indexed.eliminate_zeros()
    i, j = _union(len(ordered), _candidates(indexed, batch.named), _neighbours(indexed, NEIGHBOURS))
    del indexed
    days = np.array([_day(a.date) for a in ordered])
    outlets = _outlet_codes(ordered)
    parts = []
    for start in range(0, len(i), PAIR_CHUNK):
        a, b = i[start : start + PAIR_CHUNK], j[start : start + PAIR_CHUNK]
        part = Pairs(ordered, a, b, _features(batch, outlets, a, b), np.abs(days[a] - days[b]))
        if model is not None:
            keep = part.probability(model) >= model.floor
            part = Pairs(ordered, a[keep], b[keep], part.features[keep], part.days_apart[keep])
        parts.append(part)
    if not parts:
        return Pairs(ordered, i, j, np.zeros((0, len(FEATURES))), np.zeros(0), batch)
    return Pairs(ordered, np.concatenate([p.i for p in parts]), np.concatenate([p.j for p in parts]),
                 np.concatenate([p.features for p in parts]), np.concatenate([p.days_apart for p in parts]), batch)


def merges(n: int, i: np.ndarray, j: np.ndarray, probability: np.ndarray, floor: float,
           stop: float | None = None) -> list[tuple[float, int, int]]:
    """Average-link n articles over the sparse graph of pair probabilities; return the merges, best first.

    Two groups merge on the mean probability over ALL their member pairs (a missing pair counts 0), so one
    article that resembles two stories cannot bridge them. Each merge is (mean, kept group, merged group);
    means never increase along the list, so cutting it at a threshold gives that threshold's stories.
    Pairs below `floor` are no edge; merging stops below `stop` (default: the floor).
    """
    stop = floor if stop is None else stop
    keep = probability >= floor
    links: list[dict[int, float]] = [{} for _ in range(n)]  # group -> neighbour group -> summed probability
    for a, b, s in zip(i[keep].tolist(), j[keep].tolist(), probability[keep].tolist()):
        links[a][b] = links[a].get(b, 0.0) + s
        links[b][a] = links[b].get(a, 0.0) + s
    size = [1] * n
    alive = [True] * n
    heap = [(-s, a, b) for a in range(n) for b, s in links[a].items() if a < b]
    heapq.heapify(heap)
    done: list[tuple[float, int, int]] = []
    while heap:
        neg, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        mean = links[a].get(b, 0.0) / (size[a] * size[b])
        if abs(mean + neg) > 1e-12:
            continue  # stale entry: a neighbour merged since it was pushed
        if mean < stop:
            break
        # merge the smaller group into the larger (ties: lower index survives), so work stays n log n
        kept, gone = (a, b) if (size[a], -a) >= (size[b], -b) else (b, a)
        done.append((mean, kept, gone))
        size[kept] += size[gone]
        alive[gone] = False
        for other, s in links[gone].items():
            if other == kept:
                continue
            links[other].pop(gone, None)
            total = links[kept].get(other, 0.0) + s
            links[kept][other] = total
            links[other][kept] = total
        links[gone] = {}
        links[kept].pop(gone, None)
        for other, total in links[kept].items():
            heapq.heappush(heap, (-total / (size[kept] * size[other]), min(kept, other), max(kept, other)))
    return done


def cut(n: int, merged: Sequence[tuple[float, int, int]], threshold: float) -> list[list[int]]:
    """Apply the merges whose mean reaches `threshold`; return the groups of article positions."""
    parent = list(range(n))
    for mean, kept, gone in merged:
        if mean < threshold:
            break
        parent[gone] = kept
    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(root(x), []).append(x)
    return list(groups.values())


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


def cluster(articles: Sequence[Article], threshold: float | None = None, memory: Sequence[StoryMemory] = (),
            model: PairModel | None = None) -> list[Story]:
    """Group articles into stories of the same event; deterministic for the same set of articles.

    Pairs found through the rare-name index are scored by `model` (the shipped pair model by default);
    two groups merge while the mean probability over all their member pairs reaches `threshold` (the
    model's cross-validated threshold by default). A story that matches one in `memory` takes its id
    and has `is_update` set. Stories come largest first, then by id.
    """
    model = model or shipped_model()
    threshold = model.threshold if threshold is None else threshold
    pairs = candidate_pairs(articles, model)
    ordered = pairs.articles
    if not ordered:
        return []
    probability = pairs.probability(model)
    groups = cut(len(ordered), merges(len(ordered), pairs.i, pairs.j, probability, model.floor, threshold), threshold)
    remembered: dict[int, StoryMemory] = {}
    if memory:
        batch = pairs.batch or _batch(ordered)
        centroids = [batch.vector(members, SIGNATURE_TERMS) for members in groups]
        remembered = _match_memory(centroids, memory, MEMORY_THRESHOLD)

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
