"""The run's Markdown report (the Prefect artifact), built from a digest's JSON record."""

from __future__ import annotations

from digest.runreport import MAX_FAILED_SHOWN, markdown


def record(failed: int = 1) -> dict[str, object]:
    articles = [
        {"id": "a1", "path": "/in/a.txt", "status": "included", "dropped": 4},
        {"id": "b1", "path": "/in/b.html", "status": "duplicate", "dropped": 3},
        {"id": "c1", "path": "/in/c.txt", "status": "included", "dropped": 0},
    ] + [{"id": f"f{i}", "path": f"/in/bad|{i}.bin", "status": "failed", "reason": "binary file, not text"} for i in range(failed)]
    stories = [
        {"headline": "Council approves the river tram", "is_update": False, "summary": ["One.", "Two."],
         "sources": [{"outlet": "Herald"}, {"outlet": "Gazette"}]},
        {"headline": "Storm | harbour wall", "is_update": True, "summary": ["Three."], "sources": [{"outlet": None}]},
    ]
    return {"articles": articles, "stories": stories}


def test_report_counts_stages_lists_stories_failures_delivery_and_path() -> None:
    result = {"path": "outbox/2026-12-02/digest.html", "failed": 1, "sent": 1, "message": ""}
    text = markdown(result, record(), ("sent", ""))
    assert text.splitlines() == [
        "# Daily digest: outbox/2026-12-02/digest.html",
        "",
        "| stage | result |",
        "| --- | --- |",
        "| ingest | 4 new files |",
        "| clean | 3 articles kept, 7 boilerplate lines dropped, 1 failed |",
        "| dedupe | 1 duplicate collapsed |",
        "| cluster | 2 stories (1 continuing earlier ones) |",
        "| summarise | 3 sentences |",
        "| deliver | sent |",
        "",
        "## Stories",
        "",
        "- **Council approves the river tram**: 2 sources (Gazette, Herald)",
        "- **Storm \\| harbour wall** (update): 1 source (unknown source)",
        "",
        "## Failed files",
        "",
        "| file | reason |",
        "| --- | --- |",
        "| bad\\|0.bin | binary file, not text |",
        "",
        "Digest: `outbox/2026-12-02/digest.html` (also `.txt`, `.json`, `.eml` beside it)",
    ]


def test_a_delivery_failure_and_a_long_failure_list_are_summed_up() -> None:
    result = {"path": "o/d.html", "failed": MAX_FAILED_SHOWN + 5, "sent": 0, "message": ""}
    text = markdown(result, record(MAX_FAILED_SHOWN + 5), ("unsent", "451 4.3.0 try again later"))
    assert "| deliver | not sent yet: 451 4.3.0 try again later |" in text
    assert text.count("binary file, not text") == MAX_FAILED_SHOWN
    assert "| ... | 5 more in the digest's JSON |" in text


def test_a_run_without_a_digest_says_why() -> None:
    text = markdown({"path": None, "failed": 2, "sent": 1, "message": "nothing new in the inbox"})
    assert text == "# Daily digest: nothing new in the inbox\n\n- failed files: 2\n- digests sent: 1\n"


HOSTILE = [
    "<img src=https://tracker.example/p.png onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![pixel](https://tracker.example/p.png)",
    "<https://phish.example/login>",
    "<script>alert(1)</script>",
    "**loud** _and_ `code` ~~gone~~ &amp; &#x3C;b&#x3E;",
    "two\nlines | and a\u202e\u200b pipe",
    "[ref]: javascript:alert(1)",
]


def hostile_record() -> dict[str, object]:
    return {
        "articles": [{"id": f"f{i}", "path": f"/in/{text}.txt", "status": "failed", "reason": text}
                     for i, text in enumerate(HOSTILE)],
        "stories": [{"headline": text, "is_update": False, "summary": ["One."], "sources": [{"outlet": text}]}
                    for text in HOSTILE],
    }


def test_article_text_reaches_the_report_inert_for_markdown_and_html() -> None:
    from markdown_it import MarkdownIt

    text = markdown({"path": "o/d.html", "failed": len(HOSTILE), "sent": 0, "message": ""}, hostile_record(),
                    ("unsent", "<b>451</b> [retry](javascript:x)"))
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for tag in ("<img", "<a ", "<script", "<strong>loud", "<em>and", "<code>code", "<b>", "href="):
        assert tag not in rendered, tag
    body = text.split("## Stories", 1)[1]
    assert "\u202e" not in body and "\u200b" not in body
    # every row stays on one line: 8 stories, a table head and 8 failed files
    assert sum(line.startswith("- **") for line in body.splitlines()) == len(HOSTILE)
    assert sum(line.startswith("| ") for line in body.splitlines()) == 2 + len(HOSTILE)
    # ... and still reads as the article's words
    assert "click me" in rendered and "javascript:alert(1)" in rendered and "&lt;script&gt;" in rendered


def test_a_digest_path_with_a_backtick_is_not_a_code_span_that_breaks_out() -> None:
    text = markdown({"path": "o/`<img src=x>`/d.html", "failed": 0, "sent": 0, "message": ""})
    assert "<img" not in text and "Digest: o/\\`&lt;img" in text


def test_log_lines_keep_ordinary_text_and_lose_links_images_tags_and_breaks() -> None:
    from markdown_it import MarkdownIt

    from digest.runreport import log_line

    plain = "digest: /srv/out_box/2026-12-07/digest.html (3 stories, 1 failed: *.bin skipped)"
    assert log_line(plain) == plain
    for text in HOSTILE + ["\\[x](javascript:alert(1))", "a\\\\<img src=x>"]:
        line = log_line(f"failed: {text}")
        rendered = MarkdownIt("commonmark", {"html": True}).render(line)
        assert "\n" not in line and "\r" not in line and "\u202e" not in line
        assert not any(tag in rendered for tag in ("<img", "<a ", "<script", "href=")), (text, rendered)
