"""Learned boilerplate: chrome repeated across a site's pages goes; the text of an article's copies stays."""

from __future__ import annotations

import random
from pathlib import Path

from support.bad_inputs import good_article

from digest.clean import clean_article, learn_boilerplate
from digest.ingest import parse

CHROME = "Sign in to read more of our award winning local reporting every day"


def raw(name: str, text: str):  # type: ignore[no-untyped-def]
    return parse(text.encode(), Path(name), "text")


def test_copies_of_one_article_keep_their_text_while_site_chrome_is_learned() -> None:
    wire = good_article("Council decides on the river tram", "the river tram")
    _header, body = wire.split("\n\n", 1)
    paras = body.split("\n\n")
    rng = random.Random(3)
    raws = []
    kept_paras = []
    for i in range(5):  # five outlets republish the same wire story, cut and reordered differently
        order = rng.sample(paras, len(paras) - 1)
        kept_paras.append(order)
        raws.append(raw(f"copy-{i}.txt", f"Outlet {i} News\n\n" + "\n\n".join(order) + "\n"))
    for i, topic in enumerate(("the new stadium", "the school meals plan", "the harbour wall", "the library roof")):
        page = good_article(f"Council decides on {topic}", topic).split("\n\n", 1)[1]
        raws.append(raw(f"site-{i}.txt", page + f"\n{CHROME}\n"))
    learned = learn_boilerplate(raws)
    assert any(CHROME.lower()[:30] in key for key in learned)
    for r, order in zip(raws[:5], kept_paras):
        article = clean_article(r, learned)
        kept = " ".join(p.text for p in article.body)
        for para in order:
            assert para.strip() in kept, f"{r.path}: lost a paragraph of the copied article"
    for r in raws[5:]:
        assert CHROME not in clean_article(r, learned).text
