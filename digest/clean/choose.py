"""Choose, per HTML page, which extraction to keep: trafilatura's own, another of its modes, or ours.

trafilatura's default result is the safe choice. Other candidates (its recall-first and
precision-first modes, and the learned block model's pruning of the recall-first result) replace it
only when a small calibrated page-level model (one logistic regression per alternative, shipped in
`model.json`) says that alternative is likely better on a page of this shape: how much text each
candidate found, how far the candidates agree, how many blocks and sentences they hold. The
probabilities and their bars are learned and tuned k-fold by page (`digest.clean.train`).
The alternatives run only where `CleanOptions.alternatives` names them (training does; a run by
default does not: on sites it was not tuned on the choice is level with the default alone).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np

from digest.clean import signals as sig
from digest.clean.decide import html_decisions
from digest.clean.html import HtmlResult
from digest.clean.model import CleanModel, LinearModel
from digest.clean.options import CleanOptions
from digest.clean.picks import ALTERNATIVES, MODES, Pick
from digest.models import Decision, Role


def mode_options(options: CleanOptions, pick: Pick) -> CleanOptions:
    """Return the options that run trafilatura in the candidate's mode (the default one as bare trafilatura does)."""
    precision, recall = MODES[pick]
    fast = options.fast if pick is not Pick.DEFAULT else options.default_fast
    return replace(options, favor_precision=precision, favor_recall=recall, fast=fast)


_OTHERS = ALTERNATIVES
ONLY_DEFAULT = "trafilatura's default result: no alternative clearly better"


def _gram(words: Sequence[str], i: int) -> int:
    """Return the hash of the word 3-gram starting at position i (shorter at the end of the run)."""
    return zlib.crc32(" ".join(words[i : i + 3]).encode())


@lru_cache(maxsize=1024)
def _inner_grams(text: str) -> frozenset[int]:
    """Return the hashed word 3-grams lying inside one block (memoised: the candidates share most blocks)."""
    words = sig.block_tokens(text)
    return frozenset(_gram(words, i) for i in range(len(words) - 2))


def _grams(blocks: Sequence[str]) -> set[int]:
    """Return the hashed word 3-grams of the blocks' words run together (cheap set overlap between candidates).

    Each block's inner grams come memoised; only the grams across a block's end are hashed here.
    """
    runs = [sig.block_tokens(text) for text in blocks]
    words = [w for run in runs for w in run]
    if len(words) < 3:
        return {_gram(words, 0)} if words else set()  # one gram of what there is
    grams: set[int] = set()
    start = 0
    for text, run in zip(blocks, runs):
        grams |= _inner_grams(text)
        for i in range(start + max(0, len(run) - 2), min(start + len(run), len(words) - 2)):
            grams.add(_gram(words, i))
        start += len(run)
    return grams


def _share(a: set[int], b: set[int]) -> float:
    """Return the share of a's grams also in b (1 when a is empty)."""
    return len(a & b) / len(a) if a else 1.0


def choice_features(candidates: Mapping[Pick, Sequence[str]]) -> np.ndarray:
    """Return the page's row of CHOICE_FEATURES from each candidate's kept block texts."""
    tokens = {pick: [sig.block_tokens(text) for text in blocks] for pick, blocks in candidates.items()}
    words = {pick: sum(len(t) for t in toks) for pick, toks in tokens.items()}
    blocks = {pick: len(toks) for pick, toks in tokens.items()}
    grams = {pick: _grams(texts) for pick, texts in candidates.items()}
    default = candidates[Pick.DEFAULT]
    wd, bd = words[Pick.DEFAULT], blocks[Pick.DEFAULT]
    sentences = sum(len(t) for text, t in zip(default, tokens[Pick.DEFAULT]) if sig.ends_sentence(text))
    row = [
        np.log1p(wd),
        np.log1p(bd),
        np.log1p(wd / bd) if bd else 0.0,
        sentences / wd if wd else 0.0,
        float(wd == 0),
        *(np.log1p(words[p]) - np.log1p(wd) for p in _OTHERS),
        *(np.log1p(blocks[p]) - np.log1p(bd) for p in _OTHERS),
        *(_share(grams[Pick.DEFAULT], grams[p]) for p in _OTHERS),
        *(_share(grams[p], grams[Pick.DEFAULT]) for p in _OTHERS),
    ]
    return np.asarray(row, dtype=float)


