"""Features of plain-text lines and HTML blocks for the learned model: the rules' signals as numbers.

Each page becomes one matrix, a row per line (or block), built in one pass plus a few shifted
copies for the neighbours, so cleaning stays linear in the page's length.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from digest.clean import signals as sig
from digest.clean.flags import GROUPS, Flag
from digest.clean.lang import guess_stoplist
from digest.clean.text import GOOD_WORDS, LONG_WORDS, MIN_STOP_DENSITY, Layout, flag_of
from digest.models import Role

FLAG_GROUPS = tuple(g.value for g in GROUPS)


def flag_group(flag: Flag | None) -> int:
    """Return the position in FLAG_GROUPS of a line flag's group (-1 for no flag)."""
    return _GROUP_OF[flag]


_GROUP_OF: dict[Flag | None, int] = {None: -1, **{flag: GROUPS.index(flag.group) for flag in Flag}}


def _title_case(text: str) -> float:
    words = [w for w in text.split() if len(w) > 3 and w[:1].isalpha()]
    return sum(1 for w in words if w[:1].isupper()) / len(words) if words else 0.0


TEXT_FEATURES: tuple[str, ...] = (
    "words",
    "ends a sentence",
    "stopword share",
    "reads as prose",
    "short line",
    "in a menu run",
    "table row",
    "tail marker",
    "blank line before",
    "inside the article block",
    "distance before the block",
    "distance after the block",
    "position in page",
    "rules keep it",
    "rules call it a heading",
    "is the title",
    "repeats the title",
    *(f"flag: {g}" for g in FLAG_GROUPS),
    "after a related/comments marker",
    "title case",
    "previous line prose",
    "next line prose",
    "previous line kept by rules",
    "next line kept by rules",
)


RULES_KEEP = TEXT_FEATURES.index("rules keep it")
FLAG_COLUMNS = slice(TEXT_FEATURES.index(f"flag: {FLAG_GROUPS[0]}"), TEXT_FEATURES.index(f"flag: {FLAG_GROUPS[-1]}") + 1)
CONVENTION = ("flag: caption", "flag: byline", "flag: date", "repeats the title")  # lines whose truth is a convention
CONVENTION_COLUMNS = [TEXT_FEATURES.index(name) for name in CONVENTION]


