"""Whether a sentence stands on its own as a bullet: pronouns that point back, quotes without a speaker.

A bullet is read alone, out of its article. "His flight was delayed." and '"It was like an oven," she
said.' point back at someone the reader has not met; they may only follow the sentence before them in
their article (which names whom they mean). A quotation is not news unless someone says it: a bullet
mostly inside quotation marks must name its speaker, and a story gets at most one.
"""

from __future__ import annotations

import re

# third person only: "I" and "we" in a blog post are its author, and that is who the reader expects
PRONOUNS = frozenset("he she they it his her their its him them hers theirs".split())
MOSTLY_QUOTED = 0.5  # share of a sentence's characters inside quotation marks that makes it a quotation
_SAID = r"(?:said|says|added|adds|told|tells|explained|explains|recalled|continued|asked|noted|notes|wrote|writes|insisted|warned|announced)"
_PRONOUN_SAID = re.compile(rf"(?i)\b(?:(?:he|she|they)\s+(?:\w+ly\s+)?{_SAID}|{_SAID}\s+(?:he|she|they))\b")
# a speaker named beside the verb: '..., Walter said.', 'said Dr. Regan', 'Army spokesman Col. Ito told'
_NAMED_SAID = re.compile(
    rf"\b(?!(?:He|She|They|It|This|That|There)\b)[A-Z][\w'’-]+\s+(?:\w+ly\s+)?{_SAID}\b|\b{_SAID}\s+(?!(?:he|she|they)\b)"
    r"(?:[a-z]+\s+){0,3}[A-Z]"
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»")
_WORD = re.compile(r"\w+")


def first_word(sentence: str) -> str:
    """Return the sentence's first word, lower-cased ('' when it opens on a quotation)."""
    if not sentence[:1].isalnum():
        return ""
    match = _WORD.match(sentence)
    return match.group(0).lower() if match else ""


def opens_on_pronoun(sentence: str) -> bool:
    """Tell whether a sentence opens on a third-person pronoun ('His flight was also delayed.')."""
    return first_word(sentence) in PRONOUNS


def quote_share(sentence: str) -> float:
    """Return the share of a sentence's characters inside quotation marks."""
    return sum(len(m) for m in _QUOTED.findall(sentence)) / max(len(sentence), 1)


def unquoted(sentence: str) -> str:
    """Return the sentence with its quotations blanked out (what the writer says, not the speaker)."""
    return _QUOTED.sub(" … ", sentence)


def names_speaker(sentence: str) -> bool:
    """Tell whether a sentence names who says what it quotes ('..., Mayor Brandt said.')."""
    return bool(_NAMED_SAID.search(unquoted(sentence)))


def unnamed_quote(sentence: str) -> bool:
    """Tell whether a sentence quotes someone known only as 'he' or 'she' ('..., he said, patting the rail')."""
    outside = unquoted(sentence)
    return bool(_PRONOUN_SAID.search(outside)) and not _NAMED_SAID.search(outside)


def mostly_quoted(sentence: str) -> bool:
    """Tell whether a sentence is mostly a quotation."""
    return quote_share(sentence) > MOSTLY_QUOTED


def points_back(sentence: str) -> bool:
    """Tell whether a sentence needs the one before it to be understood (a pronoun or a 'he said' first)."""
    return opens_on_pronoun(sentence) or unnamed_quote(sentence)
