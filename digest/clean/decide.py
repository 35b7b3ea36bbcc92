"""Apply the learned model to a page: the rules' reading gives the features, the model the verdict.

Plain text: every line gets P(article text) from the text model, smoothed with its neighbours'; the
headline found by the rules stays the title. HTML: trafilatura's blocks are the base, and a block is
removed only when the HTML model is confident it is chrome; when that would remove more than
`fallback_share` of the words trafilatura found, its output is kept whole (the model is then not
clearly better than the library it wraps).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from digest.clean import signals as sig
from digest.clean.features import flagged_blocks, html_matrix, rules_masks, text_matrix
from digest.clean.html import HtmlResult
from digest.clean.model import LinearModel
from digest.clean.options import CleanOptions
from digest.clean.text import Layout
from digest.models import Decision, Role

Verdict = tuple[Role | None, str]


def _revived_role(page: Layout, i: int) -> Role:
    """Return the role of a line the rules dropped and the model keeps: a heading when short and prose follows."""
    line = page.lines[i]
    nxt = page.lines[i + 1] if i + 1 < len(page.lines) else None
    if not line.sentence and line.words <= 20 and nxt is not None and nxt.good:
        return Role.HEADING
    return Role.BODY


def _whys(model: LinearModel, x: np.ndarray, p: np.ndarray, explain: bool) -> list[str]:
    """Return each row's " [p=..: top features]" suffix, or empty ones when nobody reads the reasons."""
    if not explain:
        return [""] * len(x)
    return [f" [{why}]" for why in model.explain_rows(x, p)]


def text_verdicts(page: Layout, rules: Sequence[Verdict], model: LinearModel, explain: bool = True) -> list[Verdict]:
    """Return one (role, reason) per line: the model's keep/drop, the rules' role and reason where they agree.

    `explain=False` leaves the model's probability and top features out of the reasons (a run keeps only
    the counts of the decisions; `digest clean --explain` shows them).
    """
    x = text_matrix(page, rules)
    p, keep = model.keep(x, *rules_masks(x))
    whys = _whys(model, x, p, explain)
    out: list[Verdict] = []
    for i, ((role, reason), kept) in enumerate(zip(rules, keep.tolist())):
        if role is Role.TITLE:
            out.append((role, reason))
            continue
        why = whys[i]
        if kept and role is not None:
            out.append((role, f"{reason}{why}"))
        elif kept:
            new = _revived_role(page, i)
            out.append((new, f"{new.value}: model keeps it ({reason}){why}"))
        elif role is not None:
            out.append((None, f"drop: model drops it ({reason}){why}"))
        else:
            out.append((None, f"{reason}{why}"))
    return out


def html_decisions(
    found: HtmlResult,
    title: str,
    model: LinearModel,
    learned: Collection[str] = frozenset(),
    options: CleanOptions | None = None,
) -> tuple[Decision, ...]:
    """Judge trafilatura's blocks: drop the repeated title and the blocks the model is confident are chrome."""
    opts = options or CleanOptions()
    title_key = sig.normalise(title)
    blocks = found.blocks
    x, flags = html_matrix(blocks, title_key, learned, found.comments_from)
    flagged = flagged_blocks(x)
    p, keep = model.keep(x, ~flagged, flagged)
    words = np.expm1(x[:, 0])  # the first feature is log1p(words)
    total, kept_words = float(words.sum()), float(words[keep].sum())
    whole = total > 0 and kept_words < opts.fallback_share * total
    decisions: list[Decision] = []
    whys = _whys(model, x, p, opts.explain)
    for index, ((text, role), flag) in enumerate(zip(blocks, flags)):
        key = " ".join(sig.block_tokens(text))
        why = whys[index]
        if key and key == title_key:
            decisions.append(Decision(index + 1, text, False, None, "drop: repeated title"))
        elif keep[index] or whole:
            where = "comments" if found.comments_from is not None and index >= found.comments_from else "trafilatura"
            base = f"heading ({where} <head>)" if role is Role.HEADING else f"body ({where})"
            note = "; kept: the model would drop too much" if not keep[index] else ""
            decisions.append(Decision(index + 1, text, True, role, f"{base}{note}{why}"))
        else:
            named = f", {flag.value}" if flag else ""
            decisions.append(Decision(index + 1, text, False, None, f"drop: model{named}{why}"))
    return tuple(decisions)
