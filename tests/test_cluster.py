"""Clustering: same event across outlets, topic-only neighbours apart, names, determinism, stable ids."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from fixtures.stories.build import BRIDGE_A, BRIDGE_B, BRIDGE_OTHER, BUDGET, RELEASE_A, RELEASE_B, article

from digest.cluster import StoryMemory, cluster, remember
from digest.models import Article


def corpus() -> list[Article]:
    return [
        article("a1", "Footbridge collapses in Marlow Bay, 14 hurt", BRIDGE_A, "Outlet A"),
        article("b1", "Marlow Bay bridge falls into river during rush hour", BRIDGE_B, "Outlet B"),
        article("c1", "Tervo road bridge partly collapses after rain", BRIDGE_OTHER, "Outlet C", date="2024-03-09"),
        article("r1", "Kolesnikova and Babariko freed", RELEASE_A, "Outlet A"),
        article("r2", "Belarus releases Kalesnikava, Babaryka", RELEASE_B, "Outlet D"),
        article("d1", "Marlow Bay council passes budget", BUDGET, "Outlet A"),
    ]


def groups(stories: list) -> set[frozenset[str]]:
    return {frozenset(a.id for a in s.articles) for s in stories}


def test_same_event_from_different_outlets_is_one_story() -> None:
    assert frozenset({"a1", "b1"}) in groups(cluster(corpus()))


def test_events_sharing_only_a_topic_or_a_place_stay_apart() -> None:
    found = groups(cluster(corpus()))
    assert frozenset({"c1"}) in found  # another bridge collapse
    assert frozenset({"d1"}) in found  # same town, same outlet, another event


def test_transliterated_names_do_not_split_a_story() -> None:
    assert frozenset({"r1", "r2"}) in groups(cluster(corpus()))


def test_clustering_is_deterministic_in_stories_and_ids() -> None:
    articles = corpus()
    first = cluster(articles)
    shuffled = articles[:]
    random.Random(7).shuffle(shuffled)
    second = cluster(shuffled)
    assert [(s.id, [a.id for a in s.articles]) for s in first] == [(s.id, [a.id for a in s.articles]) for s in second]
    assert len({s.id for s in first}) == len(first)


def test_story_memory_round_trips_through_json() -> None:
    story = next(s for s in cluster(corpus()) if len(s.articles) == 2 and s.articles[0].id == "a1")
    memory = remember(story, date(2024, 3, 5))
    assert memory.last_seen == "2024-03-05"
    assert StoryMemory.from_json(memory.to_json()) == memory
    assert memory.signature and all(isinstance(w, float) for w in memory.signature.values())


def test_remembered_story_keeps_its_id_and_is_flagged_as_update() -> None:
    yesterday = cluster(corpus()[:2])
    memory = [remember(s, date(2024, 3, 5)) for s in yesterday]
    follow_up = article(
        "a2",
        "Marlow Bay footbridge: injured commuters leave hospital",
        [
            "Two of the 14 people hurt when the Kessel River footbridge collapsed in Marlow Bay left St. Aldric Hospital on Thursday.",
            "Mayor Ilona Brandt said divers had ended the search of the river and the ferry terminal would reopen.",
            "Investigators said corrosion in the 42-metre steel span was the likely cause.",
        ],
        "Outlet B",
        date="2024-03-07",
    )
    other = article("d1", "Marlow Bay council passes budget", BUDGET, "Outlet A", date="2024-03-07")
    today = cluster([follow_up, other], memory=memory)
    by_article = {s.articles[0].id: s for s in today}
    assert by_article["a2"].id == yesterday[0].id
    assert by_article["a2"].is_update
    assert not by_article["d1"].is_update
    assert by_article["d1"].id != yesterday[0].id


def test_new_story_ids_do_not_depend_on_other_stories() -> None:
    alone = cluster(corpus()[:2])
    together = cluster(corpus())
    assert alone[0].id in {s.id for s in together}


def test_empty_input_gives_no_stories() -> None:
    assert cluster([]) == []


def test_seeds_cleaned_form_one_story_of_five(seeds) -> None:
    from digest.clean import clean_all
    from digest.dedupe import deduplicate
    from digest.ingest import load_file

    articles, errors = clean_all([load_file(p) for p in sorted(seeds.glob("*.txt"))])
    assert not errors
    kept = deduplicate(articles).kept
    stories = cluster(kept)
    assert len(stories) == 1
    assert len({s.article_id for a in stories[0].articles for s in a.sources}) == 5


def test_sample_inbox_clusters_into_its_four_stories() -> None:
    from digest.clean import clean_all
    from digest.dedupe import deduplicate
    from digest.ingest import load_file

    inbox = Path(__file__).resolve().parents[1] / "inbox"
    articles, errors = clean_all([load_file(p) for p in sorted(inbox.iterdir()) if p.is_file() and not p.name.startswith(".")])
    assert not errors
    result = deduplicate(articles)
    name = {a.id: a.path.name for a in articles}
    collapsed = {frozenset({name[d], name[k]}) for d, k in result.duplicate_of.items()}
    assert collapsed == {
        frozenset({"orbit-weekly-kestrel-1.txt", "orbit-weekly-kestrel-1-copy.txt"}),  # exact copy
        frozenset({"northline-wire-carrow-heatwave.txt", "coastal-herald-carrow-blackouts.txt"}),  # republication
    }
    found = {frozenset(Path(s.path).name for a in story.articles for s in a.sources) for story in cluster(result.kept)}
    assert found == {
        frozenset({"2026-11-04-harbourfield-gazette-tram-vote.txt", "meridian-eastbank-tram.html",
                   "northway-transit-briefing-212.eml"}),
        frozenset({"northline-wire-carrow-heatwave.txt", "coastal-herald-carrow-blackouts.txt",
                   "valley-courier-heatwave-blackouts.html", "tarrant-springs-post-redgate-inquiry.txt"}),
        frozenset({"ardmoor-chronicle-kestrel-satellite.md", "orbit-weekly-kestrel-1.txt",
                   "orbit-weekly-kestrel-1-copy.txt", "ardmoor-evening-star-satellite.txt"}),
        frozenset({"lanner-echo-last-crossing.txt"}),
    }


def test_one_article_resembling_two_stories_does_not_chain_them() -> None:
    bridge = article("x1", "Marlow Bay footbridge and Belarus prisoners", BRIDGE_A[:3] + RELEASE_A[:3], "Outlet E")
    stories = cluster([*corpus()[:2], corpus()[3], corpus()[4], bridge])
    together = [s for s in stories if {"a1", "r1"} <= {a.id for a in s.articles}]
    assert not together
    assert frozenset({"a1", "b1"}) <= next(frozenset(a.id for a in s.articles) for s in stories if "a1" in {a.id for a in s.articles})


def test_a_placeholder_or_missing_date_is_no_date_and_never_crashes() -> None:
    # the ingest stage may pass such dates on (a header "Date: 0001-01-01"); clustering must not care
    articles = [
        article("z1", "Footbridge collapses in Marlow Bay, 14 hurt", BRIDGE_A, "Outlet A", date="0001-01-01"),
        article("z2", "Marlow Bay bridge falls into river during rush hour", BRIDGE_B, "Outlet B", date="9999-12-31"),
        article("z3", "Footbridge collapses in Marlow Bay", BRIDGE_A[:4], "Outlet F", date=None),
        article("z4", "Marlow Bay council passes budget", BUDGET, "Outlet A", date="0001-01-01"),
    ]
    found = groups(cluster(articles))
    assert found == {frozenset({"z1", "z2", "z3"}), frozenset({"z4"})}


def test_the_shipped_pair_model_matches_the_features_and_a_stale_one_says_how_to_retrain(tmp_path: Path) -> None:
    import json

    import pytest

    from digest.cluster import FEATURES, PairModel, shipped_model
    from digest.errors import ConfigError

    model = shipped_model()
    assert len(model.coef) == len(FEATURES) and 0 < model.threshold < 1
    stale = json.loads(model.to_json())
    stale["features"] = stale["features"][:-1]
    (tmp_path / "m.json").write_text(json.dumps(stale))
    with pytest.raises(ConfigError, match="train_story_model"):
        PairModel.load(tmp_path / "m.json")


def test_reports_sharing_rare_words_but_no_name_are_candidate_pairs() -> None:
    """The nearest-neighbour lookup pairs two reports that share no name, only rare words."""
    from digest.cluster import candidate_pairs

    hibernation = [
        "researchers say astronauts could hibernate in torpor pods during long voyages.",
        "the torpor would slow metabolism so crews need less food, water and oxygen.",
    ]
    torpor = [
        "a study finds that induced torpor could let astronauts hibernate on long voyages.",
        "slowing metabolism in torpor pods would save food and oxygen for the crews.",
    ]
    other = ["the orchestra played a long concert of new symphonies.", "the violinists were praised by critics."]
    pairs = candidate_pairs([article("h1", "hibernating crews", hibernation, "Outlet A"),
                             article("h2", "sleeping astronauts", torpor, "Outlet B"),
                             article("o1", "an evening of music", other, "Outlet C")])
    ids = [a.id for a in pairs.articles]
    found = {frozenset((ids[i], ids[j])) for i, j in zip(pairs.i.tolist(), pairs.j.tolist())}
    assert frozenset({"h1", "h2"}) in found


# One vote told by two outlets of opposite leanings (other words, same names and figures), and another event
# on the same topic with the same senator, from a third outlet three days later.
BORDER_LEFT = [
    "Senator Ana Ruiz's border bill cleared the Senate 52-48 on Wednesday after a marathon debate in Calder, a rare win for the governing coalition.",
    "The bill funds 1,200 new asylum caseworkers and ends the detention of families at the Ostrava crossing, Ruiz told reporters after the vote.",
    "Civil-rights groups welcomed the measure; opposition leader Tomas Heller called it an open door.",
]
BORDER_RIGHT = [
    "A divided Senate narrowly passed Ana Ruiz's sweeping immigration overhaul, 52 to 48, on Wednesday, handing the coalition a victory critics say will cost billions.",
    "Heller warned that ending family detention at Ostrava would invite a new wave of crossings, while Ruiz insisted 1,200 more caseworkers would clear the backlog.",
    "The measure now goes to the lower house in Calder, where its fate is uncertain.",
]
HEALTH_BILL = [
    "Senator Ana Ruiz's health bill collapsed in the lower house on Friday, falling 11 votes short after three coalition members abstained.",
    "The plan would have capped insulin prices at 35 crowns a month and opened 40 rural clinics, Ruiz said in a statement.",
    "Speaker Mila Varga said the chamber could take up a narrower version in the spring.",
]


def partisan() -> list[Article]:
    return [
        article("p1", "Senate passes Ruiz border bill", BORDER_LEFT, "Left Daily"),
        article("p2", "Senate narrowly approves costly Ruiz immigration overhaul", BORDER_RIGHT, "Right Post"),
        article("p3", "Ruiz health bill fails in lower house", HEALTH_BILL, "Centre Times", date="2024-03-08"),
    ]


def test_partisan_reports_of_one_event_join_and_another_event_with_the_same_senator_stays_apart() -> None:
    assert groups(cluster(partisan())) == {frozenset({"p1", "p2"}), frozenset({"p3"})}


def test_top_names_missed_is_the_share_of_top_names_the_other_report_lacks() -> None:
    from digest.cluster import FEATURES, candidate_pairs

    pairs = candidate_pairs(partisan())
    ids = [a.id for a in pairs.articles]
    missed = {frozenset((ids[i], ids[j])): f[FEATURES.index("top_names_missed")]
              for i, j, f in zip(pairs.i.tolist(), pairs.j.tolist(), pairs.features)}
    assert all(0.0 <= m <= 1.0 for m in missed.values())
    one_event = missed[frozenset({"p1", "p2"})]
    assert all(one_event < m for pair, m in missed.items() if "p3" in pair)