def rules_masks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (lines the rules keep, lines the model may revive: dropped for their context, not flagged as chrome)."""
    kept = x[:, RULES_KEEP] > 0
    return kept, ~kept & (x[:, FLAG_COLUMNS].sum(axis=1) == 0) & (x[:, TEXT_FEATURES.index("repeats the title")] == 0)


def text_matrix(page: Layout, rules: Sequence[tuple[Role | None, str]]) -> np.ndarray:
    """Return one feature row per line of the page, in TEXT_FEATURES order (column by column: fast)."""
    lines = page.lines
    n = len(lines)
    if n == 0:
        return np.zeros((0, len(TEXT_FEATURES)))
    start, end, title = page.start, page.end, page.title
    at = np.arange(n)
    # the lines' fields as columns in one transposition (Line is a tuple), not one pass per feature
    _, _, texts, keys, word_counts, sentences, stops, line_flags, tails, looses = zip(*lines)
    words = np.array(word_counts, dtype=float)
    sentence = np.array(sentences, dtype=float)
    stop = np.array(stops, dtype=float)
    tail = np.array(tails, dtype=float)
    roles = [role for role, _ in rules]
    kept = np.array([role is not None for role in roles], dtype=float)
    group = np.array([_GROUP_OF[flag] for flag in line_flags], dtype=int)
    # Line.good and Line.short, column-wise
    prose = (
        (group < 0) & (words >= GOOD_WORDS) & ((sentence > 0) | (words >= LONG_WORDS)) & (stop >= MIN_STOP_DENSITY)
    ).astype(float)
    title_key = page.title_key
    repeats = np.array([key == title_key for key in keys], dtype=float) if title_key else np.zeros(n)
    columns = [
        np.log1p(words),
        sentence,
        stop,
        prose,
        ((sentence == 0) & (words < LONG_WORDS)).astype(float),
        np.array(page.nav, dtype=float),
        np.array(page.table, dtype=float),
        tail,
        np.array(looses, dtype=float),
        ((at >= start) & (at < end)).astype(float),
        np.log1p(np.maximum(start - at, 0)),
        np.log1p(np.maximum(at - end + 1, 0)),
        at / n,
        kept,
        np.array([role is Role.HEADING for role in roles], dtype=float),
        (at == title).astype(float),
        repeats * (at != title),
    ]
    flags = np.zeros((n, len(FLAG_GROUPS)))
    flags[at[group >= 0], group[group >= 0]] = 1.0
    after_tail = np.maximum.accumulate(tail * (at >= start))
    title_case = np.array([w <= 20 and text.istitle() for w, text in zip(word_counts, texts)], dtype=float)
    neighbours = np.zeros((n, 4))
    neighbours[1:, 0], neighbours[:-1, 1] = prose[:-1], prose[1:]
    neighbours[1:, 2], neighbours[:-1, 3] = kept[:-1], kept[1:]
    return np.column_stack([*columns, flags, after_tail, title_case, neighbours])


HTML_FEATURES: tuple[str, ...] = (
    "words",
    "ends a sentence",
    "stopword share",
    "heading",
    "position in page",
    "share of the page's words",
    "words / longest block",
    "repeats the title",
    *(f"flag: {g}" for g in FLAG_GROUPS),
    "after a related/comments marker",
    "tail marker",
    "title case",
    "contact or link",
    "previous block words",
    "next block words",
    "first block",
    "last block",
    "words before it (share)",
    "after the longest block",
    "blocks from the longest (log)",
    "in the comments section",
)


HTML_CONVENTION_COLUMNS = [HTML_FEATURES.index(name) for name in CONVENTION]
HTML_FLAG_COLUMNS = slice(HTML_FEATURES.index(f"flag: {FLAG_GROUPS[0]}"), HTML_FEATURES.index(f"flag: {FLAG_GROUPS[-1]}") + 1)


def flagged_blocks(x: np.ndarray) -> np.ndarray:
    """Return which HTML blocks a rule flags as chrome (the model keeps those only past its `revive` bar)."""
    return x[:, HTML_FLAG_COLUMNS].sum(axis=1) > 0


def html_matrix(
    blocks: Sequence[tuple[str, Role]],
    title_key: str,
    learned: Collection[str] = frozenset(),
    comments_from: int | None = None,
) -> tuple[np.ndarray, list[Flag | None]]:
    """Return one feature row per trafilatura block (HTML_FEATURES order) and each block's rule flag.

    `comments_from`: the position of the first block of the comments section, if trafilatura found one.
    """
    n = len(blocks)
    rows = np.zeros((n, len(HTML_FEATURES)))
    if n == 0:
        return rows, []
    tokens = [sig.block_tokens(text) for text, _ in blocks]
    stop = guess_stoplist((t for toks in tokens for t in toks[:200]), lowered=True)
    words = np.array([max(1, sig.word_count(text, toks)) for (text, _), toks in zip(blocks, tokens)], dtype=float)
    total, longest = float(words.sum()), float(words.max())
    before = np.concatenate(([0.0], np.cumsum(words)[:-1])) / total
    flags: list[Flag | None] = []
    after_tail = False
    groups = len(FLAG_GROUPS)
    for i, ((text, role), toks) in enumerate(zip(blocks, tokens)):
        key = " ".join(toks)
        ends = sig.ends_sentence(text)
        flag = flag_of(text, int(words[i]), key, toks, ends)
        if flag is None and key and key in learned:
            flag = Flag.LEARNED
        tail = sig.is_tail_marker(text, int(words[i]))
        if tail and flag is None:
            flag = Flag.TAIL
        flags.append(flag)
        if tail:
            after_tail = True
        row = rows[i]
        row[0:8] = (
            np.log1p(words[i]),
            ends,
            sum(1 for t in toks if t in stop) / len(toks) if stop and toks else 1.0,
            role is Role.HEADING,
            i / n,
            words[i] / total,
            words[i] / longest,
            bool(title_key) and key == title_key,
        )
        g = flag_group(flag)
        if g >= 0:
            row[8 + g] = 1.0
        row[8 + groups : 8 + groups + 4] = (
            after_tail and not tail,
            tail,
            _title_case(text) if words[i] <= 20 else 0.0,
            bool(sig.CONTACT.search(text)) if words[i] <= 30 else False,
        )
    logw = np.log1p(words)
    col = 8 + groups + 4
    rows[1:, col] = logw[:-1]
    rows[:-1, col + 1] = logw[1:]
    rows[0, col + 2] = 1.0
    rows[-1, col + 3] = 1.0
    rows[:, col + 4] = before
    longest_at = int(np.argmax(words))
    at = np.arange(n)
    rows[:, col + 5] = at > longest_at
    rows[:, col + 6] = np.log1p(np.abs(at - longest_at))
    if comments_from is not None:
        rows[comments_from:, col + 7] = 1.0
    return rows, flags
