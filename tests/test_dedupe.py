"""Deduplication: exact copies, two formats of one article, edited republications, and no false merges."""

from __future__ import annotations

from dataclasses import replace

from fixtures.stories.build import BRIDGE_A, BRIDGE_B, BRIDGE_OTHER, BUDGET, article

from digest.dedupe import deduplicate
from digest.models import Paragraph, Role

TITLE = "Footbridge collapses in Marlow Bay"


def test_exact_copies_collapse_and_list_every_outlet() -> None:
    a = article("a1", TITLE, BRIDGE_A, "Outlet A")
    b = article("b1", TITLE, BRIDGE_A, "Outlet B")
    result = deduplicate([a, b])
    assert len(result.kept) == 1
    kept = result.kept[0]
    assert {s.outlet for s in kept.sources} == {"Outlet A", "Outlet B"}
    assert result.duplicate_of == {next(x for x in ("a1", "b1") if x != kept.id): kept.id}


def test_html_and_text_copy_of_one_article_collapse_keeping_the_most_complete() -> None:
    html = replace(article("h1", TITLE, BRIDGE_A, "Marlow Post", kind="html"), url="https://example.org/bridge")
    # the text copy lost its last paragraph and kept a leftover line of chrome
    text = article("t1", TITLE, [*BRIDGE_A[:-1], "Share this story with friends"], "Marlow Post")
    result = deduplicate([text, html])
    assert [a.id for a in result.kept] == ["h1"]
    assert [s.path for s in result.kept[0].copies] == [str(text.path)]
    assert result.duplicate_of == {"t1": "h1"}


def test_most_complete_copy_is_kept_and_borrows_metadata() -> None:
    short = replace(article("s1", TITLE, BRIDGE_A[:4], "Wire", kind="html"), url="https://wire.example/x")
    full = article("f1", TITLE, BRIDGE_A, "Reprint")
    result = deduplicate([short, full])
    assert [a.id for a in result.kept] == ["f1"]
    assert result.kept[0].url == "https://wire.example/x"


def test_lightly_edited_republications_collapse() -> None:
    edited = [p.replace("officials said", "authorities said").replace("Tuesday", "Tuesday,") for p in BRIDGE_A]
    edited[4] = edited[4].replace("asked residents", "urged people")
    copies = [
        article("w1", TITLE, BRIDGE_A, "Wire"),
        article("w2", "Bridge falls in Marlow Bay", edited, "Daily One"),
        article("w3", TITLE + " (update)", [*BRIDGE_A, "This story has been updated."], "Daily Two"),
    ]
    result = deduplicate(copies)
    assert len(result.kept) == 1
    assert len(result.kept[0].sources) == 3
    assert set(result.duplicate_of) | {result.kept[0].id} == {"w1", "w2", "w3"}


def test_different_reports_of_one_event_and_other_events_stay_apart() -> None:
    articles = [
        article("a1", TITLE, BRIDGE_A, "Outlet A"),
        article("b1", "Bridge falls", BRIDGE_B, "Outlet B"),
        article("c1", "Tervo bridge", BRIDGE_OTHER, "Outlet C"),
        article("d1", "Budget", BUDGET, "Outlet A"),
    ]
    result = deduplicate(articles)
    assert sorted(a.id for a in result.kept) == ["a1", "b1", "c1", "d1"]
    assert result.duplicate_of == {}
    assert all(a.copies == () for a in result.kept)


def test_result_does_not_depend_on_input_order() -> None:
    articles = [article(f"x{i}", TITLE, BRIDGE_A, f"Outlet {i}") for i in range(5)]
    articles.append(article("c1", "Tervo bridge", BRIDGE_OTHER))
    one = deduplicate(articles)
    two = deduplicate(articles[::-1])
    assert [a.id for a in one.kept] == [a.id for a in two.kept]
    assert one.duplicate_of == two.duplicate_of


def test_titles_alone_do_not_make_duplicates() -> None:
    a = article("a1", TITLE, BRIDGE_A)
    b = article("b1", TITLE, BRIDGE_OTHER)
    empty = replace(article("e1", TITLE, []), paragraphs=(Paragraph(TITLE, Role.TITLE),))
    result = deduplicate([a, b, empty])
    assert len(result.kept) == 3


def test_articles_too_short_to_shingle_are_kept_and_empty_input_is_fine() -> None:
    short = [article("s1", "Brief", ["Bridge shut."]), article("s2", "Other", ["Road open today."])]
    assert sorted(a.id for a in deduplicate(short).kept) == ["s1", "s2"]
    assert deduplicate([]).kept == []


def test_lsh_layout_is_the_one_datasketch_picks_for_the_threshold() -> None:
    from datasketch import MinHashLSH

    from digest.dedupe import LSH_THRESHOLD, NUM_PERM, lsh_layout

    for threshold, num_perm in ((LSH_THRESHOLD, NUM_PERM), (0.5, 64), (0.8, 128)):
        index = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert lsh_layout(threshold, num_perm) == (index.b, index.r), (threshold, num_perm)