def pick_of(row: np.ndarray, selector: Mapping[Pick, LinearModel]) -> tuple[Pick, float, LinearModel | None]:
    """Return the alternative whose probability clears its bar by most (or DEFAULT), its probability and model."""
    best: tuple[Pick, float, LinearModel | None] = (Pick.DEFAULT, 0.0, None)
    margin = 0.0
    for pick, model in selector.items():
        p = float(model.probabilities(row[None, :])[0])
        if p >= model.threshold and p - model.threshold >= margin:
            best, margin = (pick, p, model), p - model.threshold
    return best


def whole_decisions(found: HtmlResult, title_key: str, pick: Pick, why: str) -> tuple[Decision, ...]:
    """Keep every block of one trafilatura extraction but the repeated title, saying which was chosen."""
    decisions = []
    for index, (text, role) in enumerate(found.blocks, 1):
        if title_key and " ".join(sig.block_tokens(text)) == title_key:
            decisions.append(Decision(index, text, False, None, "drop: repeated title"))
            continue
        where = "comments" if found.comments_from is not None and index > found.comments_from else pick.value
        base = f"heading ({where} <head>)" if role is Role.HEADING else f"body ({where})"
        decisions.append(Decision(index, text, True, role, f"{base} [{why}]"))
    return tuple(decisions)


def kept_texts(decisions: Sequence[Decision]) -> list[str]:
    """Return the texts of the kept decisions (a candidate's output, as the selector sees it)."""
    return [d.text for d in decisions if d.kept]


def choose_decisions(
    found: Mapping[Pick, HtmlResult],
    learned: Sequence[Decision],
    title_key: str,
    selector: Mapping[str, LinearModel],
) -> tuple[tuple[Decision, ...], Pick]:
    """Return the decisions of the chosen candidate and which it was.

    `found` holds trafilatura's extraction per mode (DEFAULT at least); `learned` is the block model's
    verdict on the RECALL extraction (empty when it was not run).
    """
    if len(found) == 1 and not learned:  # trafilatura's default alone: nothing to choose between
        return whole_decisions(found[Pick.DEFAULT], title_key, Pick.DEFAULT, ONLY_DEFAULT), Pick.DEFAULT
    whole = {pick: whole_decisions(result, title_key, pick, "") for pick, result in found.items()}
    texts = {pick: kept_texts(decisions) for pick, decisions in whole.items()}
    texts[Pick.MODEL] = kept_texts(learned)
    for pick in Pick:
        texts.setdefault(pick, texts[Pick.DEFAULT])
    row = choice_features(texts)
    usable = {Pick[name]: model for name, model in selector.items()}
    pick, p, model = pick_of(row, {k: v for k, v in usable.items() if k in found or (k is Pick.MODEL and learned)})
    why = f"chosen: {model.explain(row, p)}" if model is not None else ONLY_DEFAULT
    if pick is Pick.MODEL:
        return tuple(Decision(d.index, d.text, d.kept, d.role, f"{d.reason} [{why}]") for d in learned), pick
    return whole_decisions(found[pick], title_key, pick, why), pick


def html_verdict(
    found: Mapping[Pick, HtmlResult], title: str, model: CleanModel, learned: Collection[str], options: CleanOptions
) -> tuple[Decision, ...]:
    """Judge a page's HTML: the block model prunes the recall-first extraction, the selector picks a candidate."""
    blocks = html_decisions(found[Pick.RECALL], title, model.html, learned, options) if Pick.RECALL in found else ()
    return choose_decisions(found, blocks, sig.normalise(title), model.choose)[0]
