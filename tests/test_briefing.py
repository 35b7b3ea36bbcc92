"""Bullets that stand on their own and a briefing people scan: pronouns, quotes, furniture, leads, brief items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fixtures.stories.build import BRIDGE_A, BRIDGE_B, article

from digest import render
from digest.models import Digest, Source, Story, StorySummary, SummarySentence
from digest.settings import Settings
from digest.summarise import summarise
from digest.summarise.furniture import BASE_FEATURES, FurnitureModel
from digest.summarise.standalone import mostly_quoted, names_speaker, opens_on_pronoun, points_back, unnamed_quote
from digest.summarise.units import units, worthy

MAYOR = [
    "A pedestrian footbridge over the Kessel River in Marlow Bay collapsed on Tuesday morning, injuring 14 people.",
    "Mayor Ilona Brandt visited the injured at St. Aldric Hospital on Tuesday afternoon with the fire chief.",
    "She said the town would pay for a new crossing and that divers had finished searching the river.",
    "\"It was like an oven with the door shut and the whole span shook under us,\" she said.",
    "\"We will rebuild the crossing before the winter storms reach the harbour,\" Mayor Brandt said.",
    "\"Nobody should have to cross a bridge like that to get to work in the morning,\" a commuter said.",
    "His flight was also slightly delayed by the closure of the harbour road near the ferry terminal.",
]


def bridge_story() -> Story:
    return Story("s", (article("a1", "Footbridge collapses", MAYOR, "Outlet A"), article("b1", "Bridge falls", BRIDGE_B, "Outlet B")))


def test_pronoun_and_unnamed_quote_sentences_are_recognised() -> None:
    assert opens_on_pronoun("His flight was also slightly delayed.") and not opens_on_pronoun("Hisham Ali won the race.")
    assert unnamed_quote('"It was like an oven with the door shut," she said.')
    assert not unnamed_quote('"It was like an oven," Mayor Brandt said.')
    assert points_back("It at least says the moon pulls the tides.") and not points_back("I live in the big apple.")
    assert mostly_quoted('"We will rebuild the crossing before the winter," Mayor Brandt said.')
    assert names_speaker('"We will rebuild it," said Mayor Brandt.') and not names_speaker('"We will rebuild it," he said.')


def test_no_bullet_points_back_at_someone_the_reader_has_not_met() -> None:
    story = bridge_story()
    found = {u.text: u for u in units(story)}
    for sentences in (3, 5, 7):
        texts = [s.text for s in summarise(story, sentences=sentences).sentences]
        assert texts and not points_back(texts[0])
        for k, text in enumerate(texts):
            if points_back(text):  # only right after the sentence before it in its article, which names them
                before = next(t for t, u in found.items() if (u.article, u.position) == (found[text].article, found[text].position - 1))
                assert k > 0 and texts[k - 1] == before, texts


def test_at_most_one_quotation_and_only_with_its_speaker_named() -> None:
    for sentences in (3, 5, 7):
        texts = [s.text for s in summarise(bridge_story(), sentences=sentences).sentences]
        quoted = [t for t in texts if mostly_quoted(t)]
        assert len(quoted) <= 1 and all(names_speaker(t) for t in quoted), texts


def test_bullets_of_one_article_keep_their_order() -> None:
    a = article("a1", "Footbridge collapses", BRIDGE_A, "Outlet A")
    b = article("b1", "Bridge falls", BRIDGE_B, "Outlet B")
    summary = summarise(Story("s", (a, b)), sentences=6)
    for source in (a, b):
        mine = [s.text for s in summary.sentences if s.article_id == source.id]
        order = [next(k for k, p in enumerate(source.paragraphs) if t in p.text) for t in mine]
        assert order == sorted(order), mine


def test_a_lone_article_is_told_by_its_lead() -> None:
    story = Story("s", (article("a1", "Footbridge collapses", BRIDGE_A, "Outlet A"),))
    texts = [s.text for s in summarise(story, sentences=5).sentences]
    assert texts == BRIDGE_A[:2]


def test_a_story_without_summary_worthy_sentences_falls_back_to_its_lead() -> None:
    body = ["Ad agency pitches hope to a failing bank", "The tagline reads simply: trust us again", "Short line"]
    story = Story("s", (article("a1", "copyranter", body, "Outlet A"),))
    assert not units(story)  # no sentence ends: nothing is summary-worthy
    texts = [s.text for s in summarise(story).sentences]
    assert texts == body[:2]


def test_glued_sentences_are_split_and_stamps_kept_out() -> None:
    body = [
        "The council met on Monday to vote on the tram line and lacked any political values.Mr. Ito voted against the plan today.",
        "The Reader gadget Tuesday, June 09, 2009 10:38 AM Google Reader has finally come to the new home page.",
        "Engineers will inspect the tram depot (the old one near the harbour) in April.",
        "Workers began laying the new rails near the market hall) last week.",
    ]
    texts = [u.text for u in units(Story("s", (article("a1", "Tram", body),)))]
    assert "Mr. Ito voted against the plan today." in texts
    assert any(t.endswith("political values.") for t in texts)
    assert not any("10:38" in t for t in texts)
    assert any(t.startswith("Engineers will inspect") for t in texts)  # a whole bracket is fine
    assert not any(t.startswith("Workers began") for t in texts)  # a stray ")": a fragment
    assert worthy("Police closed the road at 10:30 a.m. on Tuesday, the mayor said.")  # a time in the news stays


def test_furniture_and_reader_comments_are_left_out_but_the_article_stays() -> None:
    body = [
        *BRIDGE_A,
        "3 Comments",
        "Posted by Tom on March 6, 2009 at 9:02 am",
        "Thank you so much for writing this, my cousin crosses that bridge every day!",
        "Visit our directory for more information about our blogs.",
    ]
    texts = [u.text for u in units(Story("s", (article("a1", "Footbridge collapses", body),)))]
    assert all(sentence in texts for sentence in BRIDGE_A)
    assert not any(t.startswith(("Thank you", "Visit our")) for t in texts), texts
    n = len(BASE_FEATURES)
    keep_all = FurnitureModel((), (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 1.0)
    kept = [u.text for u in units(Story("s", (article("a1", "Footbridge collapses", body),)), keep_all)]
    assert any(t.startswith("Thank you") for t in kept)  # the model left them out, nothing else


def test_seed_story_bullets_stand_on_their_own(seeds) -> None:  # type: ignore[no-untyped-def]
    from digest.clean import clean_all
    from digest.ingest import load_file

    articles, _ = clean_all([load_file(p) for p in sorted(seeds.glob("*.txt"))])
    texts = [s.text for s in summarise(Story("seeds", tuple(articles))).sentences]
    assert len(texts) >= 3 and not points_back(texts[0])
    assert sum(mostly_quoted(t) for t in texts) <= 1


DAY = datetime(2026, 12, 2, 7, tzinfo=UTC)


def story_of(n: int, outlets: list[str], sentences: int = 3) -> StorySummary:
    sources = tuple(Source(f"a{n}{k}", o, f"Title {n}{k}", f"inbox/{n}{k}.txt", f"https://o{k}.example/{n}") for k, o in enumerate(outlets))
    said = tuple(SummarySentence(f"Sentence {k} of story {n} tells a fact.", sources[0].article_id, outlets[0]) for k in range(sentences))
    return StorySummary(f"s{n}", f"Story {n}", said, sources, tuple(s.article_id for s in sources), latest=DAY)


def test_a_lone_article_is_a_brief_item_after_the_stories_several_outlets_report() -> None:
    digest = Digest(DAY, "Daily briefing", (story_of(1, ["Alpha"]), story_of(2, ["Alpha", "Beta"]), story_of(3, ["Gamma"])), ())
    rendered = render.render(digest, Settings(title="Daily briefing"))
    html, text = rendered.html, rendered.text
    assert html.index("Story 2") < html.index("In brief") < html.index("Story 1")
    brief = html[html.index("Story 1") :]
    assert "Sentence 0 of story 1 tells a fact. Sentence 1 of story 1 tells a fact." in brief  # the lead, in a paragraph
    assert "Sentence 2 of story 1" not in brief.split("Story 3")[0]  # one or two sentences, not every bullet
    assert 'href="https://o0.example/1"' in brief and ">Alpha<" in brief  # the outlet, linked
    assert "Sentence 2 of story 2" in html  # a story several outlets report keeps its bullets
    assert text.index("In brief:") < text.index("Story 1") and "- Alpha: https://o0.example/1" in text


def test_a_trimmed_email_links_each_left_out_headline_to_the_full_digest() -> None:
    stories = tuple(story_of(n, ["Alpha", "Beta"], sentences=5) for n in range(1, 41))
    stories = tuple(replace(s, sentences=tuple(replace(x, text=x.text * 12) for x in s.sentences)) for s in stories)
    digest = Digest(DAY, "Daily briefing", stories, ())
    page = "2026-12-02/digest.html"
    rendered = render.render(digest, Settings(base_url="https://news.example/", max_email_bytes=30_000), page=page)
    assert rendered.trimmed
    eml = rendered.eml.decode()
    assert "https://news.example/2026-12-02/digest.html#story-40" in eml.replace("=\r\n", "").replace("=3D", "=")
    assert "news.example" not in render.render(digest, Settings(max_email_bytes=30_000), page=page).eml.decode()


def test_a_brief_item_shows_one_sentence_when_two_would_be_long() -> None:
    long = "The harbour board met for six hours on Monday " + "and argued about the ferry timetable " * 6 + "before voting."
    first = story_of(1, ["Zillow Blog - Real Estate Market Stats, Celebrity Real Estate"])
    first = replace(first, sentences=(replace(first.sentences[0], text=long), *first.sentences[1:]))
    rendered = render.render(Digest(DAY, "Daily briefing", (first, story_of(2, ["Beta"])), ()), Settings())
    assert long in rendered.text.replace("\n   ", " ") and "Sentence 1 of story 1" not in rendered.text
    assert "Sentence 1 of story 2" in rendered.html  # a short lead keeps its second sentence
    assert render.nbsp("Zillow Blog - Real Estate") == "Zillow\u00a0Blog\u00a0\u2011\u00a0Real\u00a0Estate"  # no break at its hyphen
